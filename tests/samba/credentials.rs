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
