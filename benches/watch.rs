//! `cargo bench --bench watch`: how soon an Entra change reaches AD in watch
//! mode, and the write rate a paced initial load reaches. The dwb **release**
//! binary runs as a subprocess, as a user runs it, against a lab Samba AD DC
//! (`tests/support/samba.rs`, prepared with `dwb run prepare`) and the Graph
//! emulator in this process, every response (token endpoint included) delayed
//! 50 ms: a real tenant answers in 50–150 ms.
//!
//! 1. Watch latency at `watch=10` and `watch=60` (issue #19): a tenant of
//!    200 devices synced once (`dwb run sync`), then `dwb run sync --yes
//!    --param watch=N` in the background, its stderr (one `[DWB-SVC-0010] round
//!    ok …` line per round) to a file. Once its first round is logged, 10
//!    times: sleep a random time within the interval (seeded, so the moments
//!    are the same every run), rename one device in the emulator, and poll the
//!    DC (`ldapsearch` of that one object, every 150 ms) until the object holds
//!    the new displayName; the latency runs from the rename to that search's
//!    answer. Target: every one ≤ interval + 10 s. Then SIGTERM: the watch must
//!    exit 0 and have logged no failed round.
//! 2. Write pacing: an initial sync of a 300-device tenant into a freshly
//!    prepared DC, paced (`--param max_writes_per_second=50`) and unpaced (a DC
//!    of its own). Printed: creates ÷ the apply phase (the report's
//!    `timings.apply_ms`, i.e. the writes alone) and creates ÷ the whole run's
//!    wall time (Graph listing and DC reads included). No target: the figure is
//!    what the README quotes.
//!
//! `DWB_BENCH_WATCH_ONLY` runs only the parts it names, comma-separated: `10`,
//! `60` (about 10 minutes on its own), `pacing`; e.g. `DWB_BENCH_WATCH_ONLY=10,pacing`.
//! `DWB_BENCH_SEED` changes the seed of the rename moments (default 19).
//!
//! The dwb binary: `CARGO_BIN_EXE_dwb` (the bench profile's `<target>/release/dwb`),
//! else `cargo build --release --bin dwb`; `DWB_BENCH_DWB=/path/to/dwb` overrides both.
//!
//! Prints each figure and a table with PASS/ABOVE; never fails on a target,
//! only when the lab cannot run or dwb misbehaves (a failed round, a rename
//! that never arrives, a watch that does not stop).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a bench: failing loudly is the point
#![allow(clippy::disallowed_macros)] // a bench prints its figures to stderr as it likes

#[path = "../tests/support/samba.rs"]
mod samba;

mod common;

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use dwb_graph_emulator::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Emulator, EmulatorHandle, generate,
};
use serde_json::Value;

use common::{at_most, rule};
use samba::SambaDc;

const CONTAINER: &str = "CN=RegisteredDevices,DC=contoso,DC=test";
/// Every Graph response's latency (a real tenant's RTT is 50–150 ms).
const LATENCY_MS: u64 = 50;
const WATCH_DEVICES: usize = 200;
const WATCH_TENANT_SEED: u64 = 19;
const ROUNDS: usize = 10;
/// The target: every change in AD within the interval + this.
const SLACK_S: u64 = 10;
const POLL: Duration = Duration::from_millis(150);
const PACING_DEVICES: usize = 300;
const PACING_TENANT_SEED: u64 = 23;
const PACED_RATE: u64 = 50;

fn main() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let only = std::env::var("DWB_BENCH_WATCH_ONLY").ok();
    let wanted = |part: &str| {
        only.as_deref().is_none_or(|o| o.split(',').any(|p| p.trim().eq_ignore_ascii_case(part)))
    };
    let seed: u64 = std::env::var("DWB_BENCH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(19);
    let dwb = common::dwb_binary();
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    println!(
        "dwb watch bench: binary {}; every Graph response {LATENCY_MS} ms late{}",
        dwb.display(),
        only.as_deref().map(|o| format!("; only {o}")).unwrap_or_default()
    );

    let mut rows: Vec<Row> = Vec::new();
    let intervals: Vec<u64> = [10, 60].into_iter().filter(|n| wanted(&n.to_string())).collect();
    if !intervals.is_empty() {
        let mut tenant = generate(WATCH_DEVICES, WATCH_TENANT_SEED);
        tenant.latency_ms = LATENCY_MS;
        let emu = rt.block_on(Emulator::start(tenant)).unwrap();
        let lab = Lab { dwb: &dwb, work, dc: prepared_dc(&dwb, work, &emu), emu: &emu };
        let (wall, o) = lab.timed(&["run", "sync", "--quiet", "--yes"]);
        assert!(o.status.success(), "initial sync failed:\n{}", String::from_utf8_lossy(&o.stderr));
        let in_ad = lab.dns();
        println!(
            "initial sync of {WATCH_DEVICES} devices (seed {WATCH_TENANT_SEED}): {} objects in {wall:.2?}",
            in_ad.len()
        );
        // Devices written by the initial sync with plain names, 10 per interval.
        let mut candidates = renamable(&emu, &in_ad).into_iter();
        let mut rng = SplitMix(seed);
        for n in intervals {
            let devices: Vec<(String, String)> = candidates.by_ref().take(ROUNDS).collect();
            assert_eq!(devices.len(), ROUNDS, "not enough renamable devices");
            rows.push(watch_latency(&lab, n, &devices, &mut rng));
        }
    }

    if wanted("pacing") {
        let mut tenant = generate(PACING_DEVICES, PACING_TENANT_SEED);
        tenant.latency_ms = LATENCY_MS;
        let emu = rt.block_on(Emulator::start(tenant)).unwrap();
        let paced_param = format!("max_writes_per_second={PACED_RATE}");
        for (label, extra) in [
            (format!("paced at {PACED_RATE}/s"), Some(paced_param.as_str())),
            ("unpaced".to_string(), None),
        ] {
            rows.push(pacing_run(&dwb, work, &emu, &label, extra));
        }
    }

    let header = format!("{:<44} {:>40} {:>12}  {}", "figure", "dwb", "target", "verdict");
    println!("\n{header}\n{}", rule(&header));
    for r in &rows {
        println!("{:<44} {:>40} {:>12}  {}", r.figure, r.value, r.target, r.verdict);
    }
    println!(
        "\nlatency = from the rename in the emulator to the ldapsearch that first saw the new \
         displayName (polled every {} ms); writes/s = creates / apply phase (report \
         timings.apply_ms), and / the whole dwb run. Every Graph response {LATENCY_MS} ms late.",
        POLL.as_millis()
    );
}

struct Row {
    figure: String,
    value: String,
    target: String,
    verdict: &'static str,
}

// ---- 1. watch latency --------------------------------------------------------------------------

/// One `watch=N` run with `devices.len()` renames; the table row of its figures.
fn watch_latency(lab: &Lab, n: u64, devices: &[(String, String)], rng: &mut SplitMix) -> Row {
    println!("\nwatch={n}: {} renames, each at a random moment within {n} s", devices.len());
    let log = lab.work.join(format!("watch-{n}.stderr"));
    let mut child = lab
        .cmd(&["run", "sync", "--yes", "--param", &format!("watch={n}")])
        .stdout(Stdio::null())
        .stderr(File::create(&log).unwrap())
        .spawn()
        .unwrap();
    wait_until(&mut child, &log, "the watch's first round", Duration::from_secs(120), |l| {
        l.contains("[DWB-SVC-0010]")
    });

    let mut latencies = Vec::new();
    for (i, (graph_id, device_id)) in devices.iter().enumerate() {
        let pause = Duration::from_millis(rng.below(n * 1000));
        std::thread::sleep(pause);
        let name = format!("WATCH{n}-ROUND{i:02}");
        lab.emu.with_state(|s| s.rename_device(graph_id, &name).unwrap());
        let renamed = Instant::now();
        let dn = format!("CN={device_id},{CONTAINER}");
        let deadline = renamed + Duration::from_secs(3 * n + 120);
        let latency = loop {
            if display_name(&lab.dc, &dn).as_deref() == Some(name.as_str()) {
                break renamed.elapsed();
            }
            if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
                let _ = child.kill();
                panic!(
                    "rename {i} ({name}) not in AD after {:.0?}; the watch's stderr:\n{}",
                    renamed.elapsed(),
                    fs::read_to_string(&log).unwrap_or_default()
                );
            }
            std::thread::sleep(POLL);
        };
        println!(
            "   round {:>2}: renamed {:>5.2} s into the wait, in AD after {:>6.2} s",
            i + 1,
            pause.as_secs_f64(),
            latency.as_secs_f64()
        );
        latencies.push(latency);
    }

    // SIGTERM: a service manager's stop; the round in progress finishes.
    let asked = Instant::now();
    let st = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(st.success(), "kill -TERM failed");
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code();
        }
        if asked.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the watch did not stop within 60 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stopped = asked.elapsed();
    let stderr = fs::read_to_string(&log).unwrap();
    assert_eq!(code, Some(0), "SIGTERM stops a watch with 0:\n{stderr}");
    assert!(!stderr.contains("sync round failed"), "a watch round failed:\n{stderr}");
    let rounds: Vec<&str> = stderr.lines().filter(|l| l.contains("] round ")).collect();
    assert!(
        rounds.iter().all(|l| l.starts_with("[DWB-SVC-0010] round ok")),
        "every round ok:\n{stderr}"
    );
    let longest = rounds.iter().filter_map(|l| round_secs(l)).fold(0.0, f64::max);

    let mut sorted = latencies.clone();
    sorted.sort();
    let (min, max) = (sorted[0].as_secs_f64(), sorted[sorted.len() - 1].as_secs_f64());
    let median = median(&sorted);
    let limit = (n + SLACK_S) as f64;
    println!(
        "   watch={n}: min {min:.2} s, median {median:.2} s, max {max:.2} s; {} rounds, all ok, \
         longest {longest:.1} s; SIGTERM -> exit 0 after {:.2} s",
        rounds.len(),
        stopped.as_secs_f64()
    );
    Row {
        figure: format!("watch={n}: rename -> AD, {} rounds", latencies.len()),
        value: format!("min {min:.1} / median {median:.1} / max {max:.1} s"),
        target: format!("<= {limit:.0} s"),
        verdict: at_most(max, limit),
    }
}

/// The median of sorted durations, in seconds.
fn median(sorted: &[Duration]) -> f64 {
    let k = sorted.len();
    if k % 2 == 1 {
        sorted[k / 2].as_secs_f64()
    } else {
        (sorted[k / 2 - 1].as_secs_f64() + sorted[k / 2].as_secs_f64()) / 2.0
    }
}

/// A round line's duration: `[DWB-SVC-0010] round ok (full, 0.6 s): …`.
fn round_secs(line: &str) -> Option<f64> {
    let inside = line.split_once('(')?.1.split_once(" s)")?.0;
    inside.rsplit(", ").next()?.parse().ok()
}

/// Waits for a line of the log that `ok` accepts; panics when the process ends first.
fn wait_until(
    child: &mut Child,
    log: &Path,
    what: &str,
    timeout: Duration,
    ok: impl Fn(&str) -> bool,
) {
    let t = Instant::now();
    loop {
        let text = fs::read_to_string(log).unwrap_or_default();
        if text.lines().any(&ok) {
            return;
        }
        if let Some(st) = child.try_wait().unwrap() {
            panic!("dwb exited ({st}) before {what}:\n{text}");
        }
        if t.elapsed() > timeout {
            let _ = child.kill();
            panic!("no {what} within {timeout:?}:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// (Graph object id, deviceId) of devices whose object the initial sync wrote,
/// with plain names (letters, digits, '-'), in the emulator's id order.
fn renamable(emu: &EmulatorHandle, in_ad: &BTreeSet<String>) -> Vec<(String, String)> {
    emu.with_state(|s| {
        s.devices
            .values()
            .filter(|d| {
                d.props["displayName"].as_str().is_some_and(|n| {
                    !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                })
            })
            .filter_map(|d| {
                let id = d.props["id"].as_str()?.to_string();
                let device_id = d.props["deviceId"].as_str()?.to_string();
                let dn = format!("CN={device_id},{CONTAINER}").to_ascii_lowercase();
                in_ad.contains(&dn).then_some((id, device_id))
            })
            .collect()
    })
}

/// The object's displayName as the DC answers a base search for it now.
fn display_name(dc: &SambaDc, dn: &str) -> Option<String> {
    let o = dc.ldapsearch_output(&["-b", dn, "-s", "base", "(objectClass=*)", "displayName"]);
    if !o.status.success() {
        return None;
    }
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("displayName: ").map(str::to_string))
}

/// seeded moments: SplitMix64, so a run's rename moments repeat without a dependency.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform enough in 0..n for picking moments.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

// ---- 2. write pacing ---------------------------------------------------------------------------

/// An initial sync into a freshly prepared DC of its own; the table row of its rate.
fn pacing_run(
    dwb: &Path,
    work: &Path,
    emu: &EmulatorHandle,
    label: &str,
    param: Option<&str>,
) -> Row {
    // A working directory of its own: the data directory (locks, status) is per container DN.
    let work = &work.join(format!("pacing-{}", if param.is_some() { "paced" } else { "unpaced" }));
    fs::create_dir_all(work).unwrap();
    let lab = Lab { dwb, work, dc: prepared_dc(dwb, work, emu), emu };
    let report = work.join("report.json");
    let mut args = vec!["run", "sync", "--quiet", "--yes", "--report", report.to_str().unwrap()];
    if let Some(p) = param {
        args.extend(["--param", p]);
    }
    let (wall, o) = lab.timed(&args);
    assert!(
        o.status.success(),
        "{label} initial sync failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r: Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
    let creates = r["plan"].as_array().unwrap().iter().filter(|c| c["action"] == "create").count();
    assert_eq!(lab.dns().len(), creates, "{label}: every planned create is in AD");
    let apply = Duration::from_millis(r["timings"]["apply_ms"].as_u64().unwrap());
    let per_apply = creates as f64 / apply.as_secs_f64();
    let per_wall = creates as f64 / wall.as_secs_f64();
    println!(
        "\npacing, {label}{}: {creates} creates; apply {:.2} s = {per_apply:.1} writes/s; whole run \
         {:.2} s = {per_wall:.1} writes/s",
        param.map(|p| format!(" (--param {p})")).unwrap_or_default(),
        apply.as_secs_f64(),
        wall.as_secs_f64()
    );
    Row {
        figure: format!("initial sync, {creates} creates, {label}"),
        value: format!("{per_apply:.1}/s apply, {per_wall:.1}/s whole run"),
        target: "(info)".into(),
        verdict: "-",
    }
}

// ---- the lab -----------------------------------------------------------------------------------

/// A DC, the emulator and where dwb runs.
struct Lab<'a> {
    dwb: &'a Path,
    work: &'a Path,
    dc: SambaDc,
    emu: &'a EmulatorHandle,
}

impl Lab<'_> {
    /// `dwb …` with the DC and the emulator configured through DWB_* variables.
    fn cmd(&self, args: &[&str]) -> Command {
        dwb_cmd(self.dwb, self.work, &self.dc, self.emu, args)
    }

    fn timed(&self, args: &[&str]) -> (Duration, Output) {
        let t = Instant::now();
        let o = self.cmd(args).output().unwrap();
        (t.elapsed(), o)
    }

    /// The lower-cased DNs of the msDS-Device objects in the container.
    fn dns(&self) -> BTreeSet<String> {
        self.dc
            .ldapsearch(&[
                "-E",
                "pr=1000/noprompt",
                "-b",
                CONTAINER,
                "-s",
                "one",
                "(objectClass=msDS-Device)",
                "1.1",
            ])
            .lines()
            .filter_map(|l| l.strip_prefix("dn: "))
            .map(str::to_ascii_lowercase)
            .collect()
    }
}

/// A fresh DC prepared by `dwb run prepare`.
fn prepared_dc(dwb: &Path, work: &Path, emu: &EmulatorHandle) -> SambaDc {
    let dc = SambaDc::start();
    let o = dwb_cmd(
        dwb,
        work,
        &dc,
        emu,
        &["run", "prepare", "--param", "connector_account=CONTOSO\\Administrator", "--quiet"],
    )
    .output()
    .unwrap();
    assert!(o.status.success(), "prepare failed:\n{}", String::from_utf8_lossy(&o.stderr));
    dc
}

fn dwb_cmd(dwb: &Path, work: &Path, dc: &SambaDc, emu: &EmulatorHandle, args: &[&str]) -> Command {
    let mut c = Command::new(dwb);
    for (k, _) in std::env::vars() {
        if k.starts_with("DWB_") {
            c.env_remove(k);
        }
    }
    let base = emu.base_url().to_string();
    c.current_dir(work)
        .env("HOME", work)
        .env("XDG_CONFIG_HOME", work.join(".config"))
        .env("XDG_DATA_HOME", work.join(".local/share"))
        .env("DWB_LDAP_URL", dc.url_ldaps())
        .env("DWB_LDAP_USER", dc.admin_user())
        .env("DWB_LDAP_PASSWORD", dc.admin_password())
        .env("DWB_LDAP_CA_FILE", dc.ca_file())
        .env("DWB_GRAPH_TENANT", emu.tenant_id())
        .env("DWB_GRAPH_CLIENT_ID", DEFAULT_CLIENT_ID)
        .env("DWB_GRAPH_CLIENT_SECRET", DEFAULT_CLIENT_SECRET)
        .env("DWB_GRAPH_AUTHORITY", &base)
        .env("DWB_GRAPH_ENDPOINT", &base)
        .args(args)
        .stdin(Stdio::null());
    c
}
