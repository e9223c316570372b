//! `sync --param watch=N` (README "sync"): a watch loop survives a DC that goes
//! away and comes back, stops between rounds on SIGTERM, and holds the
//! container's lock so a second sync (a cron job) is refused meanwhile.

use std::process::Command;
use std::time::Duration;

use super::sync::{Lab, finish, new_device, tenant, wait_for};

#[test]
fn watch_survives_a_dc_restart_and_stops_between_rounds() {
    let mut lab = Lab::start("watch", tenant(30, 151));
    let want = lab.in_scope().len();
    let child = lab.spawn_sync(&["watch=1"]);
    wait_for("the first round", Duration::from_secs(60), || lab.count() == want);

    // A second sync of the same container is refused while the watcher runs.
    let (out, report) = lab.sync(&[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("another dwb sync (pid"), "{}", out.stderr);
    assert_eq!(report["error"]["kind"], "locked");

    // The DC goes away: rounds fail and are retried; it comes back.
    let pid = lab.dc.pid().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    std::thread::sleep(Duration::from_secs(4)); // a few failed rounds
    lab.dc.restart();
    let (dev, _) = new_device(7, "AFTER-RESTART");
    let id = dev["id"].as_str().unwrap().to_string();
    lab.emu.with_state(|s| drop(s.add_device(dev).unwrap()));
    wait_for("the watcher to write the new device", Duration::from_secs(90), || {
        lab.count() == want + 1
    });

    // SIGTERM: the loop ends between rounds.
    assert!(
        Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success()
    );
    let out = finish(child, Duration::from_secs(60));
    assert_eq!(out.code, 0, "a stop between rounds is a clean exit\n{}", out.stderr);
    assert!(
        out.stderr.contains("sync round failed"),
        "the failed rounds were logged:\n{}",
        out.stderr
    );
    assert!(out.stderr.contains("watch stopped between rounds"), "{}", out.stderr);
    assert!(lab.devices().iter().any(|d| d.id == id));
    // With the watcher gone the lock is free again.
    lab.sync(&[]).0.code(0);
}
