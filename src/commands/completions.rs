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

/// The command line with completion candidates.
pub fn command() -> clap::Command {
    let scripts = PossibleValuesParser::new(script_names());
    let keys = PossibleValuesParser::new(param_keys());
    Cli::command()
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
