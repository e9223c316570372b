//! dwb as a service (README "Run it as a service"): a watch against a real DC
//! and the Graph emulator, watched from outside the way a monitor would —
//! `dwb health`, `GET /healthz` and `GET /metrics` — while faults come and go:
//! a Graph 503 storm, a hung DC (SIGSTOP, longer than the LDAP timeout), a mass
//! delete in Entra that the guard refuses. The service must stay up, say
//! "degraded" while a fault lasts, converge once it is gone, and stop on SIGTERM.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use dwb_graph_emulator::{Faults, RetryAfter};

use super::sync::{CONTAINER, Lab, finish, new_device, tenant, wait_for};

/// `GET path` on the metrics listener: the status code and the body.
fn get(port: u16, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// The value of the metric sample whose line starts with `series` (0 when absent).
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn health(lab: &Lab) -> i32 {
    lab.run(&["health"]).code
}

fn signal(sig: &str, pid: u32) {
    assert!(Command::new("kill").args([sig, &pid.to_string()]).status().unwrap().success());
}

fn name_in_ad(lab: &Lab, device_id: &str) -> Option<String> {
    let dn = format!("CN={device_id},{CONTAINER}");
    lab.objects()
        .into_iter()
        .find(|o| o.dn.eq_ignore_ascii_case(&dn))
        .and_then(|o| o.text("displayName"))
}

#[test]
fn a_watch_is_monitored_survives_faults_and_stops_on_sigterm() {
    let mut lab = Lab::start("service", tenant(20, 154));
    // A short LDAP timeout, so a hung DC costs seconds, not minutes.
    std::fs::write(
        lab.dir.join("dwb.toml"),
        "default_profile = \"lab\"\n[profiles.lab.ldap]\ntimeout_secs = 3\n",
    )
    .unwrap();
    assert_eq!(health(&lab), 2, "no round recorded yet: unknown");
    let want = lab.in_scope();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut cmd = lab.cmd();
    cmd.args(Lab::sync_args(&["watch=1"]))
        .args(["--metrics-listen", &listen])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    wait_for("the first round", Duration::from_secs(60), || lab.count() == want.len());
    wait_for("healthy", Duration::from_secs(30), || health(&lab) == 0);
    assert_eq!(get(port, "/healthz").0, 200);

    // 2 renames, 1 delete, 1 add in Entra: the counters say what the DC saw.
    let (added, _) = new_device(11, "SERVICE-ADDED");
    let added_id = added["deviceId"].as_str().unwrap().to_string();
    lab.emu.with_state(|s| {
        s.rename_device(&want[0].id, "SERVICE-RENAMED-0").unwrap();
        s.rename_device(&want[1].id, "SERVICE-RENAMED-1").unwrap();
        s.delete_device(&want[2].id).unwrap();
        drop(s.add_device(added).unwrap());
    });
    wait_for("the four changes in AD", Duration::from_secs(60), || {
        name_in_ad(&lab, &want[1].device_id).as_deref() == Some("SERVICE-RENAMED-1")
            && name_in_ad(&lab, &want[0].device_id).as_deref() == Some("SERVICE-RENAMED-0")
            && name_in_ad(&lab, &want[2].device_id).is_none()
            && name_in_ad(&lab, &added_id).is_some()
    });
    let (code, m) = get(port, "/metrics");
    assert_eq!(code, 200);
    let n = want.len() as f64;
    assert_eq!(sample(&m, "dwb_changes_total{op=\"add\",result=\"applied\"}"), n + 1.0, "{m}");
    assert_eq!(sample(&m, "dwb_changes_total{op=\"modify\",result=\"applied\"}"), 2.0, "{m}");
    assert_eq!(sample(&m, "dwb_changes_total{op=\"delete\",result=\"applied\"}"), 1.0, "{m}");
    assert!(sample(&m, "dwb_rounds_total{outcome=\"ok\"}") >= 2.0, "{m}");
    assert_eq!(sample(&m, "dwb_rounds_total{outcome=\"failed\"}"), 0.0, "{m}");
    assert!(sample(&m, "dwb_last_success_timestamp_seconds") > 1.7e9, "{m}");
    assert!(sample(&m, "dwb_graph_requests_total{code=\"200\"}") >= 2.0, "{m}");
    assert_eq!(sample(&m, "dwb_devices{state=\"in_scope\"}"), n, "{m}");

    // A Graph 503 storm: rounds fail, the service says degraded, then recovers.
    lab.emu.set_faults(Faults {
        throttle_every: 1,
        throttle_status: 503,
        retry_after: RetryAfter::Seconds(0),
        ..Faults::default()
    });
    wait_for("degraded during the 503 storm", Duration::from_secs(60), || health(&lab) == 1);
    assert_eq!(get(port, "/healthz").0, 503);
    lab.emu.set_faults(Faults::default());
    lab.emu.with_state(|s| s.rename_device(&want[3].id, "AFTER-STORM").unwrap());
    wait_for("the change made during the storm", Duration::from_secs(90), || {
        name_in_ad(&lab, &want[3].device_id).as_deref() == Some("AFTER-STORM")
    });
    wait_for("healthy after the storm", Duration::from_secs(30), || health(&lab) == 0);
    assert_eq!(get(port, "/healthz").0, 200);

    // The DC hangs (SIGSTOP) for longer than the LDAP timeout, then comes back.
    let dc = lab.dc.pid();
    signal("-STOP", dc);
    let hung = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_for("degraded while the DC hangs", Duration::from_secs(60), || health(&lab) == 1)
    }));
    signal("-CONT", dc);
    hung.unwrap();
    assert_eq!(get(port, "/healthz").0, 503, "still degraded until a round succeeds");
    lab.emu.with_state(|s| s.rename_device(&want[4].id, "AFTER-HANG").unwrap());
    wait_for("the change made after the hang", Duration::from_secs(120), || {
        name_in_ad(&lab, &want[4].device_id).as_deref() == Some("AFTER-HANG")
    });
    wait_for("healthy after the hang", Duration::from_secs(30), || health(&lab) == 0);

    // The DC stopped, then started again.
    signal("-TERM", lab.dc.pid());
    wait_for("degraded while the DC is down", Duration::from_secs(60), || health(&lab) == 1);
    assert_eq!(get(port, "/healthz").0, 503);
    lab.dc.restart();
    lab.emu.with_state(|s| s.rename_device(&want[4].id, "AFTER-RESTART").unwrap());
    wait_for("the change made while the DC was down", Duration::from_secs(120), || {
        name_in_ad(&lab, &want[4].device_id).as_deref() == Some("AFTER-RESTART")
    });
    wait_for("healthy after the restart", Duration::from_secs(30), || health(&lab) == 0);

    // A 60% mass delete in Entra: every round is refused, nothing is deleted.
    let before = lab.count();
    let doomed: Vec<String> =
        want.iter().skip(5).take(want.len() * 6 / 10).map(|d| d.id.clone()).collect();
    lab.emu.with_state(|s| doomed.iter().for_each(|id| s.delete_device(id).unwrap()));
    wait_for("refused rounds", Duration::from_secs(60), || {
        sample(&get(port, "/metrics").1, "dwb_rounds_total{outcome=\"refused\"}") >= 2.0
    });
    assert_eq!(lab.count(), before, "a refused round deletes nothing");
    let out = lab.run(&["health", "--format", "json"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let h: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(h["health"], "degraded");
    assert_eq!(h["status"]["last"]["outcome"], "refused");
    assert_eq!(get(port, "/healthz").0, 503);

    // SIGTERM: the service stops between rounds, promptly, with 0.
    let t = std::time::Instant::now();
    signal("-TERM", child.id());
    let out = finish(child, Duration::from_secs(15));
    assert!(t.elapsed() < Duration::from_secs(15), "stopped within 15 s");
    assert_eq!(out.code, 0, "{}", out.stderr);
    for code in ["DWB-SVC-0001", "DWB-SVC-0002", "DWB-SVC-0004", "DWB-SVC-0010"] {
        assert!(out.stderr.contains(&format!("[{code}]")), "{code} logged:\n{}", out.stderr);
    }
    assert!(!out.stderr.contains('\u{1b}'), "no colour codes into a pipe:\n{}", out.stderr);
    // After the service stopped, health still reads its last word.
    assert_eq!(health(&lab), 1);
}

/// `--log-format json`: one JSON object per round line, with its event code.
#[test]
fn json_log_lines_and_a_loopback_only_listener() {
    let lab = Lab::start("service_json", tenant(6, 155));
    let out = lab.run(&["run", "sync", "--param", "watch=1", "--metrics-listen", "0.0.0.0:9"]);
    assert_eq!(out.code, 3, "a non-loopback listener is refused\n{}", out.stderr);
    assert!(out.stderr.contains("not a loopback address"), "{}", out.stderr);
    assert_eq!(lab.count(), 0, "refused before anything ran");

    let child = lab
        .cmd()
        .args(Lab::sync_args(&["watch=1"]))
        .args(["--log-format", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let want = lab.in_scope().len();
    wait_for("the first round", Duration::from_secs(60), || lab.count() == want);
    signal("-TERM", child.id());
    let out = finish(child, Duration::from_secs(30));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let rounds: Vec<serde_json::Value> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &serde_json::Value| v["event"] == "round")
        .collect();
    assert!(!rounds.is_empty(), "{}", out.stderr);
    assert_eq!(rounds[0]["code"], "DWB-SVC-0010");
    assert_eq!(rounds[0]["outcome"], "ok");
    assert_eq!(rounds[0]["changes"]["add_applied"], want);
    assert_eq!(rounds[0]["next_round_s"], 1);
}

/// A device the DC keeps refusing is retried with a growing pause, never
/// holds the others back, is quarantined after 5 failed rounds (status, health,
/// log), and is written as soon as the DC accepts it again.
#[test]
fn a_device_the_dc_refuses_is_backed_off_and_quarantined() {
    let lab = Lab::start("service_quarantine", tenant(12, 156));
    lab.initial_sync();
    let devs = lab.in_scope();
    let (stuck, other) = (&devs[0], &devs[1]);
    lab.dc.samba_tool_as_admin(&[
        "dsacl",
        "set",
        &format!("--objectdn={}", stuck.dn()),
        "--sddl=(D;;WP;;;WD)",
    ]);
    lab.emu.with_state(|s| s.rename_device(&stuck.id, "STUCK").unwrap());
    let port = free_port();
    let child = lab
        .cmd()
        .args(Lab::sync_args(&["watch=1"]))
        .args(["--metrics-listen", &port.to_string()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = || -> serde_json::Value {
        serde_json::from_str(&lab.run(&["health", "--format", "json"]).stdout).unwrap()
    };
    wait_for("the stuck device to fail once", Duration::from_secs(60), || {
        status()["status"]["failing"][&stuck.id]["failures"] == 1
    });
    // The others are not held back while it waits.
    lab.emu.with_state(|s| s.rename_device(&other.id, "NOT-HELD-BACK").unwrap());
    wait_for("the other device's rename", Duration::from_secs(30), || {
        name_in_ad(&lab, &other.device_id).as_deref() == Some("NOT-HELD-BACK")
    });
    wait_for("quarantine", Duration::from_secs(120), || {
        status()["status"]["failing"][&stuck.id]["failures"] == 5
    });
    let h = status();
    assert_eq!(h["health"], "degraded", "{h:#}");
    assert!(
        h["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().contains("quarantined")),
        "{h:#}"
    );
    let m = get(port, "/metrics").1;
    let tried = sample(&m, "dwb_changes_total{op=\"modify\",result=\"failed\"}");
    let rounds = sample(&m, "dwb_rounds_total{outcome=\"ok\"}")
        + sample(&m, "dwb_rounds_total{outcome=\"failed\"}");
    assert_eq!(tried, 5.0, "{m}");
    assert!(rounds >= tried + 5.0, "tried in fewer rounds than ran ({tried} of {rounds}):\n{m}");

    // The DC accepts it again: written at its next try, and forgotten.
    lab.dir.write(
        "unblock.rhai",
        &format!("ad::revoke(\"{}\", \"S-1-1-0\", \"WP\", #{{ deny: true }});\n", stuck.dn()),
    );
    lab.run(&["run", "unblock.rhai", "-q"]).code(0);
    wait_for("the stuck device written", Duration::from_secs(90), || {
        name_in_ad(&lab, &stuck.device_id).as_deref() == Some("STUCK")
    });
    wait_for("healthy again", Duration::from_secs(30), || health(&lab) == 0);
    assert!(status()["status"]["failing"].as_object().unwrap().is_empty());
    signal("-TERM", child.id());
    let out = finish(child, Duration::from_secs(30));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("[DWB-SVC-0005] device "), "{}", out.stderr);
}

/// A paced initial load still writes every device (the spacing itself is
/// checked on virtual time in `ad::ldap::pace`); a negative rate is refused.
#[test]
fn a_paced_sync_writes_everything() {
    let lab = Lab::start("service_paced", tenant(30, 157));
    let (out, report) = lab.sync(&["max_writes_per_second=40"]);
    out.code(0);
    assert_eq!(report["status"], "ok");
    super::sync::assert_converged(&lab);
    lab.dir.write("neg.rhai", "dwb::max_writes_per_second(-1);\n");
    lab.run(&["run", "neg.rhai"]).code(2).stderr_has("the rate must be 0 (unlimited) or more");
}

/// Delta rounds do not see a changed registered owner (Graph does not track
/// navigation properties; the emulator neither): a watch in delta mode runs a
/// full round every `full_every` seconds, and that round brings the owner.
#[test]
fn a_delta_watch_runs_periodic_full_rounds_that_bring_owner_changes() {
    let lab = Lab::start("service_full_every", tenant(10, 158));
    lab.initial_sync();
    let admin = super::sync::parse_ldif(&lab.dc.ldapsearch(&[
        "-b",
        "CN=Administrator,CN=Users,DC=contoso,DC=test",
        "-s",
        "base",
        "(objectClass=*)",
        "objectSid",
    ]));
    let admin_sid = admin[0].one("objectSid").unwrap();
    let dev = lab.in_scope()[0].clone();
    let owner_in_ad = || {
        let dn = format!("CN={},{CONTAINER}", dev.device_id);
        lab.objects()
            .into_iter()
            .find(|o| o.dn.eq_ignore_ascii_case(&dn))
            .and_then(|o| o.one("msDS-RegisteredOwner"))
    };
    assert_eq!(owner_in_ad(), None);
    let rounds = |err: &str, kind: &str| err.matches(&format!("] round ok ({kind},")).count();

    // With the default (a full round a day) and the initial sync's full round
    // just recorded, every round is a delta one: the owner stays unseen.
    let child = lab.spawn_sync(&["watch=1", "mode=delta"]);
    std::thread::sleep(Duration::from_secs(2));
    lab.emu.with_state(|s| {
        let user = s
            .add_user(serde_json::json!({"id": uuid::Uuid::new_v4().to_string(), "userPrincipalName": "administrator@contoso.test", "onPremisesSecurityIdentifier": super::sync::sid_text(&admin_sid)}))
            .unwrap();
        s.set_owner(&dev.id, &user).unwrap();
    });
    std::thread::sleep(Duration::from_secs(6));
    signal("-TERM", child.id());
    let out = finish(child, Duration::from_secs(30));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(rounds(&out.stderr, "delta") >= 3, "delta rounds ran:\n{}", out.stderr);
    assert_eq!(rounds(&out.stderr, "full"), 0, "no full round:\n{}", out.stderr);
    assert_eq!(owner_in_ad(), None, "delta rounds cannot see an owner change");

    // With full_every=3 a full round comes within seconds and writes the owner.
    let child = lab.spawn_sync(&["watch=1", "mode=delta", "full_every=3"]);
    wait_for("the owner from a periodic full round", Duration::from_secs(60), || {
        owner_in_ad() == Some(admin_sid.clone())
    });
    signal("-TERM", child.id());
    let out = finish(child, Duration::from_secs(30));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(rounds(&out.stderr, "full") >= 1, "{}", out.stderr);
    let h: serde_json::Value =
        serde_json::from_str(&lab.run(&["health", "--format", "json"]).stdout).unwrap();
    assert!(h["status"]["last_full_at"].as_u64().is_some(), "{h:#}");
}

/// Whether AD holds exactly the in-scope devices, each with its Entra name.
fn converged(lab: &Lab) -> bool {
    let want = lab.in_scope();
    let objs = lab.objects();
    objs.len() == want.len()
        && want.iter().all(|d| {
            let dn = d.dn();
            objs.iter().any(|o| {
                o.dn.eq_ignore_ascii_case(&dn) && o.text("displayName") == Some(d.name.clone())
            })
        })
}

/// The long run: a delta watch (with periodic full rounds) for many rounds while
/// Entra changes and faults come and go — Graph 503 storms, expired tokens (401),
/// expired delta tokens (410 and 400 `syncStateNotFound`), throttling, broken JSON,
/// the DC stopped and restarted, the DC hung past the LDAP timeout. The service
/// stays up, logs each failed round once with an error code, and once the faults
/// stop it converges with nothing lost and then writes nothing more.
#[test]
fn a_watch_rides_out_many_rounds_of_faults() {
    let mut lab = Lab::start("service_soak", tenant(40, 159));
    std::fs::write(
        lab.dir.join("dwb.toml"),
        "default_profile = \"lab\"\n[profiles.lab.ldap]\ntimeout_secs = 2\n",
    )
    .unwrap();
    lab.initial_sync();
    let mut child = lab.spawn_sync(&["watch=1", "mode=delta", "full_every=15"]);
    let mut seed: u64 = 159;
    let mut next = move |n: usize| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((seed >> 33) as usize) % n.max(1)
    };
    let storm = |status: u16, retry: RetryAfter| Faults {
        throttle_every: 1,
        throttle_status: status,
        retry_after: retry,
        ..Faults::default()
    };
    for step in 0..16 {
        // Entra changes: a rename each step, now and then a new or a deleted device.
        let devs = lab.devices();
        let d = devs[next(devs.len())].id.clone();
        lab.emu.with_state(|s| s.rename_device(&d, &format!("SOAK-{step}")).unwrap());
        if step % 4 == 1 {
            let (dev, _) = new_device(100 + step, &format!("SOAK-NEW-{step}"));
            lab.emu.with_state(|s| drop(s.add_device(dev).unwrap()));
        }
        if step % 5 == 2 {
            let victim = lab.in_scope()[next(10)].id.clone();
            lab.emu.with_state(|s| s.delete_device(&victim).unwrap());
        }
        match step % 8 {
            0 => {
                lab.emu.set_faults(storm(503, RetryAfter::Seconds(0)));
                std::thread::sleep(Duration::from_secs(3));
            }
            1 => lab.emu.set_faults(Faults { unauthorized_next: 3, ..Faults::default() }),
            2 => lab.emu.with_state(|s| s.expire_delta_tokens()),
            3 => {
                lab.emu.with_state(|s| {
                    s.expired_delta_status = 400;
                    s.expire_delta_tokens();
                });
            }
            4 => {
                signal("-TERM", lab.dc.pid());
                std::thread::sleep(Duration::from_secs(2));
                lab.dc.restart();
            }
            5 => {
                let dc = lab.dc.pid();
                signal("-STOP", dc);
                std::thread::sleep(Duration::from_secs(4));
                signal("-CONT", dc);
            }
            6 => lab.emu.set_faults(Faults { malformed_next: 2, ..Faults::default() }),
            _ => {
                lab.emu.set_faults(storm(429, RetryAfter::Seconds(1)));
                std::thread::sleep(Duration::from_secs(2));
            }
        }
        std::thread::sleep(Duration::from_millis(1500));
        lab.emu.set_faults(Faults::default());
        assert!(child.try_wait().unwrap().is_none(), "the service is still up at step {step}");
    }

    // The faults are over: healthy again, converged, nothing lost.
    wait_for("healthy after the faults", Duration::from_secs(120), || health(&lab) == 0);
    wait_for("convergence", Duration::from_secs(120), || converged(&lab));
    super::sync::assert_converged(&lab);
    // Nothing written twice: further rounds leave every object as it is.
    let usns = |lab: &Lab| -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> =
            lab.objects().iter().map(|o| (o.dn.clone(), o.usn())).collect();
        v.sort();
        v
    };
    let before = usns(&lab);
    let rounds = || -> u64 {
        let h: serde_json::Value =
            serde_json::from_str(&lab.run(&["health", "--format", "json"]).stdout).unwrap();
        h["status"]["rounds"]["ok"].as_u64().unwrap_or(0)
    };
    let r0 = rounds();
    wait_for("three more good rounds", Duration::from_secs(60), || rounds() >= r0 + 3);
    assert_eq!(usns(&lab), before, "no object rewritten after convergence");
    assert!(child.try_wait().unwrap().is_none(), "the service is still up");

    signal("-TERM", child.id());
    let out = finish(child, Duration::from_secs(30));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let failed: Vec<&str> =
        out.stderr.lines().filter(|l| l.contains("sync round failed")).collect();
    assert!(!failed.is_empty(), "the faults failed some rounds:\n{}", out.stderr);
    assert!(
        failed.iter().all(|l| l.starts_with("[DWB-SVC-")
            && l.split_once(']').is_some_and(|(_, rest)| rest.contains("DWB-"))),
        "each failed round is logged with its error's code:\n{}",
        failed.join("\n")
    );
    assert!(out.stderr.contains("[DWB-SVC-0004] recovered"), "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}
