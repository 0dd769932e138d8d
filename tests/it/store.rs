//! The store suite: every test runs twice, against a fresh SQLite file and against a fresh
//! PostgreSQL database, so both backends keep exactly the same behaviour.

use chrono::{DateTime, Duration, SubsecRound, TimeZone, Utc};
use gatehouse_core::group::DEFAULT_ADMIN_GROUP;
use gatehouse_core::{
    AuditContext, AuthenticationMethod, Change, Device, DeviceId, DeviceKind, DeviceStore, Event,
    EventAction, EventQuery, EventStore, FirstAdmin, FlowStore, GroupPatch, GroupStore,
    KeyAlgorithm, KeyStore, ListQuery, NewDevice, NewGroup, NewSigningKey, NewToken, NewUser,
    Session, SessionId, SessionStore, SettingStore, Store, StoreError, TokenIntent, TokenStore,
    UserId, UserPatch, UserStore, UserType,
};
use gatehouse_store::SqlStore;
use serde_json::{Map, Value, json};

crate::on_both_stores! {
    migrations_are_idempotent_and_pool_reports,
    worker_heartbeats_upsert_list_and_forget,
    creates_and_reads_users,
    lists_searches_and_pages_users,
    user_search_follows_changes_and_folds_unicode,
    page_totals_are_exact_at_every_offset,
    group_names_of_a_page_of_users_in_one_call,
    duplicate_username_conflicts_and_writes_nothing,
    invalid_email_is_refused,
    update_records_changed_field_names,
    password_hash_never_reaches_events,
    rehash_only_replaces_the_expected_hash,
    deleting_a_user_cascades,
    effective_groups_include_ancestors,
    unknown_parent_is_invalid,
    parent_cycles_are_refused_and_nothing_written,
    deleting_a_group_reparents_its_children,
    memberships_are_idempotent_and_audited,
    superuser_exists_follows_effective_membership,
    tokens_by_digest_expiry_and_sweep,
    sessions_lookup_and_sweep,
    signing_keys_round_trip,
    settings_insert_if_absent_keeps_the_first_value,
    first_admin_setup_then_conflict,
    first_admin_refuses_bad_tokens_without_spending_them,
    apply_changes_resolves_names_in_order,
    apply_changes_rolls_back_when_the_last_change_fails,
    concurrent_user_creation_succeeds,
    timestamps_round_trip_exactly,
    events_are_filtered_and_newest_first,
    events_are_counted_per_action_and_period,
    devices_round_trip_with_events_and_no_secrets,
    invalid_device_names_and_unknown_ids_write_nothing,
    totp_steps_only_move_forward,
    webauthn_challenge_is_spent_once,
    concurrent_totp_step_is_spent_once,
    deleting_a_user_deletes_its_devices,
    flows_are_seeded_once_and_replaced_by_change_sets,
    extreme_numbers_in_attributes_read_back,
}

// ---- helpers ------------------------------------------------------------------------------

fn audit() -> AuditContext {
    AuditContext {
        actor: "test".into(),
        client_ip: Some("192.0.2.7".into()),
        user_agent: Some("store-suite".into()),
        ..AuditContext::default()
    }
}

fn user(username: &str) -> NewUser {
    NewUser::named(username)
}

fn member_of(username: &str, groups: &[&str]) -> NewUser {
    NewUser {
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        ..NewUser::named(username)
    }
}

fn group(name: &str, parent: Option<&str>) -> NewGroup {
    NewGroup {
        parent: parent.map(str::to_owned),
        ..NewGroup::named(name)
    }
}

fn token(intent: TokenIntent, digest: &str, expires_at: Option<DateTime<Utc>>) -> NewToken {
    NewToken {
        intent,
        user_id: None,
        description: format!("{} token", intent.as_str()),
        digest: digest.into(),
        expires_at,
        state: None,
    }
}

async fn all_events(store: &SqlStore) -> Vec<Event> {
    store
        .list_events(&EventQuery {
            limit: 500,
            ..EventQuery::default()
        })
        .await
        .expect("list events")
        .items
}

fn events_about<'a>(events: &'a [Event], action: EventAction, model: &str) -> Vec<&'a Event> {
    events
        .iter()
        .filter(|e| e.action == action && e.context.get("model") == Some(&Value::from(model)))
        .collect()
}

/// The sealed secret every test device gets; it must never show up in events or `Debug`.
const DEVICE_SECRET: &str = "sealed:v1:DEVICE-SECRET-CIPHERTEXT";

fn new_device(user: UserId, kind: DeviceKind, name: &str) -> NewDevice {
    NewDevice {
        user_id: user,
        kind,
        name: name.into(),
        secret_sealed: DEVICE_SECRET.into(),
        last_used_step: None,
    }
}

fn names<T>(items: &[T], name: impl Fn(&T) -> &str) -> Vec<String> {
    items.iter().map(|i| name(i).to_owned()).collect()
}

// ---- tests ---------------------------------------------------------------------------------

async fn migrations_are_idempotent_and_pool_reports(store: SqlStore) {
    store.migrate().await.expect("second migrate is a no-op");
    store.ping().await.expect("ping");
    let stats = store.pool_stats();
    assert!(stats.max >= 1);
    assert!(stats.size <= stats.max);
    assert!(stats.idle <= stats.size);
}

async fn creates_and_reads_users(store: SqlStore) {
    let mut attributes = Map::new();
    attributes.insert("team".into(), json!("blue"));
    let created = store
        .create_user(
            NewUser {
                name: "Alice Example".into(),
                email: Some("alice@Example.COM".into()),
                email_verified: true,
                user_type: UserType::ServiceAccount,
                attributes: attributes.clone(),
                ..user("alice")
            },
            &audit(),
        )
        .await
        .expect("create alice");
    assert_eq!(created.email.as_deref(), Some("alice@example.com"));
    assert_eq!(created.created_at, created.updated_at);
    assert!(created.last_login.is_none());

    let by_id = store
        .user_by_id(created.id)
        .await
        .expect("by id")
        .expect("found");
    assert_eq!(by_id, created);
    let by_name = store
        .user_by_username("alice")
        .await
        .expect("by username")
        .expect("found");
    assert_eq!(by_name, created);
    assert_eq!(by_name.user_type, UserType::ServiceAccount);
    assert_eq!(by_name.attributes, attributes);
    assert!(
        store
            .user_by_username("ALICE")
            .await
            .expect("lookup")
            .is_none()
    );
    assert!(
        store
            .user_by_id(UserId::new())
            .await
            .expect("lookup")
            .is_none()
    );

    let events = all_events(&store).await;
    let created_events = events_about(&events, EventAction::ModelCreated, "user");
    assert_eq!(created_events.len(), 1);
    let event = created_events[0];
    assert_eq!(event.context["pk"], json!(created.id.to_string()));
    assert_eq!(event.context["name"], json!("alice"));
    assert_eq!(event.actor, "test");
    assert_eq!(event.client_ip.as_deref(), Some("192.0.2.7"));
    assert_eq!(event.user_agent.as_deref(), Some("store-suite"));
}

async fn lists_searches_and_pages_users(store: SqlStore) {
    for (username, name, email) in [
        ("carol", "Carol Singer", None),
        ("alice", "Alice Example", Some("alice@corp.example")),
        ("bob", "Bob Builder", Some("bob@ALPHA.example")),
        ("a_b", "Underscore", None),
        ("axb", "Not Underscore", None),
    ] {
        store
            .create_user(
                NewUser {
                    name: name.into(),
                    email: email.map(str::to_owned),
                    ..user(username)
                },
                &audit(),
            )
            .await
            .expect("create");
    }
    let all = store.list_users(&ListQuery::all()).await.expect("list");
    assert_eq!(all.total, 5);
    assert_eq!(
        names(&all.items, |u| &u.username),
        ["a_b", "alice", "axb", "bob", "carol"]
    );

    let search = |s: &str| ListQuery {
        search: Some(s.into()),
        ..ListQuery::all()
    };
    // Case-insensitive over username, name and email.
    let found = store.list_users(&search("AL")).await.expect("search");
    assert_eq!(names(&found.items, |u| &u.username), ["alice", "bob"]);
    assert_eq!(found.total, 2);
    let found = store.list_users(&search("builder")).await.expect("search");
    assert_eq!(names(&found.items, |u| &u.username), ["bob"]);
    // `_` and `%` match literally.
    let found = store.list_users(&search("a_b")).await.expect("search");
    assert_eq!(names(&found.items, |u| &u.username), ["a_b"]);
    let found = store.list_users(&search("%")).await.expect("search");
    assert_eq!(found.total, 0);

    let page = store
        .list_users(&ListQuery {
            search: None,
            limit: 2,
            offset: 2,
            ..ListQuery::default()
        })
        .await
        .expect("page");
    assert_eq!(page.total, 5);
    assert_eq!(names(&page.items, |u| &u.username), ["axb", "bob"]);
    // Descending order pages from the other end.
    let reversed = store
        .list_users(&ListQuery {
            limit: 2,
            descending: true,
            ..ListQuery::default()
        })
        .await
        .expect("page");
    assert_eq!(names(&reversed.items, |u| &u.username), ["carol", "bob"]);
    assert_eq!(reversed.total, 5);
    let clamped = store
        .list_users(&ListQuery {
            search: None,
            limit: 0,
            offset: 0,
            ..ListQuery::default()
        })
        .await
        .expect("page");
    assert_eq!(clamped.items.len(), 1);
}

async fn user_search_follows_changes_and_folds_unicode(store: SqlStore) {
    let carol = store
        .create_user(
            NewUser {
                name: "Carol Singer".into(),
                email: Some("carol@old.example".into()),
                ..user("carol")
            },
            &audit(),
        )
        .await
        .expect("create");
    store
        .create_user(
            NewUser {
                name: "Élodie Ünal".into(),
                ..user("elodie")
            },
            &audit(),
        )
        .await
        .expect("create");
    let search = |s: &str| ListQuery {
        search: Some(s.into()),
        ..ListQuery::all()
    };
    let usernames =
        |page: gatehouse_core::Page<gatehouse_core::User>| names(&page.items, |u| &u.username);
    // Non-ASCII letters fold on both backends (SQLite's LOWER would leave them alone).
    assert_eq!(
        usernames(store.list_users(&search("ÉLODIE")).await.expect("search")),
        ["elodie"]
    );
    assert_eq!(
        usernames(store.list_users(&search("ünal")).await.expect("search")),
        ["elodie"]
    );
    // A term spanning two fields (name end, email start) matches nothing.
    assert_eq!(
        store
            .list_users(&search("singer carol"))
            .await
            .expect("search")
            .total,
        0
    );

    store
        .update_user(
            carol.id,
            UserPatch {
                name: Some("Carol Zebra".into()),
                email: Some(None),
                ..UserPatch::default()
            },
            &audit(),
        )
        .await
        .expect("update");
    assert_eq!(
        usernames(store.list_users(&search("zebra")).await.expect("search")),
        ["carol"]
    );
    let stale = store.list_users(&search("singer")).await.expect("search");
    assert_eq!(stale.total, 0);
    let stale = store
        .list_users(&search("old.example"))
        .await
        .expect("search");
    assert_eq!(stale.total, 0);
    // A patch that leaves name and email alone keeps the user findable.
    store
        .update_user(
            carol.id,
            UserPatch {
                active: Some(false),
                ..UserPatch::default()
            },
            &audit(),
        )
        .await
        .expect("update");
    assert_eq!(
        usernames(store.list_users(&search("ZEBRA")).await.expect("search")),
        ["carol"]
    );
}

async fn page_totals_are_exact_at_every_offset(store: SqlStore) {
    for i in 0..7 {
        store
            .create_user(user(&format!("user{i}")), &audit())
            .await
            .expect("create");
    }
    store
        .create_user(user("other"), &audit())
        .await
        .expect("create");
    let page = |search: Option<&str>, limit: u64, offset: u64| ListQuery {
        search: search.map(str::to_owned),
        limit,
        offset,
        ..ListQuery::default()
    };
    // Full pages, the partial last page, an exactly full last page, and past the end.
    for (offset, expected) in [(0, 3), (3, 3), (6, 2), (9, 0), (50, 0)] {
        let found = store
            .list_users(&page(None, 3, offset))
            .await
            .expect("page");
        assert_eq!(found.total, 8, "offset {offset}");
        assert_eq!(found.items.len(), expected, "offset {offset}");
    }
    let last = store.list_users(&page(None, 4, 4)).await.expect("page");
    assert_eq!((last.total, last.items.len()), (8, 4));
    for (offset, expected) in [(0, 5), (5, 2), (7, 0), (20, 0)] {
        let found = store
            .list_users(&page(Some("USER"), 5, offset))
            .await
            .expect("search");
        assert_eq!(found.total, 7, "search offset {offset}");
        assert_eq!(found.items.len(), expected, "search offset {offset}");
    }
    let descending = store
        .list_users(&ListQuery {
            descending: true,
            ..page(Some("user"), 2, 1)
        })
        .await
        .expect("page");
    assert_eq!(
        names(&descending.items, |u| &u.username),
        ["user5", "user4"]
    );
    assert_eq!(descending.total, 7);
    let none = store
        .list_users(&page(Some("nobody"), 5, 0))
        .await
        .expect("search");
    assert_eq!((none.total, none.items.len()), (0, 0));
}

async fn group_names_of_a_page_of_users_in_one_call(store: SqlStore) {
    for name in ["zeta", "alpha", "mid"] {
        store
            .create_group(group(name, None), &audit())
            .await
            .expect("group");
    }
    let alice = store
        .create_user(member_of("alice", &["zeta", "alpha"]), &audit())
        .await
        .expect("alice");
    let bob = store
        .create_user(member_of("bob", &["mid"]), &audit())
        .await
        .expect("bob");
    let carol = store
        .create_user(user("carol"), &audit())
        .await
        .expect("carol");
    let names = store
        .direct_group_names(&[alice.id, bob.id, carol.id])
        .await
        .expect("names");
    assert_eq!(
        names.get(&alice.id).map(Vec::as_slice),
        Some(&["alpha".to_owned(), "zeta".to_owned()][..])
    );
    assert_eq!(
        names.get(&bob.id).map(Vec::as_slice),
        Some(&["mid".to_owned()][..])
    );
    assert!(!names.contains_key(&carol.id));
    assert!(
        store
            .direct_group_names(&[])
            .await
            .expect("none")
            .is_empty()
    );
    let alpha = store
        .group_by_name("alpha")
        .await
        .expect("lookup")
        .expect("alpha");
    store
        .add_member(alpha.id, bob.id, &audit())
        .await
        .expect("add");
    let members = store
        .group_members(alpha.id, &ListQuery::all())
        .await
        .expect("members")
        .items;
    assert_eq!(
        members
            .iter()
            .map(|u| u.username.as_str())
            .collect::<Vec<_>>(),
        ["alice", "bob"]
    );
}

async fn duplicate_username_conflicts_and_writes_nothing(store: SqlStore) {
    store
        .create_user(user("alice"), &audit())
        .await
        .expect("first");
    let before = all_events(&store).await.len();
    for taken in ["alice", "Alice", "ALICE"] {
        match store.create_user(user(taken), &audit()).await {
            Err(StoreError::Conflict(message)) => {
                assert!(message.contains(taken), "{message}");
                assert!(message.contains("already taken"), "{message}");
            }
            other => panic!("expected a conflict for {taken}, got {other:?}"),
        }
    }
    assert_eq!(
        store
            .list_users(&ListQuery::all())
            .await
            .expect("list")
            .total,
        1
    );
    assert_eq!(
        all_events(&store).await.len(),
        before,
        "no event for a refused create"
    );
}

async fn invalid_email_is_refused(store: SqlStore) {
    let err = store
        .create_user(
            NewUser {
                email: Some("not-an-address".into()),
                ..user("alice")
            },
            &audit(),
        )
        .await
        .expect_err("invalid email");
    match err {
        StoreError::Invalid(e) => assert_eq!(e.field, "email"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    let err = store
        .create_user(user(" bad name"), &audit())
        .await
        .expect_err("invalid username");
    assert!(
        matches!(err, StoreError::Invalid(ref e) if e.field == "username"),
        "{err:?}"
    );
    assert_eq!(
        store
            .list_users(&ListQuery::all())
            .await
            .expect("list")
            .total,
        0
    );
    assert!(all_events(&store).await.is_empty());

    let alice = store
        .create_user(user("alice"), &audit())
        .await
        .expect("create");
    let err = store
        .update_user(
            alice.id,
            UserPatch {
                email: Some(Some("nope".into())),
                ..UserPatch::default()
            },
            &audit(),
        )
        .await
        .expect_err("invalid email in patch");
    assert!(
        matches!(err, StoreError::Invalid(ref e) if e.field == "email"),
        "{err:?}"
    );
}

async fn update_records_changed_field_names(store: SqlStore) {
    let alice = store
        .create_user(user("alice"), &audit())
        .await
        .expect("create");
    let updated = store
        .update_user(
            alice.id,
            UserPatch {
                name: Some("Alice Renamed".into()),
                active: Some(false),
                email: Some(Some("a@b.example".into())),
                ..UserPatch::default()
            },
            &audit(),
        )
        .await
        .expect("update");
    assert_eq!(updated.name, "Alice Renamed");
    assert!(!updated.active);
    assert_eq!(updated.email.as_deref(), Some("a@b.example"));
    assert!(updated.updated_at >= alice.updated_at);
    assert_eq!(updated.created_at, alice.created_at);
    assert_eq!(
        store.user_by_id(alice.id).await.expect("get"),
        Some(updated.clone())
    );

    let events = all_events(&store).await;
    let updates = events_about(&events, EventAction::ModelUpdated, "user");
    assert_eq!(updates.len(), 1);
    assert_eq!(
        updates[0].context["fields"],
        json!(["name", "email", "active"])
    );
    let serialized = serde_json::to_string(&updates[0].context).expect("json");
    assert!(
        !serialized.contains("a@b.example"),
        "values stay out of events"
    );

    // An empty patch changes nothing and records nothing.
    store
        .update_user(alice.id, UserPatch::default(), &audit())
        .await
        .expect("empty patch");
    assert_eq!(all_events(&store).await.len(), events.len());
    let missing = store
        .update_user(UserId::new(), UserPatch::default(), &audit())
        .await
        .expect_err("missing user");
    assert!(matches!(missing, StoreError::NotFound { kind: "user", .. }));
}

async fn password_hash_never_reaches_events(store: SqlStore) {
    const FIRST: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$first-secret-hash";
    const SECOND: &str = "$2b$10$second-secret-hash-from-an-import";
    let alice = store
        .create_user(
            NewUser {
                password_hash: Some(FIRST.into()),
                ..user("alice")
            },
            &audit(),
        )
        .await
        .expect("create");
    store
        .set_password_hash(alice.id, Some(SECOND.into()), &audit())
        .await
        .expect("set");
    let stored = store
        .user_by_id(alice.id)
        .await
        .expect("get")
        .expect("found");
    assert_eq!(stored.password_hash.as_deref(), Some(SECOND));
    store
        .apply_changes(
            &vec![Change::SetPasswordHash {
                username: "alice".into(),
                hash: FIRST.into(),
            }],
            &audit(),
        )
        .await
        .expect("apply");
    store
        .set_password_hash(alice.id, None, &audit())
        .await
        .expect("remove");
    let stored = store
        .user_by_id(alice.id)
        .await
        .expect("get")
        .expect("found");
    assert!(stored.password_hash.is_none());

    let events = all_events(&store).await;
    let password_events: Vec<_> = events
        .iter()
        .filter(|e| e.action == EventAction::PasswordSet)
        .collect();
    assert_eq!(password_events.len(), 3);
    assert!(
        password_events
            .iter()
            .all(|e| e.context["pk"] == json!(alice.id.to_string()))
    );
    for event in &events {
        let text = serde_json::to_string(&event.context).expect("json");
        assert!(!text.contains("secret-hash"), "hash leaked into {text}");
        assert!(!text.contains("$argon2id"), "hash leaked into {text}");
    }
}

async fn rehash_only_replaces_the_expected_hash(store: SqlStore) {
    let alice = store
        .create_user(
            NewUser {
                password_hash: Some("$2b$old".into()),
                ..user("alice")
            },
            &audit(),
        )
        .await
        .expect("create");
    let events_before = all_events(&store).await.len();
    store
        .rehash_password(alice.id, "$2b$old", "$argon2id$new".into())
        .await
        .expect("rehash");
    let hash = |store: SqlStore| async move {
        store
            .user_by_id(alice.id)
            .await
            .expect("get")
            .expect("found")
            .password_hash
    };
    assert_eq!(hash(store.clone()).await.as_deref(), Some("$argon2id$new"));
    // Stale expectation: the newer hash stays.
    store
        .rehash_password(alice.id, "$2b$old", "$argon2id$other".into())
        .await
        .expect("stale rehash is a no-op");
    assert_eq!(hash(store.clone()).await.as_deref(), Some("$argon2id$new"));
    assert_eq!(
        all_events(&store).await.len(),
        events_before,
        "rehash is not audited"
    );
    let missing = store
        .rehash_password(UserId::new(), "x", "y".into())
        .await
        .expect_err("missing user");
    assert!(matches!(missing, StoreError::NotFound { kind: "user", .. }));
}

async fn deleting_a_user_cascades(store: SqlStore) {
    let staff = store
        .create_group(group("staff", None), &audit())
        .await
        .expect("group");
    let alice = store
        .create_user(member_of("alice", &["staff"]), &audit())
        .await
        .expect("alice");
    let bob = store
        .create_user(member_of("bob", &["staff"]), &audit())
        .await
        .expect("bob");
    store
        .create_token(
            NewToken {
                user_id: Some(alice.id),
                ..token(TokenIntent::Api, "alice-digest", None)
            },
            &audit(),
        )
        .await
        .expect("token");
    let now = Utc::now();
    store
        .create_session(Session {
            id: SessionId::new(),
            user_id: alice.id,
            digest: "alice-session".into(),
            created_at: now,
            expires_at: now + Duration::hours(1),
            client_ip: None,
            user_agent: None,
            auth_time: now,
            auth_methods: Vec::new(),
        })
        .await
        .expect("session");

    store.delete_user(alice.id, &audit()).await.expect("delete");
    assert!(store.user_by_id(alice.id).await.expect("get").is_none());
    let members = store
        .group_members(staff.id, &ListQuery::all())
        .await
        .expect("members")
        .items;
    assert_eq!(names(&members, |u| &u.username), ["bob"]);
    assert!(
        store
            .list_tokens(Some(alice.id))
            .await
            .expect("tokens")
            .is_empty()
    );
    assert!(
        store
            .token_by_digest(TokenIntent::Api, "alice-digest")
            .await
            .expect("lookup")
            .is_none()
    );
    assert!(
        store
            .sessions_of(alice.id)
            .await
            .expect("sessions")
            .is_empty()
    );
    assert!(store.direct_groups(bob.id).await.expect("groups").len() == 1);

    let events = all_events(&store).await;
    let deleted = events_about(&events, EventAction::ModelDeleted, "user");
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].context["name"], json!("alice"));
    let err = store
        .delete_user(alice.id, &audit())
        .await
        .expect_err("gone");
    assert!(matches!(err, StoreError::NotFound { kind: "user", .. }));
}

async fn effective_groups_include_ancestors(store: SqlStore) {
    store
        .create_group(group("org", None), &audit())
        .await
        .expect("org");
    store
        .create_group(group("engineering", Some("org")), &audit())
        .await
        .expect("engineering");
    let platform = store
        .create_group(group("platform", Some("engineering")), &audit())
        .await
        .expect("platform");
    store
        .create_group(group("unrelated", None), &audit())
        .await
        .expect("unrelated");
    let alice = store
        .create_user(member_of("alice", &["platform"]), &audit())
        .await
        .expect("alice");

    let direct = store.direct_groups(alice.id).await.expect("direct");
    assert_eq!(names(&direct, |g| &g.name), ["platform"]);
    let effective = store.effective_groups(alice.id).await.expect("effective");
    assert_eq!(
        names(&effective, |g| &g.name),
        ["engineering", "org", "platform"]
    );
    let members = store
        .group_members(platform.id, &ListQuery::all())
        .await
        .expect("members")
        .items;
    assert_eq!(names(&members, |u| &u.username), ["alice"]);

    let engineering = store
        .group_by_name("engineering")
        .await
        .expect("lookup")
        .expect("found");
    let org = store
        .group_by_name("org")
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(engineering.parent_id, Some(org.id));
    assert_eq!(
        store.group_by_id(org.id).await.expect("by id"),
        Some(org.clone())
    );

    let listed = store
        .list_groups(&ListQuery {
            search: Some("E".into()),
            ..ListQuery::default()
        })
        .await
        .expect("list");
    assert_eq!(
        names(&listed.items, |g| &g.name),
        ["engineering", "unrelated"]
    );
    assert_eq!(listed.total, 2);

    let duplicate = store
        .create_group(group("org", None), &audit())
        .await
        .expect_err("duplicate");
    assert_eq!(
        duplicate,
        StoreError::Conflict("group name \"org\" is already taken".into())
    );
    let unknown_group = store
        .create_user(member_of("bob", &["nope"]), &audit())
        .await
        .expect_err("unknown group");
    assert_eq!(unknown_group, StoreError::not_found("group", "nope"));
    assert!(
        store
            .user_by_username("bob")
            .await
            .expect("lookup")
            .is_none()
    );
}

async fn unknown_parent_is_invalid(store: SqlStore) {
    let err = store
        .create_group(group("child", Some("missing")), &audit())
        .await
        .expect_err("unknown parent");
    match err {
        StoreError::Invalid(e) => {
            assert_eq!(e.field, "parent");
            assert!(e.message.contains("missing"), "{}", e.message);
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_eq!(
        store
            .list_groups(&ListQuery::all())
            .await
            .expect("list")
            .total,
        0
    );
}

async fn parent_cycles_are_refused_and_nothing_written(store: SqlStore) {
    let a = store
        .create_group(group("a", None), &audit())
        .await
        .expect("a");
    store
        .create_group(group("b", Some("a")), &audit())
        .await
        .expect("b");
    store
        .create_group(group("c", Some("b")), &audit())
        .await
        .expect("c");
    let events_before = all_events(&store).await.len();

    for new_parent in ["c", "b", "a"] {
        let err = store
            .update_group(
                a.id,
                GroupPatch {
                    parent: Some(Some(new_parent.into())),
                    name: Some("renamed".into()),
                    ..GroupPatch::default()
                },
                &audit(),
            )
            .await
            .expect_err("cycle");
        assert!(
            matches!(err, StoreError::Invalid(ref e) if e.field == "parent"),
            "{new_parent}: {err:?}"
        );
    }
    let still = store.group_by_id(a.id).await.expect("get").expect("found");
    assert_eq!(still, a, "nothing changed");
    assert_eq!(all_events(&store).await.len(), events_before);

    // A legal move is fine and audited with field names.
    let c = store.group_by_name("c").await.expect("get").expect("found");
    let moved = store
        .update_group(
            c.id,
            GroupPatch {
                parent: Some(Some("a".into())),
                ..GroupPatch::default()
            },
            &audit(),
        )
        .await
        .expect("move");
    assert_eq!(moved.parent_id, Some(a.id));
    let rooted = store
        .update_group(
            c.id,
            GroupPatch {
                parent: Some(None),
                is_superuser: Some(true),
                ..GroupPatch::default()
            },
            &audit(),
        )
        .await
        .expect("make root");
    assert_eq!(rooted.parent_id, None);
    assert!(rooted.is_superuser);
    let events = all_events(&store).await;
    let updates = events_about(&events, EventAction::ModelUpdated, "group");
    assert_eq!(updates.len(), 2);
    assert_eq!(
        updates[0].context["fields"],
        json!(["parent", "is_superuser"])
    );

    let rename_clash = store
        .update_group(
            c.id,
            GroupPatch {
                name: Some("a".into()),
                ..GroupPatch::default()
            },
            &audit(),
        )
        .await
        .expect_err("name taken");
    assert!(
        matches!(rename_clash, StoreError::Conflict(_)),
        "{rename_clash:?}"
    );
}

async fn deleting_a_group_reparents_its_children(store: SqlStore) {
    let a = store
        .create_group(group("a", None), &audit())
        .await
        .expect("a");
    let b = store
        .create_group(group("b", Some("a")), &audit())
        .await
        .expect("b");
    let c = store
        .create_group(group("c", Some("b")), &audit())
        .await
        .expect("c");
    let d = store
        .create_group(group("d", Some("b")), &audit())
        .await
        .expect("d");
    let alice = store
        .create_user(member_of("alice", &["b"]), &audit())
        .await
        .expect("alice");

    store.delete_group(b.id, &audit()).await.expect("delete b");
    assert!(store.group_by_id(b.id).await.expect("get").is_none());
    for child in [c.id, d.id] {
        let child = store.group_by_id(child).await.expect("get").expect("found");
        assert_eq!(child.parent_id, Some(a.id));
    }
    assert!(
        store
            .direct_groups(alice.id)
            .await
            .expect("groups")
            .is_empty()
    );

    // Deleting a root makes its children roots.
    store.delete_group(a.id, &audit()).await.expect("delete a");
    let c = store.group_by_id(c.id).await.expect("get").expect("found");
    assert_eq!(c.parent_id, None);
    let events = all_events(&store).await;
    assert_eq!(
        events_about(&events, EventAction::ModelDeleted, "group").len(),
        2
    );
}

async fn memberships_are_idempotent_and_audited(store: SqlStore) {
    let staff = store
        .create_group(group("staff", None), &audit())
        .await
        .expect("group");
    let alice = store
        .create_user(user("alice"), &audit())
        .await
        .expect("alice");
    store
        .add_member(staff.id, alice.id, &audit())
        .await
        .expect("add");
    store
        .add_member(staff.id, alice.id, &audit())
        .await
        .expect("add again");
    assert_eq!(
        store
            .group_members(staff.id, &ListQuery::all())
            .await
            .expect("members")
            .items
            .len(),
        1
    );
    store
        .remove_member(staff.id, alice.id, &audit())
        .await
        .expect("remove");
    store
        .remove_member(staff.id, alice.id, &audit())
        .await
        .expect("remove again");
    assert!(
        store
            .group_members(staff.id, &ListQuery::all())
            .await
            .expect("members")
            .items
            .is_empty()
    );

    let events = all_events(&store).await;
    assert_eq!(
        events_about(&events, EventAction::ModelCreated, "membership").len(),
        1
    );
    assert_eq!(
        events_about(&events, EventAction::ModelDeleted, "membership").len(),
        1
    );
    let err = store
        .add_member(staff.id, UserId::new(), &audit())
        .await
        .expect_err("unknown user");
    assert!(matches!(err, StoreError::NotFound { kind: "user", .. }));
}

async fn superuser_exists_follows_effective_membership(store: SqlStore) {
    assert!(!store.superuser_exists().await.expect("check"));
    store
        .create_group(
            NewGroup {
                is_superuser: true,
                ..NewGroup::named("admins")
            },
            &audit(),
        )
        .await
        .expect("admins");
    store
        .create_group(group("sub-admins", Some("admins")), &audit())
        .await
        .expect("sub-admins");
    assert!(
        !store.superuser_exists().await.expect("check"),
        "empty group"
    );
    let alice = store
        .create_user(
            NewUser {
                active: false,
                ..member_of("alice", &["sub-admins"])
            },
            &audit(),
        )
        .await
        .expect("alice");
    assert!(
        !store.superuser_exists().await.expect("check"),
        "inactive user"
    );
    store
        .update_user(
            alice.id,
            UserPatch {
                active: Some(true),
                ..UserPatch::default()
            },
            &audit(),
        )
        .await
        .expect("activate");
    assert!(
        store.superuser_exists().await.expect("check"),
        "member through a child group"
    );
}

async fn tokens_by_digest_expiry_and_sweep(store: SqlStore) {
    let now = Utc::now();
    let alice = store
        .create_user(user("alice"), &audit())
        .await
        .expect("alice");
    let expired = store
        .create_token(
            token(
                TokenIntent::Recovery,
                "expired",
                Some(now - Duration::minutes(1)),
            ),
            &audit(),
        )
        .await
        .expect("expired");
    let live = store
        .create_token(
            NewToken {
                user_id: Some(alice.id),
                ..token(TokenIntent::Api, "live", Some(now + Duration::hours(1)))
            },
            &audit(),
        )
        .await
        .expect("live");
    store
        .create_token(token(TokenIntent::Invitation, "forever", None), &audit())
        .await
        .expect("forever");

    let found = store
        .token_by_digest(TokenIntent::Recovery, "expired")
        .await
        .expect("lookup")
        .expect("expired tokens are still found");
    assert_eq!(found, expired);
    assert!(!found.is_valid_at(now));
    assert!(
        store
            .token_by_digest(TokenIntent::Api, "expired")
            .await
            .expect("lookup")
            .is_none(),
        "intent must match"
    );
    assert_eq!(
        store.list_tokens(Some(alice.id)).await.expect("list"),
        vec![live.clone()]
    );
    assert_eq!(store.list_tokens(None).await.expect("list").len(), 3);

    let duplicate = store
        .create_token(token(TokenIntent::Api, "live", None), &audit())
        .await
        .expect_err("duplicate digest");
    assert!(matches!(duplicate, StoreError::Conflict(_)));

    let orphan = store
        .create_token(
            NewToken {
                user_id: Some(UserId::new()),
                ..token(TokenIntent::Api, "orphan", None)
            },
            &audit(),
        )
        .await
        .expect_err("unknown user");
    assert!(
        matches!(orphan, StoreError::NotFound { kind: "user", .. }),
        "{orphan:?}"
    );

    assert_eq!(store.delete_expired_tokens(now).await.expect("sweep"), 1);
    assert_eq!(store.list_tokens(None).await.expect("list").len(), 2);
    assert_eq!(
        store
            .delete_tokens_with_intent(TokenIntent::Invitation)
            .await
            .expect("by intent"),
        1
    );
    store.delete_token(live.id, &audit()).await.expect("delete");
    assert!(store.list_tokens(None).await.expect("list").is_empty());
    let err = store
        .delete_token(live.id, &audit())
        .await
        .expect_err("gone");
    assert!(matches!(err, StoreError::NotFound { kind: "token", .. }));

    let events = all_events(&store).await;
    assert_eq!(
        events_about(&events, EventAction::ModelCreated, "token").len(),
        3
    );
    assert_eq!(
        events_about(&events, EventAction::ModelDeleted, "token").len(),
        1
    );
    for event in &events {
        let text = serde_json::to_string(&event.context).expect("json");
        assert!(
            !text.contains("forever") && !text.contains("\"live\""),
            "digest leaked: {text}"
        );
    }
}

async fn sessions_lookup_and_sweep(store: SqlStore) {
    let alice = store
        .create_user(user("alice"), &audit())
        .await
        .expect("alice");
    let now = Utc::now();
    let session = |digest: &str, expires_at: DateTime<Utc>| Session {
        id: SessionId::new(),
        user_id: alice.id,
        digest: digest.into(),
        created_at: now - Duration::hours(2),
        expires_at,
        client_ip: Some("198.51.100.1".into()),
        user_agent: Some("browser".into()),
        auth_time: now - Duration::minutes(90),
        auth_methods: vec![AuthenticationMethod::Password, AuthenticationMethod::Totp],
    };
    let old = session("old", now - Duration::minutes(5));
    let current = session("current", now + Duration::hours(8));
    store.create_session(old.clone()).await.expect("old");
    store
        .create_session(current.clone())
        .await
        .expect("current");

    assert!(
        store
            .session_by_digest("old", now)
            .await
            .expect("lookup")
            .is_none()
    );
    let found = store
        .session_by_digest("current", now)
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(found.id, current.id);
    assert_eq!(found.client_ip.as_deref(), Some("198.51.100.1"));
    // How the user authenticated survives the round trip (microsecond precision).
    assert_eq!(found.auth_time, current.auth_time.trunc_subsecs(6));
    assert_eq!(
        found.auth_methods,
        [AuthenticationMethod::Password, AuthenticationMethod::Totp]
    );
    assert_eq!(store.sessions_of(alice.id).await.expect("list").len(), 2);

    let orphan = store
        .create_session(Session {
            user_id: UserId::new(),
            ..session("orphan", now + Duration::hours(1))
        })
        .await
        .expect_err("unknown user");
    assert!(
        matches!(orphan, StoreError::NotFound { kind: "user", .. }),
        "{orphan:?}"
    );

    assert_eq!(store.delete_expired_sessions(now).await.expect("sweep"), 1);
    assert_eq!(store.sessions_of(alice.id).await.expect("list").len(), 1);
    store.delete_session(current.id).await.expect("delete");
    store
        .delete_session(current.id)
        .await
        .expect("delete again is fine");
    assert!(store.sessions_of(alice.id).await.expect("list").is_empty());
}

async fn signing_keys_round_trip(store: SqlStore) {
    let key = |name: &str, algorithm| NewSigningKey {
        name: name.into(),
        algorithm,
        private_key_sealed: format!("sealed-private-{name}"),
        public_key_der: format!("public-{name}"),
    };
    let first = store
        .create_signing_key(key("default", KeyAlgorithm::Rs256), &audit())
        .await
        .expect("first");
    let second = store
        .create_signing_key(key("grafana-2026", KeyAlgorithm::EdDsa), &audit())
        .await
        .expect("second");
    let listed = store.signing_keys().await.expect("list");
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].id, second.id, "newest first");
    assert_eq!(listed[1], first);
    let fetched = store
        .signing_key(second.id)
        .await
        .expect("get")
        .expect("found");
    assert_eq!(fetched.private_key_sealed, "sealed-private-grafana-2026");
    assert_eq!(fetched.algorithm, KeyAlgorithm::EdDsa);
    assert_eq!(fetched.retired_at, None);

    let duplicate = store
        .create_signing_key(key("default", KeyAlgorithm::Es256), &audit())
        .await
        .expect_err("duplicate name");
    assert!(matches!(duplicate, StoreError::Conflict(_)));
    let events = all_events(&store).await;
    assert_eq!(
        events_about(&events, EventAction::ModelCreated, "signing_key").len(),
        2
    );
    for event in &events {
        let text = serde_json::to_string(&event.context).expect("json");
        assert!(
            !text.contains("sealed-private"),
            "key material leaked: {text}"
        );
    }
}

async fn settings_insert_if_absent_keeps_the_first_value(store: SqlStore) {
    assert_eq!(store.setting("secret_check").await.expect("get"), None);
    let first = store
        .setting_insert_if_absent("secret_check", "one")
        .await
        .expect("first");
    assert_eq!(first, "one");
    let second = store
        .setting_insert_if_absent("secret_check", "two")
        .await
        .expect("second");
    assert_eq!(second, "one");
    assert_eq!(
        store.setting("secret_check").await.expect("get").as_deref(),
        Some("one")
    );
}

async fn first_admin_setup_then_conflict(store: SqlStore) {
    let now = Utc::now();
    store
        .create_token(
            token(
                TokenIntent::Setup,
                "setup-1",
                Some(now + Duration::hours(1)),
            ),
            &audit(),
        )
        .await
        .expect("setup token");
    let admin = store
        .create_first_admin(
            FirstAdmin {
                user: NewUser {
                    groups: vec!["ignored".into()],
                    password_hash: Some("$argon2id$admin".into()),
                    ..user("admin")
                },
                setup_token_digest: Some("setup-1".into()),
                api_token: Some(token(TokenIntent::Api, "bootstrap-api", None)),
            },
            &audit(),
        )
        .await
        .expect("first admin");
    assert!(store.superuser_exists().await.expect("check"));
    let groups = store.direct_groups(admin.id).await.expect("groups");
    assert_eq!(names(&groups, |g| &g.name), [DEFAULT_ADMIN_GROUP]);
    assert!(groups[0].is_superuser);
    assert!(
        store
            .token_by_digest(TokenIntent::Setup, "setup-1")
            .await
            .expect("lookup")
            .is_none(),
        "setup token spent"
    );
    let api = store
        .token_by_digest(TokenIntent::Api, "bootstrap-api")
        .await
        .expect("lookup")
        .expect("api token created");
    assert_eq!(api.user_id, Some(admin.id));
    let events = all_events(&store).await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.action == EventAction::TokenUsed)
            .count(),
        1
    );

    // A second setup is refused and does not spend its token.
    store
        .create_token(token(TokenIntent::Setup, "setup-2", None), &audit())
        .await
        .expect("second setup token");
    let err = store
        .create_first_admin(
            FirstAdmin {
                user: user("intruder"),
                setup_token_digest: Some("setup-2".into()),
                api_token: None,
            },
            &audit(),
        )
        .await
        .expect_err("second setup");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(
        store
            .user_by_username("intruder")
            .await
            .expect("lookup")
            .is_none()
    );
    assert!(
        store
            .token_by_digest(TokenIntent::Setup, "setup-2")
            .await
            .expect("lookup")
            .is_some(),
        "failed setup keeps its token"
    );
    // Without a token too.
    let err = store
        .create_first_admin(
            FirstAdmin {
                user: user("intruder"),
                setup_token_digest: None,
                api_token: None,
            },
            &audit(),
        )
        .await
        .expect_err("second setup");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
}

async fn first_admin_refuses_bad_tokens_without_spending_them(store: SqlStore) {
    let now = Utc::now();
    store
        .create_token(token(TokenIntent::Setup, "good", None), &audit())
        .await
        .expect("good");
    store
        .create_token(
            token(
                TokenIntent::Setup,
                "stale",
                Some(now - Duration::seconds(1)),
            ),
            &audit(),
        )
        .await
        .expect("stale");
    store
        .create_token(token(TokenIntent::Api, "api-not-setup", None), &audit())
        .await
        .expect("api");
    let attempt = |digest: &str, username: &str| FirstAdmin {
        user: user(username),
        setup_token_digest: Some(digest.into()),
        api_token: None,
    };
    for digest in ["wrong", "stale", "api-not-setup"] {
        let err = store
            .create_first_admin(attempt(digest, "admin"), &audit())
            .await
            .expect_err("bad token");
        assert!(
            matches!(err, StoreError::Invalid(ref e) if e.field == "token"),
            "{digest}: {err:?}"
        );
    }
    // Invalid input is refused before the token is looked at.
    let err = store
        .create_first_admin(attempt("good", "-bad name"), &audit())
        .await
        .expect_err("bad username");
    assert!(
        matches!(err, StoreError::Invalid(ref e) if e.field == "username"),
        "{err:?}"
    );
    // A failure after the token check rolls the spend back.
    let err = store
        .create_first_admin(
            FirstAdmin {
                api_token: Some(token(TokenIntent::Api, "api-not-setup", None)),
                ..attempt("good", "admin")
            },
            &audit(),
        )
        .await
        .expect_err("duplicate api token digest");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(
        store
            .token_by_digest(TokenIntent::Setup, "good")
            .await
            .expect("lookup")
            .is_some(),
        "token survives failed attempts"
    );
    assert!(
        store
            .token_by_digest(TokenIntent::Setup, "stale")
            .await
            .expect("lookup")
            .is_some()
    );
    assert!(!store.superuser_exists().await.expect("check"));
    assert!(
        store
            .group_by_name(DEFAULT_ADMIN_GROUP)
            .await
            .expect("lookup")
            .is_none()
    );

    store
        .create_first_admin(attempt("good", "admin"), &audit())
        .await
        .expect("good token works");
}

async fn apply_changes_resolves_names_in_order(store: SqlStore) {
    store
        .create_group(group("old", None), &audit())
        .await
        .expect("old");
    let changes = vec![
        Change::CreateGroup(group("staff", None)),
        Change::CreateGroup(group("grafana-admins", Some("staff"))),
        Change::CreateUser(NewUser {
            name: "Alice".into(),
            ..member_of("alice", &["grafana-admins", "old"])
        }),
        Change::UpdateUser {
            username: "alice".into(),
            patch: UserPatch {
                email: Some(Some("alice@example.com".into())),
                ..UserPatch::default()
            },
        },
        Change::SetPasswordHash {
            username: "alice".into(),
            hash: "$argon2id$applied".into(),
        },
        Change::SetUserGroups {
            username: "alice".into(),
            groups: vec!["grafana-admins".into(), "staff".into()],
        },
        Change::UpdateGroup {
            name: "old".into(),
            patch: GroupPatch {
                name: Some("renamed".into()),
                ..GroupPatch::default()
            },
        },
    ];
    store
        .apply_changes(&changes, &audit())
        .await
        .expect("apply");

    let alice = store
        .user_by_username("alice")
        .await
        .expect("lookup")
        .expect("alice");
    assert_eq!(alice.email.as_deref(), Some("alice@example.com"));
    assert_eq!(alice.password_hash.as_deref(), Some("$argon2id$applied"));
    let direct = store.direct_groups(alice.id).await.expect("groups");
    assert_eq!(names(&direct, |g| &g.name), ["grafana-admins", "staff"]);
    let child = store
        .group_by_name("grafana-admins")
        .await
        .expect("lookup")
        .expect("found");
    let staff = store
        .group_by_name("staff")
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(child.parent_id, Some(staff.id));
    assert!(
        store
            .group_by_name("renamed")
            .await
            .expect("lookup")
            .is_some()
    );
    assert!(store.group_by_name("old").await.expect("lookup").is_none());
    let events = all_events(&store).await;
    assert_eq!(
        events_about(&events, EventAction::ModelCreated, "membership").len(),
        3
    );
    assert_eq!(
        events_about(&events, EventAction::ModelDeleted, "membership").len(),
        1
    );
}

async fn apply_changes_rolls_back_when_the_last_change_fails(store: SqlStore) {
    let events_before = all_events(&store).await.len();
    let changes = vec![
        Change::CreateGroup(group("staff", None)),
        Change::CreateGroup(group("ops", Some("staff"))),
        Change::CreateUser(member_of("alice", &["ops"])),
        Change::SetUserGroups {
            username: "alice".into(),
            groups: vec!["staff".into(), "does-not-exist".into()],
        },
    ];
    let err = store
        .apply_changes(&changes, &audit())
        .await
        .expect_err("last change fails");
    assert_eq!(err, StoreError::not_found("group", "does-not-exist"));
    assert!(
        store
            .group_by_name("staff")
            .await
            .expect("lookup")
            .is_none()
    );
    assert!(store.group_by_name("ops").await.expect("lookup").is_none());
    assert!(
        store
            .user_by_username("alice")
            .await
            .expect("lookup")
            .is_none()
    );
    assert_eq!(
        all_events(&store).await.len(),
        events_before,
        "no events either"
    );

    // A conflict in the last change rolls back too.
    store.create_user(user("bob"), &audit()).await.expect("bob");
    let err = store
        .apply_changes(
            &vec![
                Change::CreateGroup(group("staff", None)),
                Change::CreateUser(user("Bob")),
            ],
            &audit(),
        )
        .await
        .expect_err("conflict");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(
        store
            .group_by_name("staff")
            .await
            .expect("lookup")
            .is_none()
    );
    let unknown_user = store
        .apply_changes(
            &vec![Change::UpdateUser {
                username: "nobody".into(),
                patch: UserPatch::default(),
            }],
            &audit(),
        )
        .await
        .expect_err("unknown user");
    assert_eq!(unknown_user, StoreError::not_found("user", "nobody"));
}

async fn concurrent_user_creation_succeeds(store: SqlStore) {
    store
        .create_group(group("crowd", None), &audit())
        .await
        .expect("group");
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .create_user(member_of(&format!("user{i:02}"), &["crowd"]), &audit())
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task").expect("concurrent create");
    }
    let users = store.list_users(&ListQuery::all()).await.expect("list");
    assert_eq!(users.total, 50);
    let crowd = store
        .group_by_name("crowd")
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(
        store
            .group_members(crowd.id, &ListQuery::all())
            .await
            .expect("members")
            .items
            .len(),
        50
    );
    // A member list pages and searches in the database, and only the group's members count.
    store
        .create_user(user("user1-outsider"), &audit())
        .await
        .expect("outsider");
    let page = store
        .group_members(
            crowd.id,
            &ListQuery {
                search: Some("USER1".into()),
                limit: 4,
                offset: 4,
                descending: false,
            },
        )
        .await
        .expect("a page of members");
    assert_eq!(page.total, 10);
    assert_eq!(
        names(&page.items, |u| &u.username),
        ["user14", "user15", "user16", "user17"]
    );

    // Racing creates of one name: exactly one wins, the rest conflict.
    let racers: Vec<_> = (0..10)
        .map(|i| {
            let store = store.clone();
            let name = if i % 2 == 0 { "racer" } else { "Racer" };
            tokio::spawn(async move { store.create_user(user(name), &audit()).await })
        })
        .collect();
    let mut won = 0;
    for racer in racers {
        match racer.await.expect("task") {
            Ok(_) => won += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    assert_eq!(won, 1);
}

async fn timestamps_round_trip_exactly(store: SqlStore) {
    let precise = Utc
        .with_ymd_and_hms(2031, 7, 14, 9, 26, 53)
        .single()
        .expect("valid time")
        + Duration::nanoseconds(123_456_789);
    let stored = precise.trunc_subsecs(6);

    let alice = store
        .create_user(user("alice"), &audit())
        .await
        .expect("alice");
    store.record_login(alice.id, precise).await.expect("login");
    let read = store
        .user_by_id(alice.id)
        .await
        .expect("get")
        .expect("found");
    assert_eq!(read.last_login, Some(stored));
    assert_eq!(
        read.created_at, alice.created_at,
        "created_at as returned by create"
    );
    assert_eq!(read.updated_at, alice.updated_at);

    let created = store
        .create_token(token(TokenIntent::Api, "t", Some(precise)), &audit())
        .await
        .expect("token");
    assert_eq!(created.expires_at, Some(stored));
    let read = store
        .token_by_digest(TokenIntent::Api, "t")
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(read, created);

    store
        .create_session(Session {
            id: SessionId::new(),
            user_id: alice.id,
            digest: "s".into(),
            created_at: precise - Duration::days(1),
            expires_at: precise,
            client_ip: None,
            user_agent: None,
            auth_time: precise - Duration::days(1),
            auth_methods: vec![AuthenticationMethod::WebauthnUserVerified],
        })
        .await
        .expect("session");
    let session = store
        .session_by_digest("s", precise - Duration::seconds(1))
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(session.expires_at, stored);
    assert_eq!(
        session.created_at,
        (precise - Duration::days(1)).trunc_subsecs(6)
    );
    // Comparisons are exact at the boundary: expiry == now means expired.
    assert!(
        store
            .session_by_digest("s", stored)
            .await
            .expect("lookup")
            .is_none()
    );
    // Microsecond ordering survives on both backends.
    let later = stored + Duration::microseconds(1);
    store.record_login(alice.id, later).await.expect("login");
    let read = store
        .user_by_id(alice.id)
        .await
        .expect("get")
        .expect("found");
    assert_eq!(read.last_login, Some(later));
    let missing = store
        .record_login(UserId::new(), precise)
        .await
        .expect_err("missing user");
    assert!(matches!(missing, StoreError::NotFound { kind: "user", .. }));
}

async fn events_are_filtered_and_newest_first(store: SqlStore) {
    let start = Utc::now() - Duration::seconds(1);
    let alice = store
        .create_user(user("alice"), &audit())
        .await
        .expect("alice");
    let as_alice = AuditContext {
        actor_id: Some(alice.id),
        actor: "alice".into(),
        client_ip: Some("203.0.113.9".into()),
        user_agent: None,
    };
    for i in 0..3 {
        store
            .append_event(
                gatehouse_core::NewEvent {
                    action: EventAction::LoginFailed,
                    context: Map::from_iter([("attempt".to_owned(), json!(i))]),
                },
                &as_alice,
            )
            .await
            .expect("append");
    }
    store
        .append_event(
            gatehouse_core::NewEvent {
                action: EventAction::Login,
                context: Map::new(),
            },
            &as_alice,
        )
        .await
        .expect("append");

    let all = store
        .list_events(&EventQuery {
            limit: 100,
            ..EventQuery::default()
        })
        .await
        .expect("all");
    assert_eq!(all.total, 5);
    assert_eq!(all.items[0].action, EventAction::Login, "newest first");
    assert_eq!(all.items[4].action, EventAction::ModelCreated);

    let failed = store
        .list_events(&EventQuery {
            action: Some(EventAction::LoginFailed),
            limit: 100,
            ..EventQuery::default()
        })
        .await
        .expect("failed");
    assert_eq!(failed.total, 3);
    let attempts: Vec<_> = failed
        .items
        .iter()
        .map(|e| e.context["attempt"].clone())
        .collect();
    assert_eq!(attempts, [json!(2), json!(1), json!(0)]);

    let by_actor = store
        .list_events(&EventQuery {
            actor_id: Some(alice.id),
            client_ip: Some("203.0.113.9".into()),
            since: Some(start),
            until: Some(Utc::now() + Duration::seconds(5)),
            limit: 2,
            offset: 1,
            ..EventQuery::default()
        })
        .await
        .expect("by actor");
    assert_eq!(by_actor.total, 4);
    assert_eq!(by_actor.items.len(), 2);
    let none = store
        .list_events(&EventQuery {
            until: Some(start),
            limit: 0,
            ..EventQuery::default()
        })
        .await
        .expect("until");
    assert_eq!(none.total, 0);
    let clamped = store
        .list_events(&EventQuery::default())
        .await
        .expect("limit 0 is clamped");
    assert_eq!(clamped.items.len(), 1);
}

async fn events_are_counted_per_action_and_period(store: SqlStore) {
    let failed = || gatehouse_core::NewEvent {
        action: EventAction::LoginFailed,
        context: Map::new(),
    };
    let start = Utc::now() - Duration::seconds(1);
    for _ in 0..3 {
        store
            .append_event(failed(), &audit())
            .await
            .expect("failed");
    }
    let middle = Utc::now();
    for action in [EventAction::Login, EventAction::LoginFailed] {
        store
            .append_event(
                gatehouse_core::NewEvent {
                    action,
                    context: Map::new(),
                },
                &audit(),
            )
            .await
            .expect("append");
    }
    let end = Utc::now() + Duration::seconds(5);
    let boundaries = [start - Duration::hours(1), start, middle, end];
    let counts = store
        .count_events_per_period(
            &[
                EventAction::Login,
                EventAction::LoginFailed,
                EventAction::Logout,
            ],
            &boundaries,
        )
        .await
        .expect("counts");
    assert_eq!(counts, vec![vec![0, 0, 1], vec![0, 3, 1], vec![0, 0, 0]]);
    let nothing = store
        .count_events_per_period(&[EventAction::Login], &[start])
        .await
        .expect("one boundary");
    assert_eq!(nothing, vec![Vec::<u64>::new()]);
}

/// Start-up behaviour that needs a store that is not yet migrated, or no database at all.
mod startup {
    use crate::support::db::fresh_postgres_database;
    use gatehouse_core::{ListQuery, Store, StoreError, UserStore};
    use gatehouse_store::{DatabaseSettings, PostgresSettings, SqlStore};
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn sqlite_creates_its_directory_and_replicas_migrate_concurrently() {
        let dir = tempfile::tempdir().expect("temp dir");
        let settings = DatabaseSettings::Sqlite {
            path: dir
                .path()
                .join("nested")
                .join("deeper")
                .join("gatehouse.db"),
        };
        let first = SqlStore::connect(&settings).await.expect("first");
        let second = SqlStore::connect(&settings).await.expect("second");
        let (a, b) = tokio::join!(first.migrate(), second.migrate());
        a.expect("first migrate");
        b.expect("second migrate");
        assert_eq!(
            second
                .list_users(&ListQuery::all())
                .await
                .expect("list")
                .total,
            0
        );
    }

    #[tokio::test]
    async fn postgres_replicas_migrate_concurrently() {
        let settings = DatabaseSettings::Postgres(fresh_postgres_database().await);
        let replicas = [
            SqlStore::connect(&settings).await.expect("connect"),
            SqlStore::connect(&settings).await.expect("connect"),
            SqlStore::connect(&settings).await.expect("connect"),
        ];
        let tasks: Vec<_> = replicas
            .iter()
            .cloned()
            .map(|store| tokio::spawn(async move { store.migrate().await }))
            .collect();
        for task in tasks {
            task.await.expect("task").expect("migrate");
        }
        replicas[0].ping().await.expect("ping");
    }

    #[tokio::test]
    async fn postgres_down_is_unavailable_and_connect_still_succeeds() {
        // Bind and drop a listener to find a port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let settings = PostgresSettings {
            host: "127.0.0.1".into(),
            port,
            password: Some("p@ss:w/rd?#%".into()),
            connect_timeout: Duration::from_secs(1),
            ..PostgresSettings::default()
        };
        let store = SqlStore::connect(&DatabaseSettings::Postgres(settings))
            .await
            .expect("a lazy pool connects without the server");
        let started = Instant::now();
        assert_eq!(store.ping().await, Err(StoreError::Unavailable));
        assert_eq!(
            store
                .list_users(&ListQuery::default())
                .await
                .expect_err("no server"),
            StoreError::Unavailable
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "gave up in time"
        );
        assert_eq!(store.pool_stats().size, 0);
    }
}

async fn devices_round_trip_with_events_and_no_secrets(store: SqlStore) {
    let alice = store
        .create_user(user("alice"), &audit())
        .await
        .expect("alice");
    let bob = store.create_user(user("bob"), &audit()).await.expect("bob");
    let phone = store
        .create_device(
            NewDevice {
                last_used_step: Some(1_000),
                ..new_device(alice.id, DeviceKind::Totp, "Phone")
            },
            &audit(),
        )
        .await
        .expect("phone");
    assert_eq!(phone.user_id, alice.id);
    assert_eq!(phone.kind, DeviceKind::Totp);
    assert_eq!(phone.name, "Phone");
    assert_eq!(phone.secret_sealed, DEVICE_SECRET);
    assert_eq!(phone.last_used_step, Some(1_000));
    assert!(phone.last_used_at.is_none());
    assert!(!format!("{phone:?}").contains("DEVICE-SECRET"));
    let key = store
        .create_device(
            new_device(alice.id, DeviceKind::Webauthn, "YubiKey 5C"),
            &audit(),
        )
        .await
        .expect("key");
    let codes = store
        .create_device(
            new_device(alice.id, DeviceKind::Static, "Recovery codes"),
            &audit(),
        )
        .await
        .expect("codes");
    store
        .create_device(
            new_device(bob.id, DeviceKind::Totp, "Bob's phone"),
            &audit(),
        )
        .await
        .expect("bob's");

    // Oldest first, only the owner's, and read back exactly as stored.
    let listed = store.devices_of(alice.id).await.expect("list");
    assert_eq!(
        names(&listed, |d: &Device| &d.name),
        ["Phone", "YubiKey 5C", "Recovery codes"]
    );
    assert_eq!(listed[0], phone);
    assert_eq!(
        store.device(key.id).await.expect("get").as_ref(),
        Some(&key)
    );
    assert!(store.device(DeviceId::new()).await.expect("get").is_none());
    assert!(
        store
            .devices_of(UserId::new())
            .await
            .expect("list")
            .is_empty()
    );

    store
        .rename_device(key.id, "Blue key", &audit())
        .await
        .expect("rename");
    // Renaming to the current name changes nothing and records nothing.
    store
        .rename_device(key.id, "Blue key", &audit())
        .await
        .expect("same name");
    let renamed = store.device(key.id).await.expect("get").expect("found");
    assert_eq!(renamed.name, "Blue key");
    assert_eq!(renamed.secret_sealed, DEVICE_SECRET);
    assert_eq!(renamed.created_at, key.created_at);

    store
        .delete_device(codes.id, &audit())
        .await
        .expect("delete");
    assert!(store.device(codes.id).await.expect("get").is_none());
    assert_eq!(
        names(
            &store.devices_of(alice.id).await.expect("list"),
            |d: &Device| &d.name
        ),
        ["Phone", "Blue key"]
    );

    let events = all_events(&store).await;
    let created = events_about(&events, EventAction::ModelCreated, "device");
    assert_eq!(created.len(), 4);
    let phone_created = created
        .iter()
        .find(|e| e.context["pk"] == json!(phone.id.to_string()))
        .expect("phone's event");
    assert_eq!(phone_created.context["name"], json!("Phone"));
    assert_eq!(phone_created.context["kind"], json!("totp"));
    assert_eq!(
        phone_created.context["user_id"],
        json!(alice.id.to_string())
    );
    assert_eq!(phone_created.actor, "test");
    let updated = events_about(&events, EventAction::ModelUpdated, "device");
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0].context["pk"], json!(key.id.to_string()));
    assert_eq!(updated[0].context["name"], json!("Blue key"));
    assert_eq!(updated[0].context["kind"], json!("webauthn"));
    assert_eq!(updated[0].context["fields"], json!(["name"]));
    let deleted = events_about(&events, EventAction::ModelDeleted, "device");
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].context["pk"], json!(codes.id.to_string()));
    assert_eq!(deleted[0].context["name"], json!("Recovery codes"));
    assert_eq!(deleted[0].context["kind"], json!("static"));
    for event in &events {
        let text = serde_json::to_string(&event.context).expect("json");
        assert!(!text.contains("DEVICE-SECRET"), "secret leaked into {text}");
        assert!(!text.contains("sealed:"), "secret leaked into {text}");
    }
}

async fn invalid_device_names_and_unknown_ids_write_nothing(store: SqlStore) {
    let alice = store
        .create_user(user("alice"), &audit())
        .await
        .expect("alice");
    let events_before = all_events(&store).await.len();
    let long = "x".repeat(65);
    for bad in [
        "",
        "   ",
        " Phone",
        "Phone ",
        "tab\there",
        "line\nbreak",
        long.as_str(),
    ] {
        let err = store
            .create_device(new_device(alice.id, DeviceKind::Totp, bad), &audit())
            .await
            .expect_err(bad);
        match err {
            StoreError::Invalid(v) => assert_eq!(v.field, "name", "{bad:?}"),
            other => panic!("{bad:?}: expected Invalid, got {other:?}"),
        }
    }
    // The longest allowed name is fine.
    let max = "é".repeat(64);
    let phone = store
        .create_device(new_device(alice.id, DeviceKind::Totp, &max), &audit())
        .await
        .expect("64 characters");
    store
        .rename_device(phone.id, "Phone", &audit())
        .await
        .expect("rename");
    let events_after_valid = all_events(&store).await.len();
    assert_eq!(events_after_valid, events_before + 2);

    // An unknown owner is NotFound("user") and writes nothing.
    let err = store
        .create_device(
            new_device(UserId::new(), DeviceKind::Totp, "Phone"),
            &audit(),
        )
        .await
        .expect_err("unknown user");
    assert!(
        matches!(err, StoreError::NotFound { kind: "user", .. }),
        "{err:?}"
    );

    // Bad renames are refused and change nothing.
    for bad in ["", " Phone", "a\u{7}", long.as_str()] {
        let err = store
            .rename_device(phone.id, bad, &audit())
            .await
            .expect_err(bad);
        assert!(
            matches!(&err, StoreError::Invalid(v) if v.field == "name"),
            "{bad:?}: {err:?}"
        );
    }
    // Unknown devices are NotFound("device").
    let ghost = DeviceId::new();
    let err = store
        .rename_device(ghost, "Ghost", &audit())
        .await
        .expect_err("unknown");
    assert!(
        matches!(err, StoreError::NotFound { kind: "device", .. }),
        "{err:?}"
    );
    let err = store
        .delete_device(ghost, &audit())
        .await
        .expect_err("unknown");
    assert!(
        matches!(err, StoreError::NotFound { kind: "device", .. }),
        "{err:?}"
    );
    assert!(
        !store
            .record_totp_step(ghost, 1, Utc::now())
            .await
            .expect("unknown device records nothing")
    );

    let devices = store.devices_of(alice.id).await.expect("list");
    assert_eq!(names(&devices, |d: &Device| &d.name), ["Phone"]);
    assert_eq!(all_events(&store).await.len(), events_after_valid);
}

async fn totp_steps_only_move_forward(store: SqlStore) {
    let alice = store
        .create_user(user("alice"), &audit())
        .await
        .expect("alice");
    let fresh = store
        .create_device(new_device(alice.id, DeviceKind::Totp, "Fresh"), &audit())
        .await
        .expect("fresh");
    let confirmed = store
        .create_device(
            NewDevice {
                last_used_step: Some(100),
                ..new_device(alice.id, DeviceKind::Totp, "Confirmed")
            },
            &audit(),
        )
        .await
        .expect("confirmed");
    let events_before = all_events(&store).await.len();
    let t0 =
        Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap() + Duration::nanoseconds(123_456_789);

    // No step recorded yet: any step is accepted, even 0.
    assert!(
        store
            .record_totp_step(fresh.id, 0, t0)
            .await
            .expect("first")
    );
    let stored = store.device(fresh.id).await.expect("get").expect("found");
    assert_eq!(stored.last_used_step, Some(0));
    assert_eq!(stored.last_used_at, Some(t0.trunc_subsecs(6)));

    // The confirming step and anything older are refused; later ones are accepted once.
    for (step, accepted) in [
        (99, false),
        (100, false),
        (101, true),
        (101, false),
        (100, false),
        (103, true),
        (102, false),
        (i64::MAX, true),
        (i64::MAX, false),
    ] {
        let at = t0 + Duration::seconds(step.min(10_000));
        assert_eq!(
            store
                .record_totp_step(confirmed.id, step, at)
                .await
                .expect("record"),
            accepted,
            "step {step}"
        );
    }
    let stored = store
        .device(confirmed.id)
        .await
        .expect("get")
        .expect("found");
    assert_eq!(stored.last_used_step, Some(i64::MAX));
    // last_used_at is from the last accepted call, not from the refused ones.
    assert_eq!(
        stored.last_used_at,
        Some((t0 + Duration::seconds(10_000)).trunc_subsecs(6))
    );
    // Devices are independent.
    assert_eq!(
        store
            .device(fresh.id)
            .await
            .expect("get")
            .expect("found")
            .last_used_step,
        Some(0)
    );
    // Spending codes is not an audited change.
    assert_eq!(all_events(&store).await.len(), events_before);
}

async fn concurrent_totp_step_is_spent_once(store: SqlStore) {
    let alice = store
        .create_user(user("alice"), &audit())
        .await
        .expect("alice");
    let phone = store
        .create_device(
            NewDevice {
                last_used_step: Some(41),
                ..new_device(alice.id, DeviceKind::Totp, "Phone")
            },
            &audit(),
        )
        .await
        .expect("phone");
    for step in [42, 43] {
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(20));
        let racers: Vec<_> = (0..20)
            .map(|_| {
                let store = store.clone();
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.record_totp_step(phone.id, step, Utc::now()).await
                })
            })
            .collect();
        let mut won = 0;
        for racer in racers {
            if racer.await.expect("task").expect("record") {
                won += 1;
            }
        }
        assert_eq!(won, 1, "step {step} was spent {won} times");
        let stored = store.device(phone.id).await.expect("get").expect("found");
        assert_eq!(stored.last_used_step, Some(step));
    }
}

async fn deleting_a_user_deletes_its_devices(store: SqlStore) {
    let alice = store
        .create_user(user("alice"), &audit())
        .await
        .expect("alice");
    let bob = store.create_user(user("bob"), &audit()).await.expect("bob");
    let phone = store
        .create_device(new_device(alice.id, DeviceKind::Totp, "Phone"), &audit())
        .await
        .expect("phone");
    store
        .create_device(new_device(alice.id, DeviceKind::Static, "Codes"), &audit())
        .await
        .expect("codes");
    let bobs = store
        .create_device(new_device(bob.id, DeviceKind::Totp, "Phone"), &audit())
        .await
        .expect("bob's");

    store.delete_user(alice.id, &audit()).await.expect("delete");
    assert!(store.devices_of(alice.id).await.expect("list").is_empty());
    assert!(store.device(phone.id).await.expect("get").is_none());
    assert!(
        !store
            .record_totp_step(phone.id, 7, Utc::now())
            .await
            .expect("gone")
    );
    assert_eq!(
        store.devices_of(bob.id).await.expect("list"),
        vec![store.device(bobs.id).await.expect("get").expect("found")]
    );
}

async fn flows_are_seeded_once_and_replaced_by_change_sets(store: SqlStore) {
    let seeds = vec![
        ("alpha".to_owned(), json!({"slug": "alpha", "v": 1})),
        ("beta".to_owned(), json!({"slug": "beta", "v": 1})),
    ];
    let added = store
        .seed_flow_definitions(seeds.clone(), &audit())
        .await
        .expect("seed");
    assert_eq!(added, ["alpha", "beta"]);

    // An edit survives a later seeding (the next start), which adds only what is missing.
    let edited = json!({"slug": "alpha", "v": 2});
    store
        .apply_changes(
            &vec![Change::PutFlow {
                slug: "alpha".into(),
                definition: edited.clone(),
            }],
            &audit(),
        )
        .await
        .expect("put");
    let mut again = seeds;
    again.push(("gamma".to_owned(), json!({"slug": "gamma"})));
    let added = store
        .seed_flow_definitions(again, &audit())
        .await
        .expect("seed again");
    assert_eq!(added, ["gamma"]);

    let alpha = store
        .flow_definition("alpha")
        .await
        .expect("read")
        .expect("alpha stored");
    assert_eq!(alpha.definition, edited);
    assert!(alpha.updated_at >= alpha.created_at);
    assert_eq!(store.flow_definition("nope").await.expect("read"), None);
    let slugs: Vec<String> = store
        .flow_definitions()
        .await
        .expect("list")
        .into_iter()
        .map(|flow| flow.slug)
        .collect();
    assert_eq!(slugs, ["alpha", "beta", "gamma"]);

    let events = all_events(&store).await;
    assert_eq!(
        events_about(&events, EventAction::ModelCreated, "flow").len(),
        3
    );
    let updated = events_about(&events, EventAction::ModelUpdated, "flow");
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0].context["name"], "alpha");
}

/// A WebAuthn sign-in is recorded only if the device was not used since the challenge was
/// issued: a replayed response (same challenge) and a concurrent one both find it used.
async fn webauthn_challenge_is_spent_once(store: SqlStore) {
    let alice = store
        .create_user(user("alice"), &audit())
        .await
        .expect("alice");
    let key = store
        .create_device(
            NewDevice {
                last_used_step: Some(0),
                ..new_device(alice.id, DeviceKind::Webauthn, "Laptop")
            },
            &audit(),
        )
        .await
        .expect("key");
    let totp = store
        .create_device(new_device(alice.id, DeviceKind::Totp, "Phone"), &audit())
        .await
        .expect("totp");
    let issued = Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap();
    let used = issued + Duration::seconds(5);
    assert!(
        store
            .record_webauthn_use(key.id, 7, issued, used)
            .await
            .expect("first use")
    );
    let stored = store.device(key.id).await.expect("get").expect("found");
    assert_eq!(stored.last_used_step, Some(7));
    assert_eq!(stored.last_used_at, Some(used));
    // The same challenge again (a replay), or any challenge issued before that use: refused.
    for challenge in [issued, used - Duration::seconds(1), used] {
        assert!(
            !store
                .record_webauthn_use(key.id, 8, challenge, used + Duration::seconds(1))
                .await
                .expect("replay")
        );
    }
    assert_eq!(
        store
            .device(key.id)
            .await
            .expect("get")
            .expect("found")
            .last_used_step,
        Some(7)
    );
    // A challenge issued after the last use works once.
    let next = used + Duration::seconds(10);
    assert!(
        store
            .record_webauthn_use(key.id, 8, next, next + Duration::seconds(1))
            .await
            .expect("next")
    );
    // Only WebAuthn devices, and only existing ones.
    assert!(
        !store
            .record_webauthn_use(totp.id, 1, next, next)
            .await
            .expect("totp")
    );
    assert!(
        !store
            .record_webauthn_use(DeviceId::new(), 1, next, next)
            .await
            .expect("ghost")
    );
}

/// PostgreSQL's `jsonb` prints the largest doubles as 309-digit integers and the smallest with
/// hundreds of zeros; reading them back must give the same numbers, not a decoding error (the
/// admin API answered 500 on such a group, found by schemathesis).
async fn extreme_numbers_in_attributes_read_back(store: SqlStore) {
    let attributes = serde_json::json!({
        "largest": [f64::MAX, f64::MIN, 3.863_253_899_571_122_6e95],
        "smallest": -1.257_157_268_154_294_7e-202,
        "integer": 395_377_285_013_392_896_u64,
    });
    let created = store
        .create_group(
            NewGroup {
                attributes: attributes.as_object().cloned().unwrap_or_default(),
                ..NewGroup::named("extremes")
            },
            &audit(),
        )
        .await
        .expect("group");
    let read = store
        .group_by_id(created.id)
        .await
        .expect("read back")
        .expect("the group");
    assert_eq!(serde_json::Value::Object(read.attributes), attributes);
}

async fn worker_heartbeats_upsert_list_and_forget(store: SqlStore) {
    use gatehouse_core::{WorkerHeartbeat, WorkerHeartbeatStore};
    let now = Utc::now().trunc_subsecs(6);
    let beat = |id: &str, last_seen: DateTime<Utc>| WorkerHeartbeat {
        worker_id: id.into(),
        description: format!("host (pid 1, {id})"),
        started_at: now - Duration::hours(2),
        last_seen,
        interval_secs: 15,
    };
    assert!(store.worker_heartbeats().await.expect("list").is_empty());
    store
        .record_worker_heartbeat(&beat("old", now - Duration::days(2)))
        .await
        .expect("first beat");
    store
        .record_worker_heartbeat(&beat("a", now - Duration::seconds(40)))
        .await
        .expect("first beat");
    // A later beat of the same worker updates its row; it does not add one.
    let mut later = beat("a", now);
    later.interval_secs = 5;
    later.description = "ignored after the first beat".into();
    store.record_worker_heartbeat(&later).await.expect("beat");
    let listed = store.worker_heartbeats().await.expect("list");
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].worker_id, "a", "the most recently seen first");
    assert_eq!(listed[0].last_seen, now);
    assert_eq!(listed[0].interval_secs, 5);
    assert_eq!(listed[0].description, "host (pid 1, a)");
    assert_eq!(listed[0].started_at, now - Duration::hours(2));
    assert_eq!(
        store
            .forget_workers_seen_before(now - Duration::days(1))
            .await
            .expect("forget"),
        1
    );
    let listed = store.worker_heartbeats().await.expect("list");
    assert_eq!(
        listed
            .iter()
            .map(|b| b.worker_id.as_str())
            .collect::<Vec<_>>(),
        ["a"]
    );
}
