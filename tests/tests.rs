//! The one integration test binary (one binary keeps link time down on 2 cores).
//! Each module says what it covers.

// Test code: failing loudly is the point, and errors are compared, not returned fast.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::result_large_err)]
// A test prints to stderr what it wants a person to see; dwb's own stderr rule is for dwb.
#![allow(clippy::disallowed_macros)]

// Shared helpers: a temp dir per test and a `dwb` command that runs in it.
mod support;

// Every subcommand and exit code, black box.
mod cli;
// The question before applying, the journal and saved plans on the demo.
mod confirm;
// `dwb check`: every error of every file, calls to functions that do not exist.
mod check;
// Rendered diagnostics: file, line, column, caret, call chain.
mod diagnostics;
// `dwb docs`: examples for every function, compiled; heading levels; the site hooks.
mod docs;
// The error registry against every code dwb and its scripts raise.
mod errors;
// What dwb prints: JSON for usage errors, plain tables when piped, short errors, completions.
mod output;
// A closed or full stdout: no panic, the run's own exit code, the work done.
mod pipes;
// Script parameters: types, choices, strict booleans, a key given twice.
mod params;
// The plan in text, LDIF and JSON; dry-run applies nothing; the report schema.
mod plan;
// The REPL driven through a pseudo-terminal.
mod repl;
// Script bindings against the snapshot directory: semantics, errors, hostile values.
mod bindings;
// Options maps: the strict reader, the sync options against the sync script and the docs.
mod options;
// A site's setup: `dwb init` offline, files read when used, `enable` once, verify without Graph.
mod site;
// Device writeback on the snapshot directory and the Graph emulator.
mod sync;
// Microsoft Graph: the real HTTP client against the local emulator of Graph's contract.
mod graph;
// Against real Samba AD DCs the harness starts: the LDAP backend, result codes, hostile values.
mod samba;
// dwb as a system service: credentials from systemd, the Debian package and its units.
mod service;
// Sources that settle: a Graph listing that loops ends with an error.
mod sources;
// Saved plans bound to their review: the digest, required preconditions.
mod integrity;
// A new administrator's first hour: the README's commands, in order, with only the binary.
mod walkthrough;
// Entra data dwb did not choose (deviceIds in braces, shared deviceIds), offline.
mod hostile_devices;
