//! Script parameters: types, `choices`, strict booleans and a key given twice
//! are all usage errors (exit 3) found before anything runs.

use crate::support::Dir;

#[test]
fn a_choice_outside_the_declared_ones_is_a_usage_error() {
    let d = Dir::new();
    let o = d.run(&["run", "sync", "--param", "mode=detla"]);
    o.code(3).stderr_has("parameter `mode` must be one of full, delta, got `detla`");
    o.stderr_has("did you mean `delta`?");
    // Refused before the script ran: no demo directory was opened.
    assert!(!o.stderr.contains("[demo]"), "{}", o.stderr);
    d.run(&["run", "sync", "--param", "anchor_encoding=utf32"])
        .code(3)
        .stderr_has("parameter `anchor_encoding` must be one of utf8, utf16le, got `utf32`");
}

#[test]
fn booleans_are_true_or_false_only() {
    let d = Dir::new();
    for v in ["yes", "1", "on", "TRUE"] {
        d.run(&["run", "verify", "--param", &format!("drift={v}")])
            .code(3)
            .stderr_has(&format!("parameter `drift` must be true or false, got `{v}`"));
    }
    // `false` is a value like any other: the (unprepared) demo fails its checks.
    d.run(&["run", "verify", "--param", "drift=false"]).code(1);
}

#[test]
fn ints_are_checked_before_anything_runs() {
    let d = Dir::new();
    let o = d.run(&["run", "sync", "--param", "watch=soon"]);
    o.code(3).stderr_has("parameter `watch` must be a whole number, got `soon`");
    assert!(!o.stderr.contains("[demo]"), "{}", o.stderr);
}

#[test]
fn a_parameter_given_twice_is_an_error() {
    let d = Dir::new();
    d.run(&["run", "verify", "--param", "drift=true", "--param", "drift=false"])
        .code(3)
        .stderr_has("parameter `drift` is given twice (`true` and `false`)");
}

#[test]
fn scripts_declare_choices_and_check_validates_them() {
    let d = Dir::new();
    d.write(
        "c.rhai",
        "fn params() {\n  [#{ name: \"color\", choices: [\"red\", \"blue\"], \
         default_value: \"red\" }]\n}\nprint(params.color);\n",
    );
    d.run(&["run", "c.rhai", "--param", "color=blue"]).code(0).stdout_has("blue");
    d.run(&["run", "c.rhai", "--param", "color=green"])
        .code(3)
        .stderr_has("must be one of red, blue, got `green`");
    d.write(
        "bad.rhai",
        "fn params() { [#{ name: \"n\", choices: [\"a\"], default_value: \"b\" }] }\n",
    );
    d.run(&["check", "bad.rhai"]).code(2).stderr_has("bad parameter declaration in params()");
    d.run(&["scripts"]).code(0).stdout_has("--param mode=<full|delta>");
}

/// `params` is the script's parameters everywhere: at the top level, inside a
/// closure (as `dwb::every` rounds are) and inside a function; a local
/// variable of that name still wins where it is declared.
#[test]
fn params_are_reachable_in_closures_and_functions() {
    let d = Dir::new();
    d.write(
        "p.rhai",
        "fn params() {\n  [#{ name: \"n\", type: \"int\", default_value: \"1\" }]\n}\n\
         fn twice() { params.n * 2 }\n\
         fn shadowed(params) { params }\n\
         let f = || params.n + 100;\n\
         print(`top ${params.n}`);\n\
         print(`closure ${f.call()}`);\n\
         print(`function ${twice()}`);\n\
         print(`local ${shadowed(\"mine\")}`);\n",
    );
    let o = d.run(&["run", "p.rhai", "--param", "n=21"]);
    o.code(0);
    for line in ["top 21", "closure 121", "function 42", "local mine"] {
        o.stdout_has(line);
    }
}
