//! Upstream sources in the store suite, on both backends: sources created, read back whole
//! (the sealed secret stored as given, never in an event), replaced without a slug change,
//! refused with unknown references; connections unique per upstream account and per user
//! and source; just-in-time enrollment all or nothing on a taken username; a login's group
//! sync creating, joining and leaving in one transaction; unlinking refused when it is the
//! last way in, also when two unlinks race; deletion cascading to connections.

use chrono::Utc;
use gatehouse_core::{
    AuditContext, EventAction, EventQuery, EventStore, GroupChanges, GroupStore, GroupSync,
    GroupSyncMode, NewGroup, NewSource, NewSourceConnection, NewUser, SourceKind, SourceLogin,
    SourceStore, StoreError, UserMatching, UserStore,
};
use gatehouse_store::SqlStore;

crate::on_both_stores! {
    sources_are_stored_whole_and_replaced_in_place,
    connections_enrollment_group_sync_and_unlinking,
    concurrent_unlinks_never_leave_a_user_without_a_way_in,
}

fn forgejo() -> NewSource {
    let mut source = NewSource::new("forgejo", "Forgejo", SourceKind::Forgejo, "gatehouse");
    source.base_url = Some("https://git.example.com".into());
    source.client_secret_sealed = Some("v1.sealed-secret-value".into());
    source.scopes = vec!["openid".into(), "groups".into()];
    source.user_matching = UserMatching::EmailLink;
    source
}

async fn sources_are_stored_whole_and_replaced_in_place(store: SqlStore) {
    let audit = AuditContext::system();
    store
        .create_group(NewGroup::named("forgejo"), &audit)
        .await
        .expect("parent group");
    let mut new = forgejo();
    new.group_sync = GroupSync {
        mode: GroupSyncMode::Create,
        parent: Some("forgejo".into()),
    };
    new.enrollment_flow = Some("no-such-flow".into());
    // The enrollment flow must exist.
    let missing_flow = store.create_source(new.clone(), &audit).await;
    assert!(
        matches!(&missing_flow, Err(StoreError::Invalid(e)) if e.field == "enrollment_flow"),
        "{missing_flow:?}"
    );
    new.enrollment_flow = None;
    let created = store
        .create_source(new.clone(), &audit)
        .await
        .expect("create");
    assert_eq!(created.settings, new);
    let read = store
        .source_by_slug("forgejo")
        .await
        .expect("read")
        .expect("found");
    assert_eq!(read, created);
    assert!(matches!(
        store.create_source(new.clone(), &audit).await,
        Err(StoreError::Conflict(_))
    ));
    let mut unknown_parent = new.clone();
    unknown_parent.slug = "gitea".into();
    unknown_parent.group_sync.parent = Some("nope".into());
    assert!(matches!(
        store.create_source(unknown_parent, &audit).await,
        Err(StoreError::Invalid(e)) if e.field == "group_sync.parent"
    ));

    let mut replaced = new.clone();
    replaced.name = "Our Forgejo".into();
    replaced.enabled = false;
    replaced.client_secret_sealed = None;
    let updated = store
        .update_source(created.id, replaced.clone(), &audit)
        .await
        .expect("update");
    assert_eq!(updated.settings, replaced);
    assert_eq!(updated.created_at, created.created_at);
    let mut renamed = replaced.clone();
    renamed.slug = "other".into();
    assert!(matches!(
        store.update_source(created.id, renamed, &audit).await,
        Err(StoreError::Invalid(e)) if e.field == "slug"
    ));
    let mut github = NewSource::new("github", "GitHub", SourceKind::Github, "gh");
    github.user_matching = UserMatching::Deny;
    store.create_source(github, &audit).await.expect("github");
    let slugs: Vec<String> = store
        .list_sources()
        .await
        .expect("list")
        .iter()
        .map(|s| s.slug().to_owned())
        .collect();
    assert_eq!(slugs, ["forgejo", "github"]);

    let events = store
        .list_events(&EventQuery {
            limit: 100,
            ..EventQuery::default()
        })
        .await
        .expect("events");
    let about_sources: Vec<_> = events
        .items
        .iter()
        .filter(|e| e.context.get("model").and_then(|m| m.as_str()) == Some("source"))
        .collect();
    assert_eq!(about_sources.len(), 3, "two creates and an update");
    for event in events.items {
        assert!(
            !serde_json::to_string(&event.context)
                .expect("json")
                .contains("sealed-secret-value")
        );
    }
    store
        .delete_source(created.id, &audit)
        .await
        .expect("delete");
    assert!(
        store
            .source_by_slug("forgejo")
            .await
            .expect("read")
            .is_none()
    );
}

async fn connections_enrollment_group_sync_and_unlinking(store: SqlStore) {
    let audit = AuditContext::system();
    store
        .create_group(NewGroup::named("forgejo"), &audit)
        .await
        .expect("parent");
    let source = store
        .create_source(forgejo(), &audit)
        .await
        .expect("source");
    let mut other = NewSource::new("github", "GitHub", SourceKind::Github, "gh");
    other.user_matching = UserMatching::Identifier;
    let other = store.create_source(other, &audit).await.expect("github");

    // Just-in-time enrollment: user and link together.
    let (carol, link) = store
        .enroll_from_source(
            NewUser::named("carol"),
            source.id,
            "1001",
            Some("carol".into()),
            &audit,
        )
        .await
        .expect("enroll");
    assert_eq!(link.user_id, carol.id);
    assert_eq!(link.source_slug, "forgejo");
    assert_eq!(
        store
            .source_connection(source.id, "1001")
            .await
            .expect("read")
            .map(|c| c.user_id),
        Some(carol.id)
    );
    // A taken username writes nothing, not even the link.
    let clash = store
        .enroll_from_source(NewUser::named("carol"), source.id, "1002", None, &audit)
        .await;
    assert!(matches!(clash, Err(StoreError::Conflict(_))), "{clash:?}");
    assert!(
        store
            .source_connection(source.id, "1002")
            .await
            .expect("read")
            .is_none()
    );
    // The same upstream account cannot be linked twice, nor a user twice at one source.
    let alice = store
        .create_user(NewUser::named("alice"), &audit)
        .await
        .expect("alice");
    let again = store
        .link_source(
            NewSourceConnection {
                source_id: source.id,
                user_id: alice.id,
                upstream_id: "1001".into(),
                upstream_username: None,
            },
            &audit,
        )
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let second_here = store
        .link_source(
            NewSourceConnection {
                source_id: source.id,
                user_id: carol.id,
                upstream_id: "2002".into(),
                upstream_username: None,
            },
            &audit,
        )
        .await;
    assert!(matches!(second_here, Err(StoreError::Conflict(_))));

    // Group sync: create under the parent and join, then leave what upstream dropped,
    // leaving an admin-given membership alone.
    let staff = store
        .create_group(NewGroup::named("staff"), &audit)
        .await
        .expect("staff");
    store
        .add_member(staff.id, carol.id, &audit)
        .await
        .expect("admin-given");
    let first = store
        .record_source_login(
            SourceLogin {
                connection: link.id,
                upstream_username: Some("carol".into()),
                groups: GroupChanges {
                    create: vec!["infra".into(), "infra:ops".into()],
                    parent: Some("forgejo".into()),
                    join: vec!["infra".into(), "infra:ops".into()],
                    leave: Vec::new(),
                    synced: vec!["infra".into(), "infra:ops".into()],
                },
                at: Utc::now(),
            },
            &audit,
        )
        .await
        .expect("first login");
    assert_eq!(first.synced_groups, ["infra", "infra:ops"]);
    assert!(first.last_login.is_some());
    let ops = store
        .group_by_name("infra:ops")
        .await
        .expect("read")
        .expect("created");
    let parent = store.group_by_name("forgejo").await.expect("r").expect("p");
    assert_eq!(ops.parent_id, Some(parent.id));
    let direct =
        |groups: Vec<gatehouse_core::Group>| groups.into_iter().map(|g| g.name).collect::<Vec<_>>();
    assert_eq!(
        direct(store.direct_groups(carol.id).await.expect("groups")),
        ["infra", "infra:ops", "staff"]
    );
    store
        .record_source_login(
            SourceLogin {
                connection: link.id,
                upstream_username: Some("carol2".into()),
                groups: GroupChanges {
                    join: vec!["infra".into()],
                    leave: vec!["infra:ops".into()],
                    synced: vec!["infra".into()],
                    ..GroupChanges::default()
                },
                at: Utc::now(),
            },
            &audit,
        )
        .await
        .expect("second login");
    assert_eq!(
        direct(store.direct_groups(carol.id).await.expect("groups")),
        ["infra", "staff"]
    );
    let reread = store.source_connections_of(carol.id).await.expect("list");
    assert_eq!(reread.len(), 1);
    assert_eq!(reread[0].upstream_username.as_deref(), Some("carol2"));
    assert_eq!(reread[0].synced_groups, ["infra"]);
    assert!(
        store
            .user_by_id(carol.id)
            .await
            .expect("read")
            .expect("carol")
            .last_login
            .is_some()
    );
    let sync_events = store
        .list_events(&EventQuery {
            action: Some(EventAction::ModelUpdated),
            limit: 50,
            ..EventQuery::default()
        })
        .await
        .expect("events")
        .items
        .into_iter()
        .filter(|e| e.context.get("model").and_then(|m| m.as_str()) == Some("source_connection"))
        .count();
    assert_eq!(sync_events, 2, "each login that changed groups is audited");

    // Carol has no password: her only link cannot go; with a second link, one can.
    let refused = store.unlink_source(carol.id, source.id, &audit).await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    store
        .link_source(
            NewSourceConnection {
                source_id: other.id,
                user_id: carol.id,
                upstream_id: "gh-9".into(),
                upstream_username: Some("carol".into()),
            },
            &audit,
        )
        .await
        .expect("second link");
    store
        .unlink_source(carol.id, source.id, &audit)
        .await
        .expect("unlink with another way in");
    let left: Vec<String> = store
        .source_connections_of(carol.id)
        .await
        .expect("list")
        .into_iter()
        .map(|c| c.source_slug)
        .collect();
    assert_eq!(left, ["github"]);
    // Deleting a source deletes its connections.
    store.delete_source(other.id, &audit).await.expect("delete");
    assert!(
        store
            .source_connections_of(carol.id)
            .await
            .expect("list")
            .is_empty()
    );
}

async fn concurrent_unlinks_never_leave_a_user_without_a_way_in(store: SqlStore) {
    let audit = AuditContext::system();
    let a = store
        .create_source(NewSource::new("a", "A", SourceKind::Github, "a"), &audit)
        .await
        .expect("a");
    let b = store
        .create_source(NewSource::new("b", "B", SourceKind::Github, "b"), &audit)
        .await
        .expect("b");
    for round in 0..5 {
        let username = format!("dana{round}");
        let (dana, _) = store
            .enroll_from_source(NewUser::named(&username), a.id, &username, None, &audit)
            .await
            .expect("enroll");
        store
            .link_source(
                NewSourceConnection {
                    source_id: b.id,
                    user_id: dana.id,
                    upstream_id: username.clone(),
                    upstream_username: None,
                },
                &audit,
            )
            .await
            .expect("second link");
        let (one, two) = tokio::join!(
            store.unlink_source(dana.id, a.id, &audit),
            store.unlink_source(dana.id, b.id, &audit)
        );
        assert!(
            one.is_ok() != two.is_ok(),
            "exactly one unlink wins: {one:?} {two:?}"
        );
        let loser = if one.is_ok() { two } else { one };
        assert!(matches!(loser, Err(StoreError::Conflict(_))), "{loser:?}");
        assert_eq!(
            store
                .source_connections_of(dana.id)
                .await
                .expect("list")
                .len(),
            1
        );
    }
}
