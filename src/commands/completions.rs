//! `dwb completions SHELL`: clap's completion script, with the standard
//! scripts' names (for `run` and `check`) and their `--param` keys offered as
//! candidates. The candidates are added to the command only here, so parsing
//! still accepts any script path and any parameter.

use clap::CommandFactory;
use clap::builder::{PossibleValue, PossibleValuesParser};

use crate::cli::Cli;
use crate::embedded;
use crate::exit;

fn script_names() -> Vec<PossibleValue> {
    embedded::SCRIPTS
        .iter()
        .map(|s| {
            let purpose = super::scripts::purpose(s.text);
            let first = purpose.split(": ").next().unwrap_or_default().to_string();
            PossibleValue::new(s.name.trim_end_matches(".rhai")).help(first)
        })
        .collect()
}

fn param_keys() -> Vec<PossibleValue> {
    let mut keys = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (script, p) in super::scripts::declared_params() {
        if seen.insert(p.name.clone()) {
            let help = format!("{script}: <{}> {}", p.value_hint(), p.help);
            keys.push(PossibleValue::new(format!("{}=", p.name)).help(help));
        }
    }
    keys
}

/// The command line without its hidden subcommands (`manpages`, for
/// packaging): the shells' generators would offer them, and clap has no way
/// to remove a subcommand, so the visible ones are copied into a new command.
/// Completion needs only the arguments and subcommands (the new command's
/// build propagates the global ones).
fn visible() -> clap::Command {
    let full = Cli::command();
    let subs = full.get_subcommands().filter(|s| !s.is_hide_set()).cloned();
    clap::Command::new(full.get_name().to_string())
        .version(full.get_version().unwrap_or_default().to_string())
        .propagate_version(full.is_propagate_version_set())
        .args(full.get_arguments().cloned())
        .subcommands(subs.collect::<Vec<_>>())
}

/// The command line with completion candidates.
pub fn command() -> clap::Command {
    let scripts = PossibleValuesParser::new(script_names());
    let keys = PossibleValuesParser::new(param_keys());
    visible()
        .mut_subcommand("run", |c| {
            c.mut_arg("script", |a| a.value_parser(scripts.clone()))
                .mut_arg("params", |a| a.value_parser(keys))
        })
        .mut_subcommand("check", |c| c.mut_arg("scripts", |a| a.value_parser(scripts)))
}

/// Prints the completion script for `shell`.
pub fn print(shell: clap_complete::Shell) -> exit::Code {
    // Into a buffer first: `generate` panics when its writer fails (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command(), "dwb", &mut script);
    crate::out::write_bytes(&script);
    exit::OK
}
