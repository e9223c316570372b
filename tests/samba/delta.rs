//! Delta rounds that always move on (README "sync", issue: a delta that always
//! moves on): a device the DC refuses is kept in the state and tried again
//! while the deltaLink advances (exit 4 meanwhile); an expired token or an
//! unreadable state starts over with a full reconcile that removes the devices
//! deleted meanwhile; without `state` a default file per profile, tenant and
//! container is used. Real dwb binary, real Samba DC, the Graph emulator.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::sync::{
    Lab, assert_converged, finish, new_device, targets, tenant, wait_for, warnings, with_action,
    writes,
};

fn state_retry(path: &std::path::Path) -> Vec<String> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["retry"].as_array().into_iter().flatten().map(|x| x.as_str().unwrap().to_string()).collect()
}

#[test]
fn a_device_the_dc_refuses_does_not_hold_the_delta_back() {
    let lab = Lab::start("delta_moves_on", tenant(60, 131));
    lab.initial_sync();
    let state = lab.dir.join("state.json");
    let state_arg = format!("state={}", state.display());
    let (out, report) = lab.sync(&["mode=delta", &state_arg]);
    out.code(0);
    assert!(
        warnings(&report).iter().any(|w| w.contains("first round reconciles the whole container")),
        "{:#?}",
        warnings(&report)
    );
    assert!(writes(&report).is_empty(), "a first round over a synced container writes nothing");

    // The DC refuses any write to one device object (a deny ACE for everyone).
    let devs = lab.in_scope();
    let (stuck, free) = (&devs[0], &devs[1]);
    lab.dc.samba_tool_as_admin(&[
        "dsacl",
        "set",
        &format!("--objectdn={}", stuck.dn()),
        "--sddl=(D;;WP;;;WD)",
    ]);
    lab.emu.with_state(|s| {
        s.rename_device(&stuck.id, "STUCK-renamed").unwrap();
        s.rename_device(&free.id, "FREE-renamed").unwrap();
    });
    let (out, report) = lab.sync(&["mode=delta", &state_arg]);
    assert_eq!(out.code, 4, "a change the DC refused: exit 4\n{}", out.stderr);
    assert_eq!(report["status"], "changes_failed");
    let modifies = with_action(&report, "modify");
    let outcome = |dn: String| {
        modifies.iter().find(|c| c["target"].as_str().unwrap().eq_ignore_ascii_case(&dn)).unwrap()
            ["outcome"]
            .clone()
    };
    assert_eq!(outcome(stuck.dn())["status"], "failed");
    assert_eq!(outcome(stuck.dn())["kind"], "insufficient_access");
    assert_eq!(outcome(free.dn())["status"], "applied");
    // The deltaLink moved on, with the refused device kept for the next round.
    assert_eq!(state_retry(&state), vec![stuck.id.clone()]);

    // Nothing changes in Entra, yet the next round tries the refused device again, only it.
    let (out, report) = lab.sync(&["mode=delta", &state_arg]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert_eq!(targets(&writes(&report)), BTreeSet::from([stuck.dn().to_ascii_lowercase()]));
    assert_eq!(state_retry(&state), vec![stuck.id.clone()]);

    // Once the DC accepts it, it is written and the retry list is empty.
    lab.dir.write(
        "unblock.rhai",
        &format!("ad::revoke(\"{}\", \"S-1-1-0\", \"WP\", #{{ deny: true }});\n", stuck.dn()),
    );
    lab.run(&["run", "unblock.rhai", "-q"]).code(0);
    let (out, _) = lab.sync(&["mode=delta", &state_arg]);
    out.code(0);
    assert!(state_retry(&state).is_empty());
    assert_converged(&lab);
}

#[test]
fn an_expired_token_starts_over_and_removes_what_was_deleted_meanwhile() {
    let lab = Lab::start("delta_expired", tenant(80, 137));
    lab.initial_sync();
    let state = lab.dir.join("state.json");
    let state_arg = format!("state={}", state.display());
    lab.sync(&["mode=delta", &state_arg]).0.code(0);
    // Two devices deleted, and Graph forgets the delta token (410 syncStateNotFound).
    let gone: Vec<String> =
        lab.in_scope().iter().take(2).map(|d| d.dn().to_ascii_lowercase()).collect();
    let ids: Vec<String> = lab.in_scope().iter().take(2).map(|d| d.id.clone()).collect();
    lab.emu.with_state(|s| {
        for id in &ids {
            s.delete_device(id).unwrap();
        }
        s.expire_delta_tokens();
    });
    let (out, report) = lab.sync(&["mode=delta", &state_arg]);
    out.code(0);
    assert!(
        warnings(&report).iter().any(|w| w.contains("expired") && w.contains("starts over")),
        "{:#?}",
        warnings(&report)
    );
    assert_eq!(targets(&with_action(&report, "delete")), gone.into_iter().collect());
    assert_converged(&lab);
    // The new state resumes normally.
    let (out, report) = lab.sync(&["mode=delta", &state_arg]);
    out.code(0);
    assert_eq!(report["data"]["sync"]["listed"], 0);

    // An unreadable state file starts over the same way.
    std::fs::write(&state, "{ this is not a delta state").unwrap();
    let (out, report) = lab.sync(&["mode=delta", &state_arg]);
    out.code(0);
    assert!(
        warnings(&report).iter().any(|w| w.contains("unreadable") && w.contains("starts over"))
    );
    assert!(writes(&report).is_empty());
    lab.sync(&["mode=delta", &state_arg]).0.code(0);
}

#[test]
fn delta_without_a_state_parameter_keeps_one_per_profile_tenant_and_container() {
    let lab = Lab::start("delta_default_state", tenant(40, 139));
    lab.initial_sync();
    let (out, report) = lab.sync(&["mode=delta"]);
    out.code(0);
    let dir = lab.dir.join(".local/dwb/delta");
    let all: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("no {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    // One state, with the deviceId hints beside it.
    let files: Vec<_> = all.iter().filter(|f| f.ends_with(".json")).cloned().collect();
    assert_eq!(files.len(), 1, "{all:?}");
    assert!(all.contains(&format!("{}.ids", files[0])), "{all:?}");
    assert_eq!(all.len(), 2, "{all:?}");
    let tenant_id = lab.emu.tenant_id().to_string();
    assert!(files[0].starts_with(&format!("default-{tenant_id}-RegisteredDevices-")), "{files:?}");
    assert!(warnings(&report).iter().any(|w| w.contains(&files[0])));
    // The second round resumes from it.
    let (out, report) = lab.sync(&["mode=delta"]);
    out.code(0);
    assert_eq!(report["data"]["sync"]["listed"], 0, "resumed from the default state");
}

#[test]
fn sixty_percent_gone_from_entra_is_refused_with_the_default_guards() {
    let lab = Lab::start("guard_share", tenant(40, 149));
    lab.initial_sync();
    let before = lab.count();
    let owned = lab.in_scope();
    let gone: Vec<String> = owned.iter().take(owned.len() * 6 / 10).map(|d| d.id.clone()).collect();
    lab.emu.with_state(|s| gone.iter().for_each(|id| s.delete_device(id).unwrap()));
    for params in [&[][..], &["mode=delta"][..]] {
        let (out, report) = lab.sync(params);
        assert_eq!(out.code, 2, "{params:?}: {}", out.stderr);
        assert_eq!(report["status"], "refused");
        assert_eq!(report["refusals"][0]["guard"], "delete_threshold_percent", "{params:?}");
        assert_eq!(with_action(&report, "delete").len(), gone.len(), "the full plan is shown");
        assert_eq!(lab.count(), before, "nothing deleted");
    }
}

/// An incremental round reads only the changed devices' objects; its deletions
/// are still weighed against every object dwb owns in the container (counted
/// by the DC while Graph is asked for the devices), exactly at the edge.
#[test]
fn an_incremental_round_weighs_its_deletions_against_every_owned_object() {
    let lab = Lab::start("delta_guard_share", tenant(40, 151));
    lab.initial_sync();
    let state = lab.dir.join("state.json");
    let state_arg = format!("state={}", state.display());
    lab.sync(&["mode=delta", &state_arg]).0.code(0);
    let owned = lab.count();
    let devs = lab.in_scope();
    // The most the default 25 % lets through, plus one.
    let over = owned / 4 + 1;
    let gone: Vec<String> = devs.iter().take(over).map(|d| d.id.clone()).collect();
    lab.emu.with_state(|s| gone.iter().for_each(|id| s.delete_device(id).unwrap()));
    let (out, report) = lab.sync(&["mode=delta", &state_arg]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(report["data"]["sync"]["listed"], 0, "an incremental round: {report:#}");
    assert_eq!(report["refusals"][0]["guard"], "delete_threshold_percent");
    let message = report["refusals"][0]["message"].as_str().unwrap();
    assert!(message.contains(&format!("{over} of the {owned} device objects")), "{message}");
    assert_eq!(with_action(&report, "delete").len(), over, "the whole plan is shown");
    assert_eq!(lab.count(), owned, "nothing deleted");
    // The smallest share that allows them: refused one percent below, applied
    // at it (the refused rounds committed nothing: the same deltaLink again).
    let share = (over * 100).div_ceil(owned);
    let (out, report) =
        lab.sync(&["mode=delta", &state_arg, &format!("delete_threshold_percent={}", share - 1)]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(report["refusals"][0]["guard"], "delete_threshold_percent");
    let (out, report) =
        lab.sync(&["mode=delta", &state_arg, &format!("delete_threshold_percent={share}")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(report["refusals"].as_array().is_none_or(|r| r.is_empty()), "{report:#}");
    assert_eq!(with_action(&report, "delete").len(), over);
    assert_eq!(lab.count(), owned - over, "exactly the removed devices' objects deleted");
}

#[test]
fn a_delta_run_refused_by_the_lock_leaves_its_state_alone() {
    // The round's Graph listing starts with the run, before the lock is taken:
    // it must work on a copy, so a refused run changes no state file.
    let lab = Lab::start("delta_locked", tenant(30, 163));
    let state = lab.dir.join("state.json");
    let state_arg = format!("state={}", state.display());
    lab.sync(&["mode=delta", &state_arg]).0.code(0);
    let child = lab.spawn_sync(&["watch=1"]);
    wait_for("the watcher to hold the lock", Duration::from_secs(60), || lab.sync(&[]).0.code == 2);

    let siblings = || -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<_> = std::fs::read_dir(lab.dir.path())
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.file_name().to_string_lossy().starts_with("state.json"))
            .map(|e| {
                (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap())
            })
            .collect();
        v.sort();
        v
    };
    let before = siblings();
    assert!(before.iter().any(|(n, _)| n == "state.json"), "{:?}", before.iter().map(|f| &f.0));
    let dev = lab.in_scope()[0].clone();
    lab.emu.with_state(|s| s.rename_device(&dev.id, "RENAMED-WHILE-LOCKED").unwrap());
    let (out, report) = lab.sync(&["mode=delta", &state_arg]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(report["error"]["kind"], "locked");
    // The state (and what is kept beside it) as it was, no copy left behind.
    let after = siblings();
    assert_eq!(
        after.iter().map(|f| &f.0).collect::<Vec<_>>(),
        before.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    assert!(after == before, "a state file changed");

    assert!(
        Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success()
    );
    finish(child, Duration::from_secs(60)).code(0);
    // The refused run consumed nothing: the next round still sees the rename.
    let (out, report) = lab.sync(&["mode=delta", &state_arg]);
    out.code(0);
    assert_eq!(report["data"]["sync"]["listed"], 1, "{:#}", report["data"]["sync"]);
}

#[test]
fn delta_rounds_find_their_objects_with_wrong_or_lost_id_hints() {
    // The deviceIds a round remembers (`<state>.ids`) only speed up finding the
    // objects of changed devices: wrong or missing, the round plans the same.
    let lab = Lab::start("delta_hints", tenant(40, 167));
    lab.initial_sync();
    let state = lab.dir.join("state.json");
    let state_arg = format!("state={}", state.display());
    lab.sync(&["mode=delta", &state_arg]).0.code(0);
    let hints_file = lab.dir.join("state.json.ids");
    let hints: serde_json::Map<String, Value> =
        serde_json::from_slice(&std::fs::read(&hints_file).unwrap()).unwrap();
    let devs = lab.in_scope();
    for d in &devs {
        assert!(hints.contains_key(&d.id), "no hint for {}", d.id);
    }
    // Every hint names another device's deviceId.
    let (keys, mut values): (Vec<String>, Vec<Value>) = hints.into_iter().unzip();
    values.rotate_left(1);
    let wrong: serde_json::Map<String, Value> = keys.into_iter().zip(values).collect();
    std::fs::write(&hints_file, serde_json::to_vec(&wrong).unwrap()).unwrap();

    let (fresh, _) = new_device(3, "NEW-WITH-WRONG-HINTS");
    let gone = devs[3].clone();
    lab.emu.with_state(|s| {
        for d in &devs[..3] {
            s.rename_device(&d.id, &format!("{}-renamed", d.id)).unwrap();
        }
        s.delete_device(&gone.id).unwrap();
        drop(s.add_device(fresh).unwrap());
    });
    let (out, report) = lab.sync(&["mode=delta", &state_arg]);
    out.code(0);
    let renamed: BTreeSet<String> = devs[..3].iter().map(|d| d.dn().to_ascii_lowercase()).collect();
    assert_eq!(targets(&with_action(&report, "modify")), renamed);
    assert_eq!(
        targets(&with_action(&report, "delete")),
        BTreeSet::from([gone.dn().to_ascii_lowercase()])
    );
    assert_eq!(with_action(&report, "create").len(), 1, "{:#?}", writes(&report));
    assert_converged(&lab);

    // Lost hints: the same again.
    std::fs::remove_file(&hints_file).unwrap();
    lab.emu.with_state(|s| {
        for d in &devs[4..6] {
            s.rename_device(&d.id, "renamed-without-hints").unwrap();
        }
    });
    let (out, report) = lab.sync(&["mode=delta", &state_arg]);
    out.code(0);
    let renamed: BTreeSet<String> =
        devs[4..6].iter().map(|d| d.dn().to_ascii_lowercase()).collect();
    assert_eq!(targets(&writes(&report)), renamed);
    assert_converged(&lab);
}
