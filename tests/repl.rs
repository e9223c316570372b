//! The REPL through a pseudo-terminal: persisted variables, functions and
//! imports, multi-line input, values shown as text, Tab listing candidates,
//! `:help` with suggestions, errors at the typed line, `:apply` asking first,
//! history written after every line.

use crate::support::Dir;

/// rustyline switches the terminal to raw mode after printing the prompt, and
/// that switch can discard type-ahead: wait for the prompt and a moment first.
fn after_prompt(p: &mut rexpect::session::PtySession) {
    p.exp_string("dwb> ").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(150));
}

#[test]
fn repl_session() {
    let d = Dir::new();
    let mut cmd = d.dwb();
    cmd.arg("repl").env("DWB_HISTORY", d.join("history.txt")).env("TERM", "xterm");
    let mut p = rexpect::session::spawn_command(cmd, Some(30_000)).expect("spawn repl");
    after_prompt(&mut p);
    p.send_line("let x = 41;").unwrap();
    after_prompt(&mut p);
    p.send_line("x + 1").unwrap();
    p.exp_string("=> 42").unwrap();
    after_prompt(&mut p);
    // An unfinished block continues on the next line, which shows a prompt;
    // the function persists.
    p.send_line("fn twice(a) {").unwrap();
    p.exp_string("...> ").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(150));
    p.send_line("a * 2 }").unwrap();
    after_prompt(&mut p);
    p.send_line("twice(x)").unwrap();
    p.exp_string("=> 82").unwrap();
    after_prompt(&mut p);
    // Tab completes a binding's name.
    p.send("ad::schema_has_c").unwrap();
    p.send("\t").unwrap();
    p.send_line("(\"msDS-Device\")").unwrap();
    p.exp_string("=> true").unwrap();
    after_prompt(&mut p);
    p.send_line(":help ad::search").unwrap();
    p.exp_string("Subtree search").unwrap();
    after_prompt(&mut p);
    // Imported modules persist across lines.
    p.send_line("import \"dwb/names\" as names;").unwrap();
    after_prompt(&mut p);
    p.send_line("names::drc_name()").unwrap();
    p.exp_string("Device Registration Configuration").unwrap();
    after_prompt(&mut p);
    // The plan is kept until :apply.
    p.send_line("ad::ensure_container(ad::domain_dn().child(\"CN\", \"FromRepl\"))").unwrap();
    p.exp_string("created").unwrap();
    after_prompt(&mut p);
    p.send_line(":plan").unwrap();
    p.exp_string("create  CN=FromRepl,DC=contoso,DC=test").unwrap();
    after_prompt(&mut p);
    // :apply shows the plan's summary and asks first (stdin is a terminal here).
    p.send_line(":apply").unwrap();
    p.exp_string("Plan: 1 change(s): 1 create").unwrap();
    p.exp_string("Apply these 1 change(s)? [y/N] ").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(150));
    p.send_line("n").unwrap();
    p.exp_string("not applied: the plan is kept").unwrap();
    after_prompt(&mut p);
    p.send_line(":apply").unwrap();
    p.exp_string("Apply these 1 change(s)? [y/N] ").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(150));
    p.send_line("y").unwrap();
    p.exp_string("applied 1 of 1 change(s)").unwrap();
    after_prompt(&mut p);
    p.send_line(":quit").unwrap();
    p.exp_eof().unwrap();
    let hist = d.read("history.txt");
    assert!(hist.contains("let x = 41;"), "history: {hist}");
}

/// Tab, after a moment for the typed text to arrive (rustyline reads keys one by one).
fn tab(p: &mut rexpect::session::PtySession) {
    std::thread::sleep(std::time::Duration::from_millis(150));
    p.send("\t").unwrap();
    p.flush().unwrap();
}

fn spawn(d: &Dir) -> rexpect::session::PtySession {
    let mut cmd = d.dwb();
    cmd.arg("repl").env("DWB_HISTORY", d.join("history.txt")).env("TERM", "xterm");
    rexpect::session::spawn_command(cmd, Some(30_000)).expect("spawn repl")
}

#[test]
fn repl_shows_values_as_an_administrator_reads_them() {
    let d = Dir::new();
    let mut p = spawn(&d);
    // The banner says what is loaded.
    p.exp_string("directory: demo examples/contoso/directory.ldif").unwrap();
    p.exp_string("devices:   demo examples/contoso/devices.json").unwrap();
    after_prompt(&mut p);
    // An entry as LDIF-like text, its GUID as a GUID.
    p.send_line("ad::get(\"CN=Users,DC=contoso,DC=test\")").unwrap();
    p.exp_string("dn: CN=Users,DC=contoso,DC=test").unwrap();
    p.exp_regex("objectGUID: [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
        .unwrap();
    after_prompt(&mut p);
    // A Dn and a Sid as their strings.
    p.send_line("ad::domain_dn().child(\"CN\", \"Users\")").unwrap();
    p.exp_string("=> CN=Users,DC=contoso,DC=test").unwrap();
    after_prompt(&mut p);
    p.send_line("ad::resolve_account(\"svc-dwb\").sid").unwrap();
    p.exp_regex("=> S-1-5-21-[0-9]+-[0-9]+-[0-9]+-[0-9]+").unwrap();
    after_prompt(&mut p);
    // A search result as a short table.
    p.send_line("ad::search(ad::domain_dn(), \"(sAMAccountName=alice)\", #{ attrs: [\"cn\"] })")
        .unwrap();
    p.exp_regex(r"\bdn\b.*\bcn\b").unwrap();
    p.exp_regex(r"CN=alice,CN=Users,DC=contoso,DC=test.+alice").unwrap();
    p.exp_string("1 entry").unwrap();
    after_prompt(&mut p);
    // Maps as JSON; :raw shows the structure with the types.
    p.send_line("#{ base: ad::domain_dn(), n: 3 }").unwrap();
    p.exp_string("\"base\": \"DC=contoso,DC=test\"").unwrap();
    after_prompt(&mut p);
    p.send_line(":raw").unwrap();
    p.exp_string("\"base\": Dn(\"DC=contoso,DC=test\")").unwrap();
    after_prompt(&mut p);
    p.send_line(":quit").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn repl_errors_point_at_the_typed_line() {
    let d = Dir::new();
    let mut p = spawn(&d);
    after_prompt(&mut p);
    p.send_line("import \"dwb/names\" as names;").unwrap();
    after_prompt(&mut p);
    // After an import the next line is still line 1 of what was typed.
    p.send_line("let a = 1 + nosuch;").unwrap();
    p.exp_string("<repl>:1:13").unwrap();
    after_prompt(&mut p);
    p.send_line("names::drc_name()").unwrap();
    p.exp_string("=> Device Registration Configuration").unwrap();
    after_prompt(&mut p);
    p.send_line("ad::get(\"CN=nope,DC=contoso,DC=test\")").unwrap();
    p.exp_string("<repl>:1:5").unwrap();
    after_prompt(&mut p);
    p.send_line(":help ad::nosuch").unwrap();
    p.exp_string("no function `ad::nosuch`; did you mean `ad::").unwrap();
    after_prompt(&mut p);
    p.send_line(":quit").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn repl_tab_lists_candidates() {
    let d = Dir::new();
    let mut p = spawn(&d);
    after_prompt(&mut p);
    // The first Tab after `ad::` lists the module's functions.
    p.send("ad::").unwrap();
    p.flush().unwrap();
    tab(&mut p);
    p.exp_string("ad::get_acl").unwrap();
    p.exp_string("ad::search").unwrap();
    // The line is kept: finish it.
    p.send_line("domain_dn()").unwrap();
    p.exp_string("=> DC=contoso,DC=test").unwrap();
    after_prompt(&mut p);
    // A value's methods after `x.`, an entry's attributes after `x["`.
    p.send_line("let d = ad::domain_dn(); let e = ad::get(\"CN=Users,DC=contoso,DC=test\");")
        .unwrap();
    after_prompt(&mut p);
    p.send("d.pa").unwrap();
    p.flush().unwrap();
    tab(&mut p);
    p.send_line("()").unwrap();
    p.exp_string("=> DC=test").unwrap();
    after_prompt(&mut p);
    p.send("e[\"showInAdv").unwrap();
    p.flush().unwrap();
    tab(&mut p);
    p.send_line("").unwrap();
    p.exp_string("=> FALSE").unwrap();
    after_prompt(&mut p);
    // `:` commands.
    p.send(":he").unwrap();
    p.flush().unwrap();
    tab(&mut p);
    p.send_line("ad::domain_dn").unwrap();
    p.exp_string("The bound domain's DN").unwrap();
    after_prompt(&mut p);
    p.send_line(":quit").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn repl_history_survives_a_kill() {
    let d = Dir::new();
    let mut p = spawn(&d);
    after_prompt(&mut p);
    p.send_line("let kept = 7;").unwrap();
    after_prompt(&mut p);
    p.send_line("kept * 6").unwrap();
    p.exp_string("=> 42").unwrap();
    after_prompt(&mut p);
    p.process_mut().kill(rexpect::process::signal::Signal::SIGKILL).unwrap();
    let hist = d.read("history.txt");
    assert!(hist.contains("let kept = 7;") && hist.contains("kept * 6"), "history: {hist}");
}

/// The exit status of a finished session.
fn exit_code(p: &rexpect::session::PtySession) -> i32 {
    match p.process().wait().unwrap() {
        rexpect::process::wait::WaitStatus::Exited(_, code) => code,
        other => panic!("not an exit: {other:?}"),
    }
}

#[test]
fn repl_ctrl_c_stops_the_line_and_keeps_the_session() {
    let d = Dir::new();
    let mut p = spawn(&d);
    after_prompt(&mut p);
    p.send_line("let kept = 7;").unwrap();
    after_prompt(&mut p);
    p.send_line("ad::ensure_container(ad::domain_dn().child(\"CN\", \"Pending\"))").unwrap();
    p.exp_string("created").unwrap();
    after_prompt(&mut p);
    // A line that never ends: Ctrl-C stops it and the prompt comes back.
    p.send_line("let n = 0; loop { n += 1; }").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    p.send_control('c').unwrap();
    p.exp_string("interrupted (Ctrl-C)").unwrap();
    after_prompt(&mut p);
    // What was there before is still there: a variable and the pending plan.
    p.send_line("kept * 6").unwrap();
    p.exp_string("=> 42").unwrap();
    after_prompt(&mut p);
    p.send_line(":plan").unwrap();
    p.exp_string("create  CN=Pending,DC=contoso,DC=test").unwrap();
    after_prompt(&mut p);
    // And the next line runs (the interrupt is not left standing).
    p.send_line("ad::domain_dn()").unwrap();
    p.exp_string("=> DC=contoso,DC=test").unwrap();
    after_prompt(&mut p);
    // Ctrl-C with something typed drops it and stays; twice at an empty prompt leaves.
    p.send("let dropped").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(150));
    p.send_control('c').unwrap();
    after_prompt(&mut p);
    p.send_control('c').unwrap();
    p.exp_string("Ctrl-C again").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(150));
    p.send_control('c').unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&p), 0);
}

#[test]
fn repl_leaves_on_exit_quit_and_ctrl_d() {
    for how in ["exit", "quit", "exit()", "ctrl-d"] {
        let d = Dir::new();
        let mut p = spawn(&d);
        after_prompt(&mut p);
        if how == "ctrl-d" {
            p.send_control('d').unwrap();
        } else {
            p.send_line(how).unwrap();
        }
        p.exp_eof().unwrap_or_else(|e| panic!("{how} did not leave: {e}"));
        assert_eq!(exit_code(&p), 0, "{how}");
    }
}

#[test]
fn repl_runtime_typos_get_a_suggestion_and_tab_hides_closures() {
    let d = Dir::new();
    let mut p = spawn(&d);
    after_prompt(&mut p);
    p.send_line("fn twice(a) { a * 2 }").unwrap();
    after_prompt(&mut p);
    p.send_line("twic(2)").unwrap();
    p.exp_string("unknown function `twic`; did you mean `twice`?").unwrap();
    after_prompt(&mut p);
    p.send_line("ad::serch(ad::domain_dn(), \"(cn=x)\")").unwrap();
    p.exp_string("did you mean `ad::search`?").unwrap();
    after_prompt(&mut p);
    // A closure is compiled to an `anon$…` function: Tab must not offer it.
    p.send_line("let f = |x| x + 1; f.call(1)").unwrap();
    p.exp_string("=> 2").unwrap();
    after_prompt(&mut p);
    p.send("ano").unwrap();
    p.flush().unwrap();
    tab(&mut p);
    std::thread::sleep(std::time::Duration::from_millis(150));
    p.send_line("n_nothing").unwrap();
    p.exp_string("Undefined variable: anon_nothing").unwrap();
    after_prompt(&mut p);
    p.send_line("exit").unwrap();
    p.exp_eof().unwrap();
}
