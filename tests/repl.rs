//! The REPL through a pseudo-terminal: persisted variables, functions and
//! imports, multi-line input, Tab completion, `:help`, history.

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
    // An unfinished block continues on the next line; the function persists.
    p.send_line("fn twice(a) {").unwrap();
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
    // :apply asks first, as `dwb run` does; "n" keeps the plan.
    p.send_line(":apply").unwrap();
    p.exp_string("Apply these 1 change(s)? [y/N]").unwrap();
    p.send_line("n").unwrap();
    p.exp_string("nothing applied; the plan is kept").unwrap();
    after_prompt(&mut p);
    p.send_line(":apply").unwrap();
    p.exp_string("[y/N]").unwrap();
    p.send_line("y").unwrap();
    p.exp_string("applied 1 of 1 change(s)").unwrap();
    after_prompt(&mut p);
    p.send_line(":quit").unwrap();
    p.exp_eof().unwrap();
    let hist = d.read("history.txt");
    assert!(hist.contains("let x = 41;"), "history: {hist}");
}
