//! RFC 8628 device authorizations in the store suite, on both backends: creation with its
//! event and unique codes, lookups by either code (pending and unexpired only, by user code),
//! the answer as a one-time compare-and-set that refuses expired codes, poll bookkeeping,
//! single redemption storing the tokens in the same transaction, the sweep, and cascading
//! deletion with the application.

use chrono::{Duration, Utc};
use gatehouse_core::{
    ApplicationStore, AuditContext, ClientType, DeviceAuthorizationStatus,
    DeviceAuthorizationStore, DeviceDecision, EventAction, EventQuery, EventStore, GrantFamilyId,
    NewApplication, NewDeviceAuthorization, NewEvent, NewOAuth2Token, NewUser, OAuth2Provider,
    OAuth2TokenKind, OAuth2TokenStore, StoreError, UserStore,
};
use gatehouse_store::SqlStore;
use serde_json::{Map, json};

crate::on_both_stores! {
    device_authorizations_are_answered_once_and_redeemed_once,
}

fn event() -> NewEvent {
    NewEvent::about_model(EventAction::ModelCreated, "device_authorization", "x", "tv")
}

async fn device_authorizations_are_answered_once_and_redeemed_once(store: SqlStore) {
    let audit = AuditContext::system();
    let app = store
        .create_application(
            NewApplication {
                slug: "tv".into(),
                name: "TV".into(),
                launch_url: None,
                allowed_groups: Vec::new(),
                oauth2: Some(OAuth2Provider::new(ClientType::Public, "tv")),
            },
            &audit,
        )
        .await
        .expect("app");
    let alice = store
        .create_user(NewUser::named("alice"), &audit)
        .await
        .expect("user");
    let now = Utc::now();
    let new = |device: &str, user: &str, expires_in: i64| NewDeviceAuthorization {
        application_id: app.id,
        device_code_digest: device.into(),
        user_code_digest: user.into(),
        scopes: vec!["openid".into(), "profile".into()],
        interval_secs: 5,
        expires_at: now + Duration::seconds(expires_in),
    };
    let created = store
        .create_device_authorization(new("dev-1", "user-1", 600), event(), &audit)
        .await
        .expect("create");
    assert_eq!(created.status, DeviceAuthorizationStatus::Pending);
    assert_eq!(created.scopes, ["openid", "profile"]);
    // Both codes are unique.
    for (device, user) in [("dev-1", "user-2"), ("dev-2", "user-1")] {
        assert!(matches!(
            store
                .create_device_authorization(new(device, user, 600), event(), &audit)
                .await,
            Err(StoreError::Conflict(_))
        ));
    }
    let events = store
        .list_events(&EventQuery {
            limit: 100,
            ..EventQuery::default()
        })
        .await
        .expect("events")
        .items;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.context.get("model") == Some(&json!("device_authorization")))
            .count(),
        1,
        "one event per created authorization, none for refused ones"
    );
    assert_eq!(
        store
            .pending_device_authorization("user-1", now)
            .await
            .expect("lookup")
            .map(|a| a.id),
        Some(created.id)
    );
    assert!(
        store
            .pending_device_authorization("user-1", now + Duration::seconds(601))
            .await
            .expect("lookup")
            .is_none(),
        "expired codes are not found by user code"
    );

    // Polls are recorded.
    store
        .record_device_poll(created.id, now, 10)
        .await
        .expect("poll");
    let polled = store
        .device_authorization_by_device_code("dev-1")
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(polled.interval_secs, 10);
    assert!(polled.last_polled_at.is_some());

    // The answer is recorded once.
    let mut data = Map::new();
    data.insert("auth_time".into(), json!(now.timestamp()));
    let approve = DeviceDecision::Approve {
        user: alice.id,
        data: data.clone(),
    };
    assert!(
        store
            .decide_device_authorization(created.id, approve.clone(), now, event(), &audit)
            .await
            .expect("approve")
    );
    assert!(
        !store
            .decide_device_authorization(
                created.id,
                DeviceDecision::Deny { user: alice.id },
                now,
                event(),
                &audit
            )
            .await
            .expect("second answer"),
        "an answered authorization cannot be answered again"
    );
    let approved = store
        .device_authorization_by_device_code("dev-1")
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(approved.status, DeviceAuthorizationStatus::Approved);
    assert_eq!(approved.user_id, Some(alice.id));
    assert_eq!(approved.data, data);
    assert!(
        store
            .pending_device_authorization("user-1", now)
            .await
            .expect("lookup")
            .is_none(),
        "an answered code is no longer pending"
    );

    // An expired authorization cannot be answered.
    let late = store
        .create_device_authorization(new("dev-3", "user-3", 1), event(), &audit)
        .await
        .expect("create");
    assert!(
        !store
            .decide_device_authorization(
                late.id,
                approve.clone(),
                now + Duration::seconds(5),
                event(),
                &audit
            )
            .await
            .expect("late answer")
    );

    // Redemption happens once and stores the tokens with it.
    let token = |digest: &str| NewOAuth2Token {
        session_id: None,
        kind: OAuth2TokenKind::AccessToken,
        application_id: app.id,
        user_id: Some(alice.id),
        family: GrantFamilyId::new(),
        digest: digest.into(),
        scopes: vec!["openid".into()],
        data: Map::new(),
        expires_at: now + Duration::minutes(5),
    };
    assert!(
        store
            .redeem_device_authorization(created.id, vec![token("jti-1")], event(), &audit)
            .await
            .expect("redeem")
    );
    assert!(
        !store
            .redeem_device_authorization(created.id, vec![token("jti-2")], event(), &audit)
            .await
            .expect("second redemption")
    );
    assert!(
        store
            .oauth2_token_by_digest("jti-1")
            .await
            .expect("read")
            .is_some()
    );
    assert!(
        store
            .oauth2_token_by_digest("jti-2")
            .await
            .expect("read")
            .is_none(),
        "a refused redemption writes nothing"
    );
    assert_eq!(
        store
            .device_authorization_by_device_code("dev-1")
            .await
            .expect("lookup")
            .expect("found")
            .status,
        DeviceAuthorizationStatus::Redeemed
    );

    // The sweep removes expired ones; deleting the application removes the rest.
    assert_eq!(
        store
            .delete_expired_device_authorizations(now + Duration::seconds(60))
            .await
            .expect("sweep"),
        1
    );
    store
        .delete_application(app.id, &audit)
        .await
        .expect("delete app");
    assert!(
        store
            .device_authorization_by_device_code("dev-1")
            .await
            .expect("lookup")
            .is_none()
    );
}
