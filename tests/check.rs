//! `dwb check`: every error of every file (several syntax errors per file), and
//! calls to functions that do not exist, without running anything.

use crate::support::Dir;

#[test]
fn check_reports_all_four_faults_of_a_file() {
    let d = Dir::new();
    d.write(
        "four.rhai",
        "let a = 1 +;\nfn f(x) {\n    let y = x *;\n    y\n}\nlet b = ;\nad::gett(\"CN=x\");\n\
         print(a);\n",
    );
    let o = d.run(&["check", "four.rhai"]);
    o.code(2);
    o.stderr_has("four.rhai:1:12").stderr_has("four.rhai:3:16").stderr_has("four.rhai:6:9");
    o.stderr_has("unknown function `ad::gett`; did you mean `ad::get`? (four.rhai:7:5)");
    o.stderr_has("four.rhai: 4 error(s)");
    assert_eq!(o.stderr.matches("DWB-SCRIPT-0010 (syntax)").count(), 3, "{}", o.stderr);
    assert!(!o.stdout.contains("ok:"), "{}", o.stdout);
}

#[test]
fn check_resolves_calls_against_bindings_stdlib_and_the_script() {
    let d = Dir::new();
    d.write(
        "calls.rhai",
        r#"import "dwb/names" as names;
names::drc_nam();
ad::get();
print(ad::domain_dn().chlid("CN", "x"));
fn twice(x) { x * 2 }
twice(1, 2);
nosuch_helper(1);
"#,
    );
    // Closures, function pointers, methods, map properties holding functions: no false alarms.
    d.write(
        "fine.rhai",
        r#"import "dwb/checks" as checks;
let m = #{ act: |x| x + 1 };
print(m.act(1));
let g = |x| x * 2;
print(g(2));
print([1, 2].map(|v| v + 1).len());
let f = Fn("twice");
print(f.call(3));
fn twice(x) { x * 2 }
print(ad::domain_dn().child("CN", "x").parent());
print(type_of(checks::schema));
"#,
    );
    let o = d.run(&["check", "calls.rhai", "fine.rhai", "prepare", "verify", "enable", "sync"]);
    o.code(2);
    o.stderr_has("unknown function `names::drc_nam`; did you mean `names::drc_name`?");
    o.stderr_has("`ad::get` takes 1 or 2 arguments, not 0");
    o.stderr_has("unknown function `chlid`; did you mean `child`?");
    o.stderr_has("`twice` takes 1 argument, not 2");
    o.stderr_has("unknown function `nosuch_helper`");
    o.stderr_has("calls.rhai: 5 error(s)");
    o.stdout_has("ok: fine.rhai").stdout_has("ok: <embedded>/scripts/sync.rhai (15 parameter(s))");
    o.stderr_has("1 of 6 script(s) have errors (5 in all)");
}

#[test]
fn check_follows_a_sites_own_modules() {
    let d = Dir::new();
    d.run(&["init", "site"]).code(0);
    let names = d.read("site/stdlib/names.rhai");
    d.write("site/stdlib/names.rhai", &format!("{names}\nfn broken() {{ ad::nosuch() }}\n"));
    let o = d.run(&["check", "site/scripts/prepare.rhai"]);
    o.code(2).stderr_has("unknown function `ad::nosuch`").stderr_has("site/stdlib/names.rhai:");
}
