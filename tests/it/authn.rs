//! Password authentication through the server's service layer, on both backends: imported
//! bcrypt hashes work and are upgraded to Argon2id on the first successful login, and every
//! failure looks the same to the caller while the audit log records why.

use crate::on_both_backends;
use crate::support::server::{Backend, Installation};
use gatehouse_core::{AuditContext, EventAction, EventQuery};
use gatehouse_server::authn::{LoginError, authenticate_password};

/// Services opened in-process on the installation's database and data directory.
async fn services(installation: &Installation) -> gatehouse_server::Services {
    let mut config = gatehouse_server::Config {
        data_dir: installation.data_dir().to_path_buf(),
        ..gatehouse_server::Config::default()
    };
    config.password_hashing.memory_kib = 1024;
    config.password_hashing.iterations = 1;
    if let Some(pg) = &installation.postgres {
        config.postgresql.host = Some(pg.host.clone());
        config.postgresql.port = pg.port;
        config.postgresql.user = pg.user.clone();
        config.postgresql.name = pg.database.clone();
        config.postgresql.sslmode = gatehouse_store::SslMode::Disable;
    }
    let services = gatehouse_server::Services::open(config)
        .await
        .expect("services");
    services.sql.migrate().await.expect("migrate");
    services
}

async fn bcrypt_import_is_upgraded_on_first_login(backend: Backend) {
    let installation = Installation::new(backend).await;
    // A Dex-style import: the bcrypt hash of "imported passphrase" at cost 4.
    let bcrypt_hash = bcrypt::hash("imported passphrase", 4).expect("bcrypt");
    let document = installation.data_dir().join("import.yaml");
    std::fs::write(
        &document,
        format!("users:\n  - username: dex-user\n    email: dex@example.com\n    password_hash: \"{bcrypt_hash}\"\n"),
    )
    .expect("write");
    installation.cli_ok(&["apply", "-f", document.to_str().expect("path")], None);

    let services = services(&installation).await;
    let audit = AuditContext {
        actor: "test".into(),
        client_ip: Some("192.0.2.7".into()),
        ..AuditContext::default()
    };

    let wrong = authenticate_password(&services, "dex-user", "not the passphrase", &audit).await;
    assert_eq!(wrong, Err(LoginError::InvalidCredentials));
    let stored = services
        .store
        .user_by_username("dex-user")
        .await
        .expect("lookup")
        .expect("user");
    assert_eq!(
        stored.password_hash.as_deref(),
        Some(bcrypt_hash.as_str()),
        "a failed login changes nothing"
    );

    let user = authenticate_password(&services, "dex-user", "imported passphrase", &audit)
        .await
        .expect("login");
    let upgraded = services
        .store
        .user_by_username("dex-user")
        .await
        .expect("lookup")
        .expect("user");
    let new_hash = upgraded.password_hash.expect("hash");
    assert!(new_hash.starts_with("$argon2id$"), "rehashed: {new_hash}");
    assert!(upgraded.last_login.is_some());
    assert_eq!(user.id, upgraded.id);
    // The upgraded hash still accepts the same password, and stays put afterwards.
    authenticate_password(&services, "dex-user", "imported passphrase", &audit)
        .await
        .expect("login again");
    let after = services
        .store
        .user_by_username("dex-user")
        .await
        .expect("lookup")
        .expect("user");
    assert_eq!(after.password_hash.as_deref(), Some(new_hash.as_str()));

    // Unknown and deactivated users get the same answer as a wrong password.
    assert_eq!(
        authenticate_password(&services, "nobody", "x", &audit).await,
        Err(LoginError::InvalidCredentials)
    );
    installation.cli_ok(&["user", "deactivate", "dex-user"], None);
    assert_eq!(
        authenticate_password(&services, "dex-user", "imported passphrase", &audit).await,
        Err(LoginError::InvalidCredentials)
    );

    let events = services
        .store
        .list_events(&EventQuery {
            limit: 100,
            ..EventQuery::default()
        })
        .await
        .expect("events");
    let logins = events
        .items
        .iter()
        .filter(|e| e.action == EventAction::Login)
        .count();
    let failures: Vec<_> = events
        .items
        .iter()
        .filter(|e| e.action == EventAction::LoginFailed)
        .collect();
    assert_eq!(logins, 2);
    assert_eq!(failures.len(), 3);
    assert!(
        failures
            .iter()
            .all(|e| e.client_ip.as_deref() == Some("192.0.2.7"))
    );
    let reasons: Vec<_> = failures
        .iter()
        .filter_map(|e| e.context.get("reason").and_then(|r| r.as_str()))
        .collect();
    for reason in [
        "wrong password",
        "unknown user or no password",
        "user is deactivated",
    ] {
        assert!(reasons.contains(&reason), "{reasons:?}");
    }
    assert!(
        !serde_json::to_string(&events.items)
            .expect("json")
            .contains("imported passphrase")
    );
}

on_both_backends!(bcrypt_import_is_upgraded_on_first_login);
