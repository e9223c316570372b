//! The `dwb` binary: parse the command line, run the command, exit with its code.

fn main() -> std::process::ExitCode {
    // One TLS crypto provider for ldap3, reqwest and rustls, chosen before anything uses TLS.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    dwb::commands::main().into()
}
