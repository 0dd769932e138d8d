//! `private_key_jwt` client authentication (RFC 7523 §2.2 and §3, OIDC Core §9): the client
//! proves itself with a short-lived JWT signed by one of the public keys it registered.
//! This module reads a client's JWKS, verifies an assertion's signature and claims, and says
//! which `jti` must be recorded until when; recording it (single use) is the store's job.
//!
//! Rules: `alg` is RS256, ES256 or EdDSA and matches the key (never `none` or an HMAC, so no
//! algorithm confusion); `iss` and `sub` are the client id; `aud` names the token endpoint,
//! the issuer or the endpoint the assertion was sent to; `exp` has not passed and is at most
//! an hour (plus clock skew) away, which bounds how long a `jti` is remembered; `nbf`, when
//! present, has come; `jti` is present.

use crate::error::{TokenError, TokenErrorCode};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use gatehouse_core::KeyAlgorithm;
use gatehouse_crypto::keys::{spki_from_jwk, verify};
use serde_json::{Map, Value};

/// The `client_assertion_type` of RFC 7523 §2.2.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The algorithms a client may sign assertions with (discovery's
/// `token_endpoint_auth_signing_alg_values_supported`).
pub const SIGNING_ALGS: [&str; 3] = ["RS256", "ES256", "EdDSA"];
/// The longest an assertion may still be valid when it arrives, in seconds.
pub const MAX_LIFETIME_SECS: i64 = 3600;
/// Tolerated clock difference between client and server, in seconds.
pub const CLOCK_SKEW_SECS: i64 = 60;
/// The longest assertion and `jti` we accept, in bytes.
const MAX_ASSERTION: usize = 16 * 1024;
const MAX_JTI: usize = 256;

/// One of a client's registered public keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientKey {
    /// Its `kid`, if the JWK has one.
    pub kid: Option<String>,
    /// Its algorithm (from `kty`/`crv`).
    pub alg: KeyAlgorithm,
    /// SubjectPublicKeyInfo DER.
    pub spki_der: Vec<u8>,
}

/// Reads every key of a client's JWKS; one unusable key rejects the whole document, so a
/// mistake is reported when the client is registered rather than ignored.
///
/// # Errors
/// A message naming the first bad key (`keys[2]: ...`).
pub fn client_keys(jwks: &Value) -> Result<Vec<ClientKey>, String> {
    gatehouse_core::application::jwks_shape(jwks).map_err(|e| e.message)?;
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    keys.iter()
        .enumerate()
        .map(|(index, jwk)| {
            let (alg, spki_der) = spki_from_jwk(jwk).map_err(|_| {
                format!(
                    "keys[{index}]: not a usable RS256 (RSA 2048-8192 bits), ES256 (P-256) or \
                     EdDSA (Ed25519) public signing key"
                )
            })?;
            let kid = match jwk.get("kid") {
                None => None,
                Some(Value::String(kid)) => Some(kid.clone()),
                Some(_) => return Err(format!("keys[{index}]: kid must be a string")),
            };
            Ok(ClientKey { kid, alg, spki_der })
        })
        .collect()
}

/// A client's JWKS as an operator supplies it (a JSON object, or JSON text such as a file's
/// content), checked with [`client_keys`]; returns the document to store.
///
/// # Errors
/// A message saying what is wrong.
pub fn registered_jwks(supplied: Value) -> Result<Value, String> {
    let jwks = match supplied {
        Value::String(text) => {
            serde_json::from_str(&text).map_err(|e| format!("not a JSON document: {e}"))?
        }
        other => other,
    };
    client_keys(&jwks)?;
    Ok(jwks)
}

/// The client id an assertion claims (its `sub`), read without verifying anything: only to
/// find the client whose keys will then verify it.
pub fn claimed_client_id(assertion: &str) -> Option<String> {
    let (_, claims, _) = split(assertion).ok()?;
    claims.get("sub").and_then(Value::as_str).map(str::to_owned)
}

/// An assertion that passed every check; its `jti` must now be recorded until `expires_at`
/// and the request refused if it was already there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptedAssertion {
    /// The assertion's `jti`.
    pub jti: String,
    /// Its `exp`.
    pub expires_at: DateTime<Utc>,
}

/// Verifies `assertion` for `client_id` against its `keys`; `audiences` are the values `aud`
/// may contain (the token endpoint URL, the issuer, the URL of the receiving endpoint).
///
/// # Errors
/// `invalid_client` for any failure (RFC 7521 §4.2.1), with a description of the rule.
pub fn verify_assertion(
    assertion: &str,
    client_id: &str,
    keys: &[ClientKey],
    audiences: &[&str],
    now: DateTime<Utc>,
) -> Result<AcceptedAssertion, TokenError> {
    let refuse = |why: &str| TokenError::new(TokenErrorCode::InvalidClient, why);
    let (header, claims, signed) = split(assertion).map_err(|()| refuse("malformed assertion"))?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(KeyAlgorithm::parse)
        .ok_or_else(|| refuse("the assertion's alg must be RS256, ES256 or EdDSA"))?;
    let kid = header.get("kid").and_then(Value::as_str);
    let signature = assertion
        .rsplit('.')
        .next()
        .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
        .ok_or_else(|| refuse("malformed assertion"))?;
    let verified = keys
        .iter()
        .filter(|key| key.alg == alg && kid.is_none_or(|kid| key.kid.as_deref() == Some(kid)))
        .any(|key| verify(alg, &key.spki_der, signed.as_bytes(), &signature));
    if !verified {
        return Err(refuse(
            "the assertion is not signed by a key registered for this client",
        ));
    }
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if text("iss") != Some(client_id) || text("sub") != Some(client_id) {
        return Err(refuse("the assertion's iss and sub must be the client_id"));
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(aud)) => audiences.contains(&aud.as_str()),
        Some(Value::Array(auds)) => auds
            .iter()
            .filter_map(Value::as_str)
            .any(|aud| audiences.contains(&aud)),
        _ => false,
    };
    if !aud_ok {
        return Err(refuse(
            "the assertion's aud must name the token endpoint or the issuer",
        ));
    }
    let time = |name: &str| claims.get(name).and_then(numeric_date);
    let now_secs = now.timestamp();
    let exp = time("exp").ok_or_else(|| refuse("the assertion has no exp"))?;
    if exp + CLOCK_SKEW_SECS <= now_secs {
        return Err(refuse("the assertion expired"));
    }
    if exp > now_secs + MAX_LIFETIME_SECS + CLOCK_SKEW_SECS {
        return Err(refuse("the assertion must expire within an hour"));
    }
    if time("nbf").is_some_and(|nbf| nbf > now_secs + CLOCK_SKEW_SECS) {
        return Err(refuse("the assertion is not valid yet"));
    }
    let jti = text("jti")
        .filter(|jti| !jti.is_empty() && jti.len() <= MAX_JTI)
        .ok_or_else(|| refuse("the assertion needs a jti of 1-256 bytes"))?;
    // Kept until the later of exp and now + skew: an assertion accepted thanks to the skew
    // must still be remembered while it could be accepted again.
    let keep_until = DateTime::from_timestamp(exp.max(now_secs) + CLOCK_SKEW_SECS, 0)
        .ok_or_else(|| refuse("the assertion's exp is out of range"))?;
    Ok(AcceptedAssertion {
        jti: jti.to_owned(),
        expires_at: keep_until,
    })
}

/// A JSON NumericDate (RFC 7519 §2): seconds, possibly fractional.
fn numeric_date(value: &Value) -> Option<i64> {
    value
        .as_i64()
        .or_else(|| value.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
}

type Parts<'a> = (Map<String, Value>, Map<String, Value>, &'a str);

/// Splits a JWS compact serialization into its header, claims and signed part.
fn split(token: &str) -> Result<Parts<'_>, ()> {
    if token.len() > MAX_ASSERTION {
        return Err(());
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(());
    };
    let decode = |part: &str| -> Result<Map<String, Value>, ()> {
        let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| ())?;
        serde_json::from_slice(&bytes).map_err(|_| ())
    };
    Ok((
        decode(header)?,
        decode(payload)?,
        &token[..header.len() + 1 + payload.len()],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_crypto::keys::{SigningKey, generate_signing_key, public_jwk};
    use serde_json::json;

    const TOKEN_ENDPOINT: &str = "https://id.example/application/o/token/";

    struct Client {
        key: SigningKey,
        jwk: Value,
    }

    fn client(alg: KeyAlgorithm, kid: &str) -> Client {
        let generated = generate_signing_key(alg).expect("generate");
        Client {
            key: SigningKey::from_pkcs8(alg, &generated.pkcs8_der).expect("key"),
            jwk: public_jwk(alg, &generated.public_key_der, kid).expect("jwk"),
        }
    }

    fn assertion(client: &Client, header: Value, claims: Value) -> String {
        let mut signed = URL_SAFE_NO_PAD.encode(header.to_string());
        signed.push('.');
        signed.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature = client.key.sign(signed.as_bytes()).expect("sign");
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    fn claims(now: DateTime<Utc>) -> Value {
        json!({
            "iss": "app", "sub": "app", "aud": TOKEN_ENDPOINT, "jti": "j1",
            "iat": now.timestamp(), "exp": now.timestamp() + 60,
        })
    }

    #[test]
    fn accepts_each_algorithm_with_and_without_kid() {
        let now = Utc::now();
        for alg in [
            KeyAlgorithm::Rs256,
            KeyAlgorithm::Es256,
            KeyAlgorithm::EdDsa,
        ] {
            let other = client(alg, "other");
            let signer = client(alg, "mine");
            let keys = client_keys(&json!({"keys": [other.jwk, signer.jwk]})).expect("keys");
            for header in [
                json!({"alg": alg.as_str(), "kid": "mine"}),
                json!({"alg": alg.as_str(), "typ": "JWT"}),
            ] {
                let jwt = assertion(&signer, header, claims(now));
                assert_eq!(claimed_client_id(&jwt).as_deref(), Some("app"));
                let accepted =
                    verify_assertion(&jwt, "app", &keys, &[TOKEN_ENDPOINT], now).expect("valid");
                assert_eq!(accepted.jti, "j1");
                assert_eq!(
                    accepted.expires_at.timestamp(),
                    now.timestamp() + 60 + CLOCK_SKEW_SECS
                );
            }
        }
    }

    #[test]
    fn refuses_every_broken_rule() {
        let now = Utc::now();
        let signer = client(KeyAlgorithm::Es256, "k");
        let stranger = client(KeyAlgorithm::Es256, "k");
        let keys = client_keys(&json!({"keys": [signer.jwk.clone()]})).expect("keys");
        let header = json!({"alg": "ES256", "kid": "k"});
        let with = |name: &str, value: Value| {
            let mut c = claims(now);
            c[name] = value;
            assertion(&signer, header.clone(), c)
        };
        let without = |name: &str| {
            let mut c = claims(now);
            c.as_object_mut().expect("object").remove(name);
            assertion(&signer, header.clone(), c)
        };
        let cases = [
            assertion(&stranger, header.clone(), claims(now)),
            assertion(&signer, json!({"alg": "ES256", "kid": "nope"}), claims(now)),
            assertion(&signer, json!({"alg": "HS256"}), claims(now)),
            assertion(&signer, json!({"alg": "none"}), claims(now)),
            assertion(&signer, json!({"alg": "RS256"}), claims(now)),
            with("iss", json!("other")),
            with("sub", json!("other")),
            with("aud", json!("https://elsewhere.example/token")),
            with("aud", json!(["https://elsewhere.example/token"])),
            with("exp", json!(now.timestamp() - CLOCK_SKEW_SECS - 1)),
            with("exp", json!(now.timestamp() + 2 * MAX_LIFETIME_SECS)),
            with("exp", json!("soon")),
            with("nbf", json!(now.timestamp() + 600)),
            with("jti", json!("")),
            with("jti", json!("x".repeat(MAX_JTI + 1))),
            without("exp"),
            without("jti"),
            without("aud"),
            "a.b.c".to_owned(),
            "not a jwt".to_owned(),
            "x".repeat(MAX_ASSERTION + 1),
        ];
        for (index, bad) in cases.iter().enumerate() {
            let result = verify_assertion(bad, "app", &keys, &[TOKEN_ENDPOINT], now);
            assert_eq!(
                result.map_err(|e| e.code),
                Err(TokenErrorCode::InvalidClient),
                "case {index}"
            );
        }
        let listed = with("aud", json!(["x", TOKEN_ENDPOINT]));
        assert!(verify_assertion(&listed, "app", &keys, &[TOKEN_ENDPOINT], now).is_ok());
        let tampered = {
            let good = assertion(&signer, header.clone(), claims(now));
            let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
            let mut other = claims(now);
            other["jti"] = json!("j2");
            parts[1] = URL_SAFE_NO_PAD.encode(other.to_string());
            parts.join(".")
        };
        assert!(verify_assertion(&tampered, "app", &keys, &[TOKEN_ENDPOINT], now).is_err());
    }

    #[test]
    fn client_keys_rejects_bad_documents() {
        let good = client(KeyAlgorithm::EdDsa, "k").jwk;
        for bad in [
            json!({}),
            json!({"keys": []}),
            json!({"keys": "x"}),
            json!({"keys": [good.clone(), {"kty": "oct", "k": "AAAA"}]}),
            json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}]}),
            json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": good["x"], "kid": 7}]}),
            json!({"keys": vec![good.clone(); 17]}),
        ] {
            assert!(client_keys(&bad).is_err(), "{bad}");
        }
        let keys = client_keys(&json!({"keys": [good]})).expect("keys");
        assert_eq!(keys[0].kid.as_deref(), Some("k"));
        assert_eq!(keys[0].alg, KeyAlgorithm::EdDsa);
    }
}
