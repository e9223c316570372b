//! Test helpers: `Dir` is a fresh temp directory per test; `Dir::dwb()` builds a
//! `dwb` command that runs inside it with a clean environment.

#![allow(dead_code)]

pub mod samba;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Dir {
    pub tmp: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Dir {
        Dir { tmp: tempfile::tempdir().expect("temp dir") }
    }

    /// A directory holding `prepared.ldif`: the demo directory after `prepare`.
    pub fn prepared() -> Dir {
        let d = Dir::new();
        d.run(&[DEMO_PREPARE, &["--write-snapshot", "prepared.ldif", "-q"]].concat()).code(0);
        d
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    pub fn join(&self, p: &str) -> PathBuf {
        self.tmp.path().join(p)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, text).unwrap();
        p
    }

    /// A file of the repository (examples, scripts).
    pub fn read_repo(&self, path: &str) -> String {
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.join(name)).unwrap_or_else(|e| panic!("reading {name}: {e}"))
    }

    /// `dwb` in this directory, with no DWB_* variables and a private HOME.
    pub fn dwb(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_dwb"));
        c.current_dir(self.path());
        for (k, _) in std::env::vars() {
            if k.starts_with("DWB_") {
                c.env_remove(k);
            }
        }
        // Secrets a service manager handed to the test run are not the test's.
        c.env_remove("CREDENTIALS_DIRECTORY");
        c.env("HOME", self.path())
            .env("XDG_CONFIG_HOME", self.join(".config"))
            .env("XDG_DATA_HOME", self.join(".local"));
        c
    }

    /// Runs `dwb args…` and returns the output.
    pub fn run(&self, args: &[&str]) -> Out {
        Out::from(self.dwb().args(args).output().expect("running dwb"), args)
    }
}

/// A finished command with helpers that print everything on failure.
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub args: String,
}

impl Out {
    fn from(o: Output, args: &[&str]) -> Out {
        Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            args: args.join(" "),
        }
    }

    #[track_caller]
    pub fn code(&self, want: i32) -> &Out {
        assert_eq!(
            self.code, want,
            "dwb {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.args, self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn stdout_has(&self, s: &str) -> &Out {
        assert!(
            self.stdout.contains(s),
            "stdout of dwb {} lacks {s:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.args,
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn stderr_has(&self, s: &str) -> &Out {
        assert!(
            self.stderr.contains(s),
            "stderr of dwb {} lacks {s:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.args,
            self.stdout,
            self.stderr
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// The README's first command, as arguments.
pub const DEMO_PREPARE: &[&str] =
    &["run", "prepare.rhai", "--param", "connector_account=CONTOSO\\svc-dwb"];
