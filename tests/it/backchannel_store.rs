//! The back-channel logout queue on both backends: ending a session queues one delivery per
//! client with a back-channel URI that holds a grant from it and revokes those grants, in the
//! same transaction as the session end (a failed change set leaves neither); deliveries are
//! leased, retried, given up with an event, and swept once finished.

use chrono::{DateTime, Duration, Utc};
use gatehouse_core::{
    Application, ApplicationStore, AuditContext, BackchannelLogoutStore, Change, ClientType,
    DeliveryStatus, EventAction, EventQuery, EventStore, GrantFamilyId, NewApplication, NewEvent,
    NewOAuth2Token, NewUser, OAuth2Provider, OAuth2TokenKind, OAuth2TokenStore, RetryDecision,
    RetryPolicy, Session, SessionId, SessionStore, Store, User, UserPatch, UserStore,
};
use gatehouse_store::SqlStore;
use serde_json::Map;
use uuid::Uuid;

crate::on_both_stores! {
    ending_a_session_queues_logouts_with_it_and_revokes_its_grants,
    logout_deliveries_are_leased_retried_given_up_and_swept,
}

async fn client(store: &SqlStore, slug: &str, backchannel: bool) -> Application {
    let mut provider = OAuth2Provider::new(ClientType::Confidential, slug);
    provider.client_secret_digest = Some("digest".into());
    provider.redirect_uris = vec![format!("https://{slug}.example/cb")];
    provider.backchannel_logout_uri =
        backchannel.then(|| format!("https://{slug}.example/backchannel"));
    let new = NewApplication {
        slug: slug.into(),
        name: slug.into(),
        launch_url: None,
        allowed_groups: Vec::new(),
        oauth2: Some(provider),
    };
    store
        .create_application(new, &AuditContext::system())
        .await
        .expect("application")
}

async fn session_of(store: &SqlStore, user: &User, name: &str) -> SessionId {
    let now = Utc::now();
    let session = Session {
        id: SessionId::new(),
        user_id: user.id,
        digest: name.into(),
        created_at: now,
        expires_at: now + Duration::hours(1),
        client_ip: None,
        user_agent: None,
        auth_time: now,
        auth_methods: Vec::new(),
    };
    let id = session.id;
    store.create_session(session).await.expect("session");
    id
}

/// Issues a grant (a spent code, an access token and a refresh token) in `session`.
async fn grant(store: &SqlStore, app: &Application, user: &User, session: SessionId, tag: &str) {
    let family = GrantFamilyId::new();
    let artefact = |kind, suffix: &str| NewOAuth2Token {
        kind,
        application_id: app.id,
        user_id: Some(user.id),
        family,
        session_id: Some(session),
        digest: format!("{tag}-{suffix}"),
        scopes: vec!["openid".into(), "offline_access".into()],
        data: Map::new(),
        expires_at: Utc::now() + Duration::hours(1),
    };
    let event = NewEvent::about_model(EventAction::TokenIssued, "application", app.id, &app.slug);
    store
        .issue_oauth2_tokens(
            vec![
                artefact(OAuth2TokenKind::AuthorizationCode, "code"),
                artefact(OAuth2TokenKind::AccessToken, "access"),
                artefact(OAuth2TokenKind::RefreshToken, "refresh"),
            ],
            event,
            &AuditContext::system(),
        )
        .await
        .expect("grant");
}

async fn revoked(store: &SqlStore, digest: &str) -> bool {
    store
        .oauth2_token_by_digest(digest)
        .await
        .expect("read")
        .expect("artefact")
        .revoked_at
        .is_some()
}

async fn alice(store: &SqlStore) -> User {
    store
        .create_user(NewUser::named("alice"), &AuditContext::system())
        .await
        .expect("user")
}

async fn ending_a_session_queues_logouts_with_it_and_revokes_its_grants(store: SqlStore) {
    let audit = AuditContext::system();
    let alice = alice(&store).await;
    let (grafana, wiki, plain) = (
        client(&store, "grafana", true).await,
        client(&store, "wiki", true).await,
        client(&store, "plain", false).await,
    );
    let (laptop, phone) = (
        session_of(&store, &alice, "laptop").await,
        session_of(&store, &alice, "phone").await,
    );
    grant(&store, &grafana, &alice, laptop, "g1").await;
    grant(&store, &grafana, &alice, laptop, "g2").await;
    grant(&store, &plain, &alice, laptop, "p1").await;
    grant(&store, &wiki, &alice, phone, "w1").await;

    // A change set that fails after the session end leaves no trace of it.
    let failing = vec![
        Change::EndSession(laptop),
        Change::UpdateUser {
            username: "nobody".into(),
            patch: UserPatch {
                name: Some("x".into()),
                ..UserPatch::default()
            },
        },
    ];
    assert!(store.apply_changes(&failing, &audit).await.is_err());
    assert!(
        store
            .logouts_of_session(laptop)
            .await
            .expect("read")
            .is_empty()
    );
    assert!(!revoked(&store, "g1-refresh").await);
    assert_eq!(
        store.sessions_of(alice.id).await.expect("sessions").len(),
        2
    );

    let sign_out = vec![
        Change::EndSession(laptop),
        Change::RecordEvent(NewEvent::about_model(
            EventAction::Logout,
            "user",
            alice.id,
            "alice",
        )),
    ];
    store
        .apply_changes(&sign_out, &audit)
        .await
        .expect("sign-out");
    let queued = store.logouts_of_session(laptop).await.expect("read");
    assert_eq!(
        queued.len(),
        1,
        "one delivery for grafana's two grants, none for plain"
    );
    assert_eq!(queued[0].application_id, grafana.id);
    assert_eq!(queued[0].user_id, Some(alice.id));
    assert_eq!(queued[0].status, DeliveryStatus::Pending);
    assert_eq!(queued[0].attempts, 0);
    for digest in ["g1-code", "g1-access", "g1-refresh", "g2-refresh"] {
        assert!(revoked(&store, digest).await, "{digest} revoked");
    }
    assert!(
        !revoked(&store, "p1-refresh").await,
        "a client without a URI keeps its grant"
    );
    assert!(
        !revoked(&store, "w1-refresh").await,
        "another session's grant stays"
    );
    assert!(
        store
            .logouts_of_session(phone)
            .await
            .expect("read")
            .is_empty()
    );

    // Ending the same session again (idempotent sign-out) queues nothing more.
    store.delete_session(laptop).await.expect("again");
    assert_eq!(
        store.logouts_of_session(laptop).await.expect("read").len(),
        1
    );

    // A password change ending the other sessions tells wiki about the phone.
    let password = vec![Change::EndOtherSessions {
        user: alice.id,
        keep: None,
    }];
    store
        .apply_changes(&password, &audit)
        .await
        .expect("others");
    let queued = store.logouts_of_session(phone).await.expect("read");
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].application_id, wiki.id);
    assert!(revoked(&store, "w1-refresh").await);

    // Deleting a user tells the clients of its sessions too (its grants go with it).
    let bob = store
        .create_user(NewUser::named("bob"), &audit)
        .await
        .expect("bob");
    let desk = session_of(&store, &bob, "desk").await;
    grant(&store, &grafana, &bob, desk, "b1").await;
    store.delete_user(bob.id, &audit).await.expect("delete bob");
    let queued = store.logouts_of_session(desk).await.expect("read");
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].user_id, Some(bob.id));
}

async fn logout_deliveries_are_leased_retried_given_up_and_swept(store: SqlStore) {
    let audit = AuditContext::system();
    let alice = alice(&store).await;
    let grafana = client(&store, "grafana", true).await;
    let wiki = client(&store, "wiki", true).await;
    let laptop = session_of(&store, &alice, "laptop").await;
    grant(&store, &grafana, &alice, laptop, "g").await;
    grant(&store, &wiki, &alice, laptop, "w").await;
    store.delete_session(laptop).await.expect("end");

    let (one, two) = (Uuid::new_v4(), Uuid::new_v4());
    let now = Utc::now() + Duration::seconds(1);
    let lease = Duration::seconds(60);
    let claimed = store
        .claim_due_logouts(one, now, lease, 10)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 2);
    assert!(claimed.iter().all(|d| d.attempts == 1));
    assert!(
        store
            .claim_due_logouts(two, now, lease, 10)
            .await
            .expect("claim")
            .is_empty(),
        "held by a live lease"
    );
    let (first, second) = (&claimed[0], &claimed[1]);

    let policy = RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::seconds(10),
        max_delay: Duration::hours(1),
    };
    assert_eq!(
        store
            .mark_logout_failed(first.id, two, now, "HTTP 500", &policy, &audit)
            .await
            .expect("not held"),
        None
    );
    assert_eq!(
        store
            .mark_logout_failed(first.id, one, now, "HTTP 500", &policy, &audit)
            .await
            .expect("fail"),
        Some(RetryDecision::RetryAt(now + Duration::seconds(10)))
    );
    assert!(
        store
            .mark_logout_delivered(second.id, one, now)
            .await
            .expect("delivered")
    );
    assert!(
        store
            .claim_due_logouts(two, now + Duration::seconds(5), lease, 10)
            .await
            .expect("claim")
            .is_empty(),
        "not due yet, and the delivered one is done"
    );
    let later = now + Duration::seconds(11);
    let retried = store
        .claim_due_logouts(two, later, lease, 10)
        .await
        .expect("claim");
    assert_eq!(retried.len(), 1);
    assert_eq!((retried[0].id, retried[0].attempts), (first.id, 2));
    assert_eq!(
        store
            .mark_logout_failed(first.id, two, later, "HTTP 500", &policy, &audit)
            .await
            .expect("give up"),
        Some(RetryDecision::GiveUp)
    );
    let gave_up = store
        .list_events(&EventQuery {
            action: Some(EventAction::ConfigurationError),
            limit: 10,
            ..EventQuery::default()
        })
        .await
        .expect("events")
        .items;
    assert_eq!(gave_up.len(), 1);
    assert_eq!(
        gave_up[0]
            .context
            .get("delivery_id")
            .and_then(|v| v.as_str()),
        Some(first.id.to_string().as_str())
    );

    let rows = store.logouts_of_session(laptop).await.expect("read");
    let status = |id| rows.iter().find(|d| d.id == id).map(|d| d.status);
    assert_eq!(status(first.id), Some(DeliveryStatus::Failed));
    assert_eq!(status(second.id), Some(DeliveryStatus::Delivered));
    assert!(rows.iter().all(|d| d.finished_at.is_some()));

    let swept = |cutoff: DateTime<Utc>| {
        let store = store.clone();
        async move { store.delete_finished_logouts(cutoff).await.expect("sweep") }
    };
    assert_eq!(swept(Utc::now() - Duration::days(1)).await, 0);
    assert_eq!(swept(later + Duration::seconds(1)).await, 2);
    assert!(
        store
            .logouts_of_session(laptop)
            .await
            .expect("read")
            .is_empty()
    );
}
