//! The REPL through a pseudo-terminal: persisted variables, functions and
//! imports, multi-line input, Tab completion, `:help`, history.

use crate::support::Dir;

#[test]
fn repl_session() {
    let d = Dir::new();
    let mut cmd = d.dwb();
    cmd.arg("repl").env("DWB_HISTORY", d.join("history.txt")).env("TERM", "xterm");
    let mut p = rexpect::session::spawn_command(cmd, Some(30_000)).expect("spawn repl");
    p.exp_string("dwb> ").unwrap();
    p.send_line("let x = 41;").unwrap();
    p.exp_string("dwb> ").unwrap();
    p.send_line("x + 1").unwrap();
    p.exp_string("=> 42").unwrap();
    p.exp_string("dwb> ").unwrap();
    // An unfinished block continues on the next line; the function persists.
    p.send_line("fn twice(a) {").unwrap();
    p.send_line("a * 2 }").unwrap();
    p.exp_string("dwb> ").unwrap();
    p.send_line("twice(x)").unwrap();
    p.exp_string("=> 82").unwrap();
    p.exp_string("dwb> ").unwrap();
    // Tab completes a binding's name.
    p.send("ad::schema_has_c").unwrap();
    p.send("\t").unwrap();
    p.send_line("(\"msDS-Device\")").unwrap();
    p.exp_string("=> true").unwrap();
    p.exp_string("dwb> ").unwrap();
    p.send_line(":help ad::search").unwrap();
    p.exp_string("Subtree search").unwrap();
    p.exp_string("dwb> ").unwrap();
    // Imported modules persist across lines.
    p.send_line("import \"dwb/names\" as names;").unwrap();
    p.exp_string("dwb> ").unwrap();
    p.send_line("names::drc_name()").unwrap();
    p.exp_string("Device Registration Configuration").unwrap();
    p.exp_string("dwb> ").unwrap();
    // The plan is kept until :apply.
    p.send_line("ad::ensure_container(ad::domain_dn().child(\"CN\", \"FromRepl\"))").unwrap();
    p.exp_string("created").unwrap();
    p.exp_string("dwb> ").unwrap();
    p.send_line(":plan").unwrap();
    p.exp_string("create  CN=FromRepl,DC=contoso,DC=test").unwrap();
    p.exp_string("dwb> ").unwrap();
    p.send_line(":apply").unwrap();
    p.exp_string("applied 1 of 1 change(s)").unwrap();
    p.exp_string("dwb> ").unwrap();
    p.send_line(":quit").unwrap();
    p.exp_eof().unwrap();
    let hist = d.read("history.txt");
    assert!(hist.contains("let x = 41;"), "history: {hist}");
}
