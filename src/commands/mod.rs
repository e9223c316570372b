//! The subcommands. `main()` parses the command line and maps every outcome to
//! an exit code (see `crate::exit`).

pub mod apply;
mod applying;
pub mod check;
pub mod completions;
pub mod confirm;
pub mod demo;
mod directory_kind;
pub mod docs;
pub mod explain;
mod failure;
mod habits;
pub mod health;
pub mod init;
pub mod journal;
pub mod manpages;
mod outputs;
pub mod repl;
pub mod run;
pub mod script;
pub mod scripts;
pub mod session;
pub mod snapshot;
pub mod undo;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::exit;
pub use failure::fail;

/// Runs dwb with the process's arguments; returns the exit code.
pub fn main() -> exit::Code {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let args: Vec<String> =
                std::env::args_os().skip(1).map(|a| a.to_string_lossy().into_owned()).collect();
            match habits::usage_message(&e, &args) {
                Some(m) => crate::errout!("{m}"),
                None => {
                    let _ = e.print();
                }
            }
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    exit::OK
                }
                _ => usage_error_json(&e),
            };
        }
    };
    let verbosity = match &cli.command {
        Command::Run(args) if args.quiet => "error",
        Command::Run(args) if args.verbose >= 2 => "debug",
        Command::Run(args) if args.verbose == 1 => "info",
        _ => "warn",
    };
    // dwb's own logs: libraries' lines (ldap3's late answers to abandoned
    // operations, HTTP internals) mean nothing to an admin, even with -vv;
    // DWB_LOG (e.g. `debug`) shows them.
    init_logging(&match verbosity {
        "error" => "error".to_string(),
        v => format!("warn,dwb={v},ldap3=error"),
    });
    if let Command::Run(args) = &cli.command {
        crate::engine::diagnostic::set_verbose(args.verbose > 0);
    }
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Check { scripts } => check::check(&scripts),
        Command::Repl { conn, dry_run } => repl::repl(&conn, dry_run),
        Command::Docs { format } => docs::docs(format),
        Command::Init { dir, force } => init::init(&dir, force),
        Command::Scripts => scripts::list(),
        Command::Snapshot { conn, out, base } => snapshot::export(&conn, &out, &base),
        Command::Apply(args) => apply::apply(&args),
        Command::Undo(args) => undo::undo(&args),
        Command::Journal { run_id, format, conn } => {
            journal::show(run_id.as_deref(), format, &conn)
        }
        Command::Explain(args) => explain::explain(&args),
        Command::Completions { shell } => completions::print(shell),
        Command::Manpages { dir } => manpages::write(&dir),
        Command::Health(args) => health::health(&args),
        Command::Demo { dir, reset } => demo::run(dir.as_deref(), reset),
    }
}

/// A command line clap rejected, for `dwb run … --format json` / `--report FILE`:
/// the arguments did not parse, so the two are looked for by hand, and the
/// JSON report carries the error as for any failed run.
fn usage_error_json(e: &clap::Error) -> exit::Code {
    // `args()` panics on an argument that is not UTF-8, which is what clap may be rejecting.
    let args: Vec<String> =
        std::env::args_os().skip(1).map(|a| a.to_string_lossy().into_owned()).collect();
    if args.first().map(String::as_str) != Some("run") {
        return exit::USAGE;
    }
    let value_of = |flag: &str| {
        args.iter().enumerate().find_map(|(i, a)| {
            a.strip_prefix(&format!("{flag}="))
                .map(str::to_string)
                .or_else(|| (a == flag).then(|| args.get(i + 1).cloned()).flatten())
        })
    };
    let json = value_of("--format").as_deref() == Some("json");
    let report = value_of("--report").map(std::path::PathBuf::from);
    let text = e.render().to_string();
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let message = lines.next().unwrap_or_default();
    let message = message.strip_prefix("error: ").unwrap_or(message).to_string();
    let rest: Vec<&str> = lines.map(str::trim).collect();
    let error = serde_json::json!({
        "code": "DWB-USAGE-0001", "kind": "usage", "message": message,
        "file": null, "line": null, "column": null, "call_chain": [],
        "help": (!rest.is_empty()).then(|| rest.join("\n")),
    });
    let r = crate::report::Report::failed_early("", exit::USAGE, error);
    crate::report::write_json(&r, json, report.as_deref());
    exit::USAGE
}

/// Logs go to stderr; `DWB_LOG` (e.g. `dwb=debug`) wins over -v/-q.
fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("DWB_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colour codes only for a person's terminal, never into a pipe or journald.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}

/// One line on stdout; a closed or full stdout ends the output quietly.
pub fn print_line(line: &str) {
    crate::outln!("{line}");
}
