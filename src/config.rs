//! Site configuration: `dwb.toml` with named profiles, overridden by `DWB_*`
//! environment variables, overridden by flags. Unknown keys are errors with a
//! "did you mean". Secrets are never read from here directly: the file names
//! where they are (`password_file`, `client_secret_file`), or systemd hands
//! them over in `$CREDENTIALS_DIRECTORY` (see [`credentials`]).

pub mod credentials;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Kind, Result, did_you_mean};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub default_profile: Option<String>,
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub ldap: Option<LdapConf>,
    pub graph: Option<GraphConf>,
    pub writeback: Option<WritebackConf>,
    pub service: Option<ServiceConf>,
}

/// `[profiles.<name>.service]`: how a watch runs as a service.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConf {
    /// Serve /metrics and /healthz here (`--metrics-listen` wins).
    pub metrics_listen: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapConf {
    pub url: Option<String>,
    pub user: Option<String>,
    pub password_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub allow_insecure: bool,
    pub timeout_secs: Option<u64>,
    /// `simple` (the default) or `kerberos`.
    pub auth: Option<AuthMethod>,
    /// Kerberos: the host in the SPN `ldap/<host>` when it is not the URL's host.
    pub spn_host: Option<String>,
    /// Kerberos: a client keytab to authenticate with instead of the credential cache.
    pub keytab: Option<PathBuf>,
}

/// How dwb binds to the DC (`--ldap-auth`, `DWB_LDAP_AUTH`, `auth` in the profile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    /// A simple bind with a user and password, over LDAPS or StartTLS.
    #[default]
    Simple,
    /// SASL GSSAPI with a Kerberos ticket (kinit or a keytab); no password.
    Kerberos,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphConf {
    pub cloud: Option<String>,
    pub tenant: Option<String>,
    pub client_id: Option<String>,
    pub client_secret_file: Option<PathBuf>,
    pub certificate_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub authority: Option<String>,
    pub endpoint: Option<String>,
    /// A Graph JSON export used instead of a tenant (offline what-ifs).
    pub devices_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WritebackConf {
    pub forest: Option<String>,
    pub domain: Option<String>,
    pub container: Option<String>,
    pub tenant_id: Option<String>,
    /// Defaults of sync's `delete_threshold` / `delete_threshold_percent`.
    pub delete_threshold: Option<u64>,
    pub delete_threshold_percent: Option<u32>,
    /// Caps the rate of directory writes (unlimited when absent).
    pub max_writes_per_second: Option<f64>,
}

/// A loaded config file and the profile chosen from it.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub path: Option<PathBuf>,
    pub profile_name: Option<String>,
    pub profile: Profile,
    /// `$CREDENTIALS_DIRECTORY` and the credentials used from it in place of
    /// the profile's settings.
    pub credentials: Option<(PathBuf, Vec<&'static credentials::Credential>)>,
}

/// Parses config text; errors name the file, line and column, and suggest a key.
pub fn parse(text: &str, path: &Path) -> Result<ConfigFile> {
    let file = parse_types(text, path)?;
    check_ranges(&file, path)?;
    Ok(file)
}

/// The values every profile must keep within range, checked when the file is
/// read: out of range, they were refused only once a run used them (a script
/// error, exit 2, naming no file) or silently taken as "unlimited".
fn check_ranges(file: &ConfigFile, path: &Path) -> Result<()> {
    for (name, p) in &file.profiles {
        let Some(wb) = &p.writeback else { continue };
        let at = |key: &str| format!("{key} in [profiles.{name}.writeback] of {}", path.display());
        if let Some(pc) = wb.delete_threshold_percent.filter(|pc| *pc > 100) {
            return Err(Error::config(format!(
                "{} is {pc}; it must be between 0 and 100 (a share of the objects dwb owns)",
                at("delete_threshold_percent")
            )));
        }
        if let Some(r) = wb.max_writes_per_second.filter(|r| !(r.is_finite() && *r >= 0.0)) {
            return Err(Error::config(format!(
                "{} is {r}; it must be 0 or more (writes a second; leave it out for no limit)",
                at("max_writes_per_second")
            )));
        }
    }
    Ok(())
}

fn parse_types(text: &str, path: &Path) -> Result<ConfigFile> {
    toml::from_str::<ConfigFile>(text).map_err(|e| {
        let (line, col) = e
            .span()
            .map(|s| {
                let before = &text[..s.start.min(text.len())];
                (
                    before.matches('\n').count() + 1,
                    before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1,
                )
            })
            .unwrap_or((0, 0));
        let mut msg = e.message().to_string();
        // The key on the line the error points at: `delete_threshold = "x"`.
        let key = e.span().and_then(|sp| {
            let start = text[..sp.start.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
            let line = text[start..].lines().next()?;
            line.split_once('=').map(|(k, _)| k.trim().to_string())
        });
        if let Some(k) = key
            && let Some(m) = type_error_in_file_terms(&msg, &k)
        {
            msg = m;
        }
        let mut out = format!("{}:{line}:{col}: {msg}", path.display());
        // serde: "unknown field `urll`, expected one of `url`, `user`, …"
        if let Some(rest) = msg.strip_prefix("unknown field `")
            && let Some((given, expected)) = rest.split_once('`')
        {
            let cands: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
            if let Some(s) = did_you_mean(given, cands) {
                out.push_str(&format!("; did you mean `{s}`?"));
            }
        }
        Error::new(Kind::Config, out)
    })
}

/// serde's `invalid type: string "x", expected u64` in the file's terms:
/// `delete_threshold must be a whole number, not a string ("x")`; and its
/// `invalid value: integer `-1`, expected u64` (a negative count):
/// `timeout_secs must be a whole number of 0 or more, not -1`.
fn type_error_in_file_terms(msg: &str, key: &str) -> Option<String> {
    if let Some(rest) = msg.strip_prefix("invalid value: integer `")
        && let Some((value, expected)) = rest.split_once("`, expected ")
        && expected.trim().starts_with('u')
    {
        return Some(format!("{key} must be a whole number of 0 or more, not {value}"));
    }
    let rest = msg.strip_prefix("invalid type: ")?;
    let (got, expected) = rest.split_once(", expected ")?;
    let wanted = match expected.trim() {
        "u8" | "u16" | "u32" | "u64" | "usize" | "i32" | "i64" => "a whole number",
        "f32" | "f64" => "a number",
        "a boolean" | "bool" => "true or false",
        "a string" | "a borrowed string" => "a string in quotes",
        "a sequence" => "a list ([…])",
        e if e.starts_with("struct ") || e.starts_with("a map") => "a table ([section])",
        e => e,
    };
    let (kind, value) = match got.split_once(' ') {
        Some((k, v)) => (k, Some(v.trim_matches('`'))),
        None => (got, None),
    };
    let kind = match kind {
        "integer" => "a whole number",
        "floating" => "a number",
        "boolean" => "true/false",
        "string" => "a string",
        "sequence" => "a list",
        "map" => "a table",
        k => k,
    };
    Some(match value.filter(|v| !v.is_empty() && *v != "point") {
        Some(v) => format!("{key} must be {wanted}, not {kind} ({v})"),
        None => format!("{key} must be {wanted}, not {kind}"),
    })
}

/// Finds and loads the config file and picks the profile.
pub fn load(explicit: Option<&Path>, profile: Option<&str>) -> Result<Loaded> {
    let path = match explicit {
        Some(p) => {
            if !p.exists() {
                return Err(Error::config(format!("config file {} does not exist", p.display())));
            }
            Some(p.to_path_buf())
        }
        None => {
            let local = PathBuf::from("dwb.toml");
            let user = directories::ProjectDirs::from("", "", "dwb")
                .map(|d| d.config_dir().join("dwb.toml"));
            [Some(local), user].into_iter().flatten().find(|p| p.exists())
        }
    };
    let file = match &path {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| Error::config(format!("reading {}: {e}", p.display())))?;
            parse(&text, p)?
        }
        None => ConfigFile::default(),
    };
    let name = profile
        .map(str::to_string)
        .or(file.default_profile.clone())
        .or_else(|| file.profiles.contains_key("default").then(|| "default".to_string()));
    let mut chosen = match &name {
        Some(n) => match file.profiles.get(n) {
            Some(p) => p.clone(),
            None => {
                let mut msg = format!(
                    "no profile `{n}` in {}",
                    path.as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|| "(no config file)".into())
                );
                if let Some(s) = did_you_mean(n, file.profiles.keys().map(String::as_str)) {
                    msg.push_str(&format!("; did you mean `{s}`?"));
                }
                return Err(Error::config(msg));
            }
        },
        None => Profile::default(),
    };
    let credentials = match credentials::dir_from_env() {
        // Set by hand (`CREDENTIALS_DIRECTORY=/etc/dwb/credentials/prod dwb …`), a
        // misspelt folder quietly fell back to the profile's files or a prompt.
        Some(dir) if !dir.is_dir() => {
            return Err(Error::config(format!(
                "${} is {}, which is not a directory",
                credentials::DIR_ENV,
                dir.display()
            ))
            .with_hint("point it at the folder holding the credentials, or unset it"));
        }
        Some(dir) => {
            let used = credentials::apply(&mut chosen, &dir);
            Some((dir, used))
        }
        None => None,
    };
    Ok(Loaded { path, profile_name: name, profile: chosen, credentials })
}

/// dwb's data directory (delta state, locks, journal): `$DWB_DATA_DIR` (a
/// service's `StateDirectory=`, where a `DynamicUser=` account has no home),
/// else `$XDG_DATA_HOME/dwb` or the platform's equivalent.
pub fn data_dir() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("DWB_DATA_DIR").filter(|d| !d.is_empty()) {
        let d = PathBuf::from(d);
        // A file there fails every use deep inside (`creating …/status: Not a
        // directory`); said once, naming the variable. Absent is fine: created.
        if d.exists() && !d.is_dir() {
            return Err(Error::config(format!(
                "DWB_DATA_DIR is {}, which is not a directory",
                d.display()
            ))
            .with_hint("point DWB_DATA_DIR at a directory (a service's StateDirectory=)"));
        }
        return Ok(d);
    }
    directories::ProjectDirs::from("", "", "dwb").map(|d| d.data_dir().to_path_buf()).ok_or_else(
        || Error::config("no data directory for dwb: set DWB_DATA_DIR (or HOME, XDG_DATA_HOME)"),
    )
}

/// A profile's file in the data directory: `<data dir>/<folder>/<profile>.<ext>`,
/// the profile name (default `default`) made safe for a file name.
pub fn profile_file(folder: &str, profile: Option<&str>, ext: &str) -> Result<PathBuf> {
    let name: String = profile
        .unwrap_or("default")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .collect();
    Ok(data_dir()?.join(folder).join(format!("{name}.{ext}")))
}

impl Loaded {
    /// How an error names a setting of the profile: `password_file in
    /// [profiles.contoso.ldap] of ./dwb.toml`.
    pub fn key(&self, section: &str, key: &str) -> String {
        if let Some((dir, used)) = &self.credentials
            && let Some(c) = used.iter().find(|c| c.section == section && c.key == key)
        {
            return credentials::describe(c.name, dir);
        }
        let profile = self.profile_name.as_deref().unwrap_or("?");
        match &self.path {
            Some(p) => format!("{key} in [profiles.{profile}.{section}] of {}", p.display()),
            None => key.to_string(),
        }
    }
}

/// Checks that the file a setting names can be read, before anything uses it;
/// the error names the setting (`key`, see [`Loaded::key`]) and the file.
pub fn check_readable(path: &Path, key: &str) -> Result<()> {
    std::fs::File::open(path).map(|_| ()).map_err(|e| {
        Error::config(format!("cannot read {} ({key}): {e}", path.display()))
            .with_hint(format!("fix or remove {key}"))
    })
}

/// Reads a secret file, trimming one trailing newline. `key` names the
/// setting that names the file (see [`Loaded::key`]) and `env` the variable
/// that can hold the secret instead.
///
/// A file that holds nothing but line endings is an error naming the file: an
/// empty client secret would otherwise be sent to the tenant (which refuses it
/// in its own words, naming no file), and an empty password is refused later
/// without saying where it came from.
pub fn read_secret_file(path: &Path, key: &str, env: &str) -> Result<secrecy::SecretString> {
    let create = format!(
        "create the file (readable only by the account that runs dwb), fix {key}, \
         or set {env} instead"
    );
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::config(format!("cannot read the secret file {} ({key}): {e}", path.display()))
            .with_hint(create.clone())
    })?;
    if text.chars().all(|c| matches!(c, '\n' | '\r')) {
        return Err(Error::config(format!("the secret file {} ({key}) is empty", path.display()))
            .with_hint(format!("write the secret into it, fix {key}, or set {env} instead")));
    }
    let t = text.strip_suffix('\n').unwrap_or(&text);
    let t = t.strip_suffix('\r').unwrap_or(t);
    Ok(secrecy::SecretString::from(t.to_string()))
}

/// Writes `[profiles.<profile>.writeback] <key> = <value>` into a config file,
/// keeping its comments and layout (creates the file if needed).
pub fn set_value(path: &Path, profile: &str, key: &str, value: &str) -> Result<()> {
    let text = if path.exists() {
        std::fs::read_to_string(path)
            .map_err(|e| Error::config(format!("reading {}: {e}", path.display())))?
    } else {
        String::new()
    };
    let mut doc: toml_edit::DocumentMut =
        text.parse().map_err(|e| Error::config(format!("{}: {e}", path.display())))?;
    let profiles = doc.entry("profiles").or_insert(toml_edit::table());
    let p = profiles
        .as_table_mut()
        .ok_or_else(|| Error::config("`profiles` is not a table"))?
        .entry(profile)
        .or_insert(toml_edit::table());
    let wb = p
        .as_table_mut()
        .ok_or_else(|| Error::config(format!("profile `{profile}` is not a table")))?
        .entry("writeback")
        .or_insert(toml_edit::table());
    wb[key] = toml_edit::value(value);
    // Check the result is still a valid dwb config before replacing the file.
    parse(&doc.to_string(), path)?;
    crate::fsutil::write_atomic(path, doc.to_string().as_bytes())
        .map_err(|e| Error::config(format!("replacing {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    #[test]
    fn type_errors_are_in_the_files_terms() {
        let e = parse(
            "default_profile = \"lab\"\n[profiles.lab.writeback]\ndelete_threshold = \"x\"\n",
            Path::new("dwb.toml"),
        )
        .unwrap_err();
        assert!(
            e.message.ends_with("delete_threshold must be a whole number, not a string (\"x\")"),
            "{}",
            e.message
        );
        assert!(e.message.starts_with("dwb.toml:3:"), "{}", e.message);
    }

    use super::*;

    #[test]
    fn out_of_range_values_are_errors_naming_the_setting() {
        let p = Path::new("dwb.toml");
        let e =
            parse("[profiles.prod.writeback]\ndelete_threshold_percent = 150\n", p).unwrap_err();
        assert_eq!(e.kind, Kind::Config);
        assert!(
            e.message.starts_with(
                "delete_threshold_percent in [profiles.prod.writeback] of dwb.toml is 150"
            ),
            "{}",
            e.message
        );
        for bad in ["-1", "-0.5", "nan", "inf"] {
            let text = format!("[profiles.prod.writeback]\nmax_writes_per_second = {bad}\n");
            let e = parse(&text, p).unwrap_err();
            assert!(
                e.message.starts_with("max_writes_per_second in [profiles.prod.writeback]"),
                "{bad}: {}",
                e.message
            );
        }
        let e = parse("[profiles.prod.ldap]\ntimeout_secs = -1\n", p).unwrap_err();
        assert!(
            e.message.ends_with("timeout_secs must be a whole number of 0 or more, not -1"),
            "{}",
            e.message
        );
        assert!(e.message.starts_with("dwb.toml:2:"), "{}", e.message);
        // The limits themselves are fine.
        parse(
            "[profiles.prod.writeback]\ndelete_threshold_percent = 100\nmax_writes_per_second = 0\n",
            p,
        )
        .unwrap();
    }

    #[test]
    fn unknown_key_suggests() {
        let e =
            parse("[profiles.x.ldap]\nurll = \"ldaps://dc\"\n", Path::new("dwb.toml")).unwrap_err();
        assert!(e.message.contains("dwb.toml:2:1"), "{}", e.message);
        assert!(e.message.contains("did you mean `url`?"), "{}", e.message);
    }

    #[test]
    fn set_value_keeps_comments() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("dwb.toml");
        std::fs::write(&p, "# site config\n[profiles.lab.ldap]\nurl = \"ldaps://dc\" # the DC\n")
            .unwrap();
        set_value(&p, "lab", "container", "CN=RegisteredDevices,DC=contoso,DC=test").unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains("# the DC") && text.contains("[profiles.lab.writeback]"), "{text}");
        assert_eq!(
            parse(&text, &p).unwrap().profiles["lab"]
                .writeback
                .as_ref()
                .unwrap()
                .container
                .as_deref(),
            Some("CN=RegisteredDevices,DC=contoso,DC=test")
        );
    }

    #[test]
    fn kerberos_keys() {
        let text = "[profiles.k.ldap]\nurl = \"ldap://dc1\"\nauth = \"kerberos\"\n\
                    spn_host = \"dc1.contoso.test\"\nkeytab = \"/etc/dwb/svc.keytab\"\n";
        let c = parse(text, Path::new("dwb.toml")).unwrap();
        let l = c.profiles["k"].ldap.clone().unwrap();
        assert_eq!(l.auth, Some(AuthMethod::Kerberos));
        assert_eq!(l.spn_host.as_deref(), Some("dc1.contoso.test"));
        assert_eq!(l.keytab.as_deref(), Some(Path::new("/etc/dwb/svc.keytab")));
        let e = parse("[profiles.k.ldap]\nauth = \"gssapi\"\n", Path::new("dwb.toml")).unwrap_err();
        assert!(e.message.contains("expected `simple` or `kerberos`"), "{}", e.message);
        // The example every `dwb init` writes is a valid config.
        parse(crate::embedded::EXAMPLE_CONFIG, Path::new("examples/dwb.toml")).unwrap();
    }

    #[test]
    fn a_credential_is_read_as_its_setting_and_errors_name_it() {
        use secrecy::ExposeSecret;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ldap-password"), "pa55\n").unwrap();
        let mut profile = Profile::default();
        let used = credentials::apply(&mut profile, dir.path());
        let l = Loaded {
            path: Some("dwb.toml".into()),
            profile_name: Some("prod".into()),
            profile,
            credentials: Some((dir.path().to_path_buf(), used)),
        };
        let key = l.key("ldap", "password_file");
        assert!(key.starts_with("the credential ldap-password in $CREDENTIALS_DIRECTORY"), "{key}");
        let file = l.profile.ldap.as_ref().unwrap().password_file.clone().unwrap();
        let secret = read_secret_file(&file, &key, "DWB_LDAP_PASSWORD").unwrap();
        assert_eq!(secret.expose_secret(), "pa55");
        // The settings no credential replaced are named as before.
        assert_eq!(
            l.key("graph", "client_secret_file"),
            "client_secret_file in [profiles.prod.graph] of dwb.toml"
        );
        let e = read_secret_file(&dir.path().join("gone"), &key, "DWB_LDAP_PASSWORD").unwrap_err();
        assert!(e.message.contains("(the credential ldap-password in $CREDENTIALS_DIRECTORY"));
    }

    #[test]
    fn an_empty_secret_file_is_an_error_naming_it() {
        use secrecy::ExposeSecret;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("graph-secret");
        let key = "client_secret_file in [profiles.prod.graph] of dwb.toml";
        for empty in ["", "\n", "\r\n", "\n\n"] {
            std::fs::write(&f, empty).unwrap();
            let e = read_secret_file(&f, key, "DWB_GRAPH_CLIENT_SECRET").unwrap_err();
            assert_eq!(e.kind, Kind::Config, "{empty:?}");
            assert!(e.message.contains(&format!("({key}) is empty")), "{}", e.message);
        }
        // One line ending is trimmed, CRLF too; the rest is the secret.
        for (text, secret) in [("s3cret\r\n", "s3cret"), ("s3cret\n", "s3cret"), (" x ", " x ")] {
            std::fs::write(&f, text).unwrap();
            let s = read_secret_file(&f, key, "DWB_GRAPH_CLIENT_SECRET").unwrap();
            assert_eq!(s.expose_secret(), secret);
        }
    }

    #[test]
    fn the_packaged_service_example_is_a_valid_config() {
        let c = parse(include_str!("../dist/dwb.toml"), Path::new("dist/dwb.toml")).unwrap();
        assert_eq!(c.default_profile.as_deref(), Some("prod"));
        assert!(c.profiles["prod"].ldap.as_ref().unwrap().password_file.is_none());
    }

    #[test]
    fn parses_profiles() {
        let c = parse("default_profile = \"lab\"\n[profiles.lab.ldap]\nurl = \"ldaps://127.0.0.2\"\nallow_insecure = false\n[profiles.lab.writeback]\ndelete_threshold = 10\n", Path::new("x")).unwrap();
        assert_eq!(
            c.profiles["lab"].ldap.as_ref().unwrap().url.as_deref(),
            Some("ldaps://127.0.0.2")
        );
    }
}
