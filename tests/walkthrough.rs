//! A new administrator's first hour: the README's "Using dwb" and "Trying it
//! without AD or a tenant" commands, taken from the README itself (so the two
//! cannot drift), run in order in an empty directory with only the binary, its
//! own HOME and data directory. Each step's exit code and a key line are
//! asserted: the demo remembers, so each command builds on the one before.
//! The README's REPL session is fed to `dwb repl` the same way.

use crate::support::{Dir, Out};

/// The first ```sh block after the heading line `heading`: its commands, one
/// a line, each split into words with its `# comment` dropped.
fn readme_commands(readme: &str, heading: &str) -> Vec<Vec<String>> {
    let at = readme.find(&format!("\n{heading}\n")).unwrap_or_else(|| panic!("no {heading}"));
    let block = &readme[at..];
    let start = block.find("```sh\n").unwrap() + "```sh\n".len();
    let block = &block[start..];
    let block = &block[..block.find("```").unwrap()];
    block.lines().filter(|l| !l.trim().is_empty()).map(words).collect()
}

/// Splits a command line as sh does for what the README uses: words,
/// single quotes, and a comment from an unquoted `#`.
fn words(line: &str) -> Vec<String> {
    let (mut out, mut word, mut quoted, mut in_word) = (Vec::new(), String::new(), false, false);
    for c in line.chars() {
        match c {
            '\'' => (quoted, in_word) = (!quoted, true),
            '#' if !quoted && !in_word => break,
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                }
                in_word = false;
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(word);
    }
    out
}

/// What one README command must do: its first words, exit code, and a line it prints.
struct Step {
    starts: &'static str,
    code: i32,
    says: &'static str,
}

const USING_DWB: &[Step] = &[
    Step { starts: "dwb run prepare", code: 0, says: "Plan: 6 change(s): 4 create, 2 acl" },
    Step { starts: "dwb run prepare", code: 0, says: "Applied 6 of 6 change(s)." },
    // Prepared by the command before: every check passes (exit 1 otherwise).
    Step { starts: "dwb run verify", code: 0, says: "device location" },
    Step { starts: "dwb run sync --dry-run", code: 0, says: "Plan: 24 change(s): 24 create" },
    Step { starts: "dwb run sync", code: 0, says: "Applied 24 of 24 change(s)." },
    Step { starts: "dwb run verify --param drift=true", code: 0, says: "drift: devices missing" },
    Step { starts: "dwb explain LT-000023", code: 0, says: "the object is up to date" },
    Step { starts: "dwb journal", code: 0, says: "sync.rhai" },
    Step { starts: "dwb undo RUN --dry-run", code: 0, says: "Plan: 24 change(s): 24 delete" },
    Step { starts: "dwb undo RUN", code: 0, says: "Applied 24 of 24 change(s)." },
    Step { starts: "dwb demo --reset", code: 0, says: "the next run starts from the demo" },
];

const WITHOUT_AD: &[Step] = &[
    Step { starts: "dwb demo contoso", code: 0, says: "devices.json" },
    Step { starts: "dwb run prepare", code: 0, says: "Applied 6 of 6 change(s)." },
    Step { starts: "dwb run sync", code: 0, says: "Applied 24 of 24 change(s)." },
    Step {
        starts: "dwb run verify --param drift=true",
        code: 0,
        says: "drift: attribute mismatches",
    },
];

/// Runs the README's `commands` in order against `steps`; `RUN` stands for the
/// sync's run id, as `dwb journal` lists it.
fn walk(d: &Dir, commands: &[Vec<String>], steps: &[Step]) {
    assert_eq!(commands.len(), steps.len(), "the README's commands and this test differ");
    let state = d.join("data/demo/contoso.ldif");
    let mut run_id = String::new();
    for (words, step) in commands.iter().zip(steps) {
        let line = words.join(" ");
        assert!(
            line.starts_with(step.starts),
            "README: `{line}`; the test expects `{}`",
            step.starts
        );
        let args: Vec<&str> = words[1..]
            .iter()
            .map(|w| if w == "RUN" { run_id.as_str() } else { w.as_str() })
            .collect();
        let before = std::fs::read(&state).ok();
        let o = d.dwb().env("DWB_DATA_DIR", d.join("data")).args(&args).output().unwrap();
        let o = Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            args: args.join(" "),
        };
        o.code(step.code);
        assert!(
            o.stdout.contains(step.says) || o.stderr.contains(step.says),
            "`{line}` does not say {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            step.says,
            o.stdout,
            o.stderr
        );
        if args.contains(&"--dry-run") {
            assert_eq!(std::fs::read(&state).ok(), before, "`{line}` changed the kept demo");
        }
        if step.starts == "dwb journal"
            && let Some(l) = o.stdout.lines().find(|l| l.contains("sync.rhai"))
        {
            run_id = l.split_whitespace().next().unwrap().to_string();
        }
    }
}

#[test]
fn a_new_admin_follows_the_readme_from_the_top() {
    let d = Dir::new();
    let readme = d.read_repo("README.md");
    walk(&d, &readme_commands(&readme, "## Using dwb"), USING_DWB);
    assert!(!d.join("data/demo/contoso.ldif").exists(), "reset, yet the demo is kept");
    walk(&d, &readme_commands(&readme, "### Trying it without AD or a tenant"), WITHOUT_AD);
    assert!(!d.join("data/demo/contoso.ldif").exists(), "files named, yet the demo was changed");
}

#[test]
fn words_are_split_as_sh_splits_them() {
    let w = words("dwb run x --param a='C\\s d' # a comment # more");
    assert_eq!(w, ["dwb", "run", "x", "--param", "a=C\\s d"]);
}

/// The README's REPL session ("The REPL"): the lines typed after `dwb> ` are fed
/// to `dwb repl` on the demo, and every line the README shows it printing (all
/// but the `…` elisions) comes back, in that order.
#[test]
fn the_readme_repl_session_prints_what_it_shows() {
    use std::io::Write;
    let d = Dir::new();
    let readme = d.read_repo("README.md");
    let at = readme.find("\n### The REPL").expect("no REPL section");
    let block = &readme[at..];
    let block = &block[block.find("```text\n").expect("no session") + "```text\n".len()..];
    let block = &block[..block.find("```").expect("unclosed session")];
    let mut lines = block.lines();
    assert_eq!(lines.next(), Some("$ dwb repl"), "{block}");
    let typed: String =
        block.lines().filter_map(|l| l.strip_prefix("dwb> ")).map(|l| format!("{l}\n")).collect();
    let shown: Vec<&str> = lines.filter(|l| *l != "…" && !l.starts_with("dwb> ")).collect();
    assert!(!typed.is_empty() && shown.len() > 5, "{block}");

    let mut child = d
        .dwb()
        .env("DWB_DATA_DIR", d.join("data"))
        .arg("repl")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(typed.as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    // Whole lines: each one starts after a line break.
    let all = format!("\n{stdout}");
    let mut rest = all.as_str();
    for want in shown {
        let Some(i) = rest.find(&format!("\n{want}\n")) else {
            panic!(
                "the REPL does not print {want:?} where the README shows it:\n{stdout}\n{stderr}"
            )
        };
        rest = &rest[i + 1 + want.len()..];
    }
}
