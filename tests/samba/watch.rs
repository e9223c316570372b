//! `sync --param watch=N` (README "sync"): a watch loop survives a DC that goes
//! away and comes back, stops between rounds on SIGTERM, and holds the
//! container's lock so a second sync (a cron job) is refused meanwhile.

use std::process::Command;
use std::time::Duration;

use super::sync::{CONTAINER, Lab, finish, new_device, tenant, wait_for};

/// The displayName AD holds for the device at `CN=<device_id>`, if the object exists.
fn name_in_ad(lab: &Lab, device_id: &str) -> Option<String> {
    let dn = format!("CN={device_id},{CONTAINER}");
    lab.objects()
        .into_iter()
        .find(|o| o.dn.eq_ignore_ascii_case(&dn))
        .and_then(|o| o.text("displayName"))
}

/// Every round of a watch succeeds, and each Entra change made between rounds
/// (renames, a new device, a removed one) is in AD after the next round.
#[test]
fn watch_rounds_succeed_and_carry_each_change() {
    let lab = Lab::start("watch_rounds", tenant(20, 152));
    let want = lab.in_scope();
    let child = lab.spawn_sync(&["watch=1"]);
    wait_for("the first round", Duration::from_secs(60), || lab.count() == want.len());

    for (i, dev) in want.iter().take(3).enumerate() {
        let name = format!("RENAMED-{i}");
        lab.emu.with_state(|s| s.rename_device(&dev.id, &name).unwrap());
        wait_for(&format!("rename {i} to reach AD"), Duration::from_secs(60), || {
            name_in_ad(&lab, &dev.device_id).as_deref() == Some(name.as_str())
        });
    }
    let (added, _) = new_device(9, "ADDED-WHILE-WATCHING");
    let added_device_id = added["deviceId"].as_str().unwrap().to_string();
    lab.emu.with_state(|s| drop(s.add_device(added).unwrap()));
    wait_for("the new device to reach AD", Duration::from_secs(60), || {
        name_in_ad(&lab, &added_device_id).as_deref() == Some("ADDED-WHILE-WATCHING")
    });
    let gone = &want[5];
    lab.emu.with_state(|s| s.delete_device(&gone.id).unwrap());
    wait_for("the removed device to leave AD", Duration::from_secs(60), || {
        name_in_ad(&lab, &gone.device_id).is_none()
    });

    assert!(
        Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success()
    );
    let out = finish(child, Duration::from_secs(60));
    assert_eq!(out.code, 0, "SIGTERM between rounds is a clean stop\n{}", out.stderr);
    assert!(!out.stderr.contains("sync round failed"), "every round succeeded:\n{}", out.stderr);
    let rounds: Vec<&str> = out.stderr.lines().filter(|l| l.contains("] round ")).collect();
    assert!(rounds.len() >= 6, "a round per change and more ({}):\n{}", rounds.len(), out.stderr);
    assert!(
        rounds.iter().all(|l| l.starts_with("[DWB-SVC-0010] round ok (full,")),
        "every round succeeded, nothing failed:\n{}",
        out.stderr
    );
    assert!(out.stderr.contains("watch stopped between rounds"), "{}", out.stderr);
}

/// Ctrl-C (SIGINT) also stops a watch between rounds, but as an interrupt: 130.
#[test]
fn ctrl_c_stops_a_watch_with_130() {
    let lab = Lab::start("watch_ctrl_c", tenant(8, 153));
    let want = lab.in_scope().len();
    let child = lab.spawn_sync(&["watch=1"]);
    wait_for("the first round", Duration::from_secs(60), || lab.count() == want);
    assert!(
        Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success()
    );
    let out = finish(child, Duration::from_secs(60));
    assert_eq!(out.code, 130, "Ctrl-C is an interrupt\n{}", out.stderr);
    assert!(out.stderr.contains("watch stopped between rounds"), "{}", out.stderr);
    assert!(!out.stderr.contains("sync round failed"), "{}", out.stderr);
    assert_eq!(lab.count(), want, "the round in flight finished");
}

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
