//! OpenID Connect Back-Channel Logout 1.0 §2.4: the claims of the logout token we send to a
//! client's `backchannel_logout_uri` when a session it was issued tokens in ends. The token
//! is signed like an ID token but with `typ: logout+jwt` (§2.4, RFC 8725 §3.11 explicit
//! typing) so a client can never mistake it for an ID token, and it never carries a
//! `nonce` (§2.4: its presence makes the token invalid).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

/// The `typ` header of logout tokens.
pub const LOGOUT_TOKEN_TYP: &str = "logout+jwt";

/// The member of `events` that marks a logout token (§2.4).
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// How long a logout token is valid, in seconds: long enough for delivery, short enough
/// that a captured token is soon useless (§2.6 lets the RP reject stale tokens).
pub const LOGOUT_TOKEN_LIFETIME_SECS: i64 = 120;

/// Inputs of a logout token.
#[derive(Clone, Debug)]
pub struct LogoutTokenInput<'a> {
    /// `iss`: the application's issuer, as in its ID tokens.
    pub issuer: &'a str,
    /// `aud`: the client id.
    pub audience: &'a str,
    /// `sub`: the user's subject as this client knows it, if known.
    pub subject: Option<&'a str>,
    /// `sid`: the session id that was in the client's ID tokens, if any.
    pub session_id: Option<&'a str>,
    /// `iat`.
    pub issued_at: DateTime<Utc>,
    /// `jti`: unique per token, so the client can detect replays (§2.6).
    pub jti: &'a str,
}

/// Why no logout token can be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LogoutTokenError {
    /// Neither `sub` nor `sid` is known; §2.4 requires at least one.
    #[error("a logout token needs a sub or a sid")]
    NoSubject,
}

/// The logout token's claims (§2.4): `iss`, `aud`, `iat`, `exp`, `jti`, `events`, and
/// `sub` and/or `sid`; never `nonce`.
pub fn logout_token_claims(
    input: &LogoutTokenInput<'_>,
) -> Result<Map<String, Value>, LogoutTokenError> {
    if input.subject.is_none() && input.session_id.is_none() {
        return Err(LogoutTokenError::NoSubject);
    }
    let iat = input.issued_at.timestamp();
    let mut claims = Map::new();
    claims.insert("iss".into(), Value::from(input.issuer));
    claims.insert("aud".into(), Value::from(input.audience));
    claims.insert("iat".into(), Value::from(iat));
    claims.insert(
        "exp".into(),
        Value::from(iat.saturating_add(LOGOUT_TOKEN_LIFETIME_SECS)),
    );
    claims.insert("jti".into(), Value::from(input.jti));
    claims.insert("events".into(), json!({ BACKCHANNEL_LOGOUT_EVENT: {} }));
    if let Some(sub) = input.subject {
        claims.insert("sub".into(), Value::from(sub));
    }
    if let Some(sid) = input.session_id {
        claims.insert("sid".into(), Value::from(sid));
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::{self, VerificationKey};
    use chrono::TimeZone;
    use gatehouse_core::KeyAlgorithm;
    use gatehouse_crypto::generate_signing_key;
    use gatehouse_crypto::keys::SigningKey;

    fn input<'a>(subject: Option<&'a str>, sid: Option<&'a str>) -> LogoutTokenInput<'a> {
        LogoutTokenInput {
            issuer: "https://id.example/application/o/grafana/",
            audience: "grafana",
            subject,
            session_id: sid,
            issued_at: Utc
                .timestamp_opt(1_800_000_000, 0)
                .single()
                .unwrap_or_default(),
            jti: "j-1",
        }
    }

    #[test]
    fn claims_follow_section_2_4() {
        let claims = logout_token_claims(&input(Some("u-sub"), Some("s-1"))).expect("claims");
        assert_eq!(
            Value::Object(claims),
            json!({
                "iss": "https://id.example/application/o/grafana/",
                "aud": "grafana",
                "iat": 1_800_000_000,
                "exp": 1_800_000_120,
                "jti": "j-1",
                "sub": "u-sub",
                "sid": "s-1",
                "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
            })
        );
    }

    #[test]
    fn sub_or_sid_alone_and_never_nonce() {
        let only_sid = logout_token_claims(&input(None, Some("s-1"))).expect("sid only");
        assert!(!only_sid.contains_key("sub"));
        assert!(!only_sid.contains_key("nonce"));
        let only_sub = logout_token_claims(&input(Some("u"), None)).expect("sub only");
        assert!(!only_sub.contains_key("sid"));
        assert_eq!(
            logout_token_claims(&input(None, None)),
            Err(LogoutTokenError::NoSubject)
        );
    }

    #[test]
    fn signed_token_is_typed_and_not_an_id_token() {
        let generated = generate_signing_key(KeyAlgorithm::Es256).expect("generate");
        let key = SigningKey::from_pkcs8(KeyAlgorithm::Es256, &generated.pkcs8_der).expect("parse");
        let claims = logout_token_claims(&input(Some("u"), Some("s"))).expect("claims");
        let token = jwt::sign(&key, "k1", LOGOUT_TOKEN_TYP, &claims).expect("sign");
        let keys = [VerificationKey {
            kid: "k1".into(),
            alg: KeyAlgorithm::Es256,
            spki_der: generated.public_key_der,
        }];
        assert_eq!(
            jwt::verify_signature(&token, LOGOUT_TOKEN_TYP, &keys),
            Ok(claims)
        );
        assert!(jwt::verify_signature(&token, jwt::ID_TOKEN_TYP, &keys).is_err());
    }
}
