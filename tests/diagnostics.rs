//! Script errors show the file, line, column, the source line with a caret and
//! the chain of calls that led there; nothing is applied.

use crate::support::Dir;

#[test]
fn syntax_error_snapshot() {
    let d = Dir::new();
    d.write("broken.rhai", "let a = 1;\nlet b = a +;\n");
    let o = d.run(&["run", "broken.rhai"]);
    o.code(2);
    let expected = "DWB-SCRIPT-0010 (syntax)

  × syntax error: Unexpected ';' (broken.rhai:2:12)
   ╭─[broken.rhai:2:12]
 1 │ let a = 1;
 2 │ let b = a +;
   ·            ┬
   ·            ╰── Unexpected ';'
   ╰────
";
    assert_eq!(o.stderr, expected, "rendered:\n{}", o.stderr);
}

#[test]
fn runtime_error_in_nested_function_shows_the_chain() {
    let d = Dir::new();
    d.write(
        "lib/util.rhai",
        "fn inner(dn) {\n    ad::get(dn)\n}\nfn outer(dn) {\n    inner(dn)\n}\n",
    );
    d.write("main.rhai", "import \"lib/util\" as util;\n\nad::add(ad::domain_dn().child(\"CN\", \"planned\"), #{ objectClass: \"container\" });\nutil::outer(\"CN=missing,DC=contoso,DC=test\");\n");
    let o = d.run(&["run", "main.rhai", "--write-snapshot", "out.ldif"]);
    o.code(2);
    o.stderr_has("DWB-AD-1001 (not_found)");
    o.stderr_has("no object CN=missing,DC=contoso,DC=test");
    // The failing line inside the module, with its source.
    o.stderr_has("lib/util.rhai:2:");
    o.stderr_has("2 │     ad::get(dn)");
    // And the call sites that led there, outermost first.
    o.stderr_has("main.rhai:4:7: in call to `outer`");
    o.stderr_has("lib/util.rhai:5:5: in call to `inner`");
    o.stderr_has("Nothing was applied");
    assert!(!d.join("out.ldif").exists());
}

#[test]
fn binding_errors_can_be_caught_by_kind() {
    let d = Dir::new();
    d.write(
        "catch.rhai",
        r#"
try {
    ad::get("CN=nope,DC=contoso,DC=test");
} catch (e) {
    print(`${e.kind} ${e.code}`);
}
try {
    ad::search(ad::domain_dn(), "(objectClass=*)", #{ scop: "base" });
} catch (e) {
    print(e.message);
}
try {
    ad::filter("(cn=a");
} catch (e) {
    print(e.kind);
}
"#,
    );
    d.run(&["run", "catch.rhai"])
        .code(0)
        .stdout_has("not_found DWB-AD-1001")
        .stdout_has("unknown option `scop`; did you mean `scope`?")
        .stdout_has("invalid_filter");
}

#[test]
fn json_report_carries_the_error() {
    let d = Dir::new();
    d.write("boom.rhai", "fn f() { throw #{ code: \"SITE-1\", kind: \"site\", message: \"custom failure\" }; }\nf();\n");
    let o = d.run(&["run", "boom.rhai", "--format", "json"]);
    o.code(2);
    let j = o.json();
    assert_eq!(j["status"], "error");
    assert_eq!(j["error"]["code"], "SITE-1");
    assert_eq!(j["error"]["line"], 1);
    assert_eq!(j["error"]["call_chain"][0]["line"], 2);
}
