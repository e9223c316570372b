//! The command line. Help text teaches: every command has examples.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Exit codes:
  0    success (and, for verify, every check passed)
  1    verification found problems (a finding with status \"fail\")
  2    the run itself failed (script or runtime error, a guard refused the plan,
       the DC stopped answering)
  3    usage or configuration error
  4    the run completed but some changes failed (each listed in the report);
       skipped devices are warnings, not failures; `apply`: a saved change was
       refused (its object changed since); `undo`: an object changed since the run
  130  interrupted (Ctrl-C); nothing is left half-applied
A closed stdout (`| head`) or a full one stops the output, never the run: the
exit code is the run's own (0 when everything applied).

Configuration: dwb.toml (--config, $DWB_CONFIG, ./dwb.toml, then the user config dir),
overridden by DWB_* environment variables, overridden by flags. Secrets come only from
environment variables, files named in the config, or a prompt: never from arguments.

With no directory configured, dwb uses the bundled demo (examples/contoso) and says so.

Examples:
  dwb run prepare --param connector_account='CONTOSO\\svc-dwb' --dry-run
  dwb run verify --format json > verify.json
  kinit admin@CONTOSO.COM && dwb run verify --ldap-url ldap://dc1.contoso.com --ldap-auth kerberos
  dwb check scripts/*.rhai
  dwb explain LAPTOP-0042
  dwb run sync --dry-run --save-plan plan.json && dwb apply plan.json
  dwb journal && dwb undo RUN_ID --dry-run
  dwb repl";

/// dwb writes Microsoft Entra ID devices back into Active Directory.
#[derive(Parser, Debug)]
#[command(name = "dwb", version, about, long_about = None, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Where the directory is and how to reach it.
#[derive(Args, Debug, Clone, Default)]
pub struct Conn {
    /// Named profile from the config file (default: `default_profile`).
    #[arg(long, env = "DWB_PROFILE", global = true)]
    pub profile: Option<String>,
    /// Config file (default: ./dwb.toml, then the user config dir).
    #[arg(long, env = "DWB_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// LDAP URL of a domain controller: ldaps://dc1.contoso.com or ldap://… (StartTLS).
    #[arg(long, env = "DWB_LDAP_URL", global = true)]
    pub ldap_url: Option<String>,
    /// Bind account: CONTOSO\admin, admin@contoso.com or a DN. The password comes from
    /// DWB_LDAP_PASSWORD, the config's password_file, or a prompt.
    #[arg(long, env = "DWB_LDAP_USER", global = true)]
    pub ldap_user: Option<String>,
    /// How to authenticate: simple (user + password) or kerberos (the ticket from `kinit`
    /// in KRB5CCNAME's cache, or the profile's keytab; no password is read). Kerberos over
    /// ldap:// seals the connection itself (no StartTLS); over ldaps:// it is bound to the TLS
    /// channel. Needs a dwb built with `--features kerberos`.
    #[arg(long, env = "DWB_LDAP_AUTH", value_enum, global = true, value_name = "METHOD")]
    pub ldap_auth: Option<crate::config::AuthMethod>,
    /// Kerberos: the host in the DC's SPN ldap/<HOST> when the URL names it differently
    /// (e.g. an IP in the URL, the DC's FQDN here). Default: the URL's host.
    #[arg(long, env = "DWB_LDAP_SPN_HOST", global = true, value_name = "HOST")]
    pub ldap_spn_host: Option<String>,
    /// PEM file with the CA certificate(s) that issued the DC's certificate.
    #[arg(long, env = "DWB_LDAP_CA_FILE", global = true)]
    pub ca_file: Option<PathBuf>,
    /// Allow a simple bind without TLS (ldap:// without StartTLS). Hardened DCs refuse it anyway.
    #[arg(long, global = true)]
    pub allow_insecure_ldap: bool,
    /// Use an LDIF export instead of a live DC (an offline what-if); wins over a configured DC.
    #[arg(long, global = true)]
    pub snapshot: Option<PathBuf>,
    /// Read Entra devices from a Graph JSON export instead of a tenant.
    #[arg(long, global = true)]
    pub devices: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a script: a path, or a standard script's name (prepare, verify, …).
    ///
    /// A site copy in ./scripts/ wins over the copy embedded in dwb. Every write the
    /// script makes is recorded in a plan; without --dry-run the plan is applied at
    /// the end, in order.
    #[command(
        after_help = "Examples:\n  dwb run prepare.rhai --param connector_account='CONTOSO\\svc-dwb'\n  dwb run prepare --param connector_account=svc-dwb --dry-run --save-plan plan.ldif\n  dwb run verify --format json --report verify.json\n  kinit admin@CONTOSO.COM && dwb run verify --ldap-url ldap://dc1.contoso.com --ldap-auth kerberos\n  dwb run ./site/cleanup.rhai --snapshot export.ldif --write-snapshot after.ldif"
    )]
    Run(RunArgs),
    /// Is writeback working? Reads the status the last sync round of a profile left.
    ///
    /// Exit 0 healthy, 1 degraded (the last round failed or was refused, or it is older
    /// than --max-age), 2 unknown (no round recorded yet, or the status is unreadable).
    /// Works while the service runs and after it stopped.
    #[command(
        after_help = "Examples:\n  dwb health --profile prod\n  dwb health --profile prod --max-age 300 --format json\n  # Nagios/Checkmk-style: exit 0 OK, 1 WARNING/degraded, 2 UNKNOWN"
    )]
    Health(HealthArgs),
    /// Compile and lint scripts without running them; reports every error.
    #[command(after_help = "Example:\n  dwb check scripts/*.rhai")]
    Check {
        /// Scripts (paths or standard names).
        #[arg(required = true)]
        scripts: Vec<String>,
    },
    /// Interactive Rhai shell with dwb's bindings (history, completion, :help).
    #[command(
        after_help = "Commands inside the REPL:\n  :help [NAME]  function reference\n  :plan         pending plan\n  :apply        apply the pending plan\n  :quit         leave"
    )]
    Repl {
        #[command(flatten)]
        conn: Conn,
        /// Apply nothing, even on :apply.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print the reference of every script-visible function.
    Docs {
        #[arg(long, value_enum, default_value_t = DocsFormat::Markdown)]
        format: DocsFormat,
    },
    /// Write the standard scripts, stdlib and an example dwb.toml into DIR for a site to customise.
    #[command(
        after_help = "Example:\n  dwb init /srv/dwb && cd /srv/dwb && dwb run prepare --dry-run …"
    )]
    Init {
        dir: PathBuf,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
    /// List the standard scripts with their purpose and parameters.
    Scripts,
    /// Export a live directory (or parts) as LDIF that --snapshot loads.
    #[command(
        after_help = "Example:\n  dwb snapshot --out contoso.ldif --base 'CN=Configuration,DC=contoso,DC=com'"
    )]
    Snapshot {
        #[command(flatten)]
        conn: Conn,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        /// Subtrees to export (default: the domain, configuration and schema partitions).
        #[arg(long)]
        base: Vec<String>,
    },
    /// Apply a saved plan (`dwb run … --save-plan FILE.json`) exactly, without the script.
    ///
    /// Each change is applied only if its object is still as the plan saw it; a change
    /// whose object changed meanwhile is refused and reported (exit 4), the others apply.
    #[command(
        after_help = "Examples:\n  dwb run sync --dry-run --save-plan plan.json   # review plan.json\n  dwb apply plan.json --dry-run                  # what would be refused now\n  dwb apply plan.json --yes"
    )]
    Apply(ApplyArgs),
    /// Undo a run from the journal: delete what it created, restore what it replaced,
    /// re-create what it deleted.
    ///
    /// An object that changed after that run is left alone and reported (exit 4).
    #[command(
        after_help = "Examples:\n  dwb journal                      # the runs, newest last\n  dwb undo 20250102T030405Z-1a2b3c --dry-run\n  dwb undo 20250102T030405Z-1a2b3c --yes"
    )]
    Undo(UndoArgs),
    /// List the journaled runs of the profile, or show one run's changes.
    #[command(
        after_help = "Examples:\n  dwb journal\n  dwb journal 20250102T030405Z-1a2b3c --format json"
    )]
    Journal {
        /// A run id (or a unique prefix of one); without it, every run is listed.
        run_id: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        #[command(flatten)]
        conn: Conn,
    },
    /// Why a device is (not) in AD: scope, mapping, attributes side by side, next action.
    #[command(
        after_help = "Examples:\n  dwb explain 4c299165-6e8f-4b45-a5ba-c5d250a707ff\n  dwb explain 'LAPTOP-0042' --format json\n  dwb explain 'CN=4c299165-6e8f-4b45-a5ba-c5d250a707ff,CN=RegisteredDevices,DC=contoso,DC=com'"
    )]
    Explain(ExplainArgs),
    /// Print shell completions.
    Completions { shell: clap_complete::Shell },
    /// Write the man pages (dwb.1, dwb-run.1, …) into DIR (for packaging).
    #[command(hide = true)]
    Manpages { dir: PathBuf },
    /// Write the bundled demo's directory (directory.ldif) and Entra devices (devices.json)
    /// into DIR, for --snapshot and --devices with only the binary at hand; or start the
    /// demo directory over (--reset).
    #[command(
        after_help = "Example:\n  dwb demo /tmp/demo && dwb run sync --snapshot /tmp/demo/directory.ldif --devices /tmp/demo/devices.json --dry-run\n  dwb demo --reset    # the demo directory as bundled again"
    )]
    Demo {
        /// Where to write the two files (created if missing; existing files are kept;
        /// default: the current directory, unless --reset is given alone).
        dir: Option<PathBuf>,
        /// Start the demo directory over: forget what runs applied to it (the copy
        /// kept in dwb's data directory).
        #[arg(long)]
        reset: bool,
    },
}

/// How a plan built outside a script (`apply`, `undo`) is applied and reported.
#[derive(Args, Debug, Clone)]
pub struct ApplyOpts {
    /// Show the plan (and what would be refused now), apply nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Apply without asking (on a terminal dwb shows the plan and asks first).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Also write the report (JSON) to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// On a terminal, list every change of a long plan (default: the first 50).
    #[arg(long)]
    pub all: bool,
    /// With --snapshot (or the demo): write the resulting directory state as LDIF.
    #[arg(long)]
    pub write_snapshot: Option<PathBuf>,
}

impl ApplyOpts {
    /// The files these options name, by flag (checked before anything is applied).
    pub fn files(&self) -> [(&'static str, Option<&std::path::Path>); 2] {
        [("--write-snapshot", self.write_snapshot.as_deref()), ("--report", self.report.as_deref())]
    }
}

#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// The saved plan (.json).
    pub file: PathBuf,
    /// Apply the file only if its digest is this one (as printed when the plan was saved).
    #[arg(long, value_name = "HEX")]
    pub expect_digest: Option<String>,
    #[command(flatten)]
    pub opts: ApplyOpts,
    #[command(flatten)]
    pub conn: Conn,
}

#[derive(Args, Debug)]
pub struct UndoArgs {
    /// The run to undo (`dwb journal` lists them; a unique prefix is enough).
    pub run_id: String,
    /// Refuse an undo that deletes more objects than this (default: the profile's
    /// [writeback] delete_threshold, else 500).
    #[arg(long)]
    pub delete_threshold: Option<usize>,
    #[command(flatten)]
    pub opts: ApplyOpts,
    #[command(flatten)]
    pub conn: Conn,
}

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// The device: its deviceId, its Entra object id, its display name, or the DN of
    /// its object in AD.
    pub device: String,
    /// The device container (default: where the DeviceRegistrationService points).
    #[arg(long)]
    pub container: Option<String>,
    /// Explain as a sync with take_over=true would act.
    #[arg(long)]
    pub take_over: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(flatten)]
    pub conn: Conn,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Script path or standard script name.
    #[arg()]
    pub script: String,
    /// Script parameter (repeatable, each KEY once): --param connector_account='CONTOSO\svc-dwb'.
    #[arg(long = "param", short = 'p', value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// Show the plan, apply nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Apply without asking (on a terminal dwb shows the plan and asks first).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Also write the report (JSON) to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Write the plan to a file: .json (a saved plan that `dwb apply FILE.json` applies
    /// exactly, later), .ldif (ldapmodify input), or text.
    #[arg(long)]
    pub save_plan: Option<PathBuf>,
    /// With --snapshot (or the demo): write the resulting directory state as LDIF.
    #[arg(long)]
    pub write_snapshot: Option<PathBuf>,
    #[command(flatten)]
    pub conn: Conn,
    /// More output (-v, -vv).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Less output: only errors and the result.
    #[arg(short, long)]
    pub quiet: bool,
    /// Serve `GET /metrics` (Prometheus) and `GET /healthz` on ADDR:PORT while the run lasts
    /// (a watch: for as long as the service runs). Default: the profile's
    /// `[service] metrics_listen`. Loopback only, unless --metrics-allow-remote.
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics_listen: Option<String>,
    /// Allow --metrics-listen on a non-loopback address.
    #[arg(long)]
    pub metrics_allow_remote: bool,
    /// Service log lines (one per watch round, with a stable event code) as text or JSON
    /// (one object per line, for a log shipper).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// On a terminal, list every change of a long plan (default: the first 50).
    #[arg(long)]
    pub all: bool,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// `dwb health`: the last sync round of a profile, judged for a monitor.
#[derive(Args, Debug)]
pub struct HealthArgs {
    /// Named profile whose status to read (default: `default_profile`).
    #[arg(long, env = "DWB_PROFILE")]
    pub profile: Option<String>,
    /// Config file (to find the default profile).
    #[arg(long, env = "DWB_CONFIG")]
    pub config: Option<PathBuf>,
    /// Degraded when the last round ended longer ago than this (default: 3 × the watch
    /// interval; a single run's status has no default age limit).
    #[arg(long, value_name = "SECONDS")]
    pub max_age: Option<u64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocsFormat {
    Markdown,
    Json,
}
