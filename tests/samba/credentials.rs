//! dwb as the packaged service runs it, against a real DC: the bind password is
//! the `ldap-password` credential systemd hands over in `$CREDENTIALS_DIRECTORY`,
//! not the file the profile names (which a `DynamicUser=` account could not read).

use std::process::Stdio;

use crate::support::Dir;
use crate::support::samba::SambaDc;

#[test]
fn the_ldap_password_credential_is_what_dwb_binds_with() {
    let dc = SambaDc::shared();
    let d = Dir::new();
    let config = d.write(
        "etc/dwb.toml",
        &format!(
            "[profiles.prod.ldap]\nurl = \"{}\"\nuser = '{}'\nca_file = '{}'\n\
             password_file = \"/nonexistent/ldap-password\"\n",
            dc.url_ldaps(),
            dc.admin_user(),
            dc.ca_file().display()
        ),
    );
    d.write("sid.rhai", "print(`sid=${ad::domain_sid()}`);\n");
    let creds = d.join("credentials");
    std::fs::create_dir_all(&creds).unwrap();
    let run = |password: &str| {
        std::fs::write(creds.join("ldap-password"), format!("{password}\n")).unwrap();
        let o = d
            .dwb()
            .args(["run", "sid.rhai", "--profile", "prod"])
            .env("DWB_CONFIG", &config)
            .env("CREDENTIALS_DIRECTORY", &creds)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let (out, err) =
            (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr));
        assert!(!out.contains(password) && !err.contains(password), "the password was printed");
        (o.status.code(), format!("{out}\n--- stderr ---\n{err}"))
    };
    let (code, text) = run(dc.admin_password());
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("sid=S-1-5-21-"), "{text}");
    // A wrong password in the credential is what the DC refuses.
    let (code, text) = run("Wr0ng-Adm1n-Secret!");
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("invalid_credentials"), "{text}");
}

/// The `keytab` credential stands in for the profile's `keytab`: a Kerberos bind
/// (sealed `ldap://`) from it, with no credential cache read or written.
#[cfg(feature = "kerberos")]
#[test]
fn the_keytab_credential_is_what_dwb_binds_with() {
    use crate::support::samba::{REALM, ccache_name};
    let dc = SambaDc::shared();
    let krb5 = dc.krb5_conf();
    let d = Dir::new();
    let config = d.write(
        "etc/dwb.toml",
        &format!(
            "[profiles.prod.ldap]\nurl = \"{}\"\nauth = \"kerberos\"\n\
             keytab = \"/nonexistent/svc-dwb.keytab\"\n",
            dc.url_ldap()
        ),
    );
    d.write("sid.rhai", "print(`sid=${ad::domain_sid()}`);\n");
    let creds = d.join("credentials");
    std::fs::create_dir_all(&creds).unwrap();
    dc.export_keytab(&format!("Administrator@{REALM}"), &creds.join("keytab"));
    // The units' default for the credentials not provided.
    std::fs::write(creds.join("ldap-password"), "\n").unwrap();
    let cache = d.join("cc-never-created");
    let o = d
        .dwb()
        .args(["run", "sid.rhai", "--profile", "prod"])
        .env("DWB_CONFIG", &config)
        .env("CREDENTIALS_DIRECTORY", &creds)
        .env("KRB5_CONFIG", krb5)
        .env("KRB5CCNAME", ccache_name(&cache))
        .env_remove("KRB5_CLIENT_KTNAME")
        .env_remove("KRB5_KTNAME")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = format!(
        "{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(text.contains("sid=S-1-5-21-"), "{text}");
    assert!(!cache.exists(), "dwb wrote the credential cache KRB5CCNAME names");
}
