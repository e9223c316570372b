//! `cargo bench --bench sync`: a whole device sync, the dwb **release** binary
//! run as a subprocess (`dwb run sync`), against a lab Samba AD DC (LMDB,
//! `ldb:nosync`, started by `tests/support/samba.rs`) and the Graph emulator
//! running as a separate process. All figures come from one run and are
//! printed as ratios against what the OpenLDAP CLI and a bare Graph client
//! need for the same work.
//!
//! The tenant is the whole one `dwb-graph-emulator --devices 2000 --seed 1`
//! generates — hostile names included: its 271-character display name is more
//! than the schema allows and dwb skips that device —, with registered owners on
//! 75% of the devices (added where the generator gave none, see `give_owners`),
//! and every Graph response (token endpoint included) delayed 20 ms, still faster than a real tenant's 50–150 ms. It is served by the
//! emulator's command line (`--addr 127.0.0.1:PORT --state FILE`) in a separate
//! process: this bench binary run again as `<bench> --serve-graph-emulator …` (no
//! `cargo` from inside the bench).
//!
//! 1. Initial sync: `dwb run sync` into a freshly prepared DC, against `ldapadd`
//!    of the same creates (the LDIF `dwb run sync --dry-run --save-plan` writes)
//!    into the freshly prepared container of another, identical DC: every run
//!    has a DC of its own, so each fills an empty container in an equal
//!    database. Four runs, A-B-B-A (ldapadd, dwb, dwb, ldapadd), summed.
//!    Target: dwb ≥ 1.0 × ldapadd's objects/s (dwb pipelines writes; one serial
//!    ldapadd does not). dwb's figure is the whole process, Graph listing
//!    included (dwb plans before it writes); the apply phase alone is printed
//!    beside it for information.
//! 2. No-change resync: zero writes (no object's uSNChanged moves); wall ≤ 1.3 ×
//!    (paged `ldapsearch` of the container for the attributes dwb reads + the
//!    Graph listing a full sync needs — every device with its registered owners
//!    expanded, which Graph serves at most 100 a page — by dwb's Graph client,
//!    token included; the bare listing, 999 a page, is printed beside it). Best of 3
//!    each. Against a DIY-style script — Graph listing, one owner request per
//!    device, then per device a search by DN and a modify that replaces every
//!    attribute, one at a time, as hand-written ldap3 scripts do — dwb is ≥ 10×
//!    faster.
//! 3. Delta with 100 changes (40 renames, 40 disables, 10 new devices, 10
//!    deleted): `dwb run sync --param mode=delta` touches exactly those 100
//!    objects (uSNChanged before/after); wall ≤ 1.5 × (`ldapmodify` of the same
//!    changes — dwb's own plan as LDIF, from a dry run — + one Graph delta round
//!    trip). The baseline's changes are reverted (untimed) before dwb runs.
//!    The emulator's command line has no API to change its tenant while it runs, so this
//!    phase serves the same state file from a child process of this bench
//!    (`benches/sync --emulator-child FILE`), which changes it on request over stdin.
//!    Then, for information (no target): how many Graph requests a no-change
//!    full resync makes.
//! 4. dwb's own overhead at scale, no DC and no network: an LDIF snapshot of the
//!    prepared DC (`dwb snapshot`) and a Graph export of 100,000 devices
//!    (the emulator's `--devices 100000 --export`); `dwb run sync --snapshot …
//!    --devices … --dry-run --format json` (stdout to a file) plans 100,000
//!    creates. Targets: wall ≤ 10 s, peak RSS ≤ 300 MB (`/usr/bin/time -v`, or
//!    `VmHWM` polled from /proc when `time` is not installed).
//!
//! `DWB_BENCH_LOG=debug` (any `DWB_LOG` filter) logs every dwb run and prints the
//! timed delta run's log, for a profile; its figures are then not comparable.
//!
//! The dwb binary: `CARGO_BIN_EXE_dwb`, which `cargo bench` builds with the
//! bench profile (= release) next to this bench (`<target>/release/dwb`); when
//! it is missing the bench runs `cargo build --release --bin dwb` and uses
//! `<target>/release/dwb`. `DWB_BENCH_DWB=/path/to/dwb` overrides both.
//!
//! Prints a table of figures, baselines, ratios and PASS/BELOW/ABOVE; never
//! fails on a target (only when the lab cannot run or a sync misbehaves).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a bench: failing loudly is the point
#![allow(clippy::disallowed_macros)] // a bench prints its figures to stderr as it likes

#[path = "../tests/support/samba.rs"]
mod samba;

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use dwb::graph::model::AlternativeSecurityId;
use dwb::graph::{Cloud, Credential, DeltaOptions, GraphClient, GraphConfig, ListOptions};
use dwb_graph_emulator::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Emulator, EmulatorState, Faults, generate,
};
use secrecy::SecretString;
use serde_json::{Value, json};

use common::{
    at_least, at_most, cpu_secs, graph_emulator_command, rule, serve_graph_emulator_if_asked,
};
use samba::SambaDc;

const DEVICES: usize = 2000;
const SEED: u64 = 1;
const SCALE_DEVICES: usize = 100_000;
const CONTAINER: &str = "CN=RegisteredDevices,DC=contoso,DC=test";
const DEVICE_FILTER: &str = "(objectClass=msDS-Device)";
/// What dwb reads from each device object (writeback::engine::read_attrs).
const READ_ATTRS: &[&str] = &[
    "msDS-DeviceID",
    "displayName",
    "altSecurityIdentities",
    "msDS-IsEnabled",
    "msDS-DeviceOSType",
    "msDS-DeviceOSVersion",
    "msDS-DevicePhysicalIDs",
    "msDS-CloudAnchor",
    "msDS-DeviceObjectVersion",
    "msDS-IsManaged",
    "msDS-RegisteredOwner",
    "msDS-IsCompliant",
    "objectClass",
    "adminDescription",
];
const RESYNC_ROUNDS: usize = 3;
const INITIAL_TARGET: f64 = 1.0;
const RESYNC_TARGET: f64 = 1.3;
/// The DIY baseline's wall ÷ dwb's no-change resync wall.
const DIY_TARGET: f64 = 10.0;
const DELTA_TARGET: f64 = 1.5;
const SCALE_WALL_TARGET_S: f64 = 10.0;
const SCALE_RSS_TARGET_MB: f64 = 300.0;
/// The delta phase's changes.
const RENAMES: usize = 40;
const DISABLES: usize = 40;
const ADDS: usize = 10;
const DELETES: usize = 10;
/// Every Graph response's latency (a real tenant's RTT is 50–150 ms).
const LATENCY_MS: u64 = 20;
/// Devices with a registered owner (the tenant: about 75%).
const OWNED_SHARE: f64 = 0.75;

fn main() {
    serve_graph_emulator_if_asked();
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--emulator-child") {
        return emulator_child();
    }
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dwb = common::dwb_binary();
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    println!("dwb sync bench: {DEVICES} devices (seed {SEED}), binary {}", dwb.display());

    // ---- the lab: the emulator process; prepared DCs, one at a time ------------------------
    let tenant = work.join("tenant.json");
    write_tenant(&tenant);
    let emu = EmulatorProcess::start(&tenant);
    let prepared_dc = || {
        let d = SambaDc::start();
        let o = run_dwb(
            &dwb,
            work,
            &d,
            Some(&emu.graph),
            &["run", "prepare", "--param", "connector_account=CONTOSO\\Administrator", "--quiet"],
        );
        assert!(o.status.success(), "prepare failed:\n{}", String::from_utf8_lossy(&o.stderr));
        d
    };

    // ---- 1. initial sync vs ldapadd, A-B-B-A on four fresh DCs -------------------------------
    // The first DC: the snapshot for phase 4 and the LDIF of dwb's creates (a dry run).
    let dc_a1 = prepared_dc();
    let snap = work.join("prepared.ldif");
    let o = run_dwb(&dwb, work, &dc_a1, None, &["snapshot", "--out", snap.to_str().unwrap()]);
    assert!(o.status.success(), "dwb snapshot failed:\n{}", String::from_utf8_lossy(&o.stderr));
    let plan_ldif = work.join("initial.ldif");
    let plan_json = work.join("initial-dry.json");
    let o = run_dwb(
        &dwb,
        work,
        &dc_a1,
        Some(&emu.graph),
        &[
            "run",
            "sync",
            "--dry-run",
            "--quiet",
            "--save-plan",
            plan_ldif.to_str().unwrap(),
            "--report",
            plan_json.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "dry run failed:\n{}", String::from_utf8_lossy(&o.stderr));
    let creates = writes(&read_json(&plan_json)).len();
    assert!(creates > DEVICES * 9 / 10, "{creates} creates planned");
    let ldapadd_run = |d: &SambaDc| -> (Duration, f64) {
        let cpu0 = cpu_secs(&d.pid().to_string()).unwrap();
        let t = Instant::now();
        ldap_tool(d, "ldapadd", &plan_ldif);
        let wall = t.elapsed();
        let cpu = cpu_secs(&d.pid().to_string()).unwrap() - cpu0;
        assert_eq!(count(d), creates, "ldapadd created every device");
        (wall, cpu)
    };
    let dwb_run = |d: &SambaDc, i: usize| -> (Duration, f64, Duration) {
        let report = work.join(format!("initial-{i}.json"));
        let cpu0 = cpu_secs(&d.pid().to_string()).unwrap();
        let (wall, o) = timed_dwb(
            &dwb,
            work,
            d,
            Some(&emu.graph),
            &["run", "sync", "--quiet", "--report", report.to_str().unwrap()],
        );
        let cpu = cpu_secs(&d.pid().to_string()).unwrap() - cpu0;
        assert!(o.status.success(), "initial sync failed:\n{}", String::from_utf8_lossy(&o.stderr));
        let r = read_json(&report);
        assert_eq!(writes(&r).len(), creates, "the sync creates what the dry run planned");
        assert_eq!(count(d), creates);
        println!(
            "   dwb initial sync {i}: wall {wall:.2?}, DC CPU {cpu:.1} s, timings {}",
            r["timings"]
        );
        (wall, cpu, Duration::from_millis(r["timings"]["apply_ms"].as_u64().unwrap()))
    };
    let a1 = ldapadd_run(&dc_a1);
    drop(dc_a1);
    let dc_b1 = prepared_dc();
    let b1 = dwb_run(&dc_b1, 1);
    drop(dc_b1);
    let dc = prepared_dc(); // kept for phases 2 and 3
    let b2 = dwb_run(&dc, 2);
    let dc_a2 = prepared_dc();
    let a2 = ldapadd_run(&dc_a2);
    drop(dc_a2);
    let ldapadd_wall = a1.0 + a2.0;
    let initial_wall = b1.0 + b2.0;
    let initial_apply = b1.2 + b2.2;
    let dc_pid = dc.pid().to_string();
    println!(
        "1. initial sync, {creates} creates per run: ldapadd {:.2?} / {:.2?} (DC CPU {:.1} / {:.1} s); dwb {:.2?} / {:.2?} (DC CPU {:.1} / {:.1} s)",
        a1.0, a2.0, a1.1, a2.1, b1.0, b2.0, b1.1, b2.1
    );
    let creates_total = 2 * creates;

    // ---- 2. no-change resync vs paged ldapsearch + Graph listing -------------------------------
    let mut resync = Vec::new();
    let usns_before = usns(&dc);
    for i in 0..RESYNC_ROUNDS {
        let report = work.join(format!("resync-{i}.json"));
        let (wall, o) = timed_dwb(
            &dwb,
            work,
            &dc,
            Some(&emu.graph),
            &["run", "sync", "--quiet", "--report", report.to_str().unwrap()],
        );
        assert!(o.status.success(), "resync failed:\n{}", String::from_utf8_lossy(&o.stderr));
        let r = read_json(&report);
        assert!(
            r["plan"].as_array().unwrap().is_empty(),
            "a no-change resync planned {} change(s)",
            r["plan"].as_array().unwrap().len()
        );
        resync.push((wall, r["timings"].clone()));
    }
    let mut search = Vec::new();
    let mut listing = Vec::new();
    let mut bare = Vec::new();
    for _ in 0..RESYNC_ROUNDS {
        let t = Instant::now();
        let n = paged_search(&dc);
        search.push(t.elapsed());
        assert_eq!(n, creates);
        let t = Instant::now();
        let n = rt.block_on(list_all(&emu.graph, true));
        listing.push(t.elapsed());
        assert_eq!(n, DEVICES);
        let t = Instant::now();
        rt.block_on(list_all(&emu.graph, false));
        bare.push(t.elapsed());
    }
    assert_eq!(usns(&dc), usns_before, "a no-change resync sends no write (uSNChanged)");
    let resync_best = resync.iter().map(|(w, _)| *w).min().unwrap();
    let (search_best, listing_best, bare_best) = (
        *search.iter().min().unwrap(),
        *listing.iter().min().unwrap(),
        *bare.iter().min().unwrap(),
    );
    println!(
        "2. no-change resync: dwb best {resync_best:.2?} (all: {:?}; last timings {}); paged ldapsearch {search_best:.2?} + Graph listing with owners {listing_best:.2?} (without owners {bare_best:.2?})",
        resync.iter().map(|(w, _)| format!("{w:.2?}")).collect::<Vec<_>>(),
        resync.last().unwrap().1
    );
    // The DIY-style script, on the same container (it rewrites every object with
    // the values it already holds, so dwb's state is unchanged afterwards).
    let (diy_wall, diy) = diy_sync(&dc, &emu.graph, &rt);
    println!(
        "2b. DIY-style sync: {} owner requests, {} searches by DN, {} replace-all modifies ({} refused by the DC{}) in {diy_wall:.2?}",
        diy.owner_requests,
        diy.searches,
        diy.modifies,
        diy.failed,
        diy.first_error.as_deref().map(|e| format!("; first: {e}")).unwrap_or_default()
    );
    drop(emu);

    // ---- 3. delta with 100 changes vs ldapmodify + one delta round trip --------------------------
    let mut child = EmulatorChild::start(&tenant);
    let state = work.join("delta-state.json");
    let state_arg = format!("state={}", state.display());
    let delta_args = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> =
            ["run", "sync", "--quiet", "--param", "mode=delta", "--param", &state_arg]
                .iter()
                .map(|s| s.to_string())
                .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let first = work.join("delta-0.json");
    let o = run_dwb(
        &dwb,
        work,
        &dc,
        Some(&child.graph),
        &strs(&delta_args(&["--report", first.to_str().unwrap()])),
    );
    assert!(
        o.status.success(),
        "first delta round failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let first_writes = writes(&read_json(&first)).len();
    assert!(state.exists());
    let client = graph_client(&child.graph);
    let baseline_state = work.join("baseline-delta-state.json");
    rt.block_on(client.delta_devices(&baseline_state, &DeltaOptions::default(), |_| {
        std::ops::ControlFlow::Continue(())
    }))
    .unwrap();

    let changed = child.mutate();
    let expected: BTreeSet<String> =
        changed.iter().map(|d| format!("CN={d},{CONTAINER}").to_ascii_lowercase()).collect();
    assert_eq!(expected.len(), RENAMES + DISABLES + ADDS + DELETES);

    // dwb's plan of these changes, as LDIF for ldapmodify and JSON for the revert.
    let fwd_ldif = work.join("delta-forward.ldif");
    let fwd_json = work.join("delta-dry.json");
    let o = run_dwb(
        &dwb,
        work,
        &dc,
        Some(&child.graph),
        &strs(&delta_args(&[
            "--dry-run",
            "--save-plan",
            fwd_ldif.to_str().unwrap(),
            "--report",
            fwd_json.to_str().unwrap(),
        ])),
    );
    assert!(o.status.success(), "delta dry run failed:\n{}", String::from_utf8_lossy(&o.stderr));
    let planned = writes(&read_json(&fwd_json));
    let planned_targets: BTreeSet<String> =
        planned.iter().map(|c| c["target"].as_str().unwrap().to_ascii_lowercase()).collect();
    assert_eq!(planned_targets, expected, "the delta plan targets exactly the changed devices");
    let originals = raw_entries(&dc);
    let t = Instant::now();
    ldap_tool(&dc, "ldapmodify", &fwd_ldif);
    let ldapmodify_wall = t.elapsed();
    let t = Instant::now();
    let sum = rt
        .block_on(client.delta_devices(&baseline_state, &DeltaOptions::default(), |_| {
            std::ops::ControlFlow::Continue(())
        }))
        .unwrap();
    let delta_trip = t.elapsed();
    assert_eq!(
        (sum.changed + sum.removed) as usize,
        expected.len(),
        "the baseline delta round sees the 100 changes"
    );
    let rev = work.join("delta-revert.ldif");
    fs::write(&rev, revert_ldif(&planned, &originals)).unwrap();
    ldap_tool(&dc, "ldapmodify", &rev);
    assert_eq!(count(&dc), creates, "the baseline's changes are reverted");

    let before = usns(&dc);
    let report = work.join("delta-1.json");
    let cpu0 = cpu_secs(&dc_pid).unwrap();
    let (delta_wall, o) = timed_dwb(
        &dwb,
        work,
        &dc,
        Some(&child.graph),
        &strs(&delta_args(&["--report", report.to_str().unwrap()])),
    );
    let delta_dc_cpu = cpu_secs(&dc_pid).unwrap() - cpu0;
    assert!(o.status.success(), "delta sync failed:\n{}", String::from_utf8_lossy(&o.stderr));
    if std::env::var_os("DWB_BENCH_LOG").is_some() {
        println!("   delta run's log:\n{}", String::from_utf8_lossy(&o.stderr));
    }
    let r = read_json(&report);
    let after = usns(&dc);
    let touched: BTreeSet<String> = after
        .iter()
        .filter(|(dn, usn)| before.get(*dn) != Some(usn))
        .map(|(dn, _)| dn.clone())
        .chain(before.keys().filter(|dn| !after.contains_key(*dn)).cloned())
        .collect();
    let delta_writes = writes(&r).len();
    println!(
        "3. delta: first round {first_writes} write(s); dwb {delta_writes} writes in {delta_wall:.2?} (DC CPU {delta_dc_cpu:.1} s; timings {}), touched {} object(s) ({}); ldapmodify {ldapmodify_wall:.2?} + delta round trip {delta_trip:.2?}",
        r["timings"],
        touched.len(),
        if touched == expected { "exactly the 100 changed" } else { "NOT the 100 changed" }
    );

    // ---- 3b. the Graph requests of a full resync, and what they cost at a real RTT ----------------
    let req0 = child.graph_requests();
    let report = work.join("resync-after-delta.json");
    let o = run_dwb(
        &dwb,
        work,
        &dc,
        Some(&child.graph),
        &["run", "sync", "--quiet", "--report", report.to_str().unwrap()],
    );
    assert!(o.status.success(), "resync failed:\n{}", String::from_utf8_lossy(&o.stderr));
    let resync_requests = child.graph_requests() - req0;
    assert!(
        writes(&read_json(&report)).is_empty(),
        "a full resync after the delta rounds plans nothing"
    );
    println!(
        "3b. a no-change full resync made {resync_requests} Graph requests for {DEVICES} devices"
    );
    drop(child);
    drop(dc);

    // ---- 4. dwb's own overhead at scale: 100,000 devices on the snapshot backend ----------------
    let export = work.join("export-100k.json");
    let o = graph_emulator_command(&[])
        .args([
            "--devices",
            &SCALE_DEVICES.to_string(),
            "--seed",
            &SEED.to_string(),
            "--export",
            export.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "export failed:\n{}", String::from_utf8_lossy(&o.stderr));
    let out = work.join("scale.json");
    let (scale_wall, rss_mb, how) = scale_run(&dwb, work, &snap, &export, &out);
    let r: Value = serde_json::from_slice(&fs::read(&out).unwrap()).unwrap();
    let scale_creates = writes(&r).len();
    assert!(
        scale_creates > SCALE_DEVICES * 9 / 10,
        "{scale_creates} creates planned for {SCALE_DEVICES} devices"
    );
    println!(
        "4. 100k plan: {scale_creates} creates planned in {scale_wall:.2?}, peak RSS {rss_mb:.0} MB ({how}); timings {}",
        r["timings"]
    );

    // ---- the table ------------------------------------------------------------------------
    let secs = |d: Duration| d.as_secs_f64();
    let initial_ratio = secs(ldapadd_wall) / secs(initial_wall); // = dwb objects/s ÷ ldapadd objects/s
    let resync_base = secs(search_best) + secs(listing_best);
    let resync_ratio = secs(resync_best) / resync_base;
    let delta_base = secs(ldapmodify_wall) + secs(delta_trip);
    let delta_ratio = secs(delta_wall) / delta_base;
    let header = format!(
        "{:<38} {:>16} {:>34} {:>8} {:>9}  {}",
        "figure", "dwb", "baseline", "ratio", "target", "verdict"
    );
    println!("\n{header}\n{}", rule(&header));
    let row = |fig: &str, d: String, b: String, ratio: String, target: String, verdict: &str| {
        println!("{fig:<38} {d:>16} {b:>34} {ratio:>8} {target:>9}  {verdict}")
    };
    row(
        &format!("initial sync, 2 x {creates} creates"),
        format!("{:.0} obj/s", creates_total as f64 / secs(initial_wall)),
        format!("ldapadd {:.0} obj/s", creates_total as f64 / secs(ldapadd_wall)),
        format!("{initial_ratio:.2}x"),
        format!(">= {INITIAL_TARGET}x"),
        at_least(initial_ratio, INITIAL_TARGET),
    );
    row(
        "initial sync, apply phase only",
        format!("{:.0} obj/s", creates_total as f64 / secs(initial_apply)),
        format!("ldapadd {:.0} obj/s", creates_total as f64 / secs(ldapadd_wall)),
        format!("{:.2}x", secs(ldapadd_wall) / secs(initial_apply)),
        "(info)".into(),
        "-",
    );
    row(
        "no-change resync (0 writes)",
        format!("{:.2} s", secs(resync_best)),
        format!("search {:.2} s + list {:.2} s", secs(search_best), secs(listing_best)),
        format!("{resync_ratio:.2}x"),
        format!("<= {RESYNC_TARGET}x"),
        at_most(resync_ratio, RESYNC_TARGET),
    );
    row(
        &format!("delta, 100 changes ({} touched)", touched.len()),
        format!("{:.2} s", secs(delta_wall)),
        format!("ldapmodify {:.2} s + delta {:.2} s", secs(ldapmodify_wall), secs(delta_trip)),
        format!("{delta_ratio:.2}x"),
        format!("<= {DELTA_TARGET}x"),
        if touched == expected { at_most(delta_ratio, DELTA_TARGET) } else { "WRONG OBJECTS" },
    );
    let diy_ratio = secs(diy_wall) / secs(resync_best);
    row(
        "DIY-style sync vs dwb's resync",
        format!("{:.2} s", secs(resync_best)),
        format!("DIY {:.2} s", secs(diy_wall)),
        format!("{diy_ratio:.1}x"),
        format!(">= {DIY_TARGET}x"),
        at_least(diy_ratio, DIY_TARGET),
    );
    row(
        "Graph requests of a resync",
        format!("{resync_requests}"),
        format!("{DEVICES} devices"),
        "-".into(),
        "(info)".into(),
        "-",
    );
    row(
        "full plan, 100,000 devices (snapshot)",
        format!("{:.2} s", secs(scale_wall)),
        "-".into(),
        "-".into(),
        format!("<= {SCALE_WALL_TARGET_S} s"),
        at_most(secs(scale_wall), SCALE_WALL_TARGET_S),
    );
    row(
        "peak RSS, 100,000 devices",
        format!("{rss_mb:.0} MB"),
        "-".into(),
        "-".into(),
        format!("<= {SCALE_RSS_TARGET_MB} MB"),
        at_most(rss_mb, SCALE_RSS_TARGET_MB),
    );
    println!(
        "\nratios: initial = dwb objects/s / ldapadd objects/s (higher is better); resync and delta = dwb wall / baseline wall (lower is better); DIY = DIY wall / dwb wall (higher is better). Every Graph response {LATENCY_MS} ms late."
    );
}

/// Where the Graph source is.
#[derive(Clone)]
struct GraphAt {
    base: String,
    tenant: String,
}

/// `dwb …` in `work` with the DC (and the emulator) configured through DWB_* variables.
fn dwb_cmd(
    dwb: &Path,
    work: &Path,
    dc: &SambaDc,
    graph: Option<&GraphAt>,
    args: &[&str],
) -> Command {
    let mut c = Command::new(dwb);
    for (k, _) in std::env::vars() {
        if k.starts_with("DWB_") {
            c.env_remove(k);
        }
    }
    // For a profile: `DWB_BENCH_LOG=debug` logs every dwb run (the delta run's log printed).
    if let Some(v) = std::env::var_os("DWB_BENCH_LOG") {
        c.env("DWB_LOG", v);
    }
    c.current_dir(work)
        .env("HOME", work)
        .env("XDG_CONFIG_HOME", work.join(".config"))
        .env("DWB_LDAP_URL", dc.url_ldaps())
        .env("DWB_LDAP_USER", dc.admin_user())
        .env("DWB_LDAP_PASSWORD", dc.admin_password())
        .env("DWB_LDAP_CA_FILE", dc.ca_file())
        .args(args)
        .stdin(Stdio::null());
    if let Some(g) = graph {
        c.env("DWB_GRAPH_TENANT", &g.tenant)
            .env("DWB_GRAPH_CLIENT_ID", DEFAULT_CLIENT_ID)
            .env("DWB_GRAPH_CLIENT_SECRET", DEFAULT_CLIENT_SECRET)
            .env("DWB_GRAPH_AUTHORITY", &g.base)
            .env("DWB_GRAPH_ENDPOINT", &g.base);
    }
    c
}

fn run_dwb(
    dwb: &Path,
    work: &Path,
    dc: &SambaDc,
    graph: Option<&GraphAt>,
    args: &[&str],
) -> Output {
    dwb_cmd(dwb, work, dc, graph, args).output().unwrap()
}

fn timed_dwb(
    dwb: &Path,
    work: &Path,
    dc: &SambaDc,
    graph: Option<&GraphAt>,
    args: &[&str],
) -> (Duration, Output) {
    let t = Instant::now();
    let o = run_dwb(dwb, work, dc, graph, args);
    (t.elapsed(), o)
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).unwrap()
}

/// The directory changes of a report's plan.
fn writes(report: &Value) -> Vec<Value> {
    report["plan"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| matches!(c["action"].as_str(), Some("create" | "modify" | "delete")))
        .cloned()
        .collect()
}

// ---- the OpenLDAP CLI --------------------------------------------------------------------------

fn ldap_base(dc: &SambaDc, tool: &str) -> Command {
    let mut c = Command::new(tool);
    c.env("LDAPTLS_CACERT", dc.ca_file()).env("LDAPTLS_REQCERT", "demand").args([
        "-x",
        "-H",
        &dc.url_ldaps(),
        "-D",
        dc.admin_user(),
        "-w",
        dc.admin_password(),
    ]);
    c
}

/// `ldapadd`/`ldapmodify -f FILE` over LDAPS, one connection, output discarded.
fn ldap_tool(dc: &SambaDc, tool: &str, file: &Path) {
    let o = ldap_base(dc, tool).arg("-f").arg(file).stdout(Stdio::null()).output().unwrap();
    assert!(
        o.status.success(),
        "{tool} -f {} failed: {}",
        file.display(),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A paged one-level search of the container for the attributes dwb reads; returns the entry count.
fn paged_search(dc: &SambaDc) -> usize {
    let mut c = ldap_base(dc, "ldapsearch");
    c.args([
        "-LLL",
        "-o",
        "ldif-wrap=no",
        "-E",
        "pr=1000/noprompt",
        "-b",
        CONTAINER,
        "-s",
        "one",
        DEVICE_FILTER,
    ])
    .args(READ_ATTRS);
    let o = c.output().unwrap();
    assert!(o.status.success(), "ldapsearch failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).lines().filter(|l| l.starts_with("dn:")).count()
}

fn search_ldif(dc: &SambaDc, attrs: &[&str]) -> String {
    let mut c = ldap_base(dc, "ldapsearch");
    c.args([
        "-LLL",
        "-o",
        "ldif-wrap=no",
        "-E",
        "pr=1000/noprompt",
        "-b",
        CONTAINER,
        "-s",
        "one",
        DEVICE_FILTER,
    ])
    .args(attrs);
    let o = c.output().unwrap();
    assert!(o.status.success(), "ldapsearch failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// Entries as (lowercased DN → (DN line, attribute lines as ldapsearch printed them)).
fn raw_entries(dc: &SambaDc) -> BTreeMap<String, (String, Vec<String>)> {
    let mut out = BTreeMap::new();
    for block in search_ldif(dc, READ_ATTRS).split("\n\n") {
        let mut lines = block.lines().filter(|l| !l.is_empty() && !l.starts_with('#'));
        let Some(dn_line) = lines.next() else { continue };
        out.insert(
            dn_of(dn_line).to_ascii_lowercase(),
            (dn_line.to_string(), lines.map(str::to_string).collect()),
        );
    }
    out
}

fn dn_of(line: &str) -> String {
    match line.strip_prefix("dn:: ") {
        Some(b) => String::from_utf8(STANDARD.decode(b).unwrap()).unwrap(),
        None => line.trim_start_matches("dn: ").to_string(),
    }
}

fn count(dc: &SambaDc) -> usize {
    search_ldif(dc, &["1.1"]).lines().filter(|l| l.starts_with("dn:")).count()
}

fn usns(dc: &SambaDc) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for block in search_ldif(dc, &["uSNChanged"]).split("\n\n") {
        let mut dn = None;
        for l in block.lines() {
            if l.starts_with("dn:") {
                dn = Some(dn_of(l).to_ascii_lowercase());
            } else if let Some(v) = l.strip_prefix("uSNChanged: ") {
                out.insert(dn.clone().unwrap(), v.to_string());
            }
        }
    }
    out
}

/// The LDIF that undoes a plan's changes, from the entries as they were before.
fn revert_ldif(planned: &[Value], originals: &BTreeMap<String, (String, Vec<String>)>) -> String {
    let mut out = String::new();
    for c in planned {
        let target = c["target"].as_str().unwrap();
        let key = target.to_ascii_lowercase();
        match c["action"].as_str().unwrap() {
            "create" => out.push_str(&format!("dn: {target}\nchangetype: delete\n\n")),
            "delete" => {
                let (dn_line, lines) = &originals[&key];
                out.push_str(&format!("{dn_line}\nchangetype: add\n"));
                for l in lines {
                    out.push_str(l);
                    out.push('\n');
                }
                out.push('\n');
            }
            "modify" => {
                let (dn_line, lines) = &originals[&key];
                out.push_str(&format!("{dn_line}\nchangetype: modify\n"));
                for m in c["modifications"].as_array().unwrap() {
                    let attr = m["attribute"].as_str().unwrap();
                    let old: Vec<&String> = lines
                        .iter()
                        .filter(|l| {
                            l.split(':').next().is_some_and(|n| n.eq_ignore_ascii_case(attr))
                        })
                        .collect();
                    if old.is_empty() {
                        out.push_str(&format!("delete: {attr}\n-\n"));
                    } else {
                        out.push_str(&format!("replace: {attr}\n"));
                        for l in old {
                            out.push_str(l);
                            out.push('\n');
                        }
                        out.push_str("-\n");
                    }
                }
                out.push('\n');
            }
            other => panic!("unexpected {other}"),
        }
    }
    out
}

// ---- Graph --------------------------------------------------------------------------------

fn graph_client(g: &GraphAt) -> GraphClient {
    let cloud = Cloud::custom(&g.base, &g.base).unwrap();
    GraphClient::new(GraphConfig::new(
        cloud,
        g.tenant.clone(),
        Credential::client_secret(DEFAULT_CLIENT_ID, SecretString::from(DEFAULT_CLIENT_SECRET)),
    ))
    .unwrap()
}

/// A full device listing by a fresh client (token included): with each device's
/// registered owners expanded, as dwb's full sync asks for it (Graph then pages
/// by at most 100), or bare (999 a page).
async fn list_all(g: &GraphAt, expand_owners: bool) -> usize {
    let client = graph_client(g);
    let mut n = 0;
    let opts = ListOptions { expand_owners, ..Default::default() };
    client
        .list_devices(&opts, |_| {
            n += 1;
            std::ops::ControlFlow::Continue(())
        })
        .await
        .unwrap();
    n
}

/// The tenant `dwb-graph-emulator --devices 2000 --seed 1` generates, as a state
/// file, whole: its display name longer than AD's limit (displayName rangeUpper
/// 256; the generator's `LONG-AAA…` has 271 characters) stays, and dwb must skip
/// that device without failing the run or holding back the others.
fn write_tenant(path: &Path) {
    let mut s = generate(DEVICES, SEED);
    s.latency_ms = LATENCY_MS;
    give_owners(&mut s, OWNED_SHARE);
    let owned = s.devices.values().filter(|d| !d.owners.is_empty()).count();
    let long = s
        .devices
        .values()
        .filter(|d| {
            d.props
                .get("displayName")
                .and_then(Value::as_str)
                .is_some_and(|n| n.chars().count() > 256)
        })
        .count();
    println!(
        "tenant: generate({DEVICES}, {SEED}), whole: owners on {owned} devices ({:.0}%), {long} \
         display name(s) longer than the schema allows; every Graph response {LATENCY_MS} ms late",
        owned as f64 * 100.0 / DEVICES as f64
    );
    fs::write(path, serde_json::to_vec(&s.to_json()).unwrap()).unwrap();
}

/// The generator gives owners to nearly every registered or joined device and to
/// few hybrid-joined ones (about half its devices): owners are added, in device id
/// order, to devices without one until `share` of all devices have one (nothing is
/// removed or cut). The owners are the generator's users in turn, synced and
/// cloud-only alike; registered users as Graph sets them, equal to the owners.
fn give_owners(s: &mut EmulatorState, share: f64) {
    let users: Vec<String> = s.users.keys().cloned().collect();
    let want = (s.devices.len() as f64 * share).round() as usize;
    let owned = s.devices.values().filter(|d| !d.owners.is_empty()).count();
    let unowned = s.devices.values_mut().filter(|d| d.owners.is_empty());
    for (i, d) in unowned.take(want.saturating_sub(owned)).enumerate() {
        d.owners = vec![users[i % users.len()].clone()];
        d.users = d.owners.clone();
    }
}

/// The emulator's `--addr 127.0.0.1:PORT --state TENANT` in a separate process
/// (this bench re-executed), stopped on drop.
struct EmulatorProcess {
    child: Child,
    graph: GraphAt,
}

impl EmulatorProcess {
    fn start(tenant: &Path) -> EmulatorProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = graph_emulator_command(&[])
            .args(["--addr", &format!("127.0.0.1:{port}"), "--state", tenant.to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut base, mut tenant) = (None, None);
        while base.is_none() || tenant.is_none() {
            let l = lines
                .next()
                .unwrap_or_else(|| panic!("the emulator exited before printing its URLs"))
                .unwrap();
            if let Some(u) = l.strip_prefix("dwb Graph emulator listening on ") {
                base = Some(u.trim().to_string());
            } else if let Some(t) = l.trim().strip_prefix("tenant") {
                tenant = Some(t.trim().trim_start_matches(':').trim().to_string());
            }
        }
        // Keep draining its stdout so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        EmulatorProcess { child, graph: GraphAt { base: base.unwrap(), tenant: tenant.unwrap() } }
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// This bench re-run as `--emulator-child`: the same generated tenant, served
/// from a separate process that changes it when asked.
struct EmulatorChild {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    graph: GraphAt,
}

impl EmulatorChild {
    fn start(tenant: &Path) -> EmulatorChild {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--emulator-child", tenant.to_str().unwrap()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let v: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("emulator child said {line:?}: {e}"));
        let graph = GraphAt {
            base: v["base"].as_str().unwrap().into(),
            tenant: v["tenant"].as_str().unwrap().into(),
        };
        EmulatorChild { child, stdin, stdout, graph }
    }

    /// Applies the delta phase's changes; returns the deviceIds of every changed device.
    fn mutate(&mut self) -> Vec<String> {
        writeln!(self.stdin, "mutate").unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        v["device_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap().to_string())
            .collect()
    }
}

impl EmulatorChild {
    /// One request line, one JSON answer line.
    fn ask(&mut self, line: &str) -> Value {
        writeln!(self.stdin, "{line}").unwrap();
        let mut answer = String::new();
        self.stdout.read_line(&mut answer).unwrap();
        serde_json::from_str(&answer)
            .unwrap_or_else(|e| panic!("emulator child answered {answer:?} to {line:?}: {e}"))
    }

    fn graph_requests(&mut self) -> u64 {
        self.ask("requests")["graph_requests"].as_u64().unwrap()
    }
}

impl Drop for EmulatorChild {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.child.wait();
    }
}

/// `--emulator-child TENANT`: serve the state file; on `mutate`, rename, disable,
/// add and delete devices and print their deviceIds as JSON; `requests` (HTTP
/// requests and `$batch` members so far), `latency MS`, `faults K=V,…`; on
/// `quit`/EOF, stop.
fn emulator_child() {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == "--emulator-child").unwrap();
    let state = EmulatorState::from_file(Path::new(&args[i + 1])).unwrap();
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let emu = rt.block_on(Emulator::start(state)).unwrap();
    println!("{}", json!({"base": emu.base_url().as_str(), "tenant": emu.tenant_id()}));
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        match line.unwrap().trim() {
            "mutate" => {
                let ids = emu.with_state(|s| {
                    // In-scope devices (a type-2 key) with plain names, in id order.
                    let plain: Vec<(String, String, bool)> = s
                        .devices
                        .values()
                        .filter(|d| d.props["alternativeSecurityIds"].as_array().is_some_and(|a| a.iter().any(|k| k["type"] == 2)))
                        .filter(|d| d.props["displayName"].as_str().is_some_and(|n| n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')))
                        .map(|d| (d.props["id"].as_str().unwrap().to_string(), d.props["deviceId"].as_str().unwrap().to_string(), d.props["accountEnabled"] == true))
                        .collect();
                    let mut changed = Vec::new();
                    let mut it = plain.iter();
                    for (id, did, _) in it.by_ref().take(RENAMES) {
                        let name = format!("{}-renamed", s.device(id).unwrap()["displayName"].as_str().unwrap());
                        s.rename_device(id, &name).unwrap();
                        changed.push(did.clone());
                    }
                    let mut disabled = 0;
                    for (id, did, enabled) in it.by_ref() {
                        if disabled == DISABLES {
                            break;
                        }
                        if *enabled {
                            s.set_account_enabled(id, false).unwrap();
                            changed.push(did.clone());
                            disabled += 1;
                        }
                    }
                    for (id, did, _) in it.by_ref().take(DELETES) {
                        s.delete_device(id).unwrap();
                        changed.push(did.clone());
                    }
                    for k in 0..ADDS {
                        let did = uuid::Uuid::new_v4().to_string();
                        let tp: String = format!("{:040X}", k + 1);
                        let key = AlternativeSecurityId::x509_key(&tp, &STANDARD.encode([k as u8; 32]));
                        s.add_device(json!({
                            "deviceId": did, "displayName": format!("BENCH-NEW-{k:03}"), "operatingSystem": "Windows",
                            "operatingSystemVersion": "10.0.26100.1", "trustType": "ServerAd", "accountEnabled": true,
                            "alternativeSecurityIds": [{"type": 2, "identityProvider": null, "key": key}],
                            "physicalIds": [format!("[GID]:g:{k}")], "deviceVersion": 2,
                        }))
                        .unwrap();
                        changed.push(did);
                    }
                    changed
                });
                println!("{}", json!({ "device_ids": ids }));
            }
            "requests" => println!(
                "{}",
                json!({
                    "graph_requests": emu.graph_request_count(),
                    "batch_members": emu.batch_member_count(),
                })
            ),
            l if l.starts_with("latency ") => {
                emu.set_latency_ms(l["latency ".len()..].trim().parse().unwrap());
                println!("{}", json!({ "ok": true }));
            }
            l if l.starts_with("faults ") => {
                emu.set_faults(l["faults ".len()..].parse::<Faults>().unwrap());
                println!("{}", json!({ "ok": true }));
            }
            "quit" => break,
            _ => {}
        }
    }
    drop(emu);
}

// ---- phase 4 -------------------------------------------------------------------------------

/// Runs the 100k dry run; returns (wall, peak RSS in MB, how RSS was measured).
fn scale_run(
    dwb: &Path,
    work: &Path,
    snap: &Path,
    export: &Path,
    out: &Path,
) -> (Duration, f64, &'static str) {
    let args = [
        "run",
        "sync",
        "--snapshot",
        snap.to_str().unwrap(),
        "--devices",
        export.to_str().unwrap(),
        "--dry-run",
        "--format",
        "json",
    ];
    let env_clean = |c: &mut Command| {
        for (k, _) in std::env::vars() {
            if k.starts_with("DWB_") {
                c.env_remove(k);
            }
        }
        c.current_dir(work)
            .env("HOME", work)
            .stdout(File::create(out).unwrap())
            .stderr(Stdio::piped())
            .stdin(Stdio::null());
    };
    let time = Path::new("/usr/bin/time");
    if time.exists() {
        let mut c = Command::new(time);
        c.arg("-v").arg(dwb).args(args);
        env_clean(&mut c);
        let t = Instant::now();
        let o = c.output().unwrap();
        let wall = t.elapsed();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "the 100k dry run failed:\n{err}");
        let kb: f64 = err
            .lines()
            .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no maximum RSS in /usr/bin/time's output:\n{err}"));
        return (wall, kb * 1024.0 / 1e6, "/usr/bin/time -v");
    }
    let mut c = Command::new(dwb);
    c.args(args);
    env_clean(&mut c);
    let t = Instant::now();
    let mut child = c.spawn().unwrap();
    let pid = child.id().to_string();
    let mut peak: f64 = 0.0;
    let status = loop {
        if let Some(mb) = common::status_mb(&pid, "VmHWM") {
            peak = peak.max(mb);
        }
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let wall = t.elapsed();
    assert!(status.success(), "the 100k dry run failed");
    (wall, peak, "VmHWM polled every 5 ms (a lower bound)")
}

// ---- the DIY-style baseline ------------------------------------------------------------------

#[derive(Default)]
struct Diy {
    owner_requests: usize,
    searches: usize,
    modifies: usize,
    failed: usize,
    first_error: Option<String>,
}

/// What a hand-written sync script does: list the devices, ask Graph for each
/// device's owners, then per device search its object by DN and replace every
/// attribute, one request at a time (the same LDAP client dwb uses, without
/// dwb's diff or pipelining; dwb's mapping, so both write the same values).
fn diy_sync(dc: &SambaDc, g: &GraphAt, rt: &tokio::runtime::Runtime) -> (Duration, Diy) {
    use dwb::ad::{Directory, ModOp, Modification, WriteOp};
    use dwb::writeback::mapping::{MapOptions, desired};
    let t = Instant::now();
    let dir = dwb::ad::ldap::LdapDirectory::connect(
        &dc.settings(),
        rt.handle().clone(),
        tokio_util::sync::CancellationToken::new(),
    )
    .unwrap();
    let domain = dc.domain_dn();
    let sid = dwb::ad::discovery::domain_sid(&dir, &domain).unwrap();
    let opts = MapOptions { forest_domains: vec![sid], ..MapOptions::default() };
    let client = graph_client(g);
    let devices = rt.block_on(async {
        let mut all = Vec::new();
        client
            .list_devices(&ListOptions::default(), |d| {
                all.push(d);
                std::ops::ControlFlow::Continue(())
            })
            .await
            .unwrap();
        all
    });
    let mut n = Diy::default();
    let container = dwb::directory::Dn::parse(CONTAINER).unwrap();
    for d in &devices {
        let owners = rt.block_on(client.device_owners(&d.id)).unwrap_or_default();
        n.owner_requests += 1;
        let sid = owners.iter().find_map(|o| o.on_premises_security_identifier.clone());
        let Ok((cn, mut attrs)) = desired(d, &opts, sid.as_deref()) else { continue };
        attrs.push(dwb::directory::Attr::text("adminDescription", ["dwb-writeback"]));
        let dn = container.child("CN", &cn).unwrap();
        n.searches += 1;
        let Ok(Some(_)) = dir.read(&dn, &["*"]) else { continue };
        let mods = attrs
            .iter()
            .filter(|a| !a.name.eq_ignore_ascii_case("objectClass"))
            .map(|a| Modification {
                op: ModOp::Replace,
                attr: a.name.to_string(),
                values: a.values.clone(),
            })
            .collect();
        n.modifies += 1;
        if let Err(e) = dir.write(&WriteOp::Modify { dn, mods, sd_flags: None }) {
            n.failed += 1;
            n.first_error.get_or_insert_with(|| e.to_string());
        }
    }
    (t.elapsed(), n)
}
