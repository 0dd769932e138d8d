//! The worker's sweep and the single-use and all-or-nothing store operations of the flow
//! pages, on SQLite and on PostgreSQL: what the sweep deletes and keeps, email-verification
//! links, consent-form nonces, and session changes written with their audit events.

use chrono::{Duration, Utc};
use gatehouse_core::{
    ApplicationStore, AuditContext, Change, ClientType, Consent, ConsentStore, EmailRequest,
    Enrollment, EventAction, EventQuery, EventStore, GrantFamilyId, InvitationStore,
    NewApplication, NewEmail, NewEvent, NewInvitation, NewOAuth2Token, NewToken, NewUser,
    OAuth2Provider, OAuth2TokenKind, OAuth2TokenStore, OutboxStore, Session, SessionId,
    SessionStore, Store, TokenIntent, TokenStore, UserId, UserStore,
};
use gatehouse_server::config::WorkerConfig;
use gatehouse_server::sweep::{SweepReport, sweep};
use gatehouse_store::SqlStore;
use serde_json::Map;
use uuid::Uuid;

crate::on_both_stores! {
    sweep_deletes_what_outlived_its_use_and_keeps_the_rest,
    verification_links_confirm_the_address_once,
    consent_form_nonces_are_spent_once,
    session_changes_land_with_their_events_or_not_at_all,
}

fn audit() -> AuditContext {
    AuditContext {
        actor: "test".into(),
        ..AuditContext::default()
    }
}

fn token(digest: &str, user: Option<UserId>, expires_in: Duration) -> NewToken {
    NewToken {
        intent: TokenIntent::EmailVerification,
        user_id: user,
        description: "test link".into(),
        digest: digest.into(),
        expires_at: Some(Utc::now() + expires_in),
        state: Some(format!("sealed-state-of-{digest}")),
    }
}

fn session(user: UserId, digest: &str, expires_in: Duration) -> Session {
    let now = Utc::now();
    Session {
        id: SessionId::new(),
        user_id: user,
        digest: digest.into(),
        created_at: now - Duration::hours(1),
        expires_at: now + expires_in,
        client_ip: None,
        user_agent: None,
        auth_time: now - Duration::hours(1),
        auth_methods: Vec::new(),
    }
}

fn invitation(digest: &str, single_use: bool, expires_in: Option<Duration>) -> NewInvitation {
    NewInvitation {
        flow_slug: "default-enrollment-flow".into(),
        single_use,
        fixed_data: Map::new(),
        groups: Vec::new(),
        expires_at: expires_in.map(|d| Utc::now() + d),
        created_by: None,
        digest: digest.into(),
    }
}

fn email(n: usize) -> EmailRequest {
    EmailRequest {
        email: NewEmail {
            recipient: format!("user{n}@example.com"),
            subject: format!("message {n}"),
            kind: "verification".into(),
            sealed_body: format!("sealed-{n}"),
        },
        token: None,
        event: None,
    }
}

async fn sweep_deletes_what_outlived_its_use_and_keeps_the_rest(store: SqlStore) {
    let now = Utc::now();
    let alice = store
        .create_user(NewUser::named("alice"), &audit())
        .await
        .expect("alice");

    // Tokens and sessions: one expired, one live each.
    for (digest, expires_in) in [("old", -Duration::minutes(1)), ("live", Duration::hours(1))] {
        store
            .create_token(token(digest, Some(alice.id), expires_in), &audit())
            .await
            .expect("token");
        store
            .create_session(session(alice.id, digest, expires_in))
            .await
            .expect("session");
    }

    // Invitations: expired long ago (goes), expired within the grace period (stays), used
    // long ago (goes), used long ago but multi-use and unexpired (stays), unused (stays).
    let days = Duration::days;
    for (digest, single_use, expires_in) in [
        ("expired-long-ago", true, Some(-days(40))),
        ("expired-lately", true, Some(-days(1))),
        ("used-long-ago", true, None),
        ("multi-use", false, None),
        ("unused", true, Some(days(7))),
    ] {
        let created = store
            .create_invitation(invitation(digest, single_use, expires_in), &audit())
            .await
            .expect("invitation");
        if digest == "used-long-ago" || digest == "multi-use" {
            store
                .enroll_with_invitation(
                    Enrollment {
                        invitation: created.id,
                        user: NewUser::named(format!("user-{digest}")),
                        now: now - days(40),
                    },
                    &audit(),
                )
                .await
                .expect("enroll");
        }
    }

    // Emails: sent long ago (goes), sent now (stays), pending (stays).
    let worker = Uuid::new_v4();
    let lease = Duration::seconds(60);
    let old = store.enqueue_email(email(1), &audit()).await.expect("old");
    let then = now - days(20);
    store
        .claim_due_emails(worker, Utc::now(), lease, 10)
        .await
        .expect("claim");
    assert!(
        store
            .mark_email_sent(old, worker, then)
            .await
            .expect("sent")
    );
    let recent = store.enqueue_email(email(2), &audit()).await.expect("new");
    store
        .claim_due_emails(worker, Utc::now(), lease, 10)
        .await
        .expect("claim");
    assert!(
        store
            .mark_email_sent(recent, worker, Utc::now())
            .await
            .expect("sent")
    );
    let pending = store
        .enqueue_email(email(3), &audit())
        .await
        .expect("pending");

    // OAuth2 artefacts: one expired, one live.
    let mut provider = OAuth2Provider::new(ClientType::Confidential, "rp");
    provider.client_secret_digest = Some("digest".into());
    provider.redirect_uris = vec!["https://rp.example/cb".into()];
    let app = store
        .create_application(
            NewApplication {
                slug: "rp".into(),
                name: "RP".into(),
                launch_url: None,
                allowed_groups: Vec::new(),
                oauth2: Some(provider),
            },
            &audit(),
        )
        .await
        .expect("app");
    let artefact = |digest: &str, expires_in: Duration| NewOAuth2Token {
        session_id: None,
        kind: OAuth2TokenKind::RefreshToken,
        application_id: app.id,
        user_id: Some(alice.id),
        family: GrantFamilyId::new(),
        digest: digest.into(),
        scopes: vec!["openid".into()],
        data: Map::new(),
        expires_at: now + expires_in,
    };
    store
        .issue_oauth2_tokens(
            vec![
                artefact("expired-refresh", -Duration::minutes(1)),
                artefact("live-refresh", days(1)),
            ],
            NewEvent::about_model(EventAction::TokenIssued, "application", app.id, "rp"),
            &audit(),
        )
        .await
        .expect("issue");

    // Consents: alice's has expired; bob's lasts. Form nonces: one past, one current.
    let bob = store
        .create_user(NewUser::named("bob"), &audit())
        .await
        .expect("bob");
    for (user, expires_in) in [(alice.id, -Duration::minutes(1)), (bob.id, days(30))] {
        let consent = Consent {
            user_id: user,
            application_id: app.id,
            scopes: vec!["openid".into()],
            granted_at: now - days(31),
            expires_at: Some(now + expires_in),
        };
        store
            .grant_consent(consent, "rp", &audit())
            .await
            .expect("consent");
    }
    assert!(
        store
            .spend_form_nonce("past", now - Duration::minutes(1))
            .await
            .expect("nonce")
    );
    assert!(
        store
            .spend_form_nonce("current", now + Duration::minutes(9))
            .await
            .expect("nonce")
    );

    let config = WorkerConfig::default();
    let report = sweep(&store, &config, now).await.expect("sweep");
    assert_eq!(
        report,
        SweepReport {
            tokens: 1,
            sessions: 1,
            invitations: 2,
            emails: 1,
            oauth2_tokens: 1,
            consents: 2,
            device_authorizations: 0,
            client_assertions: 0,
            signing_keys: 0,
            backchannel_logouts: 0,
        }
    );
    assert_eq!(
        sweep(&store, &config, now).await.expect("again"),
        SweepReport::default(),
        "sweeping again finds nothing"
    );

    // What stays is still there and usable.
    assert!(
        store
            .token_by_digest(TokenIntent::EmailVerification, "live")
            .await
            .expect("read")
            .is_some()
    );
    assert!(
        store
            .session_by_digest("live", now)
            .await
            .expect("read")
            .is_some()
    );
    let mut left: Vec<String> = Vec::new();
    for digest in [
        "expired-long-ago",
        "expired-lately",
        "used-long-ago",
        "multi-use",
        "unused",
    ] {
        if store
            .invitation_by_digest(digest)
            .await
            .expect("read")
            .is_some()
        {
            left.push(digest.into());
        }
    }
    assert_eq!(left, ["expired-lately", "multi-use", "unused"]);
    assert!(store.email(old).await.expect("read").is_none());
    assert!(store.email(recent).await.expect("read").is_some());
    assert!(store.email(pending).await.expect("read").is_some());
    assert!(
        store
            .oauth2_token_by_digest("expired-refresh")
            .await
            .expect("read")
            .is_none()
    );
    assert!(
        store
            .oauth2_token_by_digest("live-refresh")
            .await
            .expect("read")
            .is_some()
    );
    assert!(
        store
            .consent(alice.id, app.id)
            .await
            .expect("read")
            .is_none()
    );
    assert!(store.consent(bob.id, app.id).await.expect("read").is_some());
    assert!(
        !store
            .spend_form_nonce("current", now + Duration::minutes(9))
            .await
            .expect("nonce"),
        "an unexpired nonce survives the sweep, so its form stays answered"
    );

    // A short grace period lets the recently expired invitation go too.
    let impatient = WorkerConfig {
        invitation_grace_days: 0,
        sent_email_retention_days: 0,
        ..WorkerConfig::default()
    };
    let report = sweep(&store, &impatient, Utc::now() + Duration::minutes(1))
        .await
        .expect("sweep");
    assert_eq!((report.invitations, report.emails), (1, 1));
}

async fn verification_links_confirm_the_address_once(store: SqlStore) {
    let new_user = |name: &str| NewUser {
        email: Some(format!("{name}@example.com")),
        ..NewUser::named(name)
    };
    let alice = store
        .create_user(new_user("alice"), &audit())
        .await
        .expect("alice");
    let bob = store
        .create_user(new_user("bob"), &audit())
        .await
        .expect("bob");
    store
        .create_token(
            token("alice-link", Some(alice.id), Duration::hours(1)),
            &audit(),
        )
        .await
        .expect("token");
    store
        .create_token(
            token("bob-link", Some(bob.id), -Duration::seconds(1)),
            &audit(),
        )
        .await
        .expect("token");

    // An expired link, an unknown one, or another intent's digest confirm nothing.
    let now = Utc::now();
    for digest in ["bob-link", "unknown"] {
        assert!(
            store
                .verify_email_with_token(digest, now, &audit())
                .await
                .expect("verify")
                .is_none()
        );
    }
    let bob_now = store.user_by_id(bob.id).await.expect("read").expect("bob");
    assert!(!bob_now.email_verified);

    let spent = store
        .verify_email_with_token("alice-link", now, &audit())
        .await
        .expect("verify")
        .expect("spent");
    assert_eq!(spent.token.user_id, Some(alice.id));
    assert_eq!(spent.state.as_deref(), Some("sealed-state-of-alice-link"));
    let alice_now = store
        .user_by_id(alice.id)
        .await
        .expect("read")
        .expect("alice");
    assert!(alice_now.email_verified);
    assert!(
        store
            .verify_email_with_token("alice-link", now, &audit())
            .await
            .expect("verify")
            .is_none(),
        "a link works once"
    );

    let events = store
        .list_events(&EventQuery {
            limit: 100,
            ..EventQuery::default()
        })
        .await
        .expect("events")
        .items;
    assert!(events.iter().any(|e| {
        e.action == EventAction::ModelUpdated
            && serde_json::to_string(&e.context)
                .unwrap_or_default()
                .contains("email_verified")
    }));
    assert_eq!(
        events
            .iter()
            .filter(|e| e.action == EventAction::TokenUsed)
            .count(),
        1
    );
    assert!(
        !events.iter().any(|e| serde_json::to_string(&e.context)
            .unwrap_or_default()
            .contains("sealed-state")),
        "the stored state never reaches the audit log"
    );
}

async fn consent_form_nonces_are_spent_once(store: SqlStore) {
    let until = Utc::now() + Duration::minutes(10);
    assert!(
        store
            .spend_form_nonce("form-1", until)
            .await
            .expect("first")
    );
    assert!(
        !store
            .spend_form_nonce("form-1", until)
            .await
            .expect("again")
    );
    // Two concurrent answers to one form: exactly one wins.
    let (a, b) = tokio::join!(
        store.spend_form_nonce("form-2", until),
        store.spend_form_nonce("form-2", until)
    );
    let wins = [a.expect("a"), b.expect("b")];
    assert_eq!(wins.iter().filter(|w| **w).count(), 1, "{wins:?}");
}

async fn session_changes_land_with_their_events_or_not_at_all(store: SqlStore) {
    let alice = store
        .create_user(NewUser::named("alice"), &audit())
        .await
        .expect("alice");
    let events_of = |action: EventAction| {
        let store = &store;
        async move {
            store
                .list_events(&EventQuery {
                    action: Some(action),
                    limit: 100,
                    ..EventQuery::default()
                })
                .await
                .expect("events")
                .items
        }
    };

    // A sign-in: the session, the last-login time and the event, together.
    let phone = session(alice.id, "phone", Duration::hours(8));
    let laptop = session(alice.id, "laptop", Duration::hours(8));
    let at = Utc::now();
    let login = vec![
        Change::StartSession(phone.clone()),
        Change::StartSession(laptop.clone()),
        Change::RecordLogin { user: alice.id, at },
        Change::RecordEvent(NewEvent::about_model(
            EventAction::Login,
            "user",
            alice.id,
            "alice",
        )),
    ];
    store.apply_changes(&login, &audit()).await.expect("login");
    assert_eq!(store.sessions_of(alice.id).await.expect("list").len(), 2);
    assert!(
        store
            .user_by_id(alice.id)
            .await
            .expect("read")
            .expect("alice")
            .last_login
            .is_some()
    );
    assert_eq!(events_of(EventAction::Login).await.len(), 1);

    // A sign-out whose change set fails later on writes nothing: the session lives on and
    // no logout is recorded.
    let failing = vec![
        Change::EndSession(phone.id),
        Change::RecordEvent(NewEvent::about_model(
            EventAction::Logout,
            "user",
            alice.id,
            "alice",
        )),
        Change::RecordLogin {
            user: UserId::new(),
            at,
        },
    ];
    assert!(store.apply_changes(&failing, &audit()).await.is_err());
    assert_eq!(store.sessions_of(alice.id).await.expect("list").len(), 2);
    assert!(events_of(EventAction::Logout).await.is_empty());

    // A password change keeps only the current session.
    let others = vec![Change::EndOtherSessions {
        user: alice.id,
        keep: Some(laptop.id),
    }];
    store
        .apply_changes(&others, &audit())
        .await
        .expect("others");
    let left = store.sessions_of(alice.id).await.expect("list");
    assert_eq!(
        left.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![laptop.id]
    );

    // The sign-out itself; ending an already ended session is not an error.
    let logout = vec![
        Change::EndSession(laptop.id),
        Change::EndSession(laptop.id),
        Change::RecordEvent(NewEvent::about_model(
            EventAction::Logout,
            "user",
            alice.id,
            "alice",
        )),
    ];
    store
        .apply_changes(&logout, &audit())
        .await
        .expect("logout");
    assert!(store.sessions_of(alice.id).await.expect("list").is_empty());
    assert_eq!(events_of(EventAction::Logout).await.len(), 1);
}
