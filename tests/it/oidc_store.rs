//! The OAuth2 parts of the store suite on both backends: applications with their providers
//! (uniqueness, group resolution, secret replacement, cascading deletion) and grant
//! artefacts (single-use exchange by compare-and-set, family revocation, expiry sweep,
//! batched issuing).

use chrono::{Duration, Utc};
use gatehouse_core::{
    ApplicationStore, AuditContext, ClientType, EventAction, EventQuery, EventStore, GrantFamilyId,
    GroupStore, IssuedGrant, NewApplication, NewEvent, NewGroup, NewOAuth2Token, NewUser,
    OAuth2Provider, OAuth2TokenKind, OAuth2TokenStore, StoreError, UserStore,
};
use gatehouse_store::SqlStore;
use serde_json::Map;

crate::on_both_stores! {
    applications_round_trip_and_refuse_duplicates,
    grant_artefacts_are_single_use_and_revoked_by_family,
    batched_grants_are_stored_together_or_not_at_all,
}

fn app(slug: &str, client_id: &str) -> NewApplication {
    let mut provider = OAuth2Provider::new(ClientType::Confidential, client_id);
    provider.client_secret_digest = Some("digest-never-shown".into());
    provider.redirect_uris = vec!["https://rp.example/cb".into()];
    provider.post_logout_redirect_uris = vec!["https://rp.example/bye".into()];
    provider.backchannel_logout_uri = Some("https://rp.example/backchannel".into());
    provider.backchannel_logout_session_required = true;
    NewApplication {
        slug: slug.into(),
        name: slug.to_uppercase(),
        launch_url: None,
        allowed_groups: Vec::new(),
        oauth2: Some(provider),
    }
}

async fn applications_round_trip_and_refuse_duplicates(store: SqlStore) {
    let audit = AuditContext::system();
    let staff = store
        .create_group(NewGroup::named("staff"), &audit)
        .await
        .expect("group");
    let mut grafana = app("grafana", "grafana");
    grafana.allowed_groups = vec!["staff".into(), "staff".into()];
    let created = store
        .create_application(grafana, &audit)
        .await
        .expect("create");
    assert_eq!(created.allowed_groups.len(), 1);
    assert_eq!(created.allowed_groups[0].id, staff.id);
    assert!(created.admits(&[staff.id]));
    let stored = store.application_by_slug("grafana").await.expect("read");
    let provider = stored.as_ref().and_then(|a| a.oauth2.as_ref());
    assert_eq!(
        provider.and_then(|p| p.backchannel_logout_uri.as_deref()),
        Some("https://rp.example/backchannel")
    );
    assert_eq!(
        provider.map(|p| p.backchannel_logout_session_required),
        Some(true)
    );
    assert_eq!(
        store.application_by_slug("grafana").await.expect("read"),
        Some(created.clone())
    );
    assert_eq!(
        store
            .application_by_client_id("grafana")
            .await
            .expect("read"),
        Some(created.clone())
    );
    // Same slug, same client id, unknown group, bad field: refused, nothing written.
    for (bad, expected) in [
        (app("grafana", "other"), "slug"),
        (app("other", "grafana"), "client_id"),
    ] {
        match store.create_application(bad, &audit).await {
            Err(StoreError::Conflict(message)) => assert!(message.contains(expected), "{message}"),
            other => panic!("expected a conflict, got {other:?}"),
        }
    }
    let mut unknown = app("unknown", "unknown");
    unknown.allowed_groups = vec!["nope".into()];
    assert!(matches!(
        store.create_application(unknown, &audit).await,
        Err(StoreError::NotFound { .. })
    ));
    let mut invalid = app("Bad Slug", "x");
    invalid.slug = "Bad Slug".into();
    assert!(matches!(
        store.create_application(invalid, &audit).await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(store.list_applications().await.expect("list").len(), 1);
    // The secret digest can be replaced; it never appears in an event.
    store
        .set_client_secret_digest(created.id, "new-digest".into(), &audit)
        .await
        .expect("rotate");
    let rotated = store
        .application_by_id(created.id)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(
        rotated
            .oauth2
            .as_ref()
            .and_then(|p| p.client_secret_digest.as_deref()),
        Some("new-digest")
    );
    // A deleted group drops out of the access list.
    store
        .delete_group(staff.id, &audit)
        .await
        .expect("delete group");
    let after = store
        .application_by_id(created.id)
        .await
        .expect("read")
        .expect("found");
    assert!(after.allowed_groups.is_empty());
    store
        .delete_application(created.id, &audit)
        .await
        .expect("delete");
    assert_eq!(
        store
            .application_by_client_id("grafana")
            .await
            .expect("read"),
        None
    );
    let events = store
        .list_events(&EventQuery {
            limit: 100,
            ..EventQuery::default()
        })
        .await
        .expect("events")
        .items;
    assert!(events.iter().any(|e| e.action == EventAction::ModelCreated
        && e.context.get("model").and_then(|m| m.as_str()) == Some("application")));
    assert!(
        !format!("{events:?}").contains("digest"),
        "no digest in events"
    );
}

async fn grant_artefacts_are_single_use_and_revoked_by_family(store: SqlStore) {
    let audit = AuditContext::system();
    let app = store
        .create_application(app("rp", "rp"), &audit)
        .await
        .expect("app");
    let user = store
        .create_user(NewUser::named("alice"), &audit)
        .await
        .expect("user");
    let family = GrantFamilyId::new();
    let artefact = |kind, digest: &str, expires_in: i64| NewOAuth2Token {
        session_id: None,
        kind,
        application_id: app.id,
        user_id: Some(user.id),
        family,
        digest: digest.into(),
        scopes: vec!["openid".into()],
        data: Map::new(),
        expires_at: Utc::now() + Duration::seconds(expires_in),
    };
    let event = || NewEvent::about_model(EventAction::TokenIssued, "application", app.id, "rp");
    store
        .issue_oauth2_tokens(
            vec![artefact(OAuth2TokenKind::AuthorizationCode, "code", 60)],
            event(),
            &audit,
        )
        .await
        .expect("issue");
    let code = store
        .oauth2_token_by_digest("code")
        .await
        .expect("read")
        .expect("found");
    assert!(code.is_active_at(Utc::now()));
    assert_eq!(code.kind, OAuth2TokenKind::AuthorizationCode);
    // Exactly one of two concurrent exchanges wins; the loser writes nothing.
    let (a, b) = tokio::join!(
        store.exchange_oauth2_token(
            code.id,
            Utc::now(),
            vec![artefact(OAuth2TokenKind::RefreshToken, "refresh-a", 60)],
            event(),
            &audit
        ),
        store.exchange_oauth2_token(
            code.id,
            Utc::now(),
            vec![artefact(OAuth2TokenKind::RefreshToken, "refresh-b", 60)],
            event(),
            &audit
        ),
    );
    let wins = [a.expect("a"), b.expect("b")];
    assert_eq!(wins.iter().filter(|w| **w).count(), 1, "{wins:?}");
    let stored_refreshes = [
        store
            .oauth2_token_by_digest("refresh-a")
            .await
            .expect("read"),
        store
            .oauth2_token_by_digest("refresh-b")
            .await
            .expect("read"),
    ];
    assert_eq!(stored_refreshes.iter().filter(|r| r.is_some()).count(), 1);
    let spent = store
        .oauth2_token_by_digest("code")
        .await
        .expect("read")
        .expect("found");
    assert!(spent.used_at.is_some() && !spent.is_active_at(Utc::now()));
    // A duplicate digest is a conflict.
    assert!(matches!(
        store
            .issue_oauth2_tokens(
                vec![artefact(OAuth2TokenKind::AccessToken, "code", 60)],
                event(),
                &audit
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
    // Family revocation reaches everything still unrevoked, once.
    let revoked = store
        .revoke_oauth2_family(family, Utc::now(), event(), &audit)
        .await
        .expect("revoke");
    assert_eq!(revoked, 2);
    assert_eq!(
        store
            .revoke_oauth2_family(family, Utc::now(), event(), &audit)
            .await
            .expect("again"),
        0
    );
    let refresh = stored_refreshes.into_iter().flatten().next().expect("one");
    for digest in ["refresh-a", "refresh-b"] {
        if let Some(token) = store.oauth2_token_by_digest(digest).await.expect("read") {
            assert!(token.revoked_at.is_some() && !token.is_active_at(Utc::now()));
        }
    }
    assert!(
        !store
            .revoke_oauth2_token(refresh.id, Utc::now())
            .await
            .expect("revoke one")
    );
    // Expired artefacts are swept; user deletion cascades.
    store
        .issue_oauth2_tokens(
            vec![artefact(OAuth2TokenKind::AccessToken, "old", -10)],
            event(),
            &audit,
        )
        .await
        .expect("issue");
    assert_eq!(
        store
            .delete_expired_oauth2_tokens(Utc::now())
            .await
            .expect("sweep"),
        1
    );
    store
        .delete_user(user.id, &audit)
        .await
        .expect("delete user");
    assert_eq!(
        store.oauth2_token_by_digest("code").await.expect("read"),
        None
    );
}

/// The token endpoint's group commit: many grants, each with its own event and actor, in one
/// transaction; a batch with one bad record writes nothing at all.
async fn batched_grants_are_stored_together_or_not_at_all(store: SqlStore) {
    let audit = AuditContext::system();
    let app = store
        .create_application(app("machine", "machine"), &audit)
        .await
        .expect("app");
    let grant = |digest: &str, actor: &str| IssuedGrant {
        tokens: vec![NewOAuth2Token {
            session_id: None,
            kind: OAuth2TokenKind::AccessToken,
            application_id: app.id,
            user_id: None,
            family: GrantFamilyId::new(),
            digest: digest.into(),
            scopes: vec!["api".into()],
            data: Map::new(),
            expires_at: Utc::now() + Duration::seconds(300),
        }],
        event: NewEvent::about_model(EventAction::TokenIssued, "application", app.id, "machine")
            .with("grant_type", "client_credentials"),
        audit: AuditContext {
            actor: actor.into(),
            ..AuditContext::default()
        },
    };
    let token_events = || async {
        store
            .list_events(&EventQuery {
                action: Some(EventAction::TokenIssued),
                limit: 500,
                ..EventQuery::default()
            })
            .await
            .expect("events")
            .items
    };
    let batch: Vec<_> = (0..40)
        .map(|i| grant(&format!("jti-{i}"), &format!("client:{i}")))
        .collect();
    store.issue_oauth2_token_batch(batch).await.expect("batch");
    for i in 0..40 {
        let stored = store
            .oauth2_token_by_digest(&format!("jti-{i}"))
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(stored.kind, OAuth2TokenKind::AccessToken);
        assert!(stored.is_active_at(Utc::now()));
    }
    let events = token_events().await;
    assert_eq!(events.len(), 40);
    for i in 0..40 {
        let actor = format!("client:{i}");
        assert_eq!(
            events.iter().filter(|e| e.actor == actor).count(),
            1,
            "one event per grant, each with its own actor"
        );
    }
    // A repeated digest in the batch: the whole transaction is refused.
    let refused = store
        .issue_oauth2_token_batch(vec![grant("fresh", "client:a"), grant("jti-3", "client:b")])
        .await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    assert_eq!(
        store.oauth2_token_by_digest("fresh").await.expect("read"),
        None,
        "nothing of a failed batch is written"
    );
    assert_eq!(token_events().await.len(), 40);
    store
        .issue_oauth2_token_batch(Vec::new())
        .await
        .expect("an empty batch is a no-op");
}
