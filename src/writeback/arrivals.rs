//! Objects another writer keeps adding after an adoption: anchored, without
//! dwb's marker, created after dwb adopted the container (verify's warning that
//! Entra Connect still exports to it).
//!
//! When the adoption happened is read from the profile's journal, not from the
//! directory: the earliest applied adoption change (an `adopt` run, or a sync
//! with `take_over`: both journal their changes with a reason starting with
//! [`ADOPTION`]) to an object in the container. The directory has no reliable
//! record of it: `whenChanged` of the adopted objects moves with every later
//! write (dwb's own included), their `whenCreated` is Connect's, and the
//! marker's replication metadata (`msDS-ReplAttributeMetaData`) is not served by
//! every DC (Samba's). Without a journal entry (verify run from another machine
//! or profile, or the journal removed) there is nothing to compare with, and
//! only the plain coexistence count is reported.

use crate::ad::{Directory, Scope, SearchRequest};
use crate::directory::Dn;
use crate::directory::filetime::FileTime;
use crate::directory::filter::Filter;
use crate::error::Result;
use crate::plan::journal;

pub use super::planner::ADOPTION;

/// Another writer's objects created since the adoption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrivals {
    /// When the adoption was applied (`YYYY-MM-DDThh:mm:ssZ`, the journal's).
    pub adopted_at: String,
    /// `DN (whenCreated …)` of each object, oldest first.
    pub objects: Vec<String>,
}

/// The earliest applied adoption change to an object directly in `container`,
/// from the runs of a journal.
pub fn adopted_at(runs: &[journal::Run], container: &Dn) -> Option<FileTime> {
    runs.iter()
        .flat_map(|r| &r.changes)
        .filter(|c| c.status.as_deref() == Some("applied"))
        .filter(|c| c.reason.as_deref().is_some_and(|w| w.starts_with(ADOPTION)))
        .filter(|c| {
            let dn = c.dn.as_deref().unwrap_or(&c.target);
            Dn::parse(dn).is_ok_and(|d| d.is_child_of(container))
        })
        .filter_map(|c| FileTime::parse_iso8601(&c.time).ok().flatten())
        .min()
}

/// A time as an LDAP GeneralizedTime (`YYYYMMDDhhmmss.0Z`), for a filter.
fn generalized(t: FileTime) -> String {
    let digits: String = t.to_iso8601().chars().filter(char::is_ascii_digit).collect();
    format!("{digits}.0Z")
}

/// The anchored objects without `marker` created in `container` at or after
/// the adoption the journal of `profile` records; `None` when it records none.
pub fn since_adoption(
    dir: &dyn Directory,
    container: &Dn,
    marker: &str,
    profile: Option<&str>,
) -> Result<Option<Arrivals>> {
    // A damaged journal is `dwb journal`'s to report: verify skips this check.
    let runs = match journal::read(&journal::path_for(profile)?) {
        Ok(runs) => runs,
        Err(e) => {
            tracing::warn!(
                "the journal is unreadable ({e}); objects added after an adoption are not looked for"
            );
            return Ok(None);
        }
    };
    let Some(at) = adopted_at(&runs, container) else { return Ok(None) };
    let filter = Filter::And(vec![
        Filter::eq("objectClass", "msDS-Device"),
        Filter::present("msDS-CloudAnchor"),
        Filter::Not(Box::new(Filter::eq("adminDescription", marker))),
        Filter::GreaterOrEqual("whenCreated".into(), generalized(at).into_bytes()),
    ]);
    let req = SearchRequest::new(container.clone(), Scope::OneLevel, filter).attrs(["whenCreated"]);
    let mut found: Vec<(String, String)> = Vec::new();
    dir.search(&req, &mut |e| {
        found.push((e.first_str("whenCreated").unwrap_or_default().to_string(), e.dn.to_string()));
        Ok(())
    })?;
    found.sort();
    let objects =
        found.into_iter().map(|(when, dn)| format!("{dn} (whenCreated {when})")).collect();
    Ok(Some(Arrivals { adopted_at: at.to_iso8601(), objects }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::plan::journal::{Recorded, Run};

    fn change(time: &str, reason: &str, dn: &str, status: &str) -> Recorded {
        Recorded {
            change: 1,
            time: time.into(),
            action: "modify".into(),
            target: dn.into(),
            dn: Some(dn.into()),
            device: None,
            reason: Some(reason.into()),
            before: None,
            after: None,
            stored: None,
            status: Some(status.into()),
            message: None,
            raw: serde_json::Value::Null,
        }
    }

    #[test]
    fn the_adoption_is_the_earliest_applied_adoption_change_in_the_container() {
        let c = Dn::parse("CN=RegisteredDevices,DC=contoso,DC=test").unwrap();
        let inside = "CN=a,CN=RegisteredDevices,DC=contoso,DC=test";
        let adopt = format!("{ADOPTION}x from another writer");
        let runs = vec![Run {
            changes: vec![
                change("2026-01-01T00:00:00Z", "device x changed: displayName", inside, "applied"),
                change("2026-01-02T00:00:00Z", &adopt, inside, "failed"),
                change(
                    "2026-01-03T00:00:00Z",
                    &adopt,
                    "CN=a,CN=Other,DC=contoso,DC=test",
                    "applied",
                ),
                change("2026-01-05T10:20:30Z", &adopt, inside, "applied"),
                change("2026-01-06T00:00:00Z", &adopt, inside, "applied"),
            ],
            ..Run::default()
        }];
        let at = adopted_at(&runs, &c).unwrap();
        assert_eq!(at.to_iso8601(), "2026-01-05T10:20:30Z");
        assert_eq!(generalized(at), "20260105102030.0Z");
        assert_eq!(adopted_at(&runs[..0], &c), None);
    }
}
