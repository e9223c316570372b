//! The question before a plan is applied: on a terminal, `dwb run` (without
//! `--dry-run`), `dwb apply` and `dwb undo` show the plan's summary and ask;
//! `--yes` skips the question, and without a terminal (a scheduler, a pipe)
//! nothing asks. One function, so the REPL's `:apply` can ask the same way.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use crate::cancel::Cancel;

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

/// Asks `question` on the terminal: Confirmed for y/yes, Declined otherwise,
/// Interrupted as soon as Ctrl-C cancels (the line is read on a thread of its
/// own, so Ctrl-C need not wait for Enter).
fn ask(question: &str, cancel: &Cancel) -> Answer {
    crate::errout!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut answer = String::new();
        let read = std::io::stdin().lock().read_line(&mut answer);
        let _ = tx.send(read.map(|_| answer));
    });
    loop {
        if cancel.is_cancelled() {
            crate::errln!();
            return Answer::Interrupted;
        }
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(Ok(a)) if matches!(a.trim().to_ascii_lowercase().as_str(), "y" | "yes") => {
                return Answer::Confirmed;
            }
            Err(RecvTimeoutError::Timeout) => {}
            // No, Enter, Ctrl-D, or stdin gone.
            _ => return Answer::Declined,
        }
    }
}

/// What the question came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// `--yes`, or nothing could answer: go on; the plan was not shown.
    NotAsked,
    /// Shown and answered yes: the report need not list the plan again.
    Confirmed,
    /// Shown and answered no (or nothing): not listed again either.
    Declined,
    /// Ctrl-C at the question: nothing is applied, the run ends with 130.
    Interrupted,
}

impl Answer {
    pub fn go_on(self) -> bool {
        matches!(self, Answer::NotAsked | Answer::Confirmed)
    }

    /// The plan was shown with the question.
    pub fn shown(self) -> bool {
        self != Answer::NotAsked
    }
}

/// Shows `plan` and asks before it is applied; with `yes`, or without a
/// terminal on stdin (nothing could answer), goes on without asking.
pub fn confirm_plan(plan: &Plan, yes: bool, cancel: &Cancel) -> Answer {
    if yes || !std::io::stdin().is_terminal() {
        return Answer::NotAsked;
    }
    crate::errout!("{}", summary(plan));
    ask(&format!("Apply these {} change(s)?", plan.len()), cancel)
}

/// Asks before `report`'s plan is applied; a plan the question showed
/// (answered either way) is not listed again in the report's text.
pub fn confirmed(report: &mut Report, yes: bool, cancel: &Cancel) -> Answer {
    let answer = confirm_plan(&report.plan, yes, cancel);
    report.plan_shown = answer.shown();
    answer
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
