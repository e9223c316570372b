//! `cargo bench --bench ldap`: dwb's LDAP backend against the real OpenLDAP
//! CLI, both talking LDAPS (verified against the lab CA) to one Samba AD DC
//! that `tests/support/samba.rs` starts for this run.
//!
//! 1. Creates: 2,000 msDS-Device objects through `LdapDirectory::write_many`
//!    (connect + bind included) into `CN=BenchB`, against `ldapadd -f` of the
//!    same kind of LDIF (process start + bind included) into `CN=BenchA`; both
//!    are msDS-DeviceContainers created empty under the domain head. Samba's
//!    add rate falls as the database grows (lab notes, samba.md §8), so the
//!    writers take turns in quarters of 500, A-B-B-A-A-B-B-A: each writer's
//!    container grows 0 → 2,000 the same way, each sees on average the same
//!    number of devices in the database, and a disturbance from elsewhere on
//!    the machine is less likely to fall on one side only.
//!    Target: dwb ≥ 0.8 × ldapadd's objects/s.
//! 2. Paged reads of the 2,000 objects of `CN=BenchA` (all attributes, pages
//!    of 1000): `ldapsearch -E pr=1000/noprompt` (output to /dev/null) against
//!    `Directory::search` with page size 1000 (entries counted, not kept);
//!    best of 3, the order alternated each round. Target: dwb ≥ 1.0 ×.
//!
//! Prints figures, ratios and PASS/BELOW; never fails on a target (it fails
//! only when the lab cannot run or an operation errors). The DC's CPU time per
//! phase shows which side is the bottleneck; "other CPU s" is what the rest of
//! the machine used meanwhile (a shared 2-core machine disturbs timings).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a bench: failing loudly is the point
#![allow(clippy::disallowed_macros)] // a bench prints its figures to stderr as it likes
#![allow(clippy::result_large_err)] // the callback's type is `Directory::search`'s

#[path = "../tests/support/samba.rs"]
mod samba;

mod common;

use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine as _;
use dwb::ad::ldap::{LdapDirectory, LdapSettings};
use dwb::ad::{Directory, Scope, SearchRequest, WriteOp};
use dwb::directory::{Attr, Dn, Entry, Filter, Guid};
use tokio_util::sync::CancellationToken;

use common::{at_least, cpu_secs, grouped, machine_busy_secs, rule, waited_children_cpu_secs};
use samba::SambaDc;

/// Objects each writer creates.
const N: usize = 2000;
/// The writers take turns in this many chunks each (A-B-B-A-A-B-B-A).
const CHUNKS: usize = 4;
/// Devices written by each tool before the timed runs (into a third container).
const WARMUP: usize = 20;
/// Paged-read rounds per reader; the best is kept.
const READ_ROUNDS: usize = 3;
const PAGE_SIZE: usize = 1000;
const WRITE_TARGET: f64 = 0.8;
const READ_TARGET: f64 = 1.0;
const DEVICE_FILTER: &str = "(objectClass=msDS-Device)";

/// One timed phase.
#[derive(Clone, Copy)]
struct Run {
    objects: usize,
    wall: Duration,
    /// The client's CPU: the finished ldapadd/ldapsearch child, or this process for dwb.
    client_cpu: f64,
    /// Samba's CPU over the phase.
    dc_cpu: f64,
    /// Every other process on the machine, over the phase.
    other_cpu: f64,
    /// dwb only: the part of `wall` spent connecting (TCP, TLS, bind).
    connect: Duration,
}

impl Run {
    fn rate(&self) -> f64 {
        self.objects as f64 / self.wall.as_secs_f64()
    }

    fn sum(runs: &[Run]) -> Run {
        Run {
            objects: runs.iter().map(|r| r.objects).sum(),
            wall: runs.iter().map(|r| r.wall).sum(),
            client_cpu: runs.iter().map(|r| r.client_cpu).sum(),
            dc_cpu: runs.iter().map(|r| r.dc_cpu).sum(),
            other_cpu: runs.iter().map(|r| r.other_cpu).sum(),
            connect: runs.iter().map(|r| r.connect).sum(),
        }
    }

    fn best(runs: &[Run]) -> Run {
        *runs.iter().min_by_key(|r| r.wall).unwrap()
    }
}

fn main() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    // The runtime a dwb session builds (commands::session::Session).
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dc = SambaDc::start();
    let tmp = tempfile::tempdir().unwrap();

    let setup = connect(&dc, &rt);
    let container = |name: &str| {
        let dn = dc.domain_dn().child("CN", name).unwrap();
        setup
            .write(&WriteOp::Add {
                dn: dn.clone(),
                attrs: vec![Attr::text("objectClass", ["msDS-DeviceContainer"])],
            })
            .unwrap();
        dn
    };
    let (warm, cont_a, cont_b) =
        (container("BenchWarmup"), container("BenchA"), container("BenchB"));
    drop(setup);

    // Same generator, same attribute set and sizes; different GUIDs per container.
    let warm_devices = devices(&warm, 0, 2 * WARMUP);
    let devs_a = devices(&cont_a, 1, N);
    let devs_b = devices(&cont_b, 2, N);
    let chunk = N / CHUNKS;
    let ldif = |name: &str, entries: &[Entry]| {
        let path = tmp.path().join(name);
        fs::write(
            &path,
            entries.iter().map(|e| dwb::directory::ldif::write_entry(e) + "\n").collect::<String>(),
        )
        .unwrap();
        path
    };
    let ops = |entries: &[Entry]| -> Vec<WriteOp> {
        entries
            .iter()
            .map(|e| WriteOp::Add { dn: e.dn.clone(), attrs: e.attrs().cloned().collect() })
            .collect()
    };
    let a_files: Vec<_> = devs_a
        .chunks(chunk)
        .enumerate()
        .map(|(k, c)| ldif(&format!("bench-a-{}.ldif", k + 1), c))
        .collect();
    let b_ops: Vec<Vec<WriteOp>> = devs_b.chunks(chunk).map(ops).collect();
    let warm_ldif = ldif("warm.ldif", &warm_devices[..WARMUP]);
    let warm_ops = ops(&warm_devices[WARMUP..]);
    let ldif_bytes: u64 = a_files.iter().map(|f| fs::metadata(f).unwrap().len()).sum();

    println!();
    println!(
        "dwb LDAP benchmark: one Samba AD DC at {} (samba -M single, mdb + ldb:nosync), LDAPS with the lab CA, as Administrator",
        dc.url_ldaps()
    );
    println!(
        "{} msDS-Device objects per writer, 12 attributes each ({} bytes of LDIF per entry on average)",
        grouped(N as f64),
        ldif_bytes / N as u64
    );

    // Warm-up (untimed): the first TLS handshakes, binds and adds of a fresh DC.
    ldapadd(&dc, &warm_ldif);
    dwb_write(&dc, &rt, &warm_ops);

    // ---- creates, A-B-B-A-A-B-B-A -----------------------------------------------
    println!();
    println!(
        "Creates, in turns of {chunk} (A = ldapadd -f into CN=BenchA, B = dwb write_many into CN=BenchB; both containers start empty):"
    );
    let header = format!(
        "{:<4} {:<44} {:>8} {:>8} {:>10} {:>12} {:>9} {:>11}",
        "step",
        "writer",
        "objects",
        "wall s",
        "objects/s",
        "client CPU s",
        "DC CPU s",
        "other CPU s"
    );
    println!("{header}\n{}", rule(&header));
    let row = |step: &str, what: &str, r: &Run| {
        println!(
            "{:<4} {:<44} {:>8} {:>8.2} {:>10.1} {:>12.2} {:>9.2} {:>11.2}",
            step,
            what,
            grouped(r.objects as f64),
            r.wall.as_secs_f64(),
            r.rate(),
            r.client_cpu,
            r.dc_cpu,
            r.other_cpu
        )
    };
    let mut add_runs = Vec::new();
    let mut dwb_runs = Vec::new();
    let mut step = 0;
    for k in 0..CHUNKS {
        let range = format!("{}-{}", k * chunk + 1, (k + 1) * chunk);
        let a_first = k % 2 == 0;
        for a_side in [a_first, !a_first] {
            step += 1;
            if a_side {
                let r = ldapadd(&dc, &a_files[k]);
                row(
                    &step.to_string(),
                    &format!("A ldapadd -f bench-a-{}.ldif ({range})", k + 1),
                    &r,
                );
                add_runs.push(r);
            } else {
                let r = dwb_write(&dc, &rt, &b_ops[k]);
                row(&step.to_string(), &format!("B dwb write_many ({range})"), &r);
                dwb_runs.push(r);
            }
        }
    }
    let (add_total, dwb_total) = (Run::sum(&add_runs), Run::sum(&dwb_runs));
    println!("{}", rule(&header));
    row("all", "A ldapadd -f -> CN=BenchA", &add_total);
    row("all", "B dwb write_many -> CN=BenchB", &dwb_total);

    // Both containers hold exactly N devices (checked with the real ldapsearch).
    for c in [&cont_a, &cont_b] {
        let found = count_dns(&dc, c);
        assert_eq!(found, N, "{c} holds {found} devices, expected {N}");
    }

    // ---- paged reads, best of 3, order alternated ----------------------------------
    println!();
    println!(
        "Paged reads of CN=BenchA ({} objects, all attributes, pages of {PAGE_SIZE}); best of {READ_ROUNDS}, order alternated:",
        grouped(N as f64)
    );
    let header = format!(
        "{:<5} {:<44} {:>8} {:>10} {:>12} {:>9} {:>11}",
        "round", "reader", "wall s", "objects/s", "client CPU s", "DC CPU s", "other CPU s"
    );
    println!("{header}\n{}", rule(&header));
    let mut search_runs = Vec::new();
    let mut dwb_reads = Vec::new();
    for round in 1..=READ_ROUNDS {
        let mut one = |dwb_side: bool| {
            let (name, r) = if dwb_side {
                ("dwb Directory::search (page size 1000)", dwb_read(&dc, &rt, &cont_a))
            } else {
                ("ldapsearch -E pr=1000/noprompt >/dev/null", ldapsearch(&dc, &cont_a))
            };
            println!(
                "{:<5} {:<44} {:>8.3} {:>10.0} {:>12.2} {:>9.2} {:>11.2}",
                round,
                name,
                r.wall.as_secs_f64(),
                r.rate(),
                r.client_cpu,
                r.dc_cpu,
                r.other_cpu
            );
            if dwb_side { dwb_reads.push(r) } else { search_runs.push(r) }
        };
        let dwb_first = round % 2 == 0;
        one(dwb_first);
        one(!dwb_first);
    }
    let (search_best, dwb_read_best) = (Run::best(&search_runs), Run::best(&dwb_reads));
    println!(
        "(dwb's timings include connecting, TLS and bind, as ldapsearch's and ldapadd's do: {:.0} ms of its best read, {:.0} ms per create turn on average)",
        dwb_read_best.connect.as_secs_f64() * 1000.0,
        dwb_total.connect.as_secs_f64() * 1000.0 / dwb_runs.len() as f64
    );

    // ---- summary -----------------------------------------------------------------------
    let write_ratio = dwb_total.rate() / add_total.rate();
    let read_ratio = dwb_read_best.rate() / search_best.rate();
    println!();
    println!("Summary (ratio = dwb objects/s ÷ baseline objects/s, measured above in this run):");
    let header = format!(
        "{:<32} {:<34} {:>14} {:>14} {:>7} {:>8} {:>7}",
        "operation", "baseline", "baseline obj/s", "dwb obj/s", "ratio", "target", "verdict"
    );
    println!("{header}\n{}", rule(&header));
    println!(
        "{:<32} {:<34} {:>14.1} {:>14.1} {:>6.2}x {:>7} {:>7}",
        format!("create {} devices", grouped(N as f64)),
        "ldapadd -f (same LDIF kind)",
        add_total.rate(),
        dwb_total.rate(),
        write_ratio,
        format!(">={WRITE_TARGET:.1}x"),
        at_least(write_ratio, WRITE_TARGET)
    );
    println!(
        "{:<32} {:<34} {:>14.0} {:>14.0} {:>6.2}x {:>7} {:>7}",
        format!("paged read {} (best of {READ_ROUNDS})", grouped(N as f64)),
        "ldapsearch -E pr=1000/noprompt",
        search_best.rate(),
        dwb_read_best.rate(),
        read_ratio,
        format!(">={READ_TARGET:.1}x"),
        at_least(read_ratio, READ_TARGET)
    );
    println!();
    println!(
        "Samba's CPU during the creates: {:.0}% of wall time under ldapadd (one add in flight), {:.0}% under dwb (up to 24 pipelined);",
        100.0 * add_total.dc_cpu / add_total.wall.as_secs_f64(),
        100.0 * dwb_total.dc_cpu / dwb_total.wall.as_secs_f64()
    );
    println!("100% means the single-process DC is the bottleneck.");
    let other = add_total.other_cpu
        + dwb_total.other_cpu
        + search_runs.iter().chain(&dwb_reads).map(|r| r.other_cpu).sum::<f64>();
    let measured_wall = add_total.wall
        + dwb_total.wall
        + search_runs.iter().chain(&dwb_reads).map(|r| r.wall).sum::<Duration>();
    println!(
        "CPU not attributed to the measured processes (\"other CPU s\": other processes, or the sandbox kernel's own work such as its network stack): {:.1} s during the {:.1} s measured, on 2 cores:\n  {}",
        other,
        measured_wall.as_secs_f64(),
        if other > 0.25 * measured_wall.as_secs_f64() {
            "more than a quarter of the wall time: the timings may be disturbed, compare them with a run on a quiet machine"
        } else {
            "under a quarter of the wall time: the machine was quiet enough"
        }
    );
    println!("Targets are reported, never enforced: this program exits 0 whatever the ratios.");
}

/// A connection bound as Administrator over LDAPS (the lab CA verified).
fn connect(dc: &SambaDc, rt: &tokio::runtime::Runtime) -> LdapDirectory {
    let mut s: LdapSettings = dc.settings();
    s.page_size = PAGE_SIZE;
    LdapDirectory::connect(&s, rt.handle().clone(), CancellationToken::new())
        .unwrap_or_else(|e| panic!("bind to {} failed: {e:?}\n{}", dc.url_ldaps(), dc.log_tail()))
}

/// Runs `f`, measuring the wall time, this process's CPU, its waited-for
/// children's CPU, and samba's CPU.
fn measure(dc: &SambaDc, objects: usize, child_is_client: bool, f: impl FnOnce()) -> Run {
    let dc_pid = dc.pid().to_string();
    let sample = || {
        (
            cpu_secs(&dc_pid).unwrap(),
            cpu_secs("self").unwrap(),
            waited_children_cpu_secs(),
            machine_busy_secs(),
        )
    };
    let (dc0, self0, kids0, all0) = sample();
    let t0 = Instant::now();
    f();
    let wall = t0.elapsed();
    let (dc1, self1, kids1, all1) = sample();
    let (dc_cpu, self_cpu, kids_cpu) = (dc1 - dc0, self1 - self0, kids1 - kids0);
    let client_cpu = if child_is_client { kids_cpu } else { self_cpu };
    let other_cpu = ((all1 - all0) - dc_cpu - self_cpu - kids_cpu).max(0.0);
    Run { objects, wall, client_cpu, dc_cpu, other_cpu, connect: Duration::ZERO }
}

/// `ldapadd -f FILE` over LDAPS; stops at the first error (no `-c`).
fn ldapadd(dc: &SambaDc, ldif: &Path) -> Run {
    let n = fs::read_to_string(ldif).unwrap().lines().filter(|l| l.starts_with("dn:")).count();
    measure(dc, n, true, || {
        let out = dc
            .ldap_tool("ldapadd")
            .arg("-f")
            .arg(ldif)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        if !out.status.success() {
            panic!(
                "ldapadd -f {} failed ({}):\n{}",
                ldif.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    })
}

/// Connect, bind and `write_many` (dwb pipelines the adds on one connection).
fn dwb_write(dc: &SambaDc, rt: &tokio::runtime::Runtime, ops: &[WriteOp]) -> Run {
    let mut failed = Vec::new();
    let mut connected = Duration::ZERO;
    let mut run = measure(dc, ops.len(), false, || {
        let t0 = Instant::now();
        let dir = connect(dc, rt);
        connected = t0.elapsed();
        dir.write_many(&ops.iter().collect::<Vec<_>>(), &mut |i, r| {
            if let Err(e) = r {
                failed.push(format!("{}: {e}", ops[i].dn()));
            }
        });
    });
    assert!(
        failed.is_empty(),
        "dwb write_many: {} of {} adds failed, first: {}",
        failed.len(),
        ops.len(),
        failed[0]
    );
    run.connect = connected;
    run
}

/// `ldapsearch -E pr=1000/noprompt` of every device in `base`, all attributes, output discarded.
fn ldapsearch(dc: &SambaDc, base: &Dn) -> Run {
    let base = base.to_string();
    measure(dc, N, true, || {
        let out = dc
            .ldap_tool("ldapsearch")
            .args([
                "-LLL",
                "-E",
                &format!("pr={PAGE_SIZE}/noprompt"),
                "-b",
                &base,
                "-s",
                "one",
                DEVICE_FILTER,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        if !out.status.success() {
            panic!(
                "ldapsearch of {base} failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    })
}

/// Connect, bind and a paged `Directory::search` of every device in `base`
/// (all attributes), counting entries without keeping them.
fn dwb_read(dc: &SambaDc, rt: &tokio::runtime::Runtime, base: &Dn) -> Run {
    let mut count = 0usize;
    let mut connected = Duration::ZERO;
    let mut run = measure(dc, N, false, || {
        let t0 = Instant::now();
        let dir = connect(dc, rt);
        connected = t0.elapsed();
        let req = SearchRequest::new(
            base.clone(),
            Scope::OneLevel,
            Filter::parse(DEVICE_FILTER).unwrap(),
        );
        dir.search(&req, &mut |_entry| {
            count += 1;
            Ok(())
        })
        .unwrap();
    });
    assert_eq!(count, N, "dwb read {count} entries from {base}, expected {N}");
    run.connect = connected;
    run
}

/// The number of entries one level below `base`, by the real `ldapsearch` (untimed).
fn count_dns(dc: &SambaDc, base: &Dn) -> usize {
    let out = dc.ldapsearch(&[
        "-E",
        &format!("pr={PAGE_SIZE}/noprompt"),
        "-b",
        &base.to_string(),
        "-s",
        "one",
        DEVICE_FILTER,
        "1.1",
    ]);
    out.lines().filter(|l| l.starts_with("dn:")).count()
}

/// A small deterministic generator (splitmix64): the same devices every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn bytes<const K: usize>(&mut self) -> [u8; K] {
        let mut out = [0u8; K];
        for chunk in out.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        out
    }

    fn uuid(&mut self) -> uuid::Uuid {
        uuid::Builder::from_random_bytes(self.bytes::<16>()).into_uuid()
    }
}

/// `n` msDS-Device entries under `container`, shaped like dwb's writeback
/// mapping makes them (2012 R2 schema): a 16-byte msDS-DeviceID, displayName,
/// an `X509:<SHA1-TP-PUBKEY>` key (40 hex SHA-1 thumbprint + base64 SHA-256),
/// msDS-IsEnabled, the cloud anchor, and the usual optional attributes.
fn devices(container: &Dn, seed: u64, n: usize) -> Vec<Entry> {
    let mut rng = Rng(0x5EED_0000 + seed);
    let b64 = base64::engine::general_purpose::STANDARD;
    (0..n)
        .map(|i| {
            let device_id = Guid::from(rng.uuid());
            let object_id = rng.uuid();
            let thumbprint: String = rng.bytes::<20>().iter().map(|b| format!("{b:02X}")).collect();
            let key_hash = b64.encode(rng.bytes::<32>());
            let name: String = rng
                .bytes::<7>()
                .iter()
                .map(|b| b"ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"[usize::from(*b) % 34] as char)
                .collect();
            // S-1-5-21-<domain>-<rid>: the registered owner's SID.
            let mut owner = vec![1u8, 5, 0, 0, 0, 0, 0, 5];
            for sub in [21u32, 516_664_053, 1_928_398_449, 203_945_938, 1100 + (i % 400) as u32] {
                owner.extend_from_slice(&sub.to_le_bytes());
            }
            let attrs = vec![
                Attr::text("objectClass", ["msDS-Device"]),
                Attr::new("msDS-DeviceID", vec![device_id.to_bytes().to_vec()]),
                Attr::text("displayName", [format!("DESKTOP-{name}")]),
                Attr::text(
                    "altSecurityIdentities",
                    [format!("X509:<SHA1-TP-PUBKEY>{thumbprint}{key_hash}")],
                ),
                Attr::text("msDS-IsEnabled", [if i % 10 == 9 { "FALSE" } else { "TRUE" }]),
                Attr::new("msDS-CloudAnchor", vec![format!("Device_{object_id}").into_bytes()]),
                Attr::text("msDS-DeviceObjectVersion", ["2"]),
                Attr::text("msDS-DeviceOSType", ["Windows"]),
                Attr::text(
                    "msDS-DeviceOSVersion",
                    [format!(
                        "10.0.{}.{}",
                        if i % 3 == 0 { 22631 } else { 19045 },
                        rng.next() % 5000
                    )],
                ),
                Attr::text(
                    "msDS-DevicePhysicalIDs",
                    [
                        format!("[ZDID]:{}", rng.uuid()),
                        format!("[HWID]:h:{}", rng.next() % 10_000_000_000),
                    ],
                ),
                Attr::text("msDS-IsManaged", [if i % 4 == 0 { "FALSE" } else { "TRUE" }]),
                Attr::new("msDS-RegisteredOwner", vec![owner]),
            ];
            Entry::with_attrs(container.child("CN", &device_id.to_string()).unwrap(), attrs)
        })
        .collect()
}
