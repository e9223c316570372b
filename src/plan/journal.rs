//! The journal: every change dwb applies, appended to one file per profile in
//! the user's data directory (`journal/<profile>.jsonl`), JSON lines:
//!
//! - `{"type":"run", run_id, time, script, directory, changes}` once per run,
//!   before its first change;
//! - `{"type":"change", run_id, time, change, action, target, dn, device,
//!   reason, before, after}` written and flushed to disk BEFORE the change is
//!   sent (write-ahead: a change the DC may have applied always has its line,
//!   even when dwb is killed right after sending it). `before`/`after` are the
//!   object's values (base64) before and after the change: `before` is `null`
//!   for a create and the whole entry for a delete, `after` `null` for a delete;
//! - `{"type":"outcome", run_id, change, status, message}` when the result came
//!   back. A change line without an outcome line was sent but not confirmed;
//! - `{"type":"stored", run_id, change, after}` after a DACL write: the DACL as the
//!   DC stored it (it splits and re-orders ACEs), which an undo compares with.
//!
//! The file is only ever appended to; a torn last line (a crash mid-write) is
//! skipped when reading.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{Value, json};

use super::values::{from_json, to_json};
use super::{Change, ChangeOp, Outcome};
use crate::directory::Attr;
use crate::error::{Error, Kind, Result};

/// A fresh run id: sortable by time, unique (`20250102T030405Z-1a2b3c`).
pub fn new_run_id() -> String {
    let u = uuid::Uuid::new_v4().simple().to_string();
    let compact: String = now_utc().chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    format!("{compact}-{}", &u[..6])
}

/// Now as RFC 3339 UTC, seconds precision.
pub fn now_utc() -> String {
    crate::directory::filetime::FileTime::now().to_iso8601()
}

/// The journal file of a profile.
pub fn path_for(profile: Option<&str>) -> Result<PathBuf> {
    crate::config::profile_file("journal", profile, "jsonl")
}

/// A change about to be sent, with the object's values before and after it.
pub type Entry<'a> = (&'a Change, Option<Vec<Attr>>, Option<Vec<Attr>>);

/// An open journal, for one run.
pub struct Journal {
    file: Mutex<File>,
    path: PathBuf,
    run_id: String,
    script: String,
    directory: String,
    started: Mutex<bool>,
}

impl Journal {
    /// Opens (creates) the journal at `path` for appending.
    pub fn open(path: &Path, run_id: &str, script: &str, directory: &str) -> Result<Journal> {
        if let Some(dir) = path.parent() {
            crate::private::own_dir(dir)
                .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        }
        // Whole copies of deleted objects: the owner's only.
        let opened = crate::private::options().create(true).append(true).open(path);
        let file = opened
            .and_then(|f| crate::private::narrow(&f).map(|()| f))
            .map_err(|e| Error::io(format!("opening the journal {}", path.display()), e))?;
        Ok(Journal {
            file: Mutex::new(file),
            path: path.to_path_buf(),
            run_id: run_id.to_string(),
            script: script.to_string(),
            directory: directory.to_string(),
            started: Mutex::new(false),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends whole lines in one write; `sync` also forces them to disk.
    fn append(&self, lines: &[Value], sync: bool) -> Result<()> {
        let mut text = String::new();
        for l in lines {
            text.push_str(&l.to_string());
            text.push('\n');
        }
        let err = |e| Error::io(format!("writing the journal {}", self.path.display()), e);
        let mut f = self.file.lock().map_err(|_| Error::internal("journal lock poisoned"))?;
        f.write_all(text.as_bytes()).map_err(err)?;
        f.flush().map_err(err)?;
        if sync {
            f.sync_data().map_err(err)?;
        }
        Ok(())
    }

    /// Writes the run's header line (once).
    fn start(&self, changes: usize) -> Result<Option<Value>> {
        let mut started = self.started.lock().map_err(|_| Error::internal("journal lock"))?;
        if *started {
            return Ok(None);
        }
        *started = true;
        Ok(Some(json!({
            "type": "run", "run_id": self.run_id, "time": now_utc(), "script": self.script,
            "directory": self.directory, "changes": changes,
        })))
    }

    /// Records changes about to be sent (write-ahead, forced to disk).
    pub fn record(&self, plan_len: usize, changes: &[Entry]) -> Result<()> {
        let mut lines: Vec<Value> = self.start(plan_len)?.into_iter().collect();
        let time = now_utc();
        for (c, before, after) in changes {
            let dn = match &c.op {
                ChangeOp::Directory(op) => Some(op.dn().to_string()),
                ChangeOp::Acl { dn, .. } => Some(dn.to_string()),
                _ => None,
            };
            let mut line = json!({
                "type": "change", "run_id": self.run_id, "time": time, "change": c.id,
                "action": c.op.verb(), "target": c.op.target(), "dn": dn, "device": c.device,
                "reason": c.reason,
                "before": before.as_deref().map(to_json), "after": after.as_deref().map(to_json),
            });
            if !matches!(c.op, ChangeOp::Directory(_) | ChangeOp::Acl { .. })
                && let Some(obj) = line.as_object_mut()
            {
                obj.insert("detail".into(), super::render::change_json(c));
            }
            lines.push(line);
        }
        self.append(&lines, true)
    }

    /// Records the values the DC stored for a change (a DACL, read back).
    pub fn stored(&self, change: usize, after: &[Attr]) -> Result<()> {
        let line = json!({
            "type": "stored", "run_id": self.run_id, "change": change, "after": to_json(after),
        });
        self.append(&[line], false)
    }

    /// Records what happened to a change.
    pub fn outcome(&self, change: usize, o: &Outcome) -> Result<()> {
        let (status, message) = match o {
            Outcome::Applied => ("applied", None),
            Outcome::AlreadyGone { message } => ("already_gone", Some(message.clone())),
            Outcome::Failed { message, .. } => ("failed", Some(message.clone())),
            Outcome::Skipped { reason } => ("skipped", Some(reason.clone())),
        };
        let line = json!({
            "type": "outcome", "run_id": self.run_id, "change": change, "status": status,
            "message": message,
        });
        self.append(&[line], false)
    }
}

/// One change of a run, as the journal has it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub change: usize,
    pub time: String,
    pub action: String,
    pub target: String,
    pub dn: Option<String>,
    pub device: Option<String>,
    pub reason: Option<String>,
    pub before: Option<Vec<Attr>>,
    pub after: Option<Vec<Attr>>,
    /// The values as the DC stored them, read back after the write (DACLs).
    pub stored: Option<Vec<Attr>>,
    /// `applied`, `failed`, `skipped`, or `None`: sent, never confirmed.
    pub status: Option<String>,
    pub message: Option<String>,
    pub raw: Value,
}

/// One run, as the journal has it.
#[derive(Debug, Clone, Default)]
pub struct Run {
    pub run_id: String,
    pub time: String,
    pub script: String,
    pub directory: String,
    pub planned: usize,
    pub changes: Vec<Recorded>,
}

impl Run {
    pub fn count(&self, status: Option<&str>) -> usize {
        self.changes.iter().filter(|c| c.status.as_deref() == status).count()
    }

    pub fn summary_json(&self) -> Value {
        json!({
            "run_id": self.run_id, "time": self.time, "script": self.script,
            "directory": self.directory, "planned": self.planned,
            "recorded": self.changes.len(), "applied": self.count(Some("applied")),
            "already_gone": self.count(Some("already_gone")),
            "failed": self.count(Some("failed")), "skipped": self.count(Some("skipped")),
            "unconfirmed": self.count(None),
        })
    }
}

/// Every run of a journal file, oldest first. A missing file has no runs.
pub fn read(path: &Path) -> Result<Vec<Run>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(format!("reading the journal {}", path.display()), e)),
    };
    let mut runs: Vec<Run> = Vec::new();
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let lines: Vec<(usize, &str)> =
        text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).collect();
    let malformed = |n: usize, why: &str| {
        Error::new(
            Kind::InvalidArgument,
            format!("{}:{}: {why}; the journal is not read loosely", path.display(), n + 1),
        )
        .with_hint("a journal line was edited or damaged: look at that line")
    };
    for (n, line) in lines {
        let v = match serde_json::from_str::<Value>(line) {
            Ok(v) => v,
            // A torn line (dwb killed mid-write; a later run appends after it) is
            // reported and skipped: it is no change. A complete line is never
            // guessed at (below).
            Err(e) => {
                tracing::warn!("{}:{}: a torn journal line, skipped: {e}", path.display(), n + 1);
                continue;
            }
        };
        let Some(id) = s(&v, "run_id").filter(|i| !i.is_empty()) else {
            return Err(malformed(n, "no `run_id`"));
        };
        if v.get("type").and_then(Value::as_str) == Some("change") {
            for k in ["action", "target", "time"] {
                if s(&v, k).is_none() {
                    return Err(malformed(n, &format!("a change without `{k}`")));
                }
            }
            if v.get("change").and_then(Value::as_u64).is_none() {
                return Err(malformed(n, "a change without its number"));
            }
        }
        let idx = match runs.iter().position(|r| r.run_id == id) {
            Some(i) => i,
            None => {
                runs.push(Run { run_id: id.clone(), ..Run::default() });
                runs.len() - 1
            }
        };
        let run = &mut runs[idx];
        let change = v.get("change").and_then(Value::as_u64).unwrap_or(0) as usize;
        match v.get("type").and_then(Value::as_str) {
            Some("run") => {
                run.time = s(&v, "time").unwrap_or_default();
                run.script = s(&v, "script").unwrap_or_default();
                run.directory = s(&v, "directory").unwrap_or_default();
                run.planned += v.get("changes").and_then(Value::as_u64).unwrap_or(0) as usize;
            }
            Some("change") => {
                let attrs = |k: &str| -> Result<Option<Vec<Attr>>> {
                    match v.get(k).filter(|x| !x.is_null()) {
                        None => Ok(None),
                        Some(x) => {
                            from_json(x, &format!("journal change {change} `{k}`")).map(Some)
                        }
                    }
                };
                run.changes.push(Recorded {
                    change,
                    time: s(&v, "time").unwrap_or_default(),
                    action: s(&v, "action").unwrap_or_default(),
                    target: s(&v, "target").unwrap_or_default(),
                    dn: s(&v, "dn"),
                    device: s(&v, "device"),
                    reason: s(&v, "reason"),
                    before: attrs("before")?,
                    after: attrs("after")?,
                    stored: None,
                    status: None,
                    message: None,
                    raw: v.clone(),
                });
            }
            Some("stored") => {
                if let Some(c) = run.changes.iter_mut().rev().find(|c| c.change == change) {
                    c.stored = match v.get("after") {
                        Some(x) => Some(from_json(x, &format!("journal change {change}"))?),
                        None => None,
                    };
                }
            }
            Some("outcome") => {
                if let Some(c) = run.changes.iter_mut().rev().find(|c| c.change == change) {
                    c.status = s(&v, "status");
                    c.message = s(&v, "message");
                }
            }
            _ => {}
        }
    }
    Ok(runs)
}

/// One run by id (or a unique prefix of it).
pub fn find(path: &Path, run_id: &str) -> Result<Run> {
    if run_id.trim().is_empty() {
        // An empty prefix would match a lone run: never a guess.
        return Err(Error::new(Kind::InvalidArgument, "the run id is empty")
            .with_hint("`dwb journal` lists the runs; give one's id (or a unique prefix)"));
    }
    let runs = read(path)?;
    let hits: Vec<&Run> = runs.iter().filter(|r| r.run_id.starts_with(run_id)).collect();
    match hits.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Error::new(
            Kind::NotFound,
            format!("no run `{run_id}` in the journal {}", path.display()),
        )
        .with_hint("`dwb journal` lists the runs (of the profile given with --profile)")),
        many => Err(Error::new(
            Kind::Ambiguous,
            format!(
                "`{run_id}` matches {} runs: {}",
                many.len(),
                many.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ad::WriteOp;
    use crate::directory::Dn;
    use crate::plan::Plan;

    #[test]
    fn write_ahead_then_outcome_and_torn_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let j = Journal::open(&path, "R1", "sync", "test").unwrap();
        let mut plan = Plan::default();
        let dn = Dn::parse("CN=a,DC=x").unwrap();
        plan.push(ChangeOp::Directory(WriteOp::Delete { dn }), None);
        let before = vec![Attr::new("x", vec![vec![0, 1]])];
        j.record(1, &[(&plan.changes[0], Some(before.clone()), None)]).unwrap();
        let runs = read(&path).unwrap();
        assert_eq!(runs[0].changes[0].status, None, "sent, not confirmed");
        j.outcome(1, &Outcome::Applied).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"type\":\"chan")
            .unwrap();
        let run = find(&path, "R").unwrap();
        assert_eq!(run.changes[0].status.as_deref(), Some("applied"));
        assert_eq!(run.changes[0].before.as_deref(), Some(before.as_slice()));
        assert_eq!(run.script, "sync");
        assert!(now_utc().ends_with('Z') && now_utc().len() == 20);
        assert_eq!(find(&path, " ").unwrap_err().kind, Kind::InvalidArgument);

        // A complete line that lacks what a change needs is an error naming its
        // line, never matched loosely.
        let change = r#"{"type":"change","run_id":"R1","change":2,"time":"t","target":"x"}"#;
        std::fs::write(&path, format!("{{\"type\":\"cha\n{change}\n")).unwrap();
        let e = read(&path).unwrap_err();
        assert!(e.message.contains("j.jsonl:2: a change without `action`"), "{}", e.message);
        std::fs::write(&path, "{\"type\":\"outcome\"}\n").unwrap();
        assert!(read(&path).unwrap_err().message.contains("j.jsonl:1: no `run_id`"));
    }
}
