//! The question before a plan is applied: on a terminal, `dwb run` (without
//! `--dry-run`), `dwb apply` and `dwb undo` show the plan's summary and ask;
//! `--yes` skips the question, and without a terminal (a scheduler, a pipe)
//! nothing asks. One function, so the REPL's `:apply` can ask the same way.

use std::io::{BufRead, IsTerminal, Write};

use crate::plan::{Plan, render};
use crate::report::Report;

/// How many changes are listed before the question; longer plans show the first
/// ones and the counts.
const SHOWN: usize = 30;

/// The plan as the question shows it (on stderr: stdout may carry JSON).
pub fn summary(plan: &Plan) -> String {
    let text = render::text(plan);
    let lines: Vec<&str> = text.lines().collect();
    let changes_shown = plan.changes.iter().take(SHOWN).count();
    if plan.len() <= SHOWN {
        return text;
    }
    // The first changes' lines (each change starts with its number), then the counts.
    let mut out = String::new();
    let mut seen = 0;
    for l in &lines {
        if l.trim_start().split_once(". ").is_some_and(|(n, _)| n.parse::<usize>().is_ok()) {
            seen += 1;
        }
        if seen > changes_shown {
            break;
        }
        out.push_str(l);
        out.push('\n');
    }
    out.push_str(&format!("  … and {} more change(s)\n", plan.len() - changes_shown));
    if let Some(last) = lines.last() {
        out.push_str(last);
        out.push('\n');
    }
    out
}

/// Asks `question` on the terminal; true for y/yes. Without a terminal on
/// stdin (nothing could answer) or with `yes`, true without asking.
pub fn ask(question: &str, yes: bool) -> bool {
    if yes || !std::io::stdin().is_terminal() {
        return true;
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// What the question came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// `--yes`, or nothing could answer: go on; the plan was not shown.
    NotAsked,
    /// Shown and answered yes: the report need not list the plan again.
    Confirmed,
    Declined,
}

impl Answer {
    pub fn go_on(self) -> bool {
        self != Answer::Declined
    }
}

/// Shows `plan` and asks before it is applied (see [`ask`]).
pub fn confirm_plan(plan: &Plan, yes: bool) -> Answer {
    if yes || !std::io::stdin().is_terminal() {
        return Answer::NotAsked;
    }
    eprint!("{}", summary(plan));
    if ask(&format!("Apply these {} change(s)?", plan.len()), false) {
        Answer::Confirmed
    } else {
        Answer::Declined
    }
}

/// Asks before `report`'s plan is applied; a plan the question showed is not
/// listed again in the report's text.
pub fn confirmed(report: &mut Report, yes: bool) -> bool {
    let answer = confirm_plan(&report.plan, yes);
    report.plan_shown = answer == Answer::Confirmed;
    answer.go_on()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ad::WriteOp;
    use crate::directory::Dn;
    use crate::plan::ChangeOp;

    #[test]
    fn long_plans_are_cut() {
        let mut p = Plan::default();
        for i in 0..40 {
            let dn = Dn::parse(&format!("CN=d{i},DC=x")).unwrap();
            p.push(ChangeOp::Directory(WriteOp::Delete { dn }), Some("gone".into()));
        }
        let s = summary(&p);
        assert!(s.contains(" 30. delete  CN=d29,DC=x"), "{s}");
        assert!(!s.contains("CN=d30,"), "{s}");
        assert!(s.contains("… and 10 more change(s)"));
        assert!(s.ends_with("Plan: 40 change(s): 40 delete\n"), "{s}");
    }
}
