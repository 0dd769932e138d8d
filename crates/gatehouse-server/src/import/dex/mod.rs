//! `gatehouse import dex`: a Dex configuration file read, checked and translated into the
//! declarative document, with a report. Everything that can go wrong with the file (bad
//! YAML, a missing environment variable, a malformed hash or URL) is found here, before
//! anything is written, so a failed import imports nothing.

pub mod config;
mod connectors;
pub mod duration;
pub mod expand;
pub mod report;
pub mod translate;

pub use report::{Report, Section};
pub use translate::Translation;

use crate::declarative::Snapshot;

/// Reads `text` as a Dex configuration and translates it; `env` looks up environment
/// variables (the process environment in the CLI, a table in tests).
pub fn import(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    current: &Snapshot,
    base_url: &str,
) -> Result<Translation, String> {
    let mut config = config::parse(text)?;
    for (index, connector) in config.connectors.iter_mut().enumerate() {
        if let Some(settings) = connector.config.as_mut() {
            expand::expand_value(settings, &format!("connectors[{index}].config"), env)?;
        }
    }
    translate::translate(&config, env, current, base_url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::declarative::UserSpec;
    use gatehouse_core::{User, UserId, UserType};

    const ADMIN_HASH: &str = "$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W";

    fn env(name: &str) -> Option<String> {
        match name {
            "GRAFANA_SECRET" => Some("grafana-secret".into()),
            "FORGEJO_SECRET" => Some("forgejo-secret".into()),
            "ALICE_HASH" => Some(ADMIN_HASH.into()),
            _ => None,
        }
    }

    fn config() -> String {
        format!(
            r#"
issuer: https://dex.example.com/dex
storage: {{type: sqlite3, config: {{file: /var/dex/dex.db}}}}
web: {{http: 0.0.0.0:5556}}
expiry:
  idTokens: 1h
  refreshTokens: {{validIfNotUsedFor: 168h, absoluteLifetime: 720h}}
oauth2: {{skipApprovalScreen: true}}
connectors:
- type: gitea
  id: forgejo
  name: Forgejo
  config: {{clientID: gatehouse, clientSecret: $FORGEJO_SECRET, baseURL: https://git.example.com}}
staticClients:
- id: grafana
  name: Grafana
  secretEnv: GRAFANA_SECRET
  redirectURIs: [https://grafana.example.com/login/generic_oauth]
- id: kubectl
  public: true
  trustedPeers: [grafana]
enablePasswordDB: true
staticPasswords:
- email: admin@example.com
  hash: "{ADMIN_HASH}"
  username: admin
  userID: 08a8684b-db88-4b73-90a9-3cd1661f5466
  groups: [ops]
- email: alice@example.com
  hashFromEnv: ALICE_HASH
  username: "not a valid name!"
  userID: alice-1
"#
        )
    }

    fn user(username: &str, attributes: serde_json::Value) -> User {
        User {
            id: UserId::new(),
            username: username.into(),
            name: username.into(),
            email: None,
            email_verified: false,
            active: true,
            user_type: UserType::Internal,
            password_hash: None,
            attributes: attributes.as_object().cloned().unwrap_or_default(),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            last_login: None,
        }
    }

    /// Imports `text` into an empty installation.
    fn import_fresh(text: &str) -> Result<Translation, String> {
        import(text, &env, &Snapshot::default(), "https://id.example.com")
    }

    fn users(translation: &Translation) -> Vec<&UserSpec> {
        translation.document.users.iter().collect()
    }

    #[test]
    fn clients_keep_their_ids_secrets_and_redirects() -> Result<(), String> {
        let t = import_fresh(&config())?;
        let apps = &t.document.applications;
        assert_eq!(apps.len(), 2);
        let grafana = apps[0].oidc.as_ref().ok_or("oidc")?;
        assert_eq!(apps[0].slug, "grafana");
        assert_eq!(grafana.client_id.as_deref(), Some("grafana"));
        assert_eq!(grafana.client_secret.as_deref(), Some("grafana-secret"));
        assert_eq!(
            grafana.redirect_uris.as_deref(),
            Some(&["https://grafana.example.com/login/generic_oauth".to_owned()][..])
        );
        assert_eq!(grafana.subject_mode.as_deref(), Some("dex"));
        assert_eq!(grafana.consent.as_deref(), Some("implicit"));
        assert_eq!(grafana.access_token_lifetime, Some(3600));
        assert_eq!(grafana.refresh_token_lifetime, Some(168 * 3600));
        let kubectl = apps[1].oidc.as_ref().ok_or("oidc")?;
        assert_eq!(kubectl.public, Some(true));
        assert_eq!(kubectl.client_secret, None);
        assert!(
            kubectl
                .redirect_uris
                .as_ref()
                .is_some_and(|uris| uris.iter().any(|u| u == "http://127.0.0.1/"))
        );
        let text = t.report.to_string();
        assert!(text.contains("trustedPeers"), "{text}");
        assert!(text.contains("absoluteLifetime"), "{text}");
        assert!(text.contains("storage"), "{text}");
        assert!(
            text.contains("https://id.example.com/application/o/grafana/"),
            "{text}"
        );
        assert!(text.contains("https://dex.example.com/dex"), "{text}");
        Ok(())
    }

    #[test]
    fn static_passwords_keep_hashes_and_dex_identity() -> Result<(), String> {
        let t = import_fresh(&config())?;
        let users = users(&t);
        assert_eq!(users[0].username, "admin");
        assert_eq!(users[0].password_hash.as_deref(), Some(ADMIN_HASH));
        assert_eq!(users[0].email_verified, Some(true));
        assert_eq!(users[0].groups.as_deref(), Some(&["ops".to_owned()][..]));
        let attributes = users[0].attributes.as_ref().ok_or("attributes")?;
        assert_eq!(
            attributes["dex_user_id"],
            "08a8684b-db88-4b73-90a9-3cd1661f5466"
        );
        assert_eq!(attributes["dex_connector_id"], "local");
        // An invalid Dex username falls back to the email address, with a note.
        assert_eq!(users[1].username, "alice@example.com");
        assert_eq!(users[1].password_hash.as_deref(), Some(ADMIN_HASH));
        assert!(
            t.report
                .section(Section::Changed)
                .any(|n| n.place == "staticPasswords[1]")
        );
        assert_eq!(t.document.groups.len(), 1);
        assert!(
            t.report
                .to_string()
                .contains("CiQwOGE4Njg0Yi1kYjg4LTRiNzMtOTBhOS0zY2QxNjYxZjU0NjYSBWxvY2Fs")
        );
        Ok(())
    }

    #[test]
    fn a_local_user_with_the_same_name_is_never_taken_over() -> Result<(), String> {
        let mut current = Snapshot::default();
        current.users.insert(
            "admin".into(),
            (user("admin", serde_json::json!({})), Vec::new()),
        );
        let t = import(&config(), &env, &current, "https://id.example.com")?;
        assert_eq!(users(&t)[0].username, "admin@example.com");
        Ok(())
    }

    #[test]
    fn a_second_import_keeps_names_and_passwords() -> Result<(), String> {
        let mut current = Snapshot::default();
        let imported = user(
            "admin-renamed",
            serde_json::json!({"dex_user_id": "08a8684b-db88-4b73-90a9-3cd1661f5466", "dex_connector_id": "local", "team": "ops"}),
        );
        current
            .users
            .insert("admin-renamed".into(), (imported, Vec::new()));
        let t = import(&config(), &env, &current, "https://id.example.com")?;
        let admin = users(&t)[0];
        assert_eq!(admin.username, "admin-renamed");
        assert_eq!(admin.password_hash, None);
        let attributes = admin.attributes.as_ref().ok_or("attributes")?;
        assert_eq!(attributes["team"], "ops");
        Ok(())
    }

    #[test]
    fn bad_input_is_refused_with_its_place() {
        let cases = [
            (
                config().replace("secretEnv: GRAFANA_SECRET", "secretEnv: NOPE"),
                "staticClients[0].secretEnv: environment variable NOPE is not set",
            ),
            (
                config().replace("$FORGEJO_SECRET", "\"${MISSING_VAR}\""),
                "connectors[0].config.clientSecret: environment variable MISSING_VAR is not set",
            ),
            (
                config().replace("enablePasswordDB: true", "enablePasswordDB: false"),
                "enablePasswordDB",
            ),
            (
                config().replace(ADMIN_HASH, "plaintext"),
                "staticPasswords[0].hash: not a bcrypt hash",
            ),
            (
                config().replace("idTokens: 1h", "idTokens: 1 day"),
                "expiry.idTokens",
            ),
            (
                config().replace(
                    "https://grafana.example.com/login/generic_oauth",
                    "not a url",
                ),
                "staticClients[0].redirectURIs[0]",
            ),
            (
                config().replace("  userID: alice-1\n", ""),
                "staticPasswords[1].userID",
            ),
            ("issuer: [".to_owned(), "not valid YAML"),
        ];
        for (text, expected) in cases {
            let error = import_fresh(&text).expect_err(expected);
            assert!(error.contains(expected), "{expected}: {error}");
        }
    }

    #[test]
    fn unknown_keys_are_reported_not_fatal() -> Result<(), String> {
        let text = config().replace("oauth2: {", "colour: blue\noauth2: {typo: 1, ");
        let t = import_fresh(&text)?;
        let unknown: Vec<&str> = t
            .report
            .section(Section::Unknown)
            .map(|n| n.place.as_str())
            .collect();
        assert_eq!(unknown, ["colour", "oauth2.typo"]);
        Ok(())
    }

    #[test]
    fn base64_wrapped_hashes_of_old_configurations_are_read() -> Result<(), String> {
        use base64::Engine;
        let wrapped = base64::engine::general_purpose::STANDARD.encode(ADMIN_HASH);
        let text = config().replace(ADMIN_HASH, &wrapped);
        let t = import_fresh(&text)?;
        assert_eq!(users(&t)[0].password_hash.as_deref(), Some(ADMIN_HASH));
        Ok(())
    }
}
