//! The command line of the `dwb-graph-emulator` binary, as a library function so
//! that a program (e.g. a benchmark re-executing itself) can run the emulator as
//! a separate process of its own without invoking `cargo`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use tokio_util::sync::CancellationToken;

use crate::{Faults, ServeOptions, generate, serve};

/// Serve a local emulator of Microsoft Graph's device API until Ctrl-C (or write
/// a generated tenant's devices as a Graph Explorer export).
#[derive(Parser, Debug)]
#[command(
    name = "dwb-graph-emulator",
    version,
    after_help = "Example:\n  dwb-graph-emulator --addr 127.0.0.1:8700 --devices 2000\n  \
                  DWB_GRAPH_AUTHORITY=http://127.0.0.1:8700 \
                  DWB_GRAPH_ENDPOINT=http://127.0.0.1:8700 … dwb run sync"
)]
pub struct Args {
    /// Address to listen on (loopback).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub addr: SocketAddr,
    /// Generate this many devices.
    #[arg(long, default_value_t = 1000)]
    pub devices: usize,
    /// Load the tenant from this JSON state file instead.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Seed for generated devices.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Faults, KEY=N pairs separated by commas, e.g. "throttle_every=7,retry_after=1" or
    /// "batch_throttle_every=7". Keys: throttle_next, throttle_every, throttle_status,
    /// retry_after (N, date:N or none), unauthorized_next, delay_ms, malformed_next,
    /// oversize_next, oversize_bytes, foreign_next_link (a URL), batch_throttle_next,
    /// batch_throttle_every, batch_error_next, batch_error_status.
    #[arg(long)]
    pub faults: Option<String>,
    /// Delay every response (Graph and token endpoints) by this many milliseconds.
    #[arg(long, value_name = "MS")]
    pub latency_ms: Option<u64>,
    /// Write the generated devices as a Graph Explorer export to FILE and exit.
    #[arg(long)]
    pub export: Option<PathBuf>,
}

/// Run with the given arguments (the first one is the program name, as in
/// `std::env::args`). Returns the process exit code: 0, 1 on a failure, 2 on
/// bad arguments.
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args = match Args::try_parse_from(args) {
        Ok(a) => a,
        Err(e) => {
            let code = e.exit_code();
            let _ = e.print();
            return code;
        }
    };
    match run_args(args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("dwb-graph-emulator: {e}");
            1
        }
    }
}

fn run_args(args: Args) -> Result<(), String> {
    let faults = match args.faults.as_deref() {
        Some(f) => f.parse::<Faults>().map_err(|e| format!("--faults: {e}"))?,
        None => Faults::default(),
    };
    if let Some(path) = &args.export {
        let state = generate(args.devices, args.seed);
        state.write_graph_export(path).map_err(|e| e.to_string())?;
        eprintln!("wrote {} devices to {}", state.devices.len(), path.display());
        return Ok(());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let token = CancellationToken::new();
    let t2 = token.clone();
    rt.spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            t2.cancel();
        }
    });
    let opts = ServeOptions {
        addr: args.addr,
        devices: args.devices,
        state_file: args.state,
        seed: args.seed,
        faults,
        latency_ms: args.latency_ms,
        print_urls: true,
    };
    rt.block_on(serve(opts, token)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_and_export() {
        let a = Args::try_parse_from([
            "x",
            "--addr",
            "127.0.0.1:8700",
            "--devices",
            "2000",
            "--latency-ms",
            "20",
        ])
        .unwrap();
        assert_eq!((a.addr.port(), a.devices, a.latency_ms, a.seed), (8700, 2000, Some(20), 1));
        assert_eq!(run(["x", "--bogus"]), 2);
        assert_eq!(run(["x", "--faults", "nope=1", "--export", "/nonexistent/x"]), 1);

        let dir = std::env::temp_dir().join(format!("dwb-emu-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("export.json");
        assert_eq!(run(["x", "--devices", "12", "--export", out.to_str().unwrap()]), 0);
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        assert_eq!(v["value"].as_array().map(Vec::len), Some(12));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The README sends readers to `--help` for the fault keys: it lists every
    /// one the parser takes.
    #[test]
    fn help_lists_every_fault_key() {
        use clap::CommandFactory;
        let help = Args::command().render_help().to_string();
        for k in crate::faults::FAULT_KEYS {
            assert!(help.contains(k), "--help lacks {k}:\n{help}");
            assert!(format!("{k}=1").parse::<Faults>().is_ok(), "{k} is not a fault key");
        }
    }
}
