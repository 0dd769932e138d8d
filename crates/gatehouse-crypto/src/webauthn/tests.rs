//! Registration and assertion payloads built here with aws-lc-rs keys, as an authenticator
//! and a browser would, then each refusal path of §7.1 and §7.2.

use super::cbor::{Value, encode};
use super::*;
use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeySize, PublicKey as RsaPublicKey};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256,
    RsaKeyPair,
};

const UP: u8 = 0x01;
const UV: u8 = 0x04;
const AT: u8 = 0x40;

fn rp() -> RelyingParty {
    RelyingParty::from_base_url("https://login.example.com/").expect("rp")
}

enum TestKey {
    Es256(EcdsaKeyPair),
    EdDsa(Ed25519KeyPair),
    Rs256(RsaKeyPair),
}

impl TestKey {
    fn es256() -> Self {
        Self::Es256(EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).expect("ec"))
    }
    fn eddsa() -> Self {
        Self::EdDsa(Ed25519KeyPair::generate().expect("ed"))
    }
    fn rs256() -> Self {
        Self::Rs256(RsaKeyPair::generate(KeySize::Rsa2048).expect("rsa"))
    }

    fn cose(&self) -> Vec<u8> {
        let i = Value::Integer;
        let b = |x: &[u8]| Value::Bytes(x.to_vec());
        encode(&Value::Map(match self {
            Self::Es256(pair) => {
                let point = pair.public_key().as_ref();
                vec![
                    (i(1), i(2)),
                    (i(3), i(-7)),
                    (i(-1), i(1)),
                    (i(-2), b(&point[1..33])),
                    (i(-3), b(&point[33..])),
                ]
            }
            Self::EdDsa(pair) => vec![
                (i(1), i(1)),
                (i(3), i(-8)),
                (i(-1), i(6)),
                (i(-2), b(pair.public_key().as_ref())),
            ],
            Self::Rs256(pair) => {
                let der = pair.public_key().as_der().expect("der");
                let key = RsaPublicKey::from_der(der.as_ref()).expect("spki");
                vec![
                    (i(1), i(3)),
                    (i(3), i(-257)),
                    (i(-1), b(key.modulus().big_endian_without_leading_zero())),
                    (i(-2), b(key.exponent().big_endian_without_leading_zero())),
                ]
            }
        }))
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match self {
            Self::Es256(pair) => pair.sign(&rng, message).expect("sign").as_ref().to_vec(),
            Self::EdDsa(pair) => pair.sign(message).as_ref().to_vec(),
            Self::Rs256(pair) => {
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .expect("sign");
                sig
            }
        }
    }
}

fn client_data(kind: &str, challenge: &[u8], origin: &str) -> Vec<u8> {
    serde_json::json!({
        "type": kind,
        "challenge": encode_b64url(challenge),
        "origin": origin,
        "crossOrigin": false,
    })
    .to_string()
    .into_bytes()
}

fn auth_data(rp_id: &str, flags: u8, count: u32, attested: Option<(&[u8], &[u8])>) -> Vec<u8> {
    let mut out = digest(&SHA256, rp_id.as_bytes()).as_ref().to_vec();
    out.push(flags);
    out.extend(count.to_be_bytes());
    if let Some((id, key)) = attested {
        out.extend([0u8; 16]);
        out.extend(u16::try_from(id.len()).expect("len").to_be_bytes());
        out.extend(id);
        out.extend(key);
    }
    out
}

fn attestation(fmt: &str, statement: Value, auth_data: &[u8]) -> Vec<u8> {
    encode(&Value::Map(vec![
        (Value::Text("fmt".into()), Value::Text(fmt.into())),
        (Value::Text("attStmt".into()), statement),
        (
            Value::Text("authData".into()),
            Value::Bytes(auth_data.to_vec()),
        ),
    ]))
}

const CRED_ID: &[u8] = b"credential-0001";

/// A valid `none` registration by `key`; returns (client data, attestation object).
fn registration(key: &TestKey, challenge: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let cose = key.cose();
    let ad = auth_data("login.example.com", UP | UV | AT, 0, Some((CRED_ID, &cose)));
    (
        client_data("webauthn.create", challenge, "https://login.example.com"),
        attestation("none", Value::Map(vec![]), &ad),
    )
}

fn assertion(key: &TestKey, challenge: &[u8], flags: u8, count: u32) -> AssertionResponse {
    let cd = client_data("webauthn.get", challenge, "https://login.example.com");
    let ad = auth_data("login.example.com", flags, count, None);
    let signature = key.sign(&signed_bytes(&ad, &cd));
    AssertionResponse {
        client_data_json: cd,
        authenticator_data: ad,
        signature,
    }
}

#[test]
fn relying_party_from_base_url() {
    assert_eq!(
        RelyingParty::from_base_url("https://Login.Example.com/"),
        Some(RelyingParty {
            id: "login.example.com".into(),
            origin: "https://login.example.com".into()
        })
    );
    assert_eq!(
        RelyingParty::from_base_url("http://localhost:9000"),
        Some(RelyingParty {
            id: "localhost".into(),
            origin: "http://localhost:9000".into()
        })
    );
    assert_eq!(RelyingParty::from_base_url("ftp://x"), None);
    assert_eq!(RelyingParty::from_base_url("https://"), None);
    assert_eq!(RelyingParty::from_base_url("https://u@evil"), None);
}

#[test]
fn registers_and_asserts_with_every_algorithm() {
    for key in [TestKey::es256(), TestKey::eddsa(), TestKey::rs256()] {
        let challenge = [7u8; 32];
        let (cd, ao) = registration(&key, &challenge);
        let credential = verify_registration(&rp(), &challenge, &cd, &ao, true).expect("register");
        assert_eq!(credential.credential_id, CRED_ID);
        assert!(credential.user_verified);
        let challenge = [8u8; 32];
        let response = assertion(&key, &challenge, UP | UV, 1);
        let verified = verify_assertion(
            &rp(),
            &challenge,
            &credential.public_key,
            0,
            &response,
            true,
        )
        .expect("assert");
        assert_eq!(verified.sign_count, 1);
        assert!(verified.user_verified);
    }
}

#[test]
fn packed_self_attestation_is_accepted_and_checked() {
    let key = TestKey::es256();
    let challenge = [1u8; 32];
    let cose = key.cose();
    let ad = auth_data("login.example.com", UP | AT, 0, Some((CRED_ID, &cose)));
    let cd = client_data("webauthn.create", &challenge, "https://login.example.com");
    let statement = |alg: i128, sig: Vec<u8>| {
        Value::Map(vec![
            (Value::Text("alg".into()), Value::Integer(alg)),
            (Value::Text("sig".into()), Value::Bytes(sig)),
        ])
    };
    let good = attestation(
        "packed",
        statement(-7, key.sign(&signed_bytes(&ad, &cd))),
        &ad,
    );
    assert!(verify_registration(&rp(), &challenge, &cd, &good, false).is_ok());
    let forged = attestation("packed", statement(-7, TestKey::es256().sign(&ad)), &ad);
    assert_eq!(
        verify_registration(&rp(), &challenge, &cd, &forged, false),
        Err(WebauthnError::BadSignature)
    );
    let wrong_alg = attestation("packed", statement(-8, key.sign(&ad)), &ad);
    assert!(matches!(
        verify_registration(&rp(), &challenge, &cd, &wrong_alg, false),
        Err(WebauthnError::Attestation(_))
    ));
    let mut with_chain = statement(-7, key.sign(&signed_bytes(&ad, &cd)));
    if let Value::Map(entries) = &mut with_chain {
        entries.push((Value::Text("x5c".into()), Value::Array(vec![])));
    }
    let chained = attestation("packed", with_chain, &ad);
    assert_eq!(
        verify_registration(&rp(), &challenge, &cd, &chained, false),
        Err(WebauthnError::UnsupportedAttestation)
    );
    let tpm = attestation("tpm", Value::Map(vec![]), &ad);
    assert_eq!(
        verify_registration(&rp(), &challenge, &cd, &tpm, false),
        Err(WebauthnError::UnsupportedAttestation)
    );
}

#[test]
fn registration_refusals() {
    let key = TestKey::es256();
    let challenge = [3u8; 32];
    let (cd, ao) = registration(&key, &challenge);
    let origin = "https://login.example.com";
    let check = |cd: &[u8], ao: &[u8], uv: bool| verify_registration(&rp(), &challenge, cd, ao, uv);

    assert_eq!(
        check(&client_data("webauthn.get", &challenge, origin), &ao, true),
        Err(WebauthnError::WrongCeremony)
    );
    assert_eq!(
        check(
            &client_data("webauthn.create", &[4u8; 32], origin),
            &ao,
            true
        ),
        Err(WebauthnError::ChallengeMismatch)
    );
    for evil in [
        "https://evil.example.com",
        "http://login.example.com",
        "https://login.example.com:8443",
        "https://sub.login.example.com",
    ] {
        assert_eq!(
            check(&client_data("webauthn.create", &challenge, evil), &ao, true),
            Err(WebauthnError::OriginMismatch),
            "{evil}"
        );
    }
    let cross = serde_json::json!({"type": "webauthn.create", "challenge": encode_b64url(&challenge), "origin": origin, "crossOrigin": true}).to_string();
    assert_eq!(
        check(cross.as_bytes(), &ao, true),
        Err(WebauthnError::OriginMismatch)
    );
    assert_eq!(
        check(b"not json", &ao, true),
        Err(WebauthnError::ClientData)
    );

    let cose = key.cose();
    let other_rp = auth_data("evil.example.com", UP | UV | AT, 0, Some((CRED_ID, &cose)));
    assert_eq!(
        check(
            &cd,
            &attestation("none", Value::Map(vec![]), &other_rp),
            true
        ),
        Err(WebauthnError::RpIdMismatch)
    );
    let no_up = auth_data("login.example.com", UV | AT, 0, Some((CRED_ID, &cose)));
    assert_eq!(
        check(&cd, &attestation("none", Value::Map(vec![]), &no_up), true),
        Err(WebauthnError::UserNotPresent)
    );
    let no_uv = auth_data("login.example.com", UP | AT, 0, Some((CRED_ID, &cose)));
    let no_uv = attestation("none", Value::Map(vec![]), &no_uv);
    assert_eq!(
        check(&cd, &no_uv, true),
        Err(WebauthnError::UserNotVerified)
    );
    assert!(check(&cd, &no_uv, false).is_ok());
    let no_at = auth_data("login.example.com", UP | UV, 0, None);
    assert!(matches!(
        check(&cd, &attestation("none", Value::Map(vec![]), &no_at), true),
        Err(WebauthnError::AuthenticatorData(_))
    ));
    let bs_without_be = auth_data(
        "login.example.com",
        UP | UV | AT | 0x10,
        0,
        Some((CRED_ID, &cose)),
    );
    assert!(matches!(
        check(
            &cd,
            &attestation("none", Value::Map(vec![]), &bs_without_be),
            true
        ),
        Err(WebauthnError::AuthenticatorData(_))
    ));
    let mut trailing = auth_data("login.example.com", UP | UV | AT, 0, Some((CRED_ID, &cose)));
    trailing.push(0);
    assert!(matches!(
        check(
            &cd,
            &attestation("none", Value::Map(vec![]), &trailing),
            true
        ),
        Err(WebauthnError::AuthenticatorData(_))
    ));
    let unsupported = encode(&Value::Map(vec![
        (Value::Integer(1), Value::Integer(2)),
        (Value::Integer(3), Value::Integer(-35)),
    ]));
    let es384 = auth_data(
        "login.example.com",
        UP | UV | AT,
        0,
        Some((CRED_ID, &unsupported)),
    );
    assert_eq!(
        check(&cd, &attestation("none", Value::Map(vec![]), &es384), true),
        Err(WebauthnError::UnsupportedAlgorithm)
    );
    let with_statement = attestation(
        "none",
        Value::Map(vec![(Value::Text("sig".into()), Value::Bytes(vec![1]))]),
        &auth_data("login.example.com", UP | UV | AT, 0, Some((CRED_ID, &cose))),
    );
    assert!(matches!(
        check(&cd, &with_statement, true),
        Err(WebauthnError::Attestation(_))
    ));
    assert!(matches!(
        check(&cd, b"\xff", true),
        Err(WebauthnError::Cbor(_))
    ));
    for cut in [0, 10, 40, 60, ao.len() - 1] {
        assert!(check(&cd, &ao[..cut], true).is_err(), "cut at {cut}");
    }
}

#[test]
fn assertion_refusals() {
    let key = TestKey::es256();
    let (cd, ao) = registration(&key, &[0u8; 32]);
    let credential = verify_registration(&rp(), &[0u8; 32], &cd, &ao, true).expect("register");
    let pk = &credential.public_key;
    let challenge = [9u8; 32];
    let good = assertion(&key, &challenge, UP | UV, 5);
    assert!(verify_assertion(&rp(), &challenge, pk, 4, &good, true).is_ok());

    // Replayed: the server's next challenge differs from the one the response answers.
    assert_eq!(
        verify_assertion(&rp(), &[10u8; 32], pk, 4, &good, true),
        Err(WebauthnError::ChallengeMismatch)
    );
    // Counter did not grow.
    assert_eq!(
        verify_assertion(&rp(), &challenge, pk, 5, &good, true),
        Err(WebauthnError::CounterRegression)
    );
    let zero = assertion(&key, &challenge, UP | UV, 0);
    assert!(verify_assertion(&rp(), &challenge, pk, 0, &zero, true).is_ok());
    assert_eq!(
        verify_assertion(&rp(), &challenge, pk, 3, &zero, true),
        Err(WebauthnError::CounterRegression)
    );
    // Wrong origin (signed correctly by the authenticator, but on another site's page).
    let mut phished = assertion(&key, &challenge, UP | UV, 6);
    phished.client_data_json = client_data("webauthn.get", &challenge, "https://login.example.co");
    phished.signature = key.sign(&signed_bytes(
        &phished.authenticator_data,
        &phished.client_data_json,
    ));
    assert_eq!(
        verify_assertion(&rp(), &challenge, pk, 0, &phished, true),
        Err(WebauthnError::OriginMismatch)
    );
    // A registration response is not an assertion.
    let mut create = good.clone();
    create.client_data_json =
        client_data("webauthn.create", &challenge, "https://login.example.com");
    assert_eq!(
        verify_assertion(&rp(), &challenge, pk, 0, &create, true),
        Err(WebauthnError::WrongCeremony)
    );
    // Flags.
    let no_uv = assertion(&key, &challenge, UP, 6);
    assert_eq!(
        verify_assertion(&rp(), &challenge, pk, 0, &no_uv, true),
        Err(WebauthnError::UserNotVerified)
    );
    assert!(verify_assertion(&rp(), &challenge, pk, 0, &no_uv, false).is_ok());
    let no_up = assertion(&key, &challenge, UV, 6);
    assert_eq!(
        verify_assertion(&rp(), &challenge, pk, 0, &no_up, true),
        Err(WebauthnError::UserNotPresent)
    );
    // Another RP id.
    let mut other = good.clone();
    other.authenticator_data = auth_data("evil.example.com", UP | UV, 6, None);
    other.signature = key.sign(&signed_bytes(
        &other.authenticator_data,
        &other.client_data_json,
    ));
    assert_eq!(
        verify_assertion(&rp(), &challenge, pk, 0, &other, true),
        Err(WebauthnError::RpIdMismatch)
    );
    // Tampered data or a signature by another key.
    let mut tampered = good.clone();
    tampered.authenticator_data[36] ^= 1;
    assert_eq!(
        verify_assertion(&rp(), &challenge, pk, 0, &tampered, true),
        Err(WebauthnError::BadSignature)
    );
    let forged = assertion(&TestKey::es256(), &challenge, UP | UV, 6);
    assert_eq!(
        verify_assertion(&rp(), &challenge, pk, 0, &forged, true),
        Err(WebauthnError::BadSignature)
    );
    let mut empty = good.clone();
    empty.signature.clear();
    assert_eq!(
        verify_assertion(&rp(), &challenge, pk, 0, &empty, true),
        Err(WebauthnError::BadSignature)
    );
    // A garbage stored key is an error, not a panic.
    assert!(verify_assertion(&rp(), &challenge, b"\x00", 0, &good, true).is_err());
}

#[test]
fn challenges_are_fresh_and_decode() {
    let a = new_challenge();
    assert_ne!(a, new_challenge());
    assert_eq!(decode_b64url(&a).map(|b| b.len()), Some(32));
    assert_eq!(decode_b64url("!!"), None);
}
