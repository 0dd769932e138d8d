//! ID-token validation for upstream logins (OIDC Core §3.1.3.7): the JWS signature with a key
//! from the upstream's JWKS (its `alg` must be the key's: no `none`, no HMAC, no algorithm
//! confusion), then `iss`, `aud`, `azp`, `exp`, `iat` and `nonce`.

use crate::SourceError;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use gatehouse_crypto::constant_time_eq;
use gatehouse_crypto::keys::{spki_from_jwk, verify};
use serde_json::{Map, Value};

/// The longest ID token accepted, in bytes.
const MAX_TOKEN: usize = 16 * 1024;
/// The most keys of a JWKS tried.
const MAX_KEYS: usize = 32;
/// Clock skew tolerated on `exp` and `iat`, in seconds.
pub const LEEWAY_SECS: i64 = 60;

/// What the ID token must say.
#[derive(Clone, Copy, Debug)]
pub struct Expected<'a> {
    /// The upstream's issuer.
    pub issuer: &'a str,
    /// Our client id.
    pub client_id: &'a str,
    /// The nonce we sent.
    pub nonce: &'a str,
    /// Now.
    pub now: DateTime<Utc>,
}

/// Validates `token` against the upstream `jwks` and `expected`; returns its claims.
pub fn validate(
    token: &str,
    jwks: &Value,
    expected: &Expected<'_>,
) -> Result<Map<String, Value>, SourceError> {
    let claims = verify_signature(token, jwks)?;
    check_claims(&claims, expected)?;
    Ok(claims)
}

fn verify_signature(token: &str, jwks: &Value) -> Result<Map<String, Value>, SourceError> {
    let malformed = SourceError::BadIdToken("not a signed JWT");
    if token.len() > MAX_TOKEN {
        return Err(malformed);
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed);
    };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| malformed.clone());
    let header: Map<String, Value> =
        serde_json::from_slice(&decode(header_b64)?).map_err(|_| malformed.clone())?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(malformed.clone())?;
    let kid = header.get("kid").and_then(Value::as_str);
    let signature = decode(signature_b64)?;
    let signed = &token.as_bytes()[..header_b64.len() + 1 + payload_b64.len()];
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .ok_or(SourceError::BadDocument("JWKS"))?;
    let mut candidates = 0;
    for jwk in keys.iter().take(MAX_KEYS) {
        if kid.is_some() && jwk.get("kid").and_then(Value::as_str) != kid {
            continue;
        }
        let Ok((key_alg, spki)) = spki_from_jwk(jwk) else {
            continue;
        };
        if key_alg.as_str() != alg {
            continue;
        }
        candidates += 1;
        if verify(key_alg, &spki, signed, &signature) {
            return serde_json::from_slice(&decode(payload_b64)?).map_err(|_| malformed);
        }
    }
    Err(SourceError::BadIdToken(if candidates == 0 {
        "no upstream key matches its kid and alg"
    } else {
        "bad signature"
    }))
}

fn check_claims(claims: &Map<String, Value>, expected: &Expected<'_>) -> Result<(), SourceError> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if text("iss") != Some(expected.issuer) {
        return Err(SourceError::BadIdToken("wrong issuer"));
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.contains(&expected.client_id) {
        return Err(SourceError::BadIdToken("not issued to us (aud)"));
    }
    match text("azp") {
        Some(azp) if azp != expected.client_id => {
            return Err(SourceError::BadIdToken(
                "authorized party is another client",
            ));
        }
        None if audiences.len() > 1 => {
            return Err(SourceError::BadIdToken("several audiences and no azp"));
        }
        _ => {}
    }
    let now = expected.now.timestamp();
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or(SourceError::BadIdToken("no exp"))?;
    if exp + LEEWAY_SECS <= now {
        return Err(SourceError::BadIdToken("expired"));
    }
    if let Some(iat) = claims.get("iat").and_then(Value::as_i64)
        && iat > now + LEEWAY_SECS
    {
        return Err(SourceError::BadIdToken("issued in the future"));
    }
    let nonce = text("nonce").ok_or(SourceError::BadIdToken("no nonce"))?;
    if !constant_time_eq(nonce.as_bytes(), expected.nonce.as_bytes()) {
        return Err(SourceError::BadIdToken("wrong nonce"));
    }
    if text("sub").is_none_or(str::is_empty) {
        return Err(SourceError::BadIdToken("no sub"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_crypto::{KeyAlgorithm, generate_signing_key, public_jwk};
    use gatehouse_oidc::jwt::sign;
    use serde_json::json;

    /// A change to the claims of a test token.
    type ClaimEdit<'a> = dyn Fn(&mut Map<String, Value>) + 'a;

    struct Upstream {
        key: gatehouse_crypto::SigningKey,
        jwks: Value,
    }

    fn upstream(alg: KeyAlgorithm, kid: &str) -> Upstream {
        let generated = generate_signing_key(alg).expect("key");
        let key =
            gatehouse_crypto::SigningKey::from_pkcs8(alg, &generated.pkcs8_der).expect("pkcs8");
        let jwk = public_jwk(alg, &generated.public_key_der, kid).expect("jwk");
        Upstream {
            key,
            jwks: json!({ "keys": [jwk] }),
        }
    }

    fn claims(now: DateTime<Utc>) -> Map<String, Value> {
        let value = json!({
            "iss": "https://git.example.com/",
            "aud": "gatehouse",
            "sub": "42",
            "exp": now.timestamp() + 300,
            "iat": now.timestamp(),
            "nonce": "n-0S6_WzA2Mj",
        });
        value.as_object().cloned().expect("object")
    }

    fn expected(now: DateTime<Utc>) -> Expected<'static> {
        Expected {
            issuer: "https://git.example.com/",
            client_id: "gatehouse",
            nonce: "n-0S6_WzA2Mj",
            now,
        }
    }

    #[test]
    fn a_good_token_passes_with_each_algorithm() {
        let now = Utc::now();
        for alg in [
            KeyAlgorithm::Rs256,
            KeyAlgorithm::Es256,
            KeyAlgorithm::EdDsa,
        ] {
            let up = upstream(alg, "k1");
            let token = sign(&up.key, "k1", "JWT", &claims(now)).expect("sign");
            let got = validate(&token, &up.jwks, &expected(now)).expect("valid");
            assert_eq!(got.get("sub"), Some(&json!("42")));
        }
    }

    #[test]
    fn signatures_from_other_keys_or_altered_tokens_fail() {
        let now = Utc::now();
        let up = upstream(KeyAlgorithm::Es256, "k1");
        let other = upstream(KeyAlgorithm::Es256, "k1");
        let forged = sign(&other.key, "k1", "JWT", &claims(now)).expect("sign");
        assert_eq!(
            validate(&forged, &up.jwks, &expected(now)),
            Err(SourceError::BadIdToken("bad signature"))
        );
        let token = sign(&up.key, "k2", "JWT", &claims(now)).expect("sign");
        assert_eq!(
            validate(&token, &up.jwks, &expected(now)),
            Err(SourceError::BadIdToken(
                "no upstream key matches its kid and alg"
            ))
        );
        let good = sign(&up.key, "k1", "JWT", &claims(now)).expect("sign");
        let mut parts: Vec<&str> = good.split('.').collect();
        let mut altered = claims(now);
        altered.insert("sub".into(), json!("1"));
        let payload = URL_SAFE_NO_PAD.encode(Value::Object(altered).to_string());
        parts[1] = &payload;
        assert!(validate(&parts.join("."), &up.jwks, &expected(now)).is_err());
        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"k1"}"#);
        let unsigned = format!("{none_header}.{payload}.");
        assert!(validate(&unsigned, &up.jwks, &expected(now)).is_err());
    }

    #[test]
    fn each_claim_rule_is_enforced() {
        let now = Utc::now();
        let up = upstream(KeyAlgorithm::Es256, "k1");
        let check = |edit: &dyn Fn(&mut Map<String, Value>)| {
            let mut c = claims(now);
            edit(&mut c);
            let token = sign(&up.key, "k1", "JWT", &c).expect("sign");
            validate(&token, &up.jwks, &expected(now))
        };
        assert!(check(&|_| {}).is_ok());
        let cases: [(&ClaimEdit<'_>, &str); 8] = [
            (
                &|c| drop(c.insert("iss".into(), json!("https://evil/"))),
                "wrong issuer",
            ),
            (
                &|c| drop(c.insert("aud".into(), json!("other"))),
                "not issued to us (aud)",
            ),
            (
                &|c| drop(c.insert("aud".into(), json!(["gatehouse", "other"]))),
                "several audiences and no azp",
            ),
            (
                &|c| drop(c.insert("azp".into(), json!("other"))),
                "authorized party is another client",
            ),
            (
                &|c| drop(c.insert("exp".into(), json!(now.timestamp() - 120))),
                "expired",
            ),
            (
                &|c| drop(c.insert("iat".into(), json!(now.timestamp() + 600))),
                "issued in the future",
            ),
            (
                &|c| drop(c.insert("nonce".into(), json!("replayed"))),
                "wrong nonce",
            ),
            (&|c| drop(c.remove("nonce")), "no nonce"),
        ];
        for (edit, rule) in cases {
            assert_eq!(check(edit), Err(SourceError::BadIdToken(rule)), "{rule}");
        }
        let mut both = claims(now);
        both.insert("aud".into(), json!(["gatehouse", "other"]));
        both.insert("azp".into(), json!("gatehouse"));
        let token = sign(&up.key, "k1", "JWT", &both).expect("sign");
        assert!(validate(&token, &up.jwks, &expected(now)).is_ok());
    }
}
