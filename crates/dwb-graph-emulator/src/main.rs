//! `dwb-graph-emulator`: serves the Graph emulator until Ctrl-C (see `--help`).

fn main() {
    std::process::exit(dwb_graph_emulator::cli::run(std::env::args_os()));
}
