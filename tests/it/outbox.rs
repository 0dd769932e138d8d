//! The email outbox and the recovery lookups in the store, on SQLite and on PostgreSQL:
//! atomic enqueue with token and event, leases that keep two workers off one message,
//! exponential backoff and giving up, single-use tokens, and email lookup ignoring case.

use chrono::{Duration, Utc};
use gatehouse_core::{
    AuditContext, EmailRequest, EmailStatus, EventAction, EventQuery, EventStore, NewEmail,
    NewEvent, NewToken, NewUser, OutboxStore, RetryDecision, RetryPolicy, StoreError, TokenIntent,
    TokenStore, UserId, UserStore,
};
use gatehouse_store::SqlStore;
use std::collections::HashSet;
use uuid::Uuid;

crate::on_both_stores! {
    enqueue_writes_message_token_and_event_together,
    enqueue_with_a_bad_token_writes_nothing,
    leases_keep_workers_apart_until_they_expire,
    concurrent_workers_never_share_a_message,
    failures_back_off_then_give_up_with_an_event,
    sent_messages_lose_their_body_and_are_not_claimed_again,
    recovery_tokens_are_single_use_and_expire,
    users_are_found_by_email_ignoring_case,
}

fn audit() -> AuditContext {
    AuditContext {
        actor: "test".into(),
        ..AuditContext::default()
    }
}

fn message(n: usize) -> EmailRequest {
    EmailRequest {
        email: NewEmail {
            recipient: format!("user{n}@example.com"),
            subject: format!("message {n}"),
            kind: "recovery".into(),
            sealed_body: format!("sealed-{n}"),
        },
        token: None,
        event: None,
    }
}

fn lease() -> Duration {
    Duration::seconds(60)
}

async fn events(store: &SqlStore, action: EventAction) -> Vec<gatehouse_core::Event> {
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

async fn enqueue_writes_message_token_and_event_together(store: SqlStore) {
    let alice = store
        .create_user(NewUser::named("alice"), &audit())
        .await
        .expect("user");
    let mut request = message(1);
    request.token = Some(NewToken {
        intent: TokenIntent::Recovery,
        user_id: Some(alice.id),
        description: "link".into(),
        digest: "digest-1".into(),
        expires_at: Some(Utc::now() + Duration::minutes(30)),
        state: None,
    });
    request.event = Some(NewEvent::about_model(
        EventAction::RecoveryRequested,
        "user",
        alice.id,
        "alice",
    ));
    let id = store
        .enqueue_email(request, &audit())
        .await
        .expect("enqueue");

    let queued = store.email(id).await.expect("read").expect("queued");
    assert_eq!(queued.status, EmailStatus::Pending);
    assert_eq!(queued.attempts, 0);
    assert_eq!(queued.sealed_body, "sealed-1");
    assert!(
        store
            .token_by_digest(TokenIntent::Recovery, "digest-1")
            .await
            .expect("token")
            .is_some()
    );
    let requested = events(&store, EventAction::RecoveryRequested).await;
    assert_eq!(requested.len(), 1);
    assert_eq!(
        requested[0]
            .context
            .get("email_id")
            .and_then(|v| v.as_str()),
        Some(id.to_string().as_str())
    );
}

async fn enqueue_with_a_bad_token_writes_nothing(store: SqlStore) {
    let mut request = message(1);
    request.token = Some(NewToken {
        intent: TokenIntent::Recovery,
        user_id: Some(UserId::new()),
        description: "link for nobody".into(),
        digest: "digest-x".into(),
        expires_at: None,
        state: None,
    });
    request.event = Some(NewEvent::about_model(
        EventAction::RecoveryRequested,
        "user",
        "x",
        "x",
    ));
    let error = store
        .enqueue_email(request, &audit())
        .await
        .expect_err("refused");
    assert!(matches!(error, StoreError::NotFound { .. }), "{error:?}");
    let claimed = store
        .claim_due_emails(Uuid::new_v4(), Utc::now(), lease(), 10)
        .await
        .expect("claim");
    assert!(claimed.is_empty(), "no message without its token");
    assert!(
        events(&store, EventAction::RecoveryRequested)
            .await
            .is_empty()
    );
}

async fn leases_keep_workers_apart_until_they_expire(store: SqlStore) {
    for n in 0..3 {
        store
            .enqueue_email(message(n), &audit())
            .await
            .expect("enqueue");
    }
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let now = Utc::now();
    let first = store
        .claim_due_emails(a, now, lease(), 2)
        .await
        .expect("claim");
    assert_eq!(first.len(), 2);
    assert!(
        first
            .iter()
            .all(|e| e.attempts == 1 && e.lease_until.is_some())
    );
    let second = store
        .claim_due_emails(b, now, lease(), 10)
        .await
        .expect("claim");
    assert_eq!(second.len(), 1);
    assert!(first.iter().all(|e| e.id != second[0].id));
    assert!(
        store
            .claim_due_emails(b, now, lease(), 10)
            .await
            .expect("claim")
            .is_empty()
    );

    assert!(
        store
            .mark_email_sent(second[0].id, b, now)
            .await
            .expect("mark")
    );

    // A's lease runs out (A crashed): B takes A's messages, and A can no longer finish them.
    let later = now + lease() + Duration::seconds(1);
    let taken = store
        .claim_due_emails(b, later, lease(), 10)
        .await
        .expect("claim");
    let ids: HashSet<_> = taken.iter().map(|e| e.id).collect();
    assert_eq!(ids, first.iter().map(|e| e.id).collect());
    assert!(taken.iter().all(|e| e.attempts == 2));
    assert!(
        !store
            .mark_email_sent(first[0].id, a, later)
            .await
            .expect("mark")
    );
    assert!(
        store
            .mark_email_sent(first[0].id, b, later)
            .await
            .expect("mark")
    );
}

async fn concurrent_workers_never_share_a_message(store: SqlStore) {
    for n in 0..12 {
        store
            .enqueue_email(message(n), &audit())
            .await
            .expect("enqueue");
    }
    let now = Utc::now();
    let claims = (0..4).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .claim_due_emails(Uuid::new_v4(), now, Duration::seconds(60), 12)
                .await
                .expect("claim")
        })
    });
    let mut seen = HashSet::new();
    for claim in claims {
        for email in claim.await.expect("task") {
            assert!(seen.insert(email.id), "{:?} claimed twice", email.id);
        }
    }
    assert_eq!(seen.len(), 12);
}

async fn failures_back_off_then_give_up_with_an_event(store: SqlStore) {
    let id = store
        .enqueue_email(message(1), &audit())
        .await
        .expect("enqueue");
    let policy = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::seconds(10),
        max_delay: Duration::hours(1),
    };
    let worker = Uuid::new_v4();
    let mut now = Utc::now();
    for attempt in 1..=3u32 {
        let claimed = store
            .claim_due_emails(worker, now, lease(), 10)
            .await
            .expect("claim");
        assert_eq!(claimed.len(), 1, "attempt {attempt}");
        assert_eq!(claimed[0].attempts, attempt);
        let decision = store
            .mark_email_failed(id, worker, now, "451 try later", &policy, &audit())
            .await
            .expect("mark")
            .expect("held");
        if attempt < 3 {
            let wait = policy.delay_after(attempt);
            assert_eq!(decision, RetryDecision::RetryAt(now + wait));
            // Not due before the backoff has passed.
            let early = now + wait - Duration::seconds(1);
            assert!(
                store
                    .claim_due_emails(worker, early, lease(), 10)
                    .await
                    .expect("claim")
                    .is_empty()
            );
            now += wait + Duration::seconds(1);
        } else {
            assert_eq!(decision, RetryDecision::GiveUp);
        }
    }
    let failed = store.email(id).await.expect("read").expect("kept");
    assert_eq!(failed.status, EmailStatus::Failed);
    assert_eq!(failed.sealed_body, "", "the link is gone");
    assert_eq!(failed.last_error.as_deref(), Some("451 try later"));
    let far = now + Duration::days(1);
    assert!(
        store
            .claim_due_emails(worker, far, lease(), 10)
            .await
            .expect("claim")
            .is_empty()
    );
    let gave_up = events(&store, EventAction::ConfigurationError).await;
    assert_eq!(gave_up.len(), 1);
    assert_eq!(
        gave_up[0].context.get("pk").and_then(|v| v.as_str()),
        Some(id.to_string().as_str())
    );
}

async fn sent_messages_lose_their_body_and_are_not_claimed_again(store: SqlStore) {
    let id = store
        .enqueue_email(message(1), &audit())
        .await
        .expect("enqueue");
    let worker = Uuid::new_v4();
    let now = Utc::now();
    store
        .claim_due_emails(worker, now, lease(), 10)
        .await
        .expect("claim");
    assert!(store.mark_email_sent(id, worker, now).await.expect("mark"));
    let sent = store.email(id).await.expect("read").expect("kept");
    assert_eq!(sent.status, EmailStatus::Sent);
    assert_eq!(sent.sealed_body, "");
    assert!(sent.sent_at.is_some());
    // Marking again (a duplicate report) changes nothing; failing it now is refused.
    assert!(!store.mark_email_sent(id, worker, now).await.expect("mark"));
    let policy = RetryPolicy::default();
    assert_eq!(
        store
            .mark_email_failed(id, worker, now, "late", &policy, &audit())
            .await
            .expect("mark"),
        None
    );
    let far = now + Duration::days(1);
    assert!(
        store
            .claim_due_emails(worker, far, lease(), 10)
            .await
            .expect("claim")
            .is_empty()
    );
}

async fn recovery_tokens_are_single_use_and_expire(store: SqlStore) {
    let alice = store
        .create_user(NewUser::named("alice"), &audit())
        .await
        .expect("user");
    let now = Utc::now();
    for (digest, expires) in [
        ("live", now + Duration::minutes(30)),
        ("stale", now - Duration::seconds(1)),
    ] {
        store
            .create_token(
                NewToken {
                    intent: TokenIntent::Recovery,
                    user_id: Some(alice.id),
                    description: "link".into(),
                    digest: digest.into(),
                    expires_at: Some(expires),
                    state: None,
                },
                &audit(),
            )
            .await
            .expect("token");
    }
    // The wrong intent does not spend it.
    assert!(
        store
            .spend_token(TokenIntent::Invitation, "live", now, &audit())
            .await
            .expect("spend")
            .is_none()
    );
    let spent = store
        .spend_token(TokenIntent::Recovery, "live", now, &audit())
        .await
        .expect("spend")
        .expect("valid");
    assert_eq!(spent.user_id, Some(alice.id));
    assert!(
        store
            .spend_token(TokenIntent::Recovery, "live", now, &audit())
            .await
            .expect("spend")
            .is_none(),
        "single use"
    );
    assert!(
        store
            .spend_token(TokenIntent::Recovery, "stale", now, &audit())
            .await
            .expect("spend")
            .is_none(),
        "expired"
    );
    assert_eq!(events(&store, EventAction::TokenUsed).await.len(), 1);
}

async fn users_are_found_by_email_ignoring_case(store: SqlStore) {
    let with_email = |name: &str, email: &str| NewUser {
        email: Some(email.into()),
        ..NewUser::named(name)
    };
    let alice = store
        .create_user(with_email("alice", "Alice@Example.com"), &audit())
        .await
        .expect("user");
    let found = store
        .user_by_email("alice@EXAMPLE.com")
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(found.id, alice.id);
    assert!(
        store
            .user_by_email("nobody@example.com")
            .await
            .expect("lookup")
            .is_none()
    );
    // Two accounts with one address: recovery must not pick either.
    store
        .create_user(with_email("bob", "shared@example.com"), &audit())
        .await
        .expect("user");
    store
        .create_user(with_email("carol", "SHARED@example.com"), &audit())
        .await
        .expect("user");
    assert!(
        store
            .user_by_email("shared@example.com")
            .await
            .expect("lookup")
            .is_none()
    );
}
