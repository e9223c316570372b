//! `cargo bench --bench graph`: listing 100,000 devices from the Graph
//! emulator in pages of 999 with dwb's real `GraphClient`.
//!
//! The emulator holds its whole tenant in memory (~650 MB for 100k devices),
//! so it runs as a separate process, and this process only lists: its peak RSS
//! (`VmHWM`) is then the client's. That process is this bench binary run again
//! as `<bench> --serve-graph-emulator --addr 127.0.0.1:0 --devices 100000`,
//! which serves the `dwb-graph-emulator` crate's command line (the same options
//! and output as `cargo run -p dwb-graph-emulator -- …`).
//!
//! Runs, in the order D-R-R-D:
//! - D: `GraphClient::list_devices` (client-secret token from the emulator,
//!   `$select` = dwb's device properties, `$top=999`), every page parsed into
//!   typed `Device`s, which are counted and dropped;
//! - R, the baseline: the same URLs fetched with a bare reqwest client, each
//!   body read whole and only `@odata.nextLink` and the item count taken out
//!   of it. This is as fast as the emulator can serve the listing.
//!
//! Prints devices/s, wall time, both processes' CPU seconds (from
//! `/proc/<pid>/stat`), the bench process's RSS before listing and its peak
//! after the first dwb listing (which runs before any baseline run, so the
//! peak is dwb's), and the verdicts. Targets are never enforced: exit 0.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a bench: failing loudly is the point
#![allow(clippy::disallowed_macros)] // a bench prints its figures to stderr as it likes

mod common;

use std::io::{BufRead, BufReader};
use std::ops::ControlFlow;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use dwb::graph::{Cloud, Credential, GraphClient, GraphConfig, ListOptions};
use secrecy::SecretString;
use serde::Deserialize;
use serde::de::IgnoredAny;

use common::{
    at_least, at_most, cpu_secs, graph_emulator_command, grouped, machine_busy_secs, rule,
    serve_graph_emulator_if_asked, status_mb,
};

const DEVICES: usize = 100_000;
const PAGE: u32 = 999;
const RSS_LIMIT_MB: f64 = 150.0;

/// The Graph emulator as a child process; killed and reaped on drop.
struct EmulatorProcess {
    child: Child,
    login: String,
    graph: String,
    tenant: String,
    client_id: String,
    secret: String,
}

impl EmulatorProcess {
    fn spawn(devices: usize) -> EmulatorProcess {
        let mut child =
            graph_emulator_command(&["--addr", "127.0.0.1:0", "--devices", &devices.to_string()])
                .args(["--seed", "1"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start the Graph emulator: {e}"));
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut field = |label: &str| -> String {
            let mut line = String::new();
            loop {
                line.clear();
                if out.read_line(&mut line).unwrap() == 0 {
                    panic!("the Graph emulator ended before printing its {label}");
                }
                if let Some((l, v)) = line.split_once(" : ")
                    && l.trim() == label
                {
                    return v.trim().to_string();
                }
            }
        };
        // `serve` prints these in this order, then `devices`.
        let login = field("login authority");
        let graph = field("graph");
        let tenant = field("tenant");
        let client_id = field("client id");
        let secret = field("client secret");
        let listed: usize = field("devices").parse().unwrap();
        assert_eq!(listed, devices, "the emulator generated {listed} devices");
        // Nothing more is expected on stdout; drain it anyway so it can never block.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        EmulatorProcess { child, login, graph, tenant, client_id, secret }
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One timed listing.
#[derive(Clone, Copy)]
struct Run {
    devices: u64,
    pages: u64,
    wall: Duration,
    client_cpu: f64,
    emulator_cpu: f64,
    /// Every other process on the machine, over the run.
    other_cpu: f64,
}

impl Run {
    fn rate(&self) -> f64 {
        self.devices as f64 / self.wall.as_secs_f64()
    }
}

fn best(runs: &[Run]) -> Run {
    *runs.iter().min_by_key(|r| r.wall).unwrap()
}

/// Runs `f` (which returns devices and pages), measuring wall time and both processes' CPU.
fn measure(emu: &EmulatorProcess, f: impl FnOnce() -> (u64, u64)) -> Run {
    let sample = || (cpu_secs("self").unwrap(), cpu_secs(&emu.pid()).unwrap(), machine_busy_secs());
    let (c0, e0, all0) = sample();
    let t0 = Instant::now();
    let (devices, pages) = f();
    let wall = t0.elapsed();
    let (c1, e1, all1) = sample();
    assert_eq!(devices, DEVICES as u64, "listed {devices} devices, expected {DEVICES}");
    let (client_cpu, emulator_cpu) = (c1 - c0, e1 - e0);
    let other_cpu = ((all1 - all0) - client_cpu - emulator_cpu).max(0.0);
    Run { devices, pages, wall, client_cpu, emulator_cpu, other_cpu }
}

/// The baseline's view of a page: the item count and the next link, nothing else.
#[derive(Deserialize)]
struct RawPage {
    #[serde(rename = "@odata.nextLink")]
    next: Option<String>,
    value: Vec<IgnoredAny>,
}

fn main() {
    serve_graph_emulator_if_asked();
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let rss_at_start = status_mb("self", "VmRSS").unwrap();

    let started = Instant::now();
    let emu = EmulatorProcess::spawn(DEVICES);
    let emu_startup = started.elapsed();
    let emu_rss = status_mb(&emu.pid(), "VmRSS").unwrap_or(f64::NAN);

    // The runtime a dwb session builds (commands::session::Session).
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let cloud = Cloud::custom(&emu.login, &emu.graph).unwrap();
    let cred =
        Credential::client_secret(emu.client_id.clone(), SecretString::from(emu.secret.clone()));
    let client = GraphClient::new(GraphConfig::new(cloud, emu.tenant.clone(), cred)).unwrap();
    let t = Instant::now();
    rt.block_on(client.sign_in()).unwrap();
    let sign_in = t.elapsed();
    let opts = ListOptions { top: Some(PAGE), ..ListOptions::default() };
    let first_url = client.devices(&opts).unwrap().next_url().unwrap().clone();

    // The baseline's own HTTP client and token (client credentials, as dwb does).
    let raw = reqwest::Client::builder().no_proxy().build().unwrap();
    let raw_token: String = rt.block_on(async {
        let url = format!("{}/{}/oauth2/v2.0/token", emu.login.trim_end_matches('/'), emu.tenant);
        let scope = Cloud::custom(&emu.login, &emu.graph).unwrap().scope().unwrap();
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", emu.client_id.as_str()),
            ("client_secret", emu.secret.as_str()),
            ("scope", scope.as_str()),
        ];
        let v: serde_json::Value = raw
            .post(url)
            .form(&form)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        v["access_token"].as_str().unwrap().to_string()
    });

    let rss_before = status_mb("self", "VmRSS").unwrap();
    let hwm_before = status_mb("self", "VmHWM").unwrap();

    let dwb_list = || {
        measure(&emu, || {
            let mut n = 0u64;
            let sum = rt
                .block_on(client.list_devices(&opts, |_device| {
                    n += 1;
                    ControlFlow::Continue(())
                }))
                .unwrap();
            assert_eq!(sum.devices, n);
            (n, sum.pages)
        })
    };
    let raw_list = || {
        measure(&emu, || {
            rt.block_on(async {
                let (mut n, mut pages) = (0u64, 0u64);
                let mut next = Some(first_url.to_string());
                while let Some(url) = next.take() {
                    let body = raw
                        .get(url)
                        .bearer_auth(&raw_token)
                        .send()
                        .await
                        .unwrap()
                        .error_for_status()
                        .unwrap()
                        .bytes()
                        .await
                        .unwrap();
                    let page: RawPage = serde_json::from_slice(&body).unwrap();
                    n += page.value.len() as u64;
                    pages += 1;
                    next = page.next;
                }
                (n, pages)
            })
        })
    };

    println!();
    println!(
        "dwb Graph listing benchmark: {} devices from the Graph emulator (separate process, pid {}) at {}, pages of {PAGE}",
        grouped(DEVICES as f64),
        emu.pid(),
        emu.login
    );
    println!(
        "emulator: generated and listening after {:.1} s, RSS {:.0} MB (its own process, not counted below); dwb token in {:.0} ms",
        emu_startup.as_secs_f64(),
        emu_rss,
        sign_in.as_secs_f64() * 1000.0
    );
    println!();
    println!(
        "Listings (order D-R-R-D; D = dwb GraphClient::list_devices, R = baseline: same URLs, bare reqwest, body not parsed into devices):"
    );
    let header = format!(
        "{:<3} {:<36} {:>8} {:>6} {:>7} {:>10} {:>13} {:>15} {:>16} {:>12}",
        "run",
        "client",
        "devices",
        "pages",
        "wall s",
        "devices/s",
        "client CPU s",
        "emulator CPU s",
        "CPU% client:emu",
        "other CPU s"
    );
    println!("{header}\n{}", rule(&header));
    let row = |i: usize, what: &str, r: &Run| {
        println!(
            "{:<3} {:<36} {:>8} {:>6} {:>7.2} {:>10} {:>13.2} {:>15.2} {:>16} {:>12.2}",
            i,
            what,
            grouped(r.devices as f64),
            r.pages,
            r.wall.as_secs_f64(),
            grouped(r.rate()),
            r.client_cpu,
            r.emulator_cpu,
            format!(
                "{:.0}% : {:.0}%",
                100.0 * r.client_cpu / r.wall.as_secs_f64(),
                100.0 * r.emulator_cpu / r.wall.as_secs_f64()
            ),
            r.other_cpu
        )
    };
    const DWB: &str = "dwb GraphClient::list_devices";
    const RAW: &str = "baseline: raw HTTP pages";
    let d1 = dwb_list();
    // Read now: nothing but dwb's listing has run since `hwm_before`.
    let hwm_after_dwb = status_mb("self", "VmHWM").unwrap();
    row(1, DWB, &d1);
    let r1 = raw_list();
    row(2, RAW, &r1);
    let r2 = raw_list();
    row(3, RAW, &r2);
    let d2 = dwb_list();
    row(4, DWB, &d2);
    let hwm_end = status_mb("self", "VmHWM").unwrap();

    let (dwb_best, raw_best) = (best(&[d1, d2]), best(&[r1, r2]));
    let ratio = dwb_best.rate() / raw_best.rate();
    let emulator_bound = dwb_best.emulator_cpu >= dwb_best.client_cpu;

    println!();
    println!(
        "Bench process memory (MB = 10^6 bytes; VmHWM is the peak RSS since the process started):"
    );
    println!("  VmRSS at start                      {rss_at_start:>7.1} MB");
    println!(
        "  VmRSS / VmHWM before listing        {rss_before:>7.1} / {hwm_before:.1} MB   (runtime, HTTP clients, tokens)"
    );
    println!(
        "  VmHWM after the first dwb listing   {hwm_after_dwb:>7.1} MB   (+{:.1} MB over the RSS before listing)",
        hwm_after_dwb - rss_before
    );
    println!(
        "  VmHWM at the end                    {hwm_end:>7.1} MB   (after the baseline runs too)"
    );

    println!();
    println!("Summary:");
    let header = format!(
        "{:<44} {:>16} {:>16} {:>7} {:>10} {:>8}",
        "measure", "baseline", "dwb", "ratio", "target", "verdict"
    );
    println!("{header}\n{}", rule(&header));
    println!(
        "{:<44} {:>16} {:>16} {:>6.2}x {:>10} {:>8}",
        "devices/s, best of 2 (baseline = raw HTTP)",
        grouped(raw_best.rate()),
        grouped(dwb_best.rate()),
        ratio,
        "(info)",
        "-"
    );
    println!(
        "{:<44} {:>16} {:>16} {:>7} {:>10} {:>8}",
        "peak RSS of the listing process (VmHWM)",
        "-",
        format!("{hwm_after_dwb:.1} MB"),
        "-",
        format!("<={RSS_LIMIT_MB:.0} MB"),
        at_most(hwm_after_dwb, RSS_LIMIT_MB)
    );
    println!(
        "{:<44} {:>16} {:>16} {:>6.2}x {:>10} {:>8}",
        "CPU s during dwb's best run: emulator / dwb",
        format!("{:.2} s emulator", dwb_best.emulator_cpu),
        format!("{:.2} s dwb", dwb_best.client_cpu),
        dwb_best.emulator_cpu / dwb_best.client_cpu.max(0.01),
        ">=1.0x",
        at_least(dwb_best.emulator_cpu / dwb_best.client_cpu.max(0.01), 1.0)
    );
    println!();
    println!(
        "During dwb's best listing the emulator used {:.2} CPU s and dwb {:.2} CPU s in {:.2} s of wall time: the larger share is the {}'s.",
        dwb_best.emulator_cpu,
        dwb_best.client_cpu,
        dwb_best.wall.as_secs_f64(),
        if emulator_bound { "emulator" } else { "client (dwb)" }
    );
    println!(
        "dwb fetches and parses the next page while it converts the current one, so on 2 cores its CPU competes with the emulator's:"
    );
    println!(
        "dwb lists at {:.0}% of the rate at which the emulator serves the same pages to a client that does not parse them.",
        100.0 * ratio
    );
    let runs = [d1, r1, r2, d2];
    let other: f64 = runs.iter().map(|r| r.other_cpu).sum();
    let wall: f64 = runs.iter().map(|r| r.wall.as_secs_f64()).sum();
    println!(
        "CPU not attributed to the measured processes (\"other CPU s\": other processes, or the sandbox kernel's own work such as its network stack): {other:.1} s during the {wall:.1} s measured, on 2 cores:\n  {}",
        if other > 0.25 * wall {
            "more than a quarter of the wall time: the timings may be disturbed, compare them with a run on a quiet machine"
        } else {
            "under a quarter of the wall time: the machine was quiet enough"
        }
    );
    println!("Targets are reported, never enforced: this program exits 0 whatever the figures.");
    drop(emu);
}
