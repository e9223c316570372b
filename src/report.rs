//! The report every run ends with: script, parameters, plan and outcomes,
//! findings, warnings, timings. Rendered as text for people or JSON for
//! machines; the JSON schema is documented in README ("Report schema") and
//! versioned by the `schema` field.

use serde::Serialize;
use serde_json::{Value, json};

use crate::plan::{Outcome, Plan, render};
use crate::text::visible;

/// Status of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Info,
    Warn,
    Fail,
}

impl Status {
    pub fn parse(s: &str) -> Option<Status> {
        match s.to_ascii_lowercase().as_str() {
            "ok" | "pass" => Some(Status::Ok),
            "info" => Some(Status::Info),
            "warn" | "warning" => Some(Status::Warn),
            "fail" | "error" => Some(Status::Fail),
            _ => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Info => "info",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

/// One verification result.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub check: String,
    pub status: Status,
    pub detail: String,
    pub fix: String,
}

/// What a script reported while running.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Findings {
    pub findings: Vec<Finding>,
    pub warnings: Vec<String>,
    pub output: Vec<String>,
    /// Free-form values scripts attach (`report::set(key, value)`).
    pub data: serde_json::Map<String, Value>,
}

impl Findings {
    pub fn failed(&self) -> usize {
        self.findings.iter().filter(|f| f.status == Status::Fail).count()
    }
}

/// Milliseconds spent in each phase.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    pub compile_ms: u128,
    pub run_ms: u128,
    pub apply_ms: u128,
    pub total_ms: u128,
}

/// Where a run's data came from (as configured; "none" when not set).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Sources {
    pub directory: String,
    pub devices: String,
}

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Ok,
    ChecksFailed,
    /// The run completed; some changes failed to apply.
    ChangesFailed,
    /// A guard refused the plan: nothing was applied.
    Refused,
    Error,
    /// A usage or configuration error: an `error` to the report's readers, exit 3.
    #[serde(rename = "error")]
    UsageError,
    Interrupted,
}

impl RunStatus {
    /// The exit code of a run that ended so: the one place the two are matched.
    pub fn exit_code(self) -> crate::exit::Code {
        use crate::exit::Code;
        match self {
            RunStatus::Ok => Code::Ok,
            RunStatus::ChecksFailed => Code::ChecksFailed,
            RunStatus::ChangesFailed => Code::ChangesFailed,
            RunStatus::Refused | RunStatus::Error => Code::ScriptError,
            RunStatus::UsageError => Code::Usage,
            RunStatus::Interrupted => Code::Interrupted,
        }
    }

    /// The status of a run that failed with `code` (a usage error, Ctrl-C, or else an error).
    pub fn failed(code: crate::exit::Code) -> RunStatus {
        use crate::exit::Code;
        match code {
            Code::Usage => RunStatus::UsageError,
            Code::Interrupted => RunStatus::Interrupted,
            _ => RunStatus::Error,
        }
    }
}

/// The whole report.
#[derive(Debug, Clone)]
pub struct Report {
    /// The run's id (its journal lines carry it; `dwb undo RUN_ID`).
    pub run_id: Option<String>,
    pub script: String,
    pub parameters: serde_json::Map<String, Value>,
    pub directory: Option<String>,
    /// The directory and the device source the run was configured with.
    pub sources: Sources,
    /// Set when changes went to an in-memory snapshot that nothing saves: its name.
    pub unsaved_snapshot: Option<String>,
    pub dry_run: bool,
    pub plan: Plan,
    /// The confirmation question showed the plan: the text lists only its counts.
    pub plan_shown: bool,
    pub outcomes: Vec<Outcome>,
    pub findings: Findings,
    pub timings: Timings,
    /// How the run ended; the exit code is derived from it (`exit_code()`).
    pub status: RunStatus,
    pub error: Option<Value>,
}

impl Report {
    /// JSON form (schema `dwb.report/1`), as one value (small reports, tests).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self.json_view()).unwrap_or(Value::Null)
    }

    /// Writes the JSON form to `w` change by change: the report of a
    /// 100,000-device plan is never held as one JSON tree or string.
    pub fn write_json(&self, w: impl std::io::Write) -> std::io::Result<()> {
        let mut w = std::io::BufWriter::new(w);
        // `From` keeps an I/O error's kind (a closed stdout stays `BrokenPipe`).
        serde_json::to_writer_pretty(&mut w, &self.json_view()).map_err(std::io::Error::from)?;
        std::io::Write::write_all(&mut w, b"\n")?;
        std::io::Write::flush(&mut w)
    }

    fn json_view(&self) -> JsonReport<'_> {
        JsonReport {
            schema: "dwb.report/1",
            dwb_version: env!("CARGO_PKG_VERSION"),
            run_id: &self.run_id,
            script: &self.script,
            parameters: &self.parameters,
            directory: &self.directory,
            sources: &self.sources,
            dry_run: self.dry_run,
            status: self.status,
            exit_code: self.exit_code().as_i32(),
            plan: PlanJson { plan: &self.plan, outcomes: &self.outcomes },
            applied: !self.dry_run && !self.outcomes.is_empty(),
            refusals: &self.plan.refusals,
            findings: &self.findings.findings,
            warnings: &self.findings.warnings,
            output: &self.findings.output,
            data: &self.findings.data,
            timings: &self.timings,
            error: &self.error,
        }
    }

    /// The report of a run that stopped before its script ran: a usage or
    /// configuration error (the same schema, an empty plan, `error` set).
    pub fn failed_early(script: &str, exit_code: crate::exit::Code, error: Value) -> Report {
        Report {
            run_id: None,
            script: script.to_string(),
            parameters: Default::default(),
            directory: None,
            sources: Sources::default(),
            unsaved_snapshot: None,
            dry_run: false,
            plan: Plan::default(),
            plan_shown: false,
            outcomes: Vec::new(),
            findings: Findings::default(),
            timings: Timings::default(),
            status: RunStatus::failed(exit_code),
            error: Some(error),
        }
    }

    /// The run's exit code, from its status.
    pub fn exit_code(&self) -> crate::exit::Code {
        self.status.exit_code()
    }

    /// Text form for people.
    pub fn to_text(&self) -> String {
        self.to_text_cut(None)
    }

    /// Text for people; with `cut` (a terminal), a longer plan shows its first
    /// `cut` changes one line each, the counts and where the whole plan is, and
    /// at most `cut` changes that were not applied are listed: a 20,000-device
    /// run is a screenful, not 300,000 lines.
    pub fn to_text_cut(&self, cut: Option<usize>) -> String {
        let mut out = String::new();
        if !self.findings.findings.is_empty() {
            out.push_str(&findings_table(&self.findings.findings));
            out.push('\n');
        }
        if !self.plan.is_empty() || self.findings.findings.is_empty() {
            // Shown with the question (answered either way): the counts, not the list again.
            if self.plan_shown {
                out.push_str(&render::counts_line(&self.plan));
            } else {
                let head =
                    if self.dry_run { "Plan (dry run: nothing was changed)" } else { "Plan" };
                match cut.filter(|n| self.plan.len() > *n) {
                    Some(n) => out.push_str(&format!("{head}:\n{}", plan_head(&self.plan, n))),
                    None => out.push_str(&format!("{head}:\n{}", render::text(&self.plan))),
                }
            }
        }
        for r in &self.plan.refusals {
            out.push_str(&format!(
                "REFUSED by the {} guard ({} change(s)): {}\n  hint: {}\n",
                r.guard,
                r.changes.len(),
                visible(&r.message),
                r.hint
            ));
        }
        if !self.outcomes.is_empty() {
            let applied = self.outcomes.iter().filter(|o| o.is_done()).count();
            let total = self.outcomes.len();
            // Only directory changes stay in the in-memory snapshot; a setting went to its file.
            let in_memory = self
                .plan
                .changes
                .iter()
                .zip(&self.outcomes)
                .any(|(c, o)| matches!(o, Outcome::Applied) && c.op.write_op().is_some());
            match self.unsaved_snapshot.as_ref().filter(|_| in_memory) {
                None => out.push_str(&format!("Applied {applied} of {total} change(s).\n")),
                Some(name) => out.push_str(&format!(
                    "Changed the in-memory copy of {name} only ({applied} of {total} change(s)); \
                     nothing was saved: add --write-snapshot FILE to keep the result.\n"
                )),
            }
            let not_applied = self.outcomes.iter().filter(|o| !matches!(o, Outcome::Applied));
            let not_applied = not_applied.count();
            let listed = cut.unwrap_or(usize::MAX);
            let outcomes = self.plan.changes.iter().zip(&self.outcomes);
            let outcomes = outcomes.filter(|(_, o)| !matches!(o, Outcome::Applied));
            for (c, o) in outcomes.take(listed) {
                match o {
                    Outcome::Failed { message, .. } => out.push_str(&format!(
                        "  FAILED {}. {} {}: {}\n",
                        c.id,
                        c.op.verb(),
                        visible(&c.op.target()),
                        visible(message)
                    )),
                    Outcome::Skipped { reason } => out.push_str(&format!(
                        "  skipped {}. {} {}: {}\n",
                        c.id,
                        c.op.verb(),
                        visible(&c.op.target()),
                        visible(reason)
                    )),
                    Outcome::AlreadyGone { message } => out.push_str(&format!(
                        "  already gone {}. {} {}: {}\n",
                        c.id,
                        c.op.verb(),
                        visible(&c.op.target()),
                        visible(message)
                    )),
                    Outcome::Applied => {}
                }
            }
            if not_applied > listed {
                out.push_str(&format!(
                    "  … and {} more not applied (the JSON report lists every one)\n",
                    not_applied - listed
                ));
            }
        }
        out
    }

    /// The count of warnings, for stderr (where the warnings were printed as
    /// they came, unless -q): `None` without warnings.
    pub fn warnings_line(&self) -> Option<String> {
        let n = self.findings.warnings.len();
        (n > 0).then(|| format!("{n} warning(s) (above, and in the JSON report's warnings)."))
    }
}

/// The first `n` changes of a long plan, one line each, then the counts and
/// where the whole plan is.
fn plan_head(plan: &crate::plan::Plan, n: usize) -> String {
    let mut out = String::new();
    for c in plan.changes.iter().take(n) {
        out.push_str(&format!("{:>3}. {:<7} {}\n", c.id, c.op.verb(), visible(&c.op.target())));
    }
    out.push_str(&format!("  … and {} more change(s)\n", plan.len() - n));
    out.push_str(&render::counts_line(plan));
    out.push_str(&format!(
        "The first {n} of {} changes, one line each; the whole plan: --all, --format json, or \
         --save-plan FILE.\n",
        plan.len()
    ));
    out
}

/// The report as serde sees it; the plan is serialized one change at a time.
#[derive(Serialize)]
struct JsonReport<'a> {
    schema: &'static str,
    dwb_version: &'static str,
    run_id: &'a Option<String>,
    script: &'a str,
    parameters: &'a serde_json::Map<String, Value>,
    directory: &'a Option<String>,
    sources: &'a Sources,
    dry_run: bool,
    status: RunStatus,
    exit_code: i32,
    plan: PlanJson<'a>,
    applied: bool,
    refusals: &'a [crate::plan::Refusal],
    findings: &'a [Finding],
    warnings: &'a [String],
    output: &'a [String],
    data: &'a serde_json::Map<String, Value>,
    timings: &'a Timings,
    error: &'a Option<Value>,
}

struct PlanJson<'a> {
    plan: &'a Plan,
    outcomes: &'a [Outcome],
}

impl Serialize for PlanJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.plan.changes.iter().enumerate().map(|(i, c)| {
            let mut v = render::change_json(c);
            if let (Some(o), Some(obj)) = (self.outcomes.get(i), v.as_object_mut()) {
                obj.insert("outcome".into(), serde_json::to_value(o).unwrap_or(Value::Null));
            }
            v
        }))
    }
}

/// The report's `error` object for a dwb error raised outside any script.
pub fn error_json(e: &crate::error::Error) -> Value {
    json!({
        "code": e.code(),
        "kind": e.kind_str(),
        "message": e.message,
        "file": null, "line": null, "column": null, "call_chain": [],
        "help": e.hint,
    })
}

/// Writes `report` as JSON to stdout (`--format json`) and/or `file` (`--report`).
pub fn write_json(report: &Report, stdout: bool, file: Option<&std::path::Path>) {
    if !stdout && file.is_none() {
        return;
    }
    // Written change by change: the report of a 100,000-device plan is large.
    if let Some(path) = file {
        let written = std::fs::File::create(path).and_then(|f| report.write_json(f));
        if let Err(e) = written {
            crate::errln!("error: writing {}: {e}", path.display());
        }
    }
    if stdout {
        crate::out::with_stdout(|w| report.write_json(w));
    }
}

/// Findings as a table (check, status, detail, fix).
pub fn findings_table(findings: &[Finding]) -> String {
    let mut t = crate::text::table();
    t.set_header(["check", "status", "detail", "fix"]);
    for f in findings {
        t.add_row([
            visible(&f.check).into_owned(),
            f.status.label().to_string(),
            visible(&f.detail).into_owned(),
            visible(&f.fix).into_owned(),
        ]);
    }
    crate::text::render(&t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::Code;

    /// The exit codes are a contract: each status has its one code, and a
    /// usage error stays `"error"` to the report's readers while exiting 3.
    #[test]
    fn every_status_has_its_documented_exit_code() {
        let cases = [
            (RunStatus::Ok, 0, "ok"),
            (RunStatus::ChecksFailed, 1, "checks_failed"),
            (RunStatus::Refused, 2, "refused"),
            (RunStatus::Error, 2, "error"),
            (RunStatus::UsageError, 3, "error"),
            (RunStatus::ChangesFailed, 4, "changes_failed"),
            (RunStatus::Interrupted, 130, "interrupted"),
        ];
        for (status, code, json) in cases {
            assert_eq!(status.exit_code().as_i32(), code, "{status:?}");
            assert_eq!(serde_json::to_value(status).unwrap(), json, "{status:?}");
        }
        assert_eq!(RunStatus::failed(Code::Usage), RunStatus::UsageError);
        assert_eq!(RunStatus::failed(Code::Interrupted), RunStatus::Interrupted);
        assert_eq!(RunStatus::failed(Code::ScriptError), RunStatus::Error);
    }

    #[test]
    fn a_report_says_the_exit_code_its_status_gives() {
        let r = Report::failed_early("x", Code::Usage, serde_json::json!({"code": "X"}));
        let j = r.to_json();
        assert_eq!(j["status"], "error");
        assert_eq!(j["exit_code"], 3);
        assert_eq!(r.exit_code(), Code::Usage);
    }
}
