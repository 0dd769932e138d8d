//! The invitation and recovery-code store ports on both backends: a single-use invitation
//! creates one account even when two enrollments race, a failed enrollment spends nothing,
//! and each recovery code is spent once.

use chrono::{Duration, Utc};
use gatehouse_core::{
    AuditContext, DeviceKind, DeviceStore, Enrollment, EventAction, EventQuery, EventStore,
    GroupStore, InvitationStatus, InvitationStore, NewGroup, NewInvitation, NewUser,
    StaticCodeStore, StoreError, TokenId, UserStore,
};
use gatehouse_store::SqlStore;
use serde_json::{Map, Value};

crate::on_both_stores! {
    single_use_invitation_creates_one_account_under_a_race,
    invitation_fixed_data_groups_and_refusals,
    recovery_codes_are_spent_once_and_replaced,
}

fn audit() -> AuditContext {
    AuditContext {
        actor: "test".into(),
        ..AuditContext::default()
    }
}

fn new_invitation(digest: &str, single_use: bool) -> NewInvitation {
    let mut fixed_data = Map::new();
    fixed_data.insert("email".into(), Value::from("invitee@Example.COM"));
    NewInvitation {
        flow_slug: "default-enrollment-flow".into(),
        single_use,
        fixed_data,
        groups: vec!["staff".into()],
        expires_at: Some(Utc::now() + Duration::days(1)),
        created_by: None,
        digest: digest.into(),
    }
}

fn enrollment(invitation: TokenId, username: &str) -> Enrollment {
    Enrollment {
        invitation,
        user: NewUser {
            email: Some("typed@example.com".into()),
            password_hash: Some("$argon2id$v=19$m=1024,t=1,p=1$c2FsdA$aGFzaA".into()),
            ..NewUser::named(username)
        },
        now: Utc::now(),
    }
}

async fn single_use_invitation_creates_one_account_under_a_race(store: SqlStore) {
    store
        .create_group(NewGroup::named("staff"), &audit())
        .await
        .expect("group");
    let invitation = store
        .create_invitation(new_invitation("digest-race", true), &audit())
        .await
        .expect("invitation");
    let mut racers = Vec::new();
    for i in 0..4 {
        let store = store.clone();
        let id = invitation.id;
        racers.push(tokio::spawn(async move {
            store
                .enroll_with_invitation(enrollment(id, &format!("racer{i}")), &audit())
                .await
        }));
    }
    let mut created = Vec::new();
    for racer in racers {
        match racer.await.expect("join") {
            Ok(user) => created.push(user),
            Err(StoreError::Invalid(error)) => {
                assert_eq!(error.field, "invitation");
                assert!(error.message.contains("already been used"), "{error}");
            }
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!(
        created.len(),
        1,
        "exactly one account from a single-use invitation"
    );
    let users = store
        .list_users(&gatehouse_core::ListQuery::all())
        .await
        .expect("users");
    assert_eq!(users.total, 1);
    let stored = store
        .invitation(invitation.id)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(stored.use_count, 1);
    assert_eq!(stored.status_at(Utc::now()), InvitationStatus::Used);
}

async fn invitation_fixed_data_groups_and_refusals(store: SqlStore) {
    // Groups must exist when the invitation is created.
    let missing = store
        .create_invitation(new_invitation("digest-a", true), &audit())
        .await
        .expect_err("no such group");
    assert!(
        matches!(missing, StoreError::NotFound { kind: "group", .. }),
        "{missing}"
    );
    store
        .create_group(NewGroup::named("staff"), &audit())
        .await
        .expect("group");
    let invitation = store
        .create_invitation(new_invitation("digest-a", true), &audit())
        .await
        .expect("invitation");
    assert_eq!(invitation.fixed_email(), Some("invitee@example.com"));
    let found = store
        .invitation_by_digest("digest-a")
        .await
        .expect("read")
        .expect("found");
    assert_eq!(found, invitation);
    assert!(
        store
            .invitation_by_digest("other")
            .await
            .expect("read")
            .is_none()
    );

    // A failed account creation (username taken) spends nothing.
    store
        .create_user(NewUser::named("taken"), &audit())
        .await
        .expect("user");
    let err = store
        .enroll_with_invitation(enrollment(invitation.id, "Taken"), &audit())
        .await
        .expect_err("taken");
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    let unchanged = store
        .invitation(invitation.id)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(unchanged.use_count, 0);

    // The invitation's email and groups win over what was typed.
    let user = store
        .enroll_with_invitation(enrollment(invitation.id, "invitee"), &audit())
        .await
        .expect("enrolled");
    assert_eq!(user.email.as_deref(), Some("invitee@example.com"));
    let groups: Vec<String> = store
        .direct_groups(user.id)
        .await
        .expect("groups")
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(groups, ["staff"]);
    let events = store
        .list_events(&EventQuery {
            limit: 100,
            ..EventQuery::default()
        })
        .await
        .expect("events");
    let about = |action: EventAction, model: &str| {
        events.items.iter().any(|e| {
            e.action == action && e.context.get("model").and_then(Value::as_str) == Some(model)
        })
    };
    assert!(about(EventAction::ModelCreated, "invitation"));
    assert!(about(EventAction::TokenUsed, "invitation"));
    assert!(about(EventAction::ModelCreated, "user"));
    assert!(
        !serde_json::to_string(&events.items)
            .expect("json")
            .contains("digest-a"),
        "digests never reach the log"
    );

    // Expired and multi-use invitations.
    let mut expired = new_invitation("digest-b", false);
    expired.expires_at = Some(Utc::now() - Duration::minutes(1));
    let expired = store
        .create_invitation(expired, &audit())
        .await
        .expect("expired");
    let err = store
        .enroll_with_invitation(enrollment(expired.id, "late"), &audit())
        .await
        .expect_err("expired");
    assert!(err.to_string().contains("expired"), "{err}");
    let multi = store
        .create_invitation(new_invitation("digest-c", false), &audit())
        .await
        .expect("multi");
    for name in ["first", "second"] {
        store
            .enroll_with_invitation(enrollment(multi.id, name), &audit())
            .await
            .expect("multi-use");
    }
    assert_eq!(
        store
            .invitation(multi.id)
            .await
            .expect("read")
            .expect("kept")
            .use_count,
        2
    );

    // Listing and deletion.
    assert_eq!(store.list_invitations().await.expect("list").len(), 3);
    store
        .delete_invitation(multi.id, &audit())
        .await
        .expect("delete");
    let err = store
        .enroll_with_invitation(enrollment(multi.id, "third"), &audit())
        .await
        .expect_err("deleted");
    assert!(err.to_string().contains("not valid"), "{err}");
    assert!(matches!(
        store.delete_invitation(multi.id, &audit()).await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn recovery_codes_are_spent_once_and_replaced(store: SqlStore) {
    let alice = store
        .create_user(NewUser::named("alice"), &audit())
        .await
        .expect("alice");
    let bob = store
        .create_user(NewUser::named("bob"), &audit())
        .await
        .expect("bob");
    let codes = |prefix: &str| (0..3).map(|i| format!("{prefix}{i}")).collect::<Vec<_>>();
    let device = store
        .replace_static_codes(alice.id, "Recovery codes", codes("a"), &audit())
        .await
        .expect("codes");
    assert_eq!(device.kind, DeviceKind::Static);
    assert_eq!(store.static_codes_left(device.id).await.expect("left"), 3);

    // Another user's code, or an unknown one, spends nothing.
    assert!(
        !store
            .spend_static_code(bob.id, "a0", Utc::now())
            .await
            .expect("bob")
    );
    assert!(
        !store
            .spend_static_code(alice.id, "zz", Utc::now())
            .await
            .expect("unknown")
    );

    // Concurrent use of one code: exactly one wins.
    let mut racers = Vec::new();
    for _ in 0..4 {
        let store = store.clone();
        racers.push(tokio::spawn(async move {
            store.spend_static_code(alice.id, "a1", Utc::now()).await
        }));
    }
    let mut wins = 0;
    for racer in racers {
        if racer.await.expect("join").expect("spend") {
            wins += 1;
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(store.static_codes_left(device.id).await.expect("left"), 2);
    let used = store
        .device(device.id)
        .await
        .expect("read")
        .expect("device");
    assert!(used.last_used_at.is_some());

    // Regenerating replaces the device and its codes.
    let fresh = store
        .replace_static_codes(alice.id, "Recovery codes", codes("b"), &audit())
        .await
        .expect("again");
    assert!(store.device(device.id).await.expect("read").is_none());
    assert!(
        !store
            .spend_static_code(alice.id, "a0", Utc::now())
            .await
            .expect("old")
    );
    assert!(
        store
            .spend_static_code(alice.id, "b0", Utc::now())
            .await
            .expect("new")
    );
    assert_eq!(store.devices_of(alice.id).await.expect("devices").len(), 1);

    // Removing the device removes its codes.
    store
        .delete_device(fresh.id, &audit())
        .await
        .expect("remove");
    assert!(
        !store
            .spend_static_code(alice.id, "b1", Utc::now())
            .await
            .expect("gone")
    );
    assert_eq!(store.static_codes_left(fresh.id).await.expect("left"), 0);
}
