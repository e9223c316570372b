//! systemd credentials: a unit's `LoadCredential=NAME:PATH` puts each secret in
//! `$CREDENTIALS_DIRECTORY/NAME`, readable only by the service's user (a
//! `DynamicUser=` account cannot read the root-only files the profile names).
//! A credential stands in for the profile's file setting for that secret; the
//! secret is read where that setting's file would be, and only its path is kept.
//!
//! A credential that is empty or only a line ending counts as absent: the
//! packaged units pair every `LoadCredential=` with a `SetCredential=NAME:\n`
//! default (systemd refuses an empty one), so a secret the admin did not
//! provide does not stop the unit from starting. An empty password must never
//! become an unauthenticated simple bind anyway.

use std::path::{Path, PathBuf};

use super::Profile;

/// The environment variable systemd sets for a unit with credentials.
pub const DIR_ENV: &str = "CREDENTIALS_DIRECTORY";

/// A credential dwb reads and the profile setting it stands in for.
#[derive(Debug)]
pub struct Credential {
    pub name: &'static str,
    pub section: &'static str,
    pub key: &'static str,
    slot: fn(&mut Profile) -> &mut Option<PathBuf>,
}

/// Every credential dwb reads.
pub const CREDENTIALS: [Credential; 5] = [
    Credential {
        name: "ldap-password",
        section: "ldap",
        key: "password_file",
        slot: |p| &mut p.ldap.get_or_insert_default().password_file,
    },
    Credential {
        name: "keytab",
        section: "ldap",
        key: "keytab",
        slot: |p| &mut p.ldap.get_or_insert_default().keytab,
    },
    Credential {
        name: "graph-client-secret",
        section: "graph",
        key: "client_secret_file",
        slot: |p| &mut p.graph.get_or_insert_default().client_secret_file,
    },
    Credential {
        name: "graph-certificate",
        section: "graph",
        key: "certificate_file",
        slot: |p| &mut p.graph.get_or_insert_default().certificate_file,
    },
    Credential {
        name: "graph-key",
        section: "graph",
        key: "key_file",
        slot: |p| &mut p.graph.get_or_insert_default().key_file,
    },
];

/// `$CREDENTIALS_DIRECTORY`, when set and not empty.
pub fn dir_from_env() -> Option<PathBuf> {
    std::env::var_os(DIR_ENV).filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// The file of credential `name` in `dir`, when it exists and holds more than
/// a line ending.
fn file(dir: &Path, name: &str) -> Option<PathBuf> {
    let p = dir.join(name);
    let m = std::fs::metadata(&p).ok().filter(|m| m.is_file())?;
    // Only a file of at most two bytes can be a bare line ending; nothing
    // longer is read here (the secret is read where the setting is used).
    let placeholder = m.len() <= 2
        && std::fs::read(&p).is_ok_and(|b| b.iter().all(|c| matches!(c, b'\n' | b'\r')));
    (!placeholder).then_some(p)
}

/// Points the profile's secret settings at the credentials found in `dir`;
/// returns the ones it used.
pub fn apply(profile: &mut Profile, dir: &Path) -> Vec<&'static Credential> {
    let mut used = Vec::new();
    for c in &CREDENTIALS {
        if let Some(path) = file(dir, c.name) {
            *(c.slot)(profile) = Some(path);
            used.push(c);
        }
    }
    used
}

/// How errors name a setting a credential replaced.
pub fn describe(name: &str, dir: &Path) -> String {
    format!("the credential {name} in ${DIR_ENV} ({})", dir.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_credential_replaces_its_setting() {
        let dir = tempfile::tempdir().unwrap();
        for c in &CREDENTIALS {
            std::fs::write(dir.path().join(c.name), format!("{}-value\n", c.name)).unwrap();
        }
        let mut p = Profile::default();
        p.ldap.get_or_insert_default().password_file = Some("/root/ldap.pw".into());
        let used = apply(&mut p, dir.path());
        assert_eq!(used.len(), CREDENTIALS.len());
        let (l, g) = (p.ldap.unwrap(), p.graph.unwrap());
        let at = |n: &str| Some(dir.path().join(n));
        assert_eq!(l.password_file, at("ldap-password"));
        assert_eq!(l.keytab, at("keytab"));
        assert_eq!(g.client_secret_file, at("graph-client-secret"));
        assert_eq!(g.certificate_file, at("graph-certificate"));
        assert_eq!(g.key_file, at("graph-key"));
    }

    #[test]
    fn absent_and_empty_credentials_leave_the_profile_alone() {
        let dir = tempfile::tempdir().unwrap();
        // The units' `SetCredential=NAME:\n` default for a secret nobody provided,
        // and an empty file.
        std::fs::write(dir.path().join("ldap-password"), "\n").unwrap();
        std::fs::write(dir.path().join("graph-client-secret"), "").unwrap();
        std::fs::write(dir.path().join("graph-key"), "\r\n").unwrap();
        // A directory is not a credential.
        std::fs::create_dir(dir.path().join("keytab")).unwrap();
        let mut p = Profile::default();
        p.ldap.get_or_insert_default().password_file = Some("/etc/dwb/ldap.pw".into());
        assert!(apply(&mut p, dir.path()).is_empty());
        let l = p.ldap.unwrap();
        assert_eq!(l.password_file.as_deref(), Some(Path::new("/etc/dwb/ldap.pw")));
        assert_eq!(l.keytab, None);
        assert!(p.graph.is_none());
    }

    #[test]
    fn only_the_credentials_present_are_used() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("graph-client-secret"), "s3cret").unwrap();
        // Short is not empty.
        std::fs::write(dir.path().join("graph-key"), "k\n").unwrap();
        std::fs::write(dir.path().join("unrelated"), "x").unwrap();
        let mut p = Profile::default();
        let used = apply(&mut p, dir.path());
        let used: Vec<_> = used.iter().map(|c| (c.name, c.section, c.key)).collect();
        assert_eq!(
            used,
            [
                ("graph-client-secret", "graph", "client_secret_file"),
                ("graph-key", "graph", "key_file")
            ]
        );
        assert!(p.ldap.is_none());
        let n = describe("graph-client-secret", dir.path());
        assert!(n.starts_with("the credential graph-client-secret in $CREDENTIALS_DIRECTORY"));
        assert!(!n.contains("s3cret"), "{n}");
    }
}
