//! OpenID Connect RP-Initiated Logout 1.0 §2–§3: validation of a logout request at an
//! application's end-session endpoint. The endpoint lives under the application's issuer
//! (`/application/o/<slug>/end-session/`), so the client is known from the path; every
//! parameter that names a client must agree with it, and the browser is only ever sent to a
//! `post_logout_redirect_uri` registered for that client, compared byte for byte.
//!
//! - `id_token_hint`: must carry our signature and this application's `iss` and `aud`.
//!   Expired hints are accepted (§2: the OP accepts an ID Token past its expiry here).
//! - `client_id`: must be this application's (§2, and equal to the hint's `aud`).
//! - `post_logout_redirect_uri`: must match a registered one exactly (§3); `state` is
//!   echoed to it.
//! - `ui_locales` and `logout_hint` are accepted and ignored.

use crate::authorize::response_location;
use crate::jwt::{self, ID_TOKEN_TYP, VerificationKey};
use crate::params::Params;
use gatehouse_core::OAuth2Provider;
use serde_json::Value;

/// Why a logout request is refused. Every variant is answered with an error page, never a
/// redirect (§3: no redirection to an unverified target).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EndSessionError {
    /// `id_token_hint` is not an ID token this application's issuer signed.
    #[error("the ID token hint was not issued by Gatehouse for this application")]
    InvalidHint,
    /// `client_id` or the hint's audience names another client.
    #[error("the request names another application")]
    WrongClient,
    /// `post_logout_redirect_uri` is not registered for the client.
    #[error("the post-logout redirect URI is not registered for this application")]
    UnregisteredRedirect,
}

/// A validated logout request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logout {
    /// Where to send the browser after logout (the registered URI with `state`), if
    /// anywhere.
    pub redirect_to: Option<String>,
    /// The `sub` of a valid `id_token_hint`.
    pub hint_subject: Option<String>,
}

/// The parameters a logout request may carry, for the confirmation form to post back.
pub const PARAMETERS: [&str; 4] = [
    "id_token_hint",
    "client_id",
    "post_logout_redirect_uri",
    "state",
];

/// Validates a logout request for the application whose issuer is `issuer` and whose
/// provider is `provider`, checking a hint against our published `keys`.
pub fn validate(
    params: &Params,
    issuer: &str,
    provider: &OAuth2Provider,
    keys: &[VerificationKey],
) -> Result<Logout, EndSessionError> {
    let present = |name| params.get(name).filter(|v| !v.is_empty());
    if present("client_id").is_some_and(|id| id != provider.client_id) {
        return Err(EndSessionError::WrongClient);
    }
    let hint_subject = match present("id_token_hint") {
        Some(hint) => Some(check_hint(hint, issuer, &provider.client_id, keys)?),
        None => None,
    };
    let redirect_to = match present("post_logout_redirect_uri") {
        Some(uri) if provider.post_logout_redirect_uris.iter().any(|r| r == uri) => {
            let pairs: Vec<(&str, &str)> = present("state")
                .map(|state| ("state", state))
                .into_iter()
                .collect();
            Some(response_location(uri, &pairs))
        }
        Some(_) => return Err(EndSessionError::UnregisteredRedirect),
        None => None,
    };
    Ok(Logout {
        redirect_to,
        hint_subject,
    })
}

/// Checks the hint's signature, issuer and audience (not its expiry); returns its `sub`.
fn check_hint(
    hint: &str,
    issuer: &str,
    client_id: &str,
    keys: &[VerificationKey],
) -> Result<String, EndSessionError> {
    let claims = jwt::verify_signature(hint, ID_TOKEN_TYP, keys)
        .map_err(|_| EndSessionError::InvalidHint)?;
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return Err(EndSessionError::InvalidHint);
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == client_id,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    };
    if !audience_ok {
        return Err(EndSessionError::WrongClient);
    }
    claims
        .get("sub")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or(EndSessionError::InvalidHint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::{IdTokenInput, id_token_claims, sign};
    use chrono::{Duration, Utc};
    use gatehouse_core::{ClientType, KeyAlgorithm};
    use gatehouse_crypto::generate_signing_key;
    use gatehouse_crypto::keys::SigningKey;
    use serde_json::Map;

    const ISSUER: &str = "https://id.example/application/o/app/";

    fn provider() -> OAuth2Provider {
        let mut p = OAuth2Provider::new(ClientType::Confidential, "app");
        p.post_logout_redirect_uris = vec!["https://app.example/bye".into()];
        p
    }

    fn key() -> (SigningKey, VerificationKey) {
        let generated = generate_signing_key(KeyAlgorithm::Es256).expect("generate");
        let signer =
            SigningKey::from_pkcs8(KeyAlgorithm::Es256, &generated.pkcs8_der).expect("parse");
        let public = VerificationKey {
            kid: "k1".into(),
            alg: KeyAlgorithm::Es256,
            spki_der: generated.public_key_der,
        };
        (signer, public)
    }

    fn id_token(signer: &SigningKey, issuer: &str, aud: &str, age: Duration) -> String {
        let claims = id_token_claims(
            &IdTokenInput {
                issuer,
                subject: "user-1",
                audience: aud,
                issued_at: Utc::now() - age,
                lifetime_secs: 300,
                auth_time: None,
                nonce: None,
                access_token: None,
                amr: &[],
                acr: None,
                session_id: None,
                user_claims: Map::new(),
            },
            KeyAlgorithm::Es256,
        );
        sign(signer, "k1", ID_TOKEN_TYP, &claims).expect("sign")
    }

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs.iter().copied()).expect("params")
    }

    #[test]
    fn a_valid_request_redirects_with_state() {
        let (signer, public) = key();
        let hint = id_token(&signer, ISSUER, "app", Duration::zero());
        let logout = validate(
            &params(&[
                ("id_token_hint", &hint),
                ("client_id", "app"),
                ("post_logout_redirect_uri", "https://app.example/bye"),
                ("state", "s 1"),
                ("ui_locales", "de"),
            ]),
            ISSUER,
            &provider(),
            &[public],
        )
        .expect("valid");
        assert_eq!(
            logout.redirect_to.as_deref(),
            Some("https://app.example/bye?state=s%201")
        );
        assert_eq!(logout.hint_subject.as_deref(), Some("user-1"));
    }

    #[test]
    fn an_expired_hint_is_accepted() {
        let (signer, public) = key();
        let hint = id_token(&signer, ISSUER, "app", Duration::days(30));
        let logout = validate(
            &params(&[("id_token_hint", &hint)]),
            ISSUER,
            &provider(),
            &[public],
        )
        .expect("valid");
        assert_eq!(logout.redirect_to, None);
        assert_eq!(logout.hint_subject.as_deref(), Some("user-1"));
    }

    #[test]
    fn no_parameters_means_no_redirect() {
        let logout = validate(&params(&[]), ISSUER, &provider(), &[]).expect("valid");
        assert_eq!(logout.redirect_to, None);
        assert_eq!(logout.hint_subject, None);
    }

    #[test]
    fn refusals() {
        let (signer, public) = key();
        let (other_signer, _) = key();
        let keys = [public];
        let check = |pairs: &[(&str, &str)]| validate(&params(pairs), ISSUER, &provider(), &keys);
        let other_aud = id_token(&signer, ISSUER, "other", Duration::zero());
        let other_iss = id_token(
            &signer,
            "https://id.example/application/o/other/",
            "app",
            Duration::zero(),
        );
        let forged = id_token(&other_signer, ISSUER, "app", Duration::zero());
        assert_eq!(
            check(&[("id_token_hint", &other_aud)]),
            Err(EndSessionError::WrongClient)
        );
        assert_eq!(
            check(&[("id_token_hint", &other_iss)]),
            Err(EndSessionError::InvalidHint)
        );
        assert_eq!(
            check(&[("id_token_hint", &forged)]),
            Err(EndSessionError::InvalidHint)
        );
        assert_eq!(
            check(&[("id_token_hint", "not.a.token")]),
            Err(EndSessionError::InvalidHint)
        );
        assert_eq!(
            check(&[("client_id", "other")]),
            Err(EndSessionError::WrongClient)
        );
        for uri in [
            "https://evil.example/bye",
            "https://app.example/bye/",
            "https://app.example/bye?x=1",
            "https://APP.example/bye",
        ] {
            assert_eq!(
                check(&[("post_logout_redirect_uri", uri)]),
                Err(EndSessionError::UnregisteredRedirect),
                "{uri}"
            );
        }
    }
}
