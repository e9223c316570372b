//! dwb as a system service: a run as the packaged unit starts it (secrets from
//! systemd's `$CREDENTIALS_DIRECTORY`, state in `$DWB_DATA_DIR`, no home), and
//! the Debian package `dist/deb.sh` builds: its contents, and its units as
//! `systemd-analyze verify` sees them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::Dir;

fn text(o: &Output) -> String {
    format!(
        "--- status {} ---\n--- stdout ---\n{}\n--- stderr ---\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `cmd`, which must succeed; its stdout.
fn run_ok(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(o.status.success(), "{cmd:?} failed\n{}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn a_service_run_takes_its_secret_from_the_credentials_directory() {
    use dwb_graph_emulator::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Emulator, generate};
    let d = Dir::prepared();
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let emu = rt.block_on(Emulator::start(generate(12, 7))).unwrap();
    let base = emu.base_url().as_str().trim_end_matches('/').to_string();
    // The profile names a secret file the service could not read: the credential wins.
    let config = d.write(
        "etc/dwb.toml",
        &format!(
            "default_profile = \"prod\"\n[profiles.prod.graph]\ntenant = \"{}\"\n\
             client_id = \"{DEFAULT_CLIENT_ID}\"\nauthority = \"{base}\"\nendpoint = \"{base}\"\n\
             client_secret_file = \"/nonexistent/graph-secret\"\n",
            emu.tenant_id()
        ),
    );
    let creds = d.join("credentials");
    std::fs::create_dir_all(&creds).unwrap();
    std::fs::write(creds.join("graph-client-secret"), format!("{DEFAULT_CLIENT_SECRET}\n"))
        .unwrap();
    // The units' default for a credential the admin did not provide.
    std::fs::write(creds.join("ldap-password"), "\n").unwrap();
    let state = d.join("state");
    // As dwb-writeback@prod.service runs it (one round: no watch), on a snapshot of a
    // prepared directory; no HOME, as for a DynamicUser= account.
    let sync = |creds: &Path| {
        let mut c = d.dwb();
        c.args(["run", "sync", "--profile", "prod", "--yes", "--param", "mode=delta"])
            .args(["--snapshot", &d.join("prepared.ldif").display().to_string()])
            .env_remove("HOME")
            .env_remove("XDG_DATA_HOME")
            .env_remove("XDG_CONFIG_HOME")
            .env("DWB_CONFIG", &config)
            .env("DWB_DATA_DIR", &state)
            .env("CREDENTIALS_DIRECTORY", creds)
            .stdin(std::process::Stdio::null());
        c.output().unwrap()
    };
    let o = sync(&creds);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(emu.graph_request_count() > 0, "Graph was not asked: {}", text(&o));
    assert!(!text(&o).contains(DEFAULT_CLIENT_SECRET), "the secret was printed: {}", text(&o));
    // The delta state went to $DWB_DATA_DIR.
    let delta: Vec<PathBuf> = std::fs::read_dir(state.join("delta"))
        .unwrap_or_else(|e| panic!("no delta state in {}: {e}\n{}", state.display(), text(&o)))
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!delta.is_empty(), "{}", text(&o));

    // Only the placeholder left: the profile's own setting is used again, and named.
    std::fs::write(creds.join("graph-client-secret"), "\n").unwrap();
    let o = sync(&creds);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "cannot read the secret file /nonexistent/graph-secret (client_secret_file in \
                      [profiles.prod.graph]"
        ),
        "{}",
        text(&o)
    );
}

/// Runs tests/lab/install.sh (cargo-deb, systemd-analyze), once.
fn ensure_tools() {
    static DONE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lab/install.sh");
        run_ok(Command::new("sh").arg(&script));
    });
}

/// The hardening and credential lines of a unit's [Service] section (what both
/// services must share).
fn sandbox(unit: &str) -> Vec<&str> {
    unit.lines()
        .filter(|l| {
            ["DynamicUser=", "User=", "Protect", "Private", "Restrict", "NoNewPrivileges=", "Capab"]
                .iter()
                .chain(&["SystemCall", "LoadCredential=", "SetCredential=", "StateDirectory"])
                .chain(&["Environment=DWB_", "UMask=", "MemoryDeny", "LockPersonality="])
                .any(|p| l.starts_with(p))
        })
        .collect()
}

#[test]
fn the_debian_package_installs_the_service() {
    ensure_tools();
    let d = Dir::new();
    // dist/deb.sh packages <target dir>/release/dwb: this test's own (debug, kerberos)
    // build, in a target dir of its own so the shared one is left alone.
    let target = d.join("target");
    std::fs::create_dir_all(target.join("release")).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_dwb"), target.join("release/dwb")).unwrap();
    let out = d.join("out");
    run_ok(
        Command::new("sh")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/deb.sh"))
            .args(["--fast", "--quiet", "--output"])
            .arg(&out)
            .env("CARGO_TARGET_DIR", &target)
            .env("DWB_DEB_NO_BUILD", "1"),
    );
    let debs: Vec<PathBuf> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(debs.len(), 1, "{debs:?}");
    let deb = &debs[0];
    assert!(deb.file_name().unwrap().to_string_lossy().starts_with("dwb_"), "{deb:?}");

    let info = run_ok(Command::new("dpkg-deb").arg("-I").arg(deb));
    assert!(info.contains("Package: dwb\n") && info.contains("Section: admin"), "{info}");
    // Built with the kerberos feature: the binary links MIT's GSSAPI.
    let depends = info.lines().find(|l| l.trim_start().starts_with("Depends:")).unwrap_or("");
    assert!(depends.contains("libgssapi-krb5-2"), "{info}");
    for script in ["postinst", "prerm", "postrm"] {
        assert!(info.contains(script), "no {script}: {info}");
    }

    let listing = run_ok(Command::new("dpkg-deb").arg("-c").arg(deb));
    let files: Vec<&str> = listing
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .filter_map(|p| p.strip_prefix("."))
        .collect();
    let mut expected = vec![
        "/usr/bin/dwb".to_string(),
        "/usr/share/man/man1/dwb.1.gz".into(),
        "/usr/share/bash-completion/completions/dwb".into(),
        "/usr/share/zsh/vendor-completions/_dwb".into(),
        "/usr/share/fish/vendor_completions.d/dwb.fish".into(),
        "/usr/lib/systemd/system/dwb-writeback@.service".into(),
        "/usr/lib/systemd/system/dwb-sync@.service".into(),
        "/usr/lib/systemd/system/dwb-sync@.timer".into(),
        "/usr/share/doc/dwb/README.md".into(),
        "/usr/share/doc/dwb/copyright".into(),
        "/usr/share/doc/dwb/examples/dwb.toml".into(),
    ];
    // A page for every subcommand a user sees.
    for sub in ["run", "check", "repl", "docs", "init", "scripts", "snapshot", "apply", "undo"] {
        expected.push(format!("/usr/share/man/man1/dwb-{sub}.1.gz"));
    }
    for sub in ["journal", "explain", "completions"] {
        expected.push(format!("/usr/share/man/man1/dwb-{sub}.1.gz"));
    }
    for f in &expected {
        assert!(files.contains(&f.as_str()), "{f} is not in the package:\n{listing}");
    }
    assert!(!files.iter().any(|f| f.contains("manpages")), "the hidden command got a page");
    assert!(listing.lines().any(|l| l.starts_with("-rwxr-xr-x") && l.ends_with("./usr/bin/dwb")));

    let root = d.join("root");
    run_ok(Command::new("dpkg-deb").arg("-x").arg(deb).arg(&root));
    let bin = root.join("usr/bin/dwb");
    let version = run_ok(Command::new(&bin).arg("--version"));
    assert!(version.starts_with("dwb "), "{version}");
    let page = run_ok(Command::new("zcat").arg(root.join("usr/share/man/man1/dwb-run.1.gz")));
    assert!(page.contains(".TH dwb-run 1") && page.contains("dry\\-run"), "{page}");
    let bash =
        std::fs::read_to_string(root.join("usr/share/bash-completion/completions/dwb")).unwrap();
    assert!(bash.contains("complete -F _dwb"), "{bash}");

    // The units, with ExecStart= pointing at the extracted binary (verify checks it exists).
    let units = root.join("usr/lib/systemd/system");
    let check = d.join("units");
    std::fs::create_dir_all(&check).unwrap();
    let mut names = Vec::new();
    for name in ["dwb-writeback@.service", "dwb-sync@.service", "dwb-sync@.timer"] {
        let unit = std::fs::read_to_string(units.join(name)).unwrap();
        assert!(
            unit.contains("Documentation=man:dwb-run(1)")
                && files.contains(&"/usr/share/man/man1/dwb-run.1.gz"),
            "{name}"
        );
        std::fs::write(check.join(name), unit.replace("/usr/bin/dwb", &bin.display().to_string()))
            .unwrap();
        names.push(check.join(name));
    }
    // --man=no: the pages are in the package, not installed on this machine.
    let o = Command::new("systemd-analyze").args(["verify", "--man=no"]).args(&names).output();
    let o = o.unwrap();
    assert!(o.status.success(), "systemd-analyze verify:\n{}", text(&o));
    assert!(o.stderr.is_empty() && o.stdout.is_empty(), "systemd-analyze verify:\n{}", text(&o));

    let watch = std::fs::read_to_string(units.join("dwb-writeback@.service")).unwrap();
    let once = std::fs::read_to_string(units.join("dwb-sync@.service")).unwrap();
    for line in [
        "DynamicUser=yes",
        "StateDirectory=dwb",
        "Environment=DWB_DATA_DIR=/var/lib/dwb",
        "Environment=DWB_CONFIG=/etc/dwb/dwb.toml",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
        "LoadCredential=ldap-password:/etc/dwb/credentials/%i/ldap-password",
        "LoadCredential=keytab:/etc/dwb/credentials/%i/keytab",
        "LoadCredential=graph-client-secret:/etc/dwb/credentials/%i/graph-client-secret",
        "LoadCredential=graph-key:/etc/dwb/credentials/%i/graph-key",
    ] {
        assert!(watch.lines().any(|l| l == line), "dwb-writeback@.service lacks {line}");
    }
    assert_eq!(sandbox(&watch), sandbox(&once), "the two services differ in their sandbox");
    // Every credential the units load is one dwb reads, each with the default dwb ignores.
    for l in watch.lines().filter_map(|l| l.strip_prefix("LoadCredential=")) {
        let name = l.split(':').next().unwrap();
        assert!(watch.contains(&format!("SetCredential={name}:\\n")), "{name}");
        assert!(
            dwb::config::credentials::CREDENTIALS.iter().any(|c| c.name == name),
            "dwb does not read the credential {name}"
        );
    }

    // The service's command line parses with this dwb: its help, with the unit's own
    // arguments (instance `prod`, the default watch interval).
    let exec = watch.lines().find_map(|l| l.strip_prefix("ExecStart=")).unwrap();
    let exec = exec.replace("%i", "prod").replace("${WATCH_SECONDS}", "60");
    let mut args = exec.split_whitespace();
    assert_eq!(args.next(), Some("/usr/bin/dwb"));
    let args: Vec<&str> = args.collect();
    assert!(args.contains(&"--yes") && args.contains(&"watch=60"), "{exec}");
    run_ok(Command::new(&bin).args(&args).arg("--help"));
}

/// `o` is a usage error (exit 3) whose stderr says each of `said`.
#[track_caller]
fn usage_error_naming(o: &std::process::Output, said: &[&str]) {
    assert_eq!(o.status.code(), Some(3), "{}", text(o));
    let err = String::from_utf8_lossy(&o.stderr);
    for s in said {
        assert!(err.contains(s), "stderr does not say {s:?}:\n{}", text(o));
    }
}

/// The emulator with `n` devices and `dwb run sync --dry-run` on `prepared.ldif`
/// against it with `secret`: the command's output.
fn sync_with_secret(d: &Dir, n: usize, secret: &str, args: &[&str]) -> std::process::Output {
    use dwb_graph_emulator::{DEFAULT_CLIENT_ID, Emulator, generate};
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let emu = rt.block_on(Emulator::start(generate(n, 7))).unwrap();
    let base = emu.base_url().as_str().trim_end_matches('/').to_string();
    d.dwb()
        .args(["run", "sync", "--dry-run", "--snapshot", "prepared.ldif"])
        .args(args)
        .env("DWB_GRAPH_AUTHORITY", &base)
        .env("DWB_GRAPH_ENDPOINT", &base)
        .env("DWB_GRAPH_TENANT", emu.tenant_id())
        .env("DWB_GRAPH_CLIENT_ID", DEFAULT_CLIENT_ID)
        .env("DWB_GRAPH_CLIENT_SECRET", secret)
        .output()
        .unwrap()
}

#[test]
fn a_refused_secret_names_the_settings_to_fix() {
    let d = Dir::prepared();
    let wrong = "not-the-secret-4711";
    let o = sync_with_secret(&d, 3, wrong, &[]);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(2), "{all}");
    assert!(all.contains("DWB-GRAPH-0010"), "{all}");
    let hint = all.lines().find(|l| l.trim_start().starts_with("hint:")).unwrap_or_default();
    assert!(hint.contains("DWB_GRAPH_CLIENT_SECRET"), "no hint naming the secret:\n{all}");
    assert!(!all.contains(wrong), "the secret was printed:\n{all}");
}

#[test]
fn verbose_listing_lines_say_which_listing_they_are() {
    let d = Dir::prepared();
    let o = sync_with_secret(&d, 5, dwb_graph_emulator::DEFAULT_CLIENT_SECRET, &["-v"]);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(0), "{all}");
    let listed: Vec<&str> =
        all.lines().filter(|l| l.contains("listed 5 Entra device(s)")).collect();
    assert_eq!(listed.len(), 2, "a full sync lists devices and their users:\n{all}");
    assert!(listed.iter().any(|l| l.contains("(with their registered owners)")), "{listed:?}");
    assert!(listed.iter().any(|l| l.contains("(their registered users)")), "{listed:?}");
}

/// A secret file left empty (or holding only a line ending) is named, not sent
/// to the tenant as an empty secret.
#[test]
fn an_empty_client_secret_file_is_named_and_never_sent() {
    use dwb_graph_emulator::{DEFAULT_CLIENT_ID, Emulator, generate};
    let d = Dir::prepared();
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let emu = rt.block_on(Emulator::start(generate(3, 7))).unwrap();
    let base = emu.base_url().as_str().trim_end_matches('/').to_string();
    let secret = d.write("etc/graph-secret", "\r\n");
    let config = d.write(
        "etc/dwb.toml",
        &format!(
            "default_profile = \"prod\"\n[profiles.prod.graph]\ntenant = \"{}\"\n\
             client_id = \"{DEFAULT_CLIENT_ID}\"\nauthority = \"{base}\"\nendpoint = \"{base}\"\n\
             client_secret_file = \"{}\"\n",
            emu.tenant_id(),
            secret.display()
        ),
    );
    let o = d
        .dwb()
        .args(["run", "sync", "--yes", "--param", "mode=delta"])
        .args(["--snapshot", &d.join("prepared.ldif").display().to_string()])
        .env("DWB_CONFIG", &config)
        .env("DWB_DATA_DIR", d.join("state"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let named = format!(
        "the secret file {} (client_secret_file in [profiles.prod.graph]",
        secret.display()
    );
    usage_error_naming(&o, &[&named, "is empty"]);
    assert_eq!(emu.graph_request_count(), 0, "Graph was asked: {}", text(&o));
}

/// A watch interval longer than the clock can count waits until the service is
/// stopped; it never crashes once the first round is done.
#[test]
fn a_watch_with_an_endless_interval_waits_for_sigterm() {
    use std::io::BufRead;
    let d = Dir::prepared();
    let devices = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/contoso/devices.json");
    let mut child = d
        .dwb()
        .args(["run", "sync", "--yes", "--param", "watch=9223372036854775807"])
        .args(["--snapshot", &d.join("prepared.ldif").display().to_string()])
        .args(["--devices", &devices.display().to_string()])
        .env("DWB_DATA_DIR", d.join("state"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    // The first round's line: the watch is now pausing.
    while !seen.contains("[DWB-SVC-") {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            break;
        }
        seen.push_str(&line);
    }
    assert!(seen.contains("[DWB-SVC-0010]"), "{seen}");
    // Ignored when it already exited: the exit code below says why.
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{seen}{rest}");
    assert!(rest.contains("watch stopped between rounds"), "{seen}{rest}");
}

/// A profile's guard out of range stops the run before anything is read, as a
/// configuration error naming the setting (it was a script error, exit 2).
#[test]
fn an_out_of_range_guard_in_the_profile_is_a_configuration_error() {
    let d = Dir::prepared();
    let devices = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/contoso/devices.json");
    let config =
        d.write("etc/dwb.toml", "[profiles.prod.writeback]\ndelete_threshold_percent = 150\n");
    let o = d
        .dwb()
        .args(["run", "sync", "--yes", "--profile", "prod"])
        .args(["--snapshot", &d.join("prepared.ldif").display().to_string()])
        .args(["--devices", &devices.display().to_string()])
        .env("DWB_CONFIG", &config)
        .env("DWB_DATA_DIR", d.join("state"))
        .output()
        .unwrap();
    let named = format!(
        "delete_threshold_percent in [profiles.prod.writeback] of {} is 150",
        config.display()
    );
    usage_error_naming(&o, &[&named]);
    assert!(String::from_utf8_lossy(&o.stdout).trim().is_empty(), "{}", text(&o));
}

/// A Graph cloud the profile misspells, or half of a custom cloud, is named
/// as the profile's setting (the errors named only environment variables).
#[test]
fn a_misspelt_cloud_names_the_setting() {
    let d = Dir::prepared();
    let graph = "tenant = \"contoso.com\"\nclient_id = \"00000000-0000-0000-0000-000000000001\"\n\
                 client_secret_file = \"secret\"\n";
    d.write("secret", "s3cret\n");
    let run = |extra: &str| {
        d.write("dwb.toml", &format!("[profiles.default.graph]\n{graph}{extra}"));
        d.run(&["run", "sync", "--dry-run", "--snapshot", "prepared.ldif"])
    };
    let o = run("cloud = \"gloabl\"\n");
    assert_eq!(o.code, 3, "{}", o.stderr);
    assert!(
        o.stderr.contains("cloud in [profiles.default.graph] of dwb.toml is `gloabl`")
            && o.stderr.contains("did you mean `global`?"),
        "{}",
        o.stderr
    );
    let o = run("endpoint = \"https://graph.microsoft.com\"\n");
    assert_eq!(o.code, 3, "{}", o.stderr);
    assert!(o.stderr.contains("the Graph endpoint is set but not its authority"), "{}", o.stderr);
    assert!(o.stderr.contains("under [profiles.<name>.graph]"), "{}", o.stderr);
}

/// `DWB_DATA_DIR` naming a file is a configuration error naming the variable,
/// for a run and for `dwb health` alike.
#[test]
fn a_data_dir_that_is_a_file_is_named() {
    let d = Dir::prepared();
    let file = d.write("not-a-dir", "x");
    let devices = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/contoso/devices.json");
    let o = d
        .dwb()
        .args(["run", "sync", "--yes", "--snapshot", "prepared.ldif"])
        .args(["--devices", &devices.display().to_string()])
        .env("DWB_DATA_DIR", &file)
        .output()
        .unwrap();
    let named = format!("DWB_DATA_DIR is {}, which is not a directory", file.display());
    usage_error_naming(&o, &[&named]);
    let o = d.dwb().arg("health").env("DWB_DATA_DIR", &file).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains(&named), "{}", text(&o));
}

/// A misspelt `$CREDENTIALS_DIRECTORY` (set by hand, as the README shows) is
/// named, instead of quietly falling back to the profile's files.
#[test]
fn a_credentials_directory_that_is_not_there_is_named() {
    let d = Dir::prepared();
    d.write("ldap.pw", "from-the-profile\n");
    let config = d.write(
        "dwb.toml",
        "[profiles.prod.ldap]\nurl = \"ldaps://127.0.0.1:1\"\nuser = \"CONTOSO\\\\svc\"\n\
         password_file = \"ldap.pw\"\n",
    );
    let missing = d.join("credentials/prdo");
    let o = d
        .dwb()
        .args(["run", "verify", "--profile", "prod"])
        .env("DWB_CONFIG", &config)
        .env("CREDENTIALS_DIRECTORY", &missing)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let named =
        format!("$CREDENTIALS_DIRECTORY is {}, which is not a directory", missing.display());
    usage_error_naming(&o, &[&named]);
}

/// A sync that fails before it has a plan (its device source cannot be read)
/// is a failed round in the status: `dwb health` no longer says healthy.
#[test]
fn a_sync_that_fails_before_planning_is_a_failed_round_for_health() {
    let d = Dir::prepared();
    d.write("devices.json", &d.read_repo("examples/contoso/devices.json"));
    let sync = |devices: &str| {
        let args = ["run", "sync", "--yes", "--snapshot", "prepared.ldif", "--devices", devices];
        d.dwb().args(args).env("DWB_DATA_DIR", d.join("state")).output().unwrap()
    };
    let health = || {
        d.dwb()
            .args(["health", "--format", "json"])
            .env("DWB_DATA_DIR", d.join("state"))
            .output()
            .unwrap()
    };
    assert_eq!(sync("devices.json").status.code(), Some(0));
    let h = health();
    assert_eq!(h.status.code(), Some(0), "{}", text(&h));
    let failed = sync("missing.json");
    assert_ne!(failed.status.code(), Some(0), "{}", text(&failed));
    let h = health();
    let j: serde_json::Value = serde_json::from_slice(&h.stdout).unwrap();
    assert_ne!(j["health"], "healthy", "{}", text(&h));
    assert_ne!(h.status.code(), Some(0), "{}", text(&h));
}
