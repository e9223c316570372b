//! Habits from other tools, answered with the dwb way: a standard script typed
//! as a command (`dwb sync`, as `Start-ADSyncSyncCycle` users would) suggests
//! `dwb run sync`; `dwb run` alone lists the standard scripts.

use crate::embedded;

/// The standard scripts' names (`sync`).
fn names() -> impl Iterator<Item = &'static str> {
    embedded::SCRIPTS.iter().map(|s| s.name.trim_end_matches(".rhai"))
}

/// The message for a command line clap rejected, when a habit explains it;
/// `args` are the arguments after `dwb`.
pub fn usage_message(e: &clap::Error, args: &[String]) -> Option<String> {
    use clap::error::ErrorKind;
    let first = args.first().map(String::as_str)?;
    match e.kind() {
        ErrorKind::InvalidSubcommand if names().any(|n| n == first) => {
            let rest: Vec<String> = args.iter().map(|a| quoted(a)).collect();
            Some(format!(
                "error: `{first}` is a standard script, not a command: run it with\n  dwb run {}\n",
                rest.join(" ")
            ))
        }
        ErrorKind::MissingRequiredArgument if first == "run" && !has_script(&args[1..]) => {
            Some(script_list())
        }
        _ => None,
    }
}

/// True when a positional argument (a script) is among `run`'s `args`, the
/// values of its options (`--format json`) aside.
fn has_script(args: &[String]) -> bool {
    use clap::CommandFactory;
    let cli = crate::cli::Cli::command();
    let Some(run) = cli.find_subcommand("run") else { return true };
    let takes_value = |a: &str| {
        run.get_arguments().any(|x| {
            let named = match a.strip_prefix("--") {
                Some(long) => x.get_long() == Some(long),
                None => a.len() == 2 && x.get_short() == a.chars().nth(1),
            };
            named && x.get_action().takes_values()
        })
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--" {
            return it.next().is_some();
        }
        if !a.starts_with('-') {
            return true;
        }
        if !a.contains('=') && takes_value(a) {
            it.next();
        }
    }
    false
}

/// `dwb run` without a script: what it can run.
fn script_list() -> String {
    let width = names().map(str::len).max().unwrap_or(0);
    let mut out =
        String::from("error: `dwb run` needs a script: a path, or one of the standard scripts:\n");
    for s in embedded::SCRIPTS {
        let name = s.name.trim_end_matches(".rhai");
        out.push_str(&format!(
            "  {name:<width$}  {}\n",
            one_line(&super::scripts::purpose(s.text))
        ));
    }
    out.push_str("For example `dwb run verify`; `dwb scripts` shows each one's parameters.\n");
    out
}

/// A purpose's first clause: up to the first colon, full stop or dash, and a
/// long one up to its first comma or "as"; a cut inside parentheses drops the
/// whole aside (`Leave … cleanly (when AD FS is retired` would read broken).
fn one_line(purpose: &str) -> String {
    let cut = [": ", ". ", " — "].iter().filter_map(|p| purpose.find(p)).min();
    let mut s = cut.map_or(purpose, |i| &purpose[..i]);
    if s.len() > 70
        && let Some(i) = [", ", " as "].iter().filter_map(|p| s.find(p)).min()
    {
        s = &s[..i];
    }
    if let Some(open) = s.rfind('(')
        && !s[open..].contains(')')
    {
        s = &s[..open];
    }
    s.trim_end().trim_end_matches('.').to_string()
}

/// An argument as a POSIX shell reads it back.
fn quoted(a: &str) -> String {
    let plain = a.chars().all(|c| c.is_ascii_alphanumeric() || "-_=./:,@".contains(c));
    if plain && !a.is_empty() { a.to_string() } else { format!("'{}'", a.replace('\'', "'\\''")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_standard_script_in_one_short_line() {
        let list = script_list();
        for n in ["prepare", "verify", "enable", "sync"] {
            assert!(list.contains(&format!("\n  {n} ")), "{list}");
        }
        assert!(list.lines().all(|l| l.len() < 100), "{list}");
        assert!(list.contains("Verify that Active Directory is ready for device writeback\n"));
        assert!(list.contains("  retire   Leave device writeback cleanly\n"), "{list}");
        assert!(list.lines().all(|l| l.matches('(').count() == l.matches(')').count()), "{list}");
        assert_eq!(quoted("CONTOSO\\svc"), "'CONTOSO\\svc'");
        assert_eq!(quoted("--dry-run"), "--dry-run");
    }
}
