//! `ad::prove_connector`: binds as the connector account and proves what the
//! Entra Connect wizard needs it to do — read the DeviceRegistrationService the
//! way the wizard's probe does, and create and delete a device in the
//! container. The probe device is deleted again at once; under `--dry-run`
//! only the read is done. What happened is returned and belongs in the report.

use std::sync::Arc;

use rhai::{Dynamic, ImmutableString, Map, Module};

use crate::ad::{Scope, SearchRequest, WriteOp};
use crate::bindings::convert::to_dn;
use crate::bindings::options::Options;
use crate::bindings::register::{OrRhai, bind};
use crate::directory::{Attr, Filter, Guid};
use crate::error::{Kind, Result};
use crate::host::Host;

fn password(opts: &Map) -> Result<Option<secrecy::SecretString>> {
    let o = Options::read(opts, "ad::prove_connector", &["password_env", "password_file"])?;
    let env = o.string("password_env")?.unwrap_or_else(|| "DWB_CONNECTOR_PASSWORD".into());
    if let Ok(p) = std::env::var(&env)
        && !p.is_empty()
    {
        return Ok(Some(secrecy::SecretString::from(p)));
    }
    match o.string("password_file")? {
        Some(f) => crate::config::read_secret_file(
            std::path::Path::new(&f),
            "the password_file option of ad::prove_connector",
            &env,
        )
        .map(Some),
        None => Ok(None),
    }
}

fn prove(host: &Host, user: &str, container: &Dynamic, opts: &Map) -> Result<Map> {
    Options::read(opts, "ad::prove_connector", &["password_env", "password_file"])?;
    let container = to_dn(container)?;
    let mut out = Map::new();
    out.insert("account".into(), user.into());
    let Some(pw) = password(opts)? else {
        out.insert("status".into(), "skipped".into());
        out.insert("reason".into(), "no connector password: set DWB_CONNECTOR_PASSWORD (or give password_file) to prove the account's rights".into());
        return Ok(out);
    };
    let base = host.base_dir()?;
    let conn = match base.bind_as(user, &pw) {
        Ok(c) => c,
        Err(e) if e.kind == Kind::InvalidArgument => {
            out.insert("status".into(), "skipped".into());
            out.insert("reason".into(), e.message.into());
            return Ok(out);
        }
        Err(e) => return Err(e),
    };
    // The wizard's own probe (device-writeback.md §D.1 #6): subtree of CN=Services for the DRS object.
    let config = base.root_dse()?.config_nc()?;
    let req = SearchRequest::new(
        config.child("CN", "Services")?,
        Scope::Subtree,
        Filter::eq("objectClass", "msDS-DeviceRegistrationService"),
    )
    .attrs(["msDS-DeviceLocation", "name", "distinguishedName", "objectClass"]);
    let drs = conn.search_all(&req)?;
    out.insert("read_drs".into(), (drs.len() == 1).into());
    if host.dry_run {
        out.insert("status".into(), "read_only".into());
        out.insert("reason".into(), "dry run: the create/delete probe was not run".into());
        return Ok(out);
    }
    let id = Guid::new_random();
    let probe = container.child("CN", &format!("dwb-probe-{id}"))?;
    let add = WriteOp::Add {
        dn: probe.clone(),
        attrs: vec![
            Attr::text("objectClass", ["msDS-Device"]),
            Attr::new("msDS-DeviceID", vec![id.to_bytes().to_vec()]),
            Attr::text("msDS-IsEnabled", ["FALSE"]),
            Attr::text("displayName", ["dwb permission probe (deleted at once)"]),
            Attr::text("altSecurityIdentities", ["X509:<SHA1-TP-PUBKEY>dwb-permission-probe"]),
        ],
    };
    out.insert("probe_dn".into(), probe.to_string().into());
    match conn.write(&add) {
        Ok(()) => {
            out.insert("created".into(), true.into());
            let deleted = conn.write(&WriteOp::Delete { dn: probe.clone() });
            // Clean up with the admin connection if the connector cannot delete.
            let cleaned =
                deleted.is_ok() || base.write(&WriteOp::Delete { dn: probe.clone() }).is_ok();
            out.insert("deleted".into(), deleted.is_ok().into());
            out.insert("cleaned_up".into(), cleaned.into());
            if let Err(e) = deleted {
                out.insert("error".into(), e.to_string().into());
            }
        }
        Err(e) => {
            out.insert("created".into(), false.into());
            out.insert("deleted".into(), false.into());
            out.insert("cleaned_up".into(), true.into());
            out.insert("error".into(), e.to_string().into());
        }
    }
    out.insert("status".into(), "probed".into());
    Ok(out)
}

/// Adds `ad::prove_connector` to the `ad::` module.
pub(super) fn register(m: &mut Module, host: Arc<Host>) {
    let h = host.clone();
    bind!(
        /// Binds as the connector account (password from `DWB_CONNECTOR_PASSWORD`, or `#{ password_env: "VAR", password_file: "path" }`) and proves it can read the DeviceRegistrationService and create and delete a device in `container`. The probe device is deleted at once (by the admin connection if the connector cannot); under `--dry-run` only the read runs. Returns `#{ status: "probed"|"read_only"|"skipped", read_drs, created, deleted, cleaned_up, probe_dn, error, reason }` (keys present as the status needs).
        /// # Example
        /// ```rhai
        /// let devices = "CN=RegisteredDevices,DC=contoso,DC=test";
        /// let r = ad::prove_connector("CONTOSO\\svc-dwb", devices, #{ password_env: "DWB_CONNECTOR_PASSWORD" });
        /// if r.status == "probed" && !(r.created && r.deleted) { print(`probe failed: ${r.error}`); }
        /// ```
        /// # Errors
        /// `invalid_credentials` (wrong password), `unknown_option`, `config` (the password file cannot be read), `invalid_dn`; a failed create or delete is reported in the map, not thrown.
        m,
        "prove_connector",
        ["account", "container: Dn|String", "options"],
        move |user: ImmutableString, c: Dynamic, o: Map| prove(&h, &user, &c, &o).rhai(),
    );
}
