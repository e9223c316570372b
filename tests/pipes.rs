//! A closed stdout (`| head -1`, a reader that left) and a full one (`>/dev/full`):
//! every subcommand ends its output quietly, never panics, and exits with its
//! own code; a run piped into `head -1` still applies everything.

use std::io::BufRead;
use std::process::{Command, Stdio};

use crate::support::{DEMO_PREPARE, Dir};

/// Where stdout goes.
#[derive(Clone, Copy, Debug)]
enum Sink {
    /// A pipe whose reader is gone before dwb writes.
    Closed,
    /// `| head -1`: one line read, then the reader is gone.
    HeadOne,
    /// `>/dev/full`: every write fails with ENOSPC.
    Full,
}

const SINKS: [Sink; 3] = [Sink::Closed, Sink::HeadOne, Sink::Full];

/// Which of dwb's outputs goes to the sink (the other is read whole).
#[derive(Clone, Copy, PartialEq)]
enum Stream {
    Stdout,
    Stderr,
}

/// Runs `cmd` with `stream` going to `sink`; returns the exit code and stderr
/// (empty when stderr was the sink).
fn run_into(mut cmd: Command, sink: Sink, stream: Stream) -> (i32, String) {
    let target = match sink {
        Sink::Closed | Sink::HeadOne => Stdio::piped(),
        Sink::Full => std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap().into(),
    };
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    match stream {
        Stream::Stdout => cmd.stdout(target),
        Stream::Stderr => cmd.stderr(target),
    };
    let mut child = cmd.spawn().expect("running dwb");
    // Dropping the pipe's only reader closes it: at once, or after one line.
    let pipe: Option<Box<dyn std::io::Read>> = match stream {
        Stream::Stdout => child.stdout.take().map(|p| Box::new(p) as _),
        Stream::Stderr => child.stderr.take().map(|p| Box::new(p) as _),
    };
    if let (Some(pipe), Sink::HeadOne) = (pipe, sink) {
        let mut line = String::new();
        let _ = std::io::BufReader::new(pipe).read_line(&mut line);
    }
    let o = child.wait_with_output().expect("waiting for dwb");
    (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// `dwb args…` in `d` into `sink`: the exit code is `want`, and nothing panicked.
#[track_caller]
fn check(d: &Dir, args: &[&str], sink: Sink, want: i32) -> String {
    let mut cmd = d.dwb();
    cmd.args(args);
    let (code, stderr) = run_into(cmd, sink, Stream::Stdout);
    let what = format!("dwb {} into {sink:?}", args.join(" "));
    assert!(!stderr.contains("panicked"), "{what} panicked:\n{stderr}");
    assert_eq!(code, want, "{what}: exit code\n--- stderr ---\n{stderr}");
    // A full stdout is said once; a closed pipe is not an error worth a word.
    let said = stderr.matches("output stopped").count();
    match sink {
        Sink::Full => assert!(said <= 1, "{what}: said {said} times\n{stderr}"),
        Sink::Closed | Sink::HeadOne => assert_eq!(said, 0, "{what}:\n{stderr}"),
    }
    stderr
}

fn demo_devices() -> String {
    format!("{}/examples/contoso/devices.json", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn a_run_into_a_closed_or_full_stdout_applies_everything_and_exits_0() {
    for sink in SINKS {
        let d = Dir::new();
        let prepare = [DEMO_PREPARE, &["--write-snapshot", "prepared.ldif"]].concat();
        check(&d, &prepare, sink, 0);
        let prepared = d.read("prepared.ldif");
        assert!(prepared.contains("dn: CN=RegisteredDevices,DC=contoso,DC=test"), "{sink:?}");

        // The issue's own command: `dwb run sync … | head -1`.
        let devices = demo_devices();
        let sync = [
            "run",
            "sync",
            "--snapshot",
            "prepared.ldif",
            "--devices",
            &devices,
            "--write-snapshot",
            "synced.ldif",
        ];
        check(&d, &sync, sink, 0);
        let synced = d.read("synced.ldif");
        // Every one of the demo's 24 devices (DNs are folded in LDIF: count the class).
        let devices_written = synced.lines().filter(|l| *l == "objectClass: msDS-Device").count();
        assert_eq!(devices_written, 24, "{sink:?}: device objects written");
        assert!(synced.contains("LT-000023"), "{sink:?}");
        // The journal has the run, so the output stopped, not the work.
        d.run(&["journal", "--format", "json"]).code(0).stdout_has("sync");

        // JSON reports stream change by change: stopped the same way.
        let json = [DEMO_PREPARE, &["--snapshot", "synced.ldif", "--format", "json"]].concat();
        check(&d, &json, sink, 0);
        // The run's own failure code stands: verify on an unprepared demo finds problems
        // (the demo kept the prepare above: started over).
        d.run(&["demo", "--reset"]).code(0);
        check(&d, &["run", "verify"], sink, 1);
        check(&d, &["run", "verify", "--snapshot", "synced.ldif"], sink, 0);
    }
}

#[test]
fn every_subcommand_survives_a_closed_or_full_stdout() {
    for sink in SINKS {
        let d = Dir::new();
        d.run(&[DEMO_PREPARE, &["--write-snapshot", "prepared.ldif"]].concat()).code(0);
        d.run(&[DEMO_PREPARE, &["--dry-run", "--save-plan", "plan.json"]].concat()).code(0);
        let devices = demo_devices();
        let explain =
            ["explain", "LT-000023", "--snapshot", "prepared.ldif", "--devices", &devices];
        let cases: &[(&[&str], i32)] = &[
            (&["--help"], 0),
            (&["run", "--help"], 0),
            (&["--version"], 0),
            (&["check", "prepare", "verify", "sync"], 0),
            (&["docs"], 0),
            (&["docs", "--format", "json"], 0),
            (&["scripts"], 0),
            (&["journal"], 0),
            (&["journal", "--format", "json"], 0),
            (&explain, 0),
            (&[&explain[..], &["--format", "json"]].concat(), 0),
            (&["completions", "bash"], 0),
            (&["completions", "zsh"], 0),
            (&["completions", "fish"], 0),
            (&["init", "site"], 0),
            (&["apply", "plan.json", "--yes"], 0),
            (&["apply", "plan.json", "--yes", "--format", "json"], 0),
            (&["snapshot", "--snapshot", "prepared.ldif", "--out", "copy.ldif"], 0),
            // Usage errors print on stdout too when asked for JSON.
            (&["run", "prepare", "--format", "json", "--nope"], 3),
            (&["run", "nope"], 3),
            (&["apply", "missing.json"], 3),
            (&["undo", "nosuchrun"], 3),
            (&["journal", "nosuchrun"], 3),
            (&["frobnicate"], 3),
        ];
        for (args, want) in cases {
            check(&d, args, sink, *want);
        }
    }
}

#[test]
fn arguments_that_are_not_utf8_are_usage_errors() {
    use std::os::unix::ffi::OsStrExt;
    let d = Dir::new();
    let bad = std::ffi::OsStr::from_bytes(b"\xff");
    for head in
        [&["journal"][..], &["explain"], &["run"], &["check"], &["run", "verify", "--param"]]
    {
        let o = d.dwb().args(head).arg(bad).output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!stderr.contains("panicked"), "dwb {head:?} \\xff panicked:\n{stderr}");
        assert_eq!(o.status.code(), Some(3), "dwb {head:?} \\xff\n{stderr}");
        assert!(stderr.contains("invalid UTF-8"), "dwb {head:?} \\xff:\n{stderr}");
    }
    // `--format json` still gets its JSON report of the usage error.
    let o = d.dwb().args(["run", "verify", "--format", "json"]).arg(bad).output().unwrap();
    assert_eq!(o.status.code(), Some(3));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["error"]["code"], "DWB-USAGE-0001", "{report:#}");
}

/// `dwb args…` in `d` with stderr going to `sink`: its exit code (a panic on
/// the failed stderr write would be 101).
fn code_with_stderr_into(d: &Dir, args: &[&str], sink: Sink) -> i32 {
    let mut cmd = d.dwb();
    cmd.args(args);
    run_into(cmd, sink, Stream::Stderr).0
}

#[test]
fn a_closed_or_full_stderr_loses_messages_not_work_or_exit_codes() {
    for sink in SINKS {
        let d = Dir::new();
        // The demo announcement, the plan's notes and the journal line go to stderr.
        let prepare = [DEMO_PREPARE, &["--write-snapshot", "prepared.ldif"]].concat();
        assert_eq!(code_with_stderr_into(&d, &prepare, sink), 0, "prepare, stderr {sink:?}");
        assert!(d.read("prepared.ldif").contains("CN=RegisteredDevices"), "{sink:?}");
        let sync = ["run", "sync", "--snapshot", "prepared.ldif", "--devices", &demo_devices()];
        let sync = [&sync[..], &["--write-snapshot", "synced.ldif"]].concat();
        assert_eq!(code_with_stderr_into(&d, &sync, sink), 0, "sync, stderr {sink:?}");
        let synced = d.read("synced.ldif");
        assert_eq!(synced.lines().filter(|l| *l == "objectClass: msDS-Device").count(), 24);
        // Errors and failures keep their codes when they cannot be said.
        assert_eq!(code_with_stderr_into(&d, &["run", "nope"], sink), 3, "{sink:?}");
        assert_eq!(code_with_stderr_into(&d, &["frobnicate"], sink), 3, "{sink:?}");
        let verify = ["run", "verify", "--snapshot", "synced.ldif", "--devices", &demo_devices()];
        assert_eq!(code_with_stderr_into(&d, &verify, sink), 0, "{sink:?}");
        // The demo kept the prepare above: started over, it is unprepared.
        d.run(&["demo", "--reset"]).code(0);
        assert_eq!(code_with_stderr_into(&d, &["run", "verify"], sink), 1, "{sink:?}");
    }
}
