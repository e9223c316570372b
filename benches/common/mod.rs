//! Shared by the bench targets: CPU time and memory from `/proc`, the printed
//! verdicts, and the Graph emulator as a separate process. Nothing here asserts:
//! a bench prints what it measured and exits 0; a target missed is reported as
//! BELOW/ABOVE, not as a failure.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The hidden first argument with which a bench runs itself as the Graph emulator.
const SERVE_GRAPH_EMULATOR: &str = "--serve-graph-emulator";

/// When this process is `<bench> --serve-graph-emulator ARGS…` (started by
/// [`graph_emulator_command`]), run the emulator's command line with ARGS (the
/// `dwb-graph-emulator` binary's options) and exit with its code. Call first in
/// `main`.
pub fn serve_graph_emulator_if_asked() {
    let mut args = std::env::args_os();
    let program = args.next().unwrap_or_default();
    if args.next().is_some_and(|a| a == SERVE_GRAPH_EMULATOR) {
        std::process::exit(dwb_graph_emulator::cli::run(std::iter::once(program).chain(args)));
    }
}

/// The Graph emulator as a separate process: this bench binary re-executed with
/// the hidden argument, so the emulator's memory and CPU are its own and no
/// `cargo` runs from inside a bench. `args` are `dwb-graph-emulator` options.
pub fn graph_emulator_command(args: &[&str]) -> Command {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("no current_exe: {e}"));
    let mut c = Command::new(exe);
    c.arg(SERVE_GRAPH_EMULATOR).args(args);
    c
}

/// Linux reports `/proc/<pid>/stat` times in USER_HZ ticks, which the kernel
/// ABI fixes at 100 per second for user space (gVisor does the same).
const TICKS_PER_SEC: f64 = 100.0;

/// The fields of `/proc/<pid>/stat` after the `(comm)` field, which may
/// itself contain spaces and parentheses. Index 0 is field 3 (`state`).
fn stat_fields(pid: &str) -> Option<Vec<u64>> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(|f| f.parse().unwrap_or(0)).collect())
}

/// User + system CPU seconds of a process (`"self"` or a pid); `None` when it is gone.
pub fn cpu_secs(pid: &str) -> Option<f64> {
    let f = stat_fields(pid)?;
    // utime and stime are fields 14 and 15.
    Some((f.get(11)? + f.get(12)?) as f64 / TICKS_PER_SEC)
}

/// User + system CPU seconds of this process's children that it has waited
/// for (`cutime` + `cstime`): the CPU of finished `ldapadd`/`ldapsearch` runs.
pub fn waited_children_cpu_secs() -> f64 {
    stat_fields("self")
        .and_then(|f| Some((f.get(13)? + f.get(14)?) as f64 / TICKS_PER_SEC))
        .unwrap_or(0.0)
}

/// A `kB` line of `/proc/<pid>/status` (`VmHWM` = peak RSS, `VmRSS`), in
/// MB (10^6 bytes; the kernel's "kB" are KiB).
pub fn status_mb(pid: &str, key: &str) -> Option<f64> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(key) && l[key.len()..].starts_with(':'))?;
    let kib: f64 = line[key.len() + 1..].trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024.0 / 1e6)
}

/// `PASS` when `ratio` meets `target` (higher is better), else `BELOW`.
pub fn at_least(ratio: f64, target: f64) -> &'static str {
    if ratio >= target { "PASS" } else { "BELOW" }
}

/// `PASS` when `value` stays within `limit` (lower is better), else `ABOVE`.
pub fn at_most(value: f64, limit: f64) -> &'static str {
    if value <= limit { "PASS" } else { "ABOVE" }
}

/// A horizontal rule as wide as `header`.
pub fn rule(header: &str) -> String {
    "-".repeat(header.chars().count())
}

/// `12345.6` as `12,346` (objects/s and counts read better grouped).
pub fn grouped(v: f64) -> String {
    let n = v.round() as i64;
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// Busy CPU seconds of the whole machine so far (`/proc/stat`: user, nice,
/// system, irq, softirq, steal; not idle or iowait). The difference over a
/// phase, minus the processes being measured, is what everything else used
/// meanwhile: other processes, and under a sandbox such as gVisor its kernel's
/// own work (e.g. the network stack moving a search's results). A large figure
/// when the measured processes are idle means the timing is disturbed.
pub fn machine_busy_secs() -> f64 {
    let Ok(text) = fs::read_to_string("/proc/stat") else { return f64::NAN };
    let Some(line) = text.lines().find(|l| l.starts_with("cpu ")) else { return f64::NAN };
    let f: Vec<u64> = line.split_whitespace().skip(1).map(|v| v.parse().unwrap_or(0)).collect();
    [0usize, 1, 2, 5, 6, 7].iter().filter_map(|i| f.get(*i)).sum::<u64>() as f64 / TICKS_PER_SEC
}

/// The dwb release binary the benches time: `DWB_BENCH_DWB`, else the one
/// `cargo bench` built (`CARGO_BIN_EXE_dwb`, release), else
/// `<target>/release/dwb`, built with `cargo build --release` when missing.
pub fn dwb_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("DWB_BENCH_DWB") {
        return PathBuf::from(p);
    }
    let built = PathBuf::from(env!("CARGO_BIN_EXE_dwb"));
    if built.exists() && built.parent().is_some_and(|d| d.ends_with("release")) {
        return built;
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("target"));
    let release = target.join("release/dwb");
    if !release.exists() {
        eprintln!("building the release binary: cargo build --release --bin dwb");
        let st = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--release", "--bin", "dwb"])
            .current_dir(manifest)
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .unwrap();
        assert!(st.success(), "cargo build --release --bin dwb failed");
    }
    release
}
