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
    let lab = Lab::start("service", tenant(20, 154));
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
