//! The application permissions an app-only token carries (its `roles` claim)
//! and what a sync needs of them, checked before anything is read, so that a
//! missing permission is an error naming it rather than data Graph leaves out.
//!
//! An app-only access token of the Microsoft identity platform is a JWT whose
//! payload has `roles`, "the set of permissions exposed by your application
//! that the requesting application has been given permission to call"
//! (Microsoft identity platform, "Access token claims reference"). dwb does not
//! validate the token (Graph does); it only reads the claim. Delegated tokens
//! carry `scp` instead and are not checked here.
//!
//! What each read needs ("List devices": Device.Read.All, least privileged, or
//! Directory.Read.All; "List registeredOwners"/"registeredUsers": without
//! User.Read.All (or Directory.Read.All) the users come back as "limited
//! information", `id` and `@odata.type` only, so their on-premises SIDs are
//! unknown).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::ExposeSecret;
use serde_json::Value;

use super::error::{GraphError, Reason, Result};
use super::{GraphClient, TokenKind};

/// Permissions that let an app read devices, strongest last.
pub const DEVICE_READ: &[&str] =
    &["Device.Read.All", "Device.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"];

/// Permissions that let an app read users' `onPremisesSecurityIdentifier`.
pub const USER_READ: &[&str] =
    &["User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"];

/// The `roles` claim of a JWT access token; `None` when the token is not a
/// JWT with a readable payload (an opaque token says nothing).
pub fn token_roles(token: &str) -> Option<Vec<String>> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    let roles = match claims.get("roles") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        Some(_) => return None,
    };
    Some(roles)
}

fn has(roles: &[String], any_of: &[&str]) -> bool {
    roles.iter().any(|r| any_of.iter().any(|p| r.eq_ignore_ascii_case(p)))
}

/// Checks `roles` for a sync: devices always, users when owners or registered
/// users are written (`users`).
pub fn check_roles(roles: &[String], users: bool) -> Result<()> {
    let have = if roles.is_empty() { "none".to_string() } else { roles.join(", ") };
    if !has(roles, DEVICE_READ) {
        return Err(GraphError::new(
            Reason::Forbidden,
            format!(
                "the app's token lacks the application permission Device.Read.All (or \
                 Directory.Read.All), which listing devices needs; it has: {have}. Grant it \
                 (with admin consent) to the app registration"
            ),
        ));
    }
    if users && !has(roles, USER_READ) {
        return Err(GraphError::new(
            Reason::Forbidden,
            format!(
                "the app's token lacks the application permission User.Read.All (or \
                 Directory.Read.All): without it Graph sends the registered owners and users \
                 without their on-premises SIDs, so msDS-RegisteredOwner and msDS-RegisteredUsers \
                 cannot be written; it has: {have}. Grant it (with admin consent), or turn those \
                 attributes off: sync's --param owners=false --param registered_users=false \
                 (writeback::sync_devices: owners: false, optional_attributes: \
                 #{{ registered_users: false }}); a sync then removes the values dwb wrote to \
                 them, as for every attribute it stops managing"
            ),
        ));
    }
    Ok(())
}

impl GraphClient {
    /// The application permissions of the app-only token (its `roles`);
    /// `None` for a delegated token or one that is not a readable JWT.
    pub async fn app_roles(&self) -> Result<Option<Vec<String>>> {
        if self.token_kind() != TokenKind::AppOnly {
            return Ok(None);
        }
        let token = self.inner.auth.token(&self.inner).await?;
        Ok(token_roles(token.expose_secret()))
    }

    /// Checks the token's permissions for a sync (see [`check_roles`]); a
    /// token whose roles cannot be read is let through (Graph decides).
    pub async fn check_sync_permissions(&self, users: bool) -> Result<()> {
        match self.app_roles().await? {
            Some(roles) => check_roles(&roles, users),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: Value) -> String {
        let enc = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        format!("{}.{}.sig", enc(&serde_json::json!({"typ": "JWT", "alg": "RS256"})), enc(&claims))
    }

    #[test]
    fn roles_are_read_from_the_payload() {
        let t = jwt(serde_json::json!({"roles": ["Device.Read.All", "User.Read.All"]}));
        assert_eq!(token_roles(&t).unwrap(), ["Device.Read.All", "User.Read.All"]);
        assert_eq!(
            token_roles(&jwt(serde_json::json!({"aud": "x"}))).unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(token_roles("opaque-token"), None);
        assert_eq!(token_roles("a.!!!.c"), None);
    }

    #[test]
    fn a_sync_needs_devices_and_for_owners_users() {
        let r = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(check_roles(&r(&["Device.Read.All", "User.Read.All"]), true).is_ok());
        assert!(check_roles(&r(&["Directory.Read.All"]), true).is_ok());
        assert!(check_roles(&r(&["Device.Read.All"]), false).is_ok());
        let e = check_roles(&r(&["Device.Read.All"]), true).unwrap_err();
        assert!(e.to_string().contains("User.Read.All") && e.to_string().contains("owners=false"));
        let e = check_roles(&r(&["User.Read.All"]), false).unwrap_err();
        assert!(e.to_string().contains("Device.Read.All"), "{e}");
    }
}
