//! `dwb graph-emulator` (hidden): serves the Graph emulator until Ctrl-C, or
//! writes a generated tenant's devices as a Graph Explorer export.

use super::{fail, runtime};
use crate::cli::EmulatorArgs;
use crate::error::Error as DwbError;
use crate::error::Error;
use crate::exit;
use crate::graph::emulator::{self, Faults, ServeOptions};

/// Runs the emulator; returns the exit code.
pub fn run(args: EmulatorArgs) -> i32 {
    let faults = match args.faults.as_deref().map(str::parse::<Faults>).transpose() {
        Ok(f) => f.unwrap_or_default(),
        Err(e) => return fail(&Error::config(format!("--faults: {e}"))),
    };
    if let Some(path) = &args.export {
        let state = emulator::generate(args.devices, args.seed);
        return match state.write_graph_export(path) {
            Ok(()) => {
                eprintln!("wrote {} devices to {}", state.devices.len(), path.display());
                exit::OK
            }
            Err(e) => fail(&DwbError::from(e)),
        };
    }
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return fail(&e),
    };
    let token = tokio_util::sync::CancellationToken::new();
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
        print_urls: true,
    };
    match rt.block_on(emulator::serve(opts, token)) {
        Ok(()) => exit::OK,
        Err(e) => fail(&DwbError::from(e)),
    }
}
