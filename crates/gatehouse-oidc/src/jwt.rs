//! JWS compact serialization (RFC 7515 §7.1) of the tokens we mint: ID tokens (OIDC Core
//! §2) and JWT access tokens (RFC 9068, `typ: at+jwt`), plus verification of our own
//! access tokens at userinfo and introspection. Only our algorithms and keys are accepted;
//! the `alg` header must match the key's algorithm (no `none`, no algorithm confusion).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use gatehouse_core::KeyAlgorithm;
use gatehouse_crypto::keys::{SigningKey, verify};
use gatehouse_crypto::{sha256, sha512};
use serde_json::{Map, Value, json};

/// The longest token we try to parse, in bytes.
const MAX_TOKEN: usize = 16 * 1024;

/// Why a token could not be minted or accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    /// Signing failed (a key problem; details logged by the caller).
    #[error("signing failed")]
    Signing,
    /// The token is not a well-formed JWS of ours, its signature is wrong, or it expired.
    #[error("invalid token")]
    Invalid,
}

/// A public key tokens may be verified with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerificationKey {
    /// `kid`.
    pub kid: String,
    /// Its algorithm.
    pub alg: KeyAlgorithm,
    /// SubjectPublicKeyInfo DER.
    pub spki_der: Vec<u8>,
}

/// Signs `claims` with `key`, with header `{alg, kid, typ}`.
pub fn sign(
    key: &SigningKey,
    kid: &str,
    typ: &str,
    claims: &Map<String, Value>,
) -> Result<String, JwtError> {
    let header = json!({ "alg": key.algorithm().as_str(), "kid": kid, "typ": typ });
    let mut token = String::with_capacity(1024);
    URL_SAFE_NO_PAD.encode_string(header.to_string(), &mut token);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(Value::Object(claims.clone()).to_string(), &mut token);
    let signature = key.sign(token.as_bytes()).map_err(|_| JwtError::Signing)?;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    Ok(token)
}

/// Verifies a token signed by one of `keys` with header `typ`, and that it is unexpired at
/// `now`; returns its claims.
pub fn verify_token(
    token: &str,
    typ: &str,
    keys: &[VerificationKey],
    now: DateTime<Utc>,
) -> Result<Map<String, Value>, JwtError> {
    let claims = verify_signature(token, typ, keys)?;
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or(JwtError::Invalid)?;
    if exp <= now.timestamp() {
        return Err(JwtError::Invalid);
    }
    Ok(claims)
}

/// Verifies that a token was signed by one of `keys` with header `typ` and returns its
/// claims, whatever its `exp`: for `id_token_hint`, which OpenID Connect RP-Initiated
/// Logout 1.0 §2 lets the OP accept after expiry. Callers check the claims they rely on.
pub fn verify_signature(
    token: &str,
    typ: &str,
    keys: &[VerificationKey],
) -> Result<Map<String, Value>, JwtError> {
    if token.len() > MAX_TOKEN {
        return Err(JwtError::Invalid);
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Invalid);
    };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| JwtError::Invalid);
    let header: Map<String, Value> =
        serde_json::from_slice(&decode(header_b64)?).map_err(|_| JwtError::Invalid)?;
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or(JwtError::Invalid)?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(JwtError::Invalid)?;
    if header.get("typ").and_then(Value::as_str) != Some(typ) {
        return Err(JwtError::Invalid);
    }
    let key = keys
        .iter()
        .find(|k| k.kid == kid && k.alg.as_str() == alg)
        .ok_or(JwtError::Invalid)?;
    let signed = &token[..header_b64.len() + 1 + payload_b64.len()];
    if !verify(
        key.alg,
        &key.spki_der,
        signed.as_bytes(),
        &decode(signature_b64)?,
    ) {
        return Err(JwtError::Invalid);
    }
    serde_json::from_slice(&decode(payload_b64)?).map_err(|_| JwtError::Invalid)
}

/// OIDC Core §3.1.3.6 `at_hash` (and `c_hash`): base64url of the left half of the hash of
/// the token's ASCII, with the hash of the signing algorithm (SHA-256 for RS256 and ES256,
/// SHA-512 for EdDSA over Ed25519, as the OpenID Foundation's certified libraries do).
pub fn token_hash(alg: KeyAlgorithm, token: &str) -> String {
    match alg {
        KeyAlgorithm::Rs256 | KeyAlgorithm::Es256 => {
            URL_SAFE_NO_PAD.encode(&sha256(token.as_bytes())[..16])
        }
        KeyAlgorithm::EdDsa => URL_SAFE_NO_PAD.encode(&sha512(token.as_bytes())[..32]),
    }
}

/// Inputs of an ID token.
#[derive(Clone, Debug)]
pub struct IdTokenInput<'a> {
    /// `iss`.
    pub issuer: &'a str,
    /// `sub`.
    pub subject: &'a str,
    /// `aud` (the client id).
    pub audience: &'a str,
    /// `iat`.
    pub issued_at: DateTime<Utc>,
    /// Lifetime in seconds.
    pub lifetime_secs: i64,
    /// When the user authenticated.
    pub auth_time: Option<DateTime<Utc>>,
    /// The authorization request's nonce.
    pub nonce: Option<&'a str>,
    /// The access token issued alongside, for `at_hash`.
    pub access_token: Option<&'a str>,
    /// Authentication methods (RFC 8176: `pwd`, `otp`, `hwk`, `user`, `mfa`); omitted when
    /// empty.
    pub amr: &'a [String],
    /// The authentication context class achieved (see [`crate::authn_context`]).
    pub acr: Option<&'a str>,
    /// `sid`: the opaque id of the browser session the grant was issued in, so the client
    /// can match a back-channel logout token to it (Back-Channel Logout 1.0 §2.1).
    pub session_id: Option<&'a str>,
    /// User claims granted by scope.
    pub user_claims: Map<String, Value>,
}

/// The ID token's claims (OIDC Core §2); `alg` decides the `at_hash` hash.
pub fn id_token_claims(input: &IdTokenInput<'_>, alg: KeyAlgorithm) -> Map<String, Value> {
    let mut claims = input.user_claims.clone();
    let iat = input.issued_at.timestamp();
    claims.insert("iss".into(), Value::from(input.issuer));
    claims.insert("sub".into(), Value::from(input.subject));
    claims.insert("aud".into(), Value::from(input.audience));
    claims.insert("azp".into(), Value::from(input.audience));
    claims.insert("iat".into(), Value::from(iat));
    claims.insert(
        "exp".into(),
        Value::from(iat.saturating_add(input.lifetime_secs)),
    );
    if let Some(auth_time) = input.auth_time {
        claims.insert("auth_time".into(), Value::from(auth_time.timestamp()));
    }
    if let Some(nonce) = input.nonce {
        claims.insert("nonce".into(), Value::from(nonce));
    }
    if let Some(token) = input.access_token {
        claims.insert("at_hash".into(), Value::from(token_hash(alg, token)));
    }
    if !input.amr.is_empty() {
        claims.insert("amr".into(), Value::from(input.amr.to_vec()));
    }
    if let Some(acr) = input.acr {
        claims.insert("acr".into(), Value::from(acr));
    }
    if let Some(sid) = input.session_id {
        claims.insert("sid".into(), Value::from(sid));
    }
    claims
}

/// Inputs of an RFC 9068 JWT access token.
#[derive(Clone, Debug)]
pub struct AccessTokenInput<'a> {
    /// `iss`.
    pub issuer: &'a str,
    /// `sub`: the user's subject, or the client id for client_credentials.
    pub subject: &'a str,
    /// `client_id`, also the `aud`.
    pub client_id: &'a str,
    /// `iat`.
    pub issued_at: DateTime<Utc>,
    /// Lifetime in seconds.
    pub lifetime_secs: i64,
    /// `jti`: random, its digest stored for introspection and revocation.
    pub jti: &'a str,
    /// Granted scopes.
    pub scopes: &'a [String],
    /// When the user authenticated.
    pub auth_time: Option<DateTime<Utc>>,
}

/// RFC 9068 §2.2 access token claims.
pub fn access_token_claims(input: &AccessTokenInput<'_>) -> Map<String, Value> {
    let iat = input.issued_at.timestamp();
    let mut claims = Map::new();
    claims.insert("iss".into(), Value::from(input.issuer));
    claims.insert("sub".into(), Value::from(input.subject));
    claims.insert("aud".into(), Value::from(input.client_id));
    claims.insert("client_id".into(), Value::from(input.client_id));
    claims.insert("iat".into(), Value::from(iat));
    claims.insert(
        "exp".into(),
        Value::from(iat.saturating_add(input.lifetime_secs)),
    );
    claims.insert("jti".into(), Value::from(input.jti));
    claims.insert("scope".into(), Value::from(input.scopes.join(" ")));
    if let Some(auth_time) = input.auth_time {
        claims.insert("auth_time".into(), Value::from(auth_time.timestamp()));
    }
    claims
}

/// The `typ` header of access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// The `typ` header of ID tokens.
pub const ID_TOKEN_TYP: &str = "JWT";

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_crypto::generate_signing_key;

    fn key(alg: KeyAlgorithm) -> (SigningKey, VerificationKey) {
        let generated = generate_signing_key(alg).expect("generate");
        let signer = SigningKey::from_pkcs8(alg, &generated.pkcs8_der).expect("parse");
        (
            signer,
            VerificationKey {
                kid: "k1".into(),
                alg,
                spki_der: generated.public_key_der,
            },
        )
    }

    #[test]
    fn sign_then_verify_for_every_algorithm() {
        let now = Utc::now();
        for alg in [
            KeyAlgorithm::Rs256,
            KeyAlgorithm::Es256,
            KeyAlgorithm::EdDsa,
        ] {
            let (signer, public) = key(alg);
            let scopes = vec!["openid".to_owned()];
            let claims = access_token_claims(&AccessTokenInput {
                issuer: "https://id.example/application/o/app/",
                subject: "s",
                client_id: "app",
                issued_at: now,
                lifetime_secs: 60,
                jti: "j",
                scopes: &scopes,
                auth_time: None,
            });
            let token = sign(&signer, "k1", ACCESS_TOKEN_TYP, &claims).expect("sign");
            let keys = std::slice::from_ref(&public);
            assert_eq!(
                verify_token(&token, ACCESS_TOKEN_TYP, keys, now).expect("valid"),
                claims
            );
            // Wrong typ, expired, tampered, wrong kid, garbage: all refused.
            assert!(verify_token(&token, ID_TOKEN_TYP, keys, now).is_err());
            assert!(
                verify_token(
                    &token,
                    ACCESS_TOKEN_TYP,
                    keys,
                    now + chrono::Duration::seconds(61)
                )
                .is_err()
            );
            let mut tampered = token.clone();
            tampered.insert(token.find('.').expect("dot") + 2, 'A');
            assert!(verify_token(&tampered, ACCESS_TOKEN_TYP, keys, now).is_err());
            let other = VerificationKey {
                kid: "k2".into(),
                ..public.clone()
            };
            assert!(verify_token(&token, ACCESS_TOKEN_TYP, &[other], now).is_err());
            for garbage in ["", "a.b", "a.b.c.d", "...", "eyJ.eyJ.sig"] {
                assert!(verify_token(garbage, ACCESS_TOKEN_TYP, keys, now).is_err());
            }
        }
    }

    #[test]
    fn at_hash_matches_the_oidc_example() {
        // OIDC Core Appendix A.3: access token and its at_hash under RS256.
        assert_eq!(
            token_hash(
                KeyAlgorithm::Rs256,
                "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
            ),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }

    #[test]
    fn id_token_claims_carry_nonce_hashes_and_amr() {
        let now = Utc::now();
        let amr = vec!["pwd".to_owned(), "otp".to_owned(), "mfa".to_owned()];
        let claims = id_token_claims(
            &IdTokenInput {
                issuer: "i",
                subject: "s",
                audience: "app",
                issued_at: now,
                lifetime_secs: 300,
                auth_time: Some(now),
                nonce: Some("n"),
                access_token: Some("at"),
                amr: &amr,
                acr: Some(crate::authn_context::ACR_MFA),
                session_id: Some("sid-1"),
                user_claims: Map::new(),
            },
            KeyAlgorithm::Es256,
        );
        assert_eq!(claims["exp"], now.timestamp() + 300);
        assert_eq!(claims["nonce"], "n");
        assert_eq!(claims["at_hash"], token_hash(KeyAlgorithm::Es256, "at"));
        assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));
        assert_eq!(claims["sid"], "sid-1");
        assert_eq!(claims["acr"], "urn:gatehouse:acr:mfa");
        assert_eq!(claims["aud"], "app");
    }
}
