//! JWS signing keys (RFC 7518 §3): generation, signing, verification and the public JWK
//! (RFC 7517, RFC 7518 §6, RFC 8037 for Ed25519) published in JWKS documents.
//!
//! Private keys travel as PKCS#8 v1 DER (sealed with [`crate::SecretBox`] before storage);
//! public keys as X.509 SubjectPublicKeyInfo DER. Signatures are in JWS form: RS256 is
//! RSASSA-PKCS1-v1_5 with SHA-256, ES256 the fixed-size `r ‖ s` of RFC 7518 §3.4 (not DER),
//! EdDSA plain Ed25519.

use crate::error::{CryptoError, Result};
use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeySize, PublicKey as RsaPublicKey};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ED25519, EcdsaKeyPair,
    Ed25519KeyPair, KeyPair as _, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256,
    RsaKeyPair, UnparsedPublicKey, VerificationAlgorithm,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
pub use gatehouse_core::KeyAlgorithm;
use serde_json::{Value, json};
use std::fmt;
use zeroize::Zeroizing;

/// DER prefix of a P-256 SubjectPublicKeyInfo with an uncompressed point: SEQUENCE {
/// SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING { 0x04 ‖ x ‖ y } } (RFC 5480).
const P256_SPKI_PREFIX: [u8; 27] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
];
/// Byte length of a P-256 coordinate.
const P256_COORDINATE_LEN: usize = 32;

/// DER prefix of an Ed25519 SubjectPublicKeyInfo: SEQUENCE { SEQUENCE { id-Ed25519 },
/// BIT STRING { key } } (RFC 8410 §4).
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// Byte length of an Ed25519 public key.
const ED25519_KEY_LEN: usize = 32;

/// A freshly generated key pair.
pub struct GeneratedKey {
    /// The private key, PKCS#8 v1 DER. Wiped from memory on drop.
    pub pkcs8_der: Zeroizing<Vec<u8>>,
    /// The public key, X.509 SubjectPublicKeyInfo DER.
    pub public_key_der: Vec<u8>,
}

impl fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("pkcs8_der", &"**")
            .field(
                "public_key_der",
                &URL_SAFE_NO_PAD.encode(&self.public_key_der),
            )
            .finish()
    }
}

/// Generates a key pair for `alg`: RSA-2048 for RS256, P-256 for ES256, Ed25519 for EdDSA.
///
/// # Errors
/// [`CryptoError::KeyGeneration`] if aws-lc fails to generate or encode the key.
pub fn generate_signing_key(alg: KeyAlgorithm) -> Result<GeneratedKey> {
    let failed = |_| CryptoError::KeyGeneration { alg: alg.as_str() };
    match alg {
        KeyAlgorithm::Rs256 => rsa_key(&RsaKeyPair::generate(KeySize::Rsa2048).map_err(failed)?),
        KeyAlgorithm::Es256 => {
            ec_key(&EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(failed)?)
        }
        KeyAlgorithm::EdDsa => ed25519_key(&Ed25519KeyPair::generate().map_err(failed)?),
    }
    .map_err(|_| CryptoError::KeyGeneration { alg: alg.as_str() })
}

/// A private key as operators bring it from elsewhere (OpenSSL, Dex's or another IdP's
/// key, a KMS export): the three encodings a PEM file carries.
#[derive(Clone, Copy)]
pub enum PrivateKeyDocument<'a> {
    /// `BEGIN PRIVATE KEY`: PKCS#8 (RFC 5208), any of the three key types.
    Pkcs8(&'a [u8]),
    /// `BEGIN RSA PRIVATE KEY`: PKCS#1 (RFC 8017).
    RsaPkcs1(&'a [u8]),
    /// `BEGIN EC PRIVATE KEY`: SEC1 (RFC 5915).
    EcSec1(&'a [u8]),
}

/// Takes in a private key made elsewhere: recognises which of our algorithms it serves
/// (RSA of 2048 bits or more for RS256, P-256 for ES256, Ed25519 for EdDSA) and returns it
/// in the form [`generate_signing_key`] gives, so an imported key is stored and used exactly
/// like a generated one.
///
/// # Errors
/// [`CryptoError::UnsupportedPrivateKey`] for anything else: another curve, RSA below 2048
/// bits, a damaged document.
pub fn import_signing_key(
    document: PrivateKeyDocument<'_>,
) -> Result<(KeyAlgorithm, GeneratedKey)> {
    fn unsupported<E>(_: E) -> CryptoError {
        CryptoError::UnsupportedPrivateKey
    }
    let imported = match document {
        PrivateKeyDocument::RsaPkcs1(der) => (
            KeyAlgorithm::Rs256,
            rsa_key(&RsaKeyPair::from_der(der).map_err(unsupported)?),
        ),
        PrivateKeyDocument::EcSec1(der) => (
            KeyAlgorithm::Es256,
            ec_key(
                &EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(unsupported)?,
            ),
        ),
        PrivateKeyDocument::Pkcs8(der) => {
            if let Ok(pair) = RsaKeyPair::from_pkcs8(der) {
                (KeyAlgorithm::Rs256, rsa_key(&pair))
            } else if let Ok(pair) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
            {
                (KeyAlgorithm::Es256, ec_key(&pair))
            } else {
                let pair = Ed25519KeyPair::from_pkcs8(der).map_err(unsupported)?;
                (KeyAlgorithm::EdDsa, ed25519_key(&pair))
            }
        }
    };
    let (alg, key) = imported;
    Ok((alg, key.map_err(unsupported)?))
}

/// An RSA pair as PKCS#8 v1 and SubjectPublicKeyInfo DER.
fn rsa_key(pair: &RsaKeyPair) -> std::result::Result<GeneratedKey, aws_lc_rs::error::Unspecified> {
    Ok(GeneratedKey {
        pkcs8_der: Zeroizing::new(pair.as_der()?.as_ref().to_vec()),
        public_key_der: pair.public_key().as_der()?.as_ref().to_vec(),
    })
}

/// A P-256 pair as PKCS#8 v1 and SubjectPublicKeyInfo DER.
fn ec_key(pair: &EcdsaKeyPair) -> std::result::Result<GeneratedKey, aws_lc_rs::error::Unspecified> {
    Ok(GeneratedKey {
        pkcs8_der: Zeroizing::new(pair.to_pkcs8v1()?.as_ref().to_vec()),
        public_key_der: pair.public_key().as_der()?.as_ref().to_vec(),
    })
}

/// An Ed25519 pair as PKCS#8 v1 and SubjectPublicKeyInfo DER.
fn ed25519_key(
    pair: &Ed25519KeyPair,
) -> std::result::Result<GeneratedKey, aws_lc_rs::error::Unspecified> {
    Ok(GeneratedKey {
        pkcs8_der: Zeroizing::new(pair.to_pkcs8v1()?.as_ref().to_vec()),
        public_key_der: pair.public_key().as_der()?.as_ref().to_vec(),
    })
}

/// A parsed private key, ready to sign many messages. Parsing (especially RSA's key
/// check) costs far more than one signature, so long-lived signers should keep one.
pub struct SigningKey {
    inner: SigningKeyInner,
}

enum SigningKeyInner {
    Rs256(RsaKeyPair),
    Es256(EcdsaKeyPair),
    EdDsa(Ed25519KeyPair),
}

impl SigningKey {
    /// Parses a PKCS#8 DER private key for `alg`.
    ///
    /// # Errors
    /// [`CryptoError::InvalidPrivateKey`] when the document is not a valid key of the
    /// algorithm's type (e.g. an EC key given for RS256, or RSA below 2048 bits).
    pub fn from_pkcs8(alg: KeyAlgorithm, pkcs8_der: &[u8]) -> Result<Self> {
        let invalid = |_| CryptoError::InvalidPrivateKey { alg: alg.as_str() };
        let inner = match alg {
            KeyAlgorithm::Rs256 => {
                SigningKeyInner::Rs256(RsaKeyPair::from_pkcs8(pkcs8_der).map_err(invalid)?)
            }
            KeyAlgorithm::Es256 => SigningKeyInner::Es256(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8_der)
                    .map_err(invalid)?,
            ),
            KeyAlgorithm::EdDsa => {
                SigningKeyInner::EdDsa(Ed25519KeyPair::from_pkcs8(pkcs8_der).map_err(invalid)?)
            }
        };
        Ok(Self { inner })
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self.inner {
            SigningKeyInner::Rs256(_) => KeyAlgorithm::Rs256,
            SigningKeyInner::Es256(_) => KeyAlgorithm::Es256,
            SigningKeyInner::EdDsa(_) => KeyAlgorithm::EdDsa,
        }
    }

    /// The public key as SubjectPublicKeyInfo DER.
    ///
    /// # Errors
    /// [`CryptoError::InvalidPrivateKey`] if aws-lc cannot encode it.
    pub fn public_key_der(&self) -> Result<Vec<u8>> {
        let alg = self.algorithm().as_str();
        let der = match &self.inner {
            SigningKeyInner::Rs256(pair) => pair.public_key().as_der().map(|d| d.as_ref().to_vec()),
            SigningKeyInner::Es256(pair) => pair.public_key().as_der().map(|d| d.as_ref().to_vec()),
            SigningKeyInner::EdDsa(pair) => pair.public_key().as_der().map(|d| d.as_ref().to_vec()),
        };
        der.map_err(|_| CryptoError::InvalidPrivateKey { alg })
    }

    /// Signs `message` (for JWS, the ASCII `header.payload`), returning the raw JWS
    /// signature bytes.
    ///
    /// # Errors
    /// [`CryptoError::Signing`] if aws-lc fails.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let failed = |_| CryptoError::Signing {
            alg: self.algorithm().as_str(),
        };
        match &self.inner {
            SigningKeyInner::Rs256(pair) => {
                let mut signature = vec![0u8; pair.public_modulus_len()];
                pair.sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    message,
                    &mut signature,
                )
                .map_err(failed)?;
                Ok(signature)
            }
            SigningKeyInner::Es256(pair) => pair
                .sign(&SystemRandom::new(), message)
                .map(|signature| signature.as_ref().to_vec())
                .map_err(failed),
            SigningKeyInner::EdDsa(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({}, **)", self.algorithm().as_str())
    }
}

/// Signs `message` with a PKCS#8 DER private key in one call. Prefer [`SigningKey`] when
/// signing repeatedly with the same key.
///
/// # Errors
/// As [`SigningKey::from_pkcs8`] and [`SigningKey::sign`].
pub fn sign(alg: KeyAlgorithm, pkcs8_der: &[u8], message: &[u8]) -> Result<Vec<u8>> {
    SigningKey::from_pkcs8(alg, pkcs8_der)?.sign(message)
}

/// Whether `signature` is a valid JWS signature of `message` under the public key
/// `spki_der` (SubjectPublicKeyInfo DER) for `alg`. RS256 accepts 2048- to 8192-bit keys.
pub fn verify(alg: KeyAlgorithm, spki_der: &[u8], message: &[u8], signature: &[u8]) -> bool {
    UnparsedPublicKey::new(verification_algorithm(alg), spki_der)
        .verify(message, signature)
        .is_ok()
}

fn verification_algorithm(alg: KeyAlgorithm) -> &'static dyn VerificationAlgorithm {
    match alg {
        KeyAlgorithm::Rs256 => &RSA_PKCS1_2048_8192_SHA256,
        KeyAlgorithm::Es256 => &ECDSA_P256_SHA256_FIXED,
        KeyAlgorithm::EdDsa => &ED25519,
    }
}

/// The public JWK for a key (RFC 7517 §4 with the RFC 7518 §6 / RFC 8037 §2 members):
/// `kty`, `use: "sig"`, `alg`, `kid`, and `n`/`e` (RSA), `crv: "P-256"`/`x`/`y` (EC) or
/// `crv: "Ed25519"`/`x` (OKP), all base64url without padding and, for RSA, without
/// leading zero bytes.
///
/// # Errors
/// [`CryptoError::InvalidPublicKey`] when `spki_der` is not a valid SubjectPublicKeyInfo
/// for `alg` (EC points must be uncompressed).
pub fn public_jwk(alg: KeyAlgorithm, spki_der: &[u8], kid: &str) -> Result<Value> {
    let invalid = || CryptoError::InvalidPublicKey { alg: alg.as_str() };
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    // Full validation (point on the curve, RSA key checks) before reading any bytes.
    ParsedPublicKey::new(verification_algorithm(alg), spki_der).map_err(|_| invalid())?;
    let jwk = match alg {
        KeyAlgorithm::Rs256 => {
            let key = RsaPublicKey::from_der(spki_der).map_err(|_| invalid())?;
            json!({
                "kty": "RSA",
                "use": "sig",
                "alg": alg.as_str(),
                "kid": kid,
                "n": b64(key.modulus().big_endian_without_leading_zero()),
                "e": b64(key.exponent().big_endian_without_leading_zero()),
            })
        }
        KeyAlgorithm::Es256 => {
            let point = spki_der
                .strip_prefix(&P256_SPKI_PREFIX)
                .filter(|point| point.len() == 2 * P256_COORDINATE_LEN)
                .ok_or_else(invalid)?;
            let (x, y) = point.split_at(P256_COORDINATE_LEN);
            json!({
                "kty": "EC",
                "use": "sig",
                "alg": alg.as_str(),
                "kid": kid,
                "crv": "P-256",
                "x": b64(x),
                "y": b64(y),
            })
        }
        KeyAlgorithm::EdDsa => {
            let x = spki_der
                .strip_prefix(&ED25519_SPKI_PREFIX)
                .filter(|x| x.len() == ED25519_KEY_LEN)
                .ok_or_else(invalid)?;
            json!({
                "kty": "OKP",
                "use": "sig",
                "alg": alg.as_str(),
                "kid": kid,
                "crv": "Ed25519",
                "x": b64(x),
            })
        }
    };
    Ok(jwk)
}

/// DER of the rsaEncryption AlgorithmIdentifier: SEQUENCE { OID 1.2.840.113549.1.1.1, NULL }
/// (RFC 3279 §2.3.1).
const RSA_ALGORITHM_IDENTIFIER: [u8; 15] = [
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];

/// Reads a public JWK someone else published (a client's key for `private_key_jwt`, RFC 7523)
/// into our form: its algorithm and SubjectPublicKeyInfo DER, fully validated (RSA 2048 to
/// 8192 bits, P-256 points on the curve, 32-byte Ed25519 keys). The algorithm follows from
/// `kty`/`crv`; an `alg` member, when present, must agree, and `use`, when present, must be
/// `sig`. The inverse of [`public_jwk`].
///
/// # Errors
/// [`CryptoError::InvalidPublicKey`] for anything else (private members are not an error:
/// they are ignored, never read).
pub fn spki_from_jwk(jwk: &Value) -> Result<(KeyAlgorithm, Vec<u8>)> {
    let member = |name: &str| jwk.get(name).and_then(Value::as_str);
    let bytes = |name: &str| member(name).and_then(|text| URL_SAFE_NO_PAD.decode(text).ok());
    let invalid = |alg: &'static str| CryptoError::InvalidPublicKey { alg };
    let (alg, der) = match (member("kty"), member("crv")) {
        (Some("RSA"), _) => {
            let (Some(n), Some(e)) = (bytes("n"), bytes("e")) else {
                return Err(invalid("RS256"));
            };
            // 2048 to 8192 bits, as for verification: parsing alone does not check the size.
            let modulus_len = n.iter().skip_while(|b| **b == 0).count();
            if !(256..=1024).contains(&modulus_len) {
                return Err(invalid("RS256"));
            }
            let mut integers = der_integer(&n);
            integers.extend(der_integer(&e));
            let mut bit_string = vec![0];
            bit_string.extend(der_tlv(0x30, &integers));
            let mut spki = RSA_ALGORITHM_IDENTIFIER.to_vec();
            spki.extend(der_tlv(0x03, &bit_string));
            (KeyAlgorithm::Rs256, der_tlv(0x30, &spki))
        }
        (Some("EC"), Some("P-256")) => {
            let (Some(x), Some(y)) = (bytes("x"), bytes("y")) else {
                return Err(invalid("ES256"));
            };
            if x.len() != P256_COORDINATE_LEN || y.len() != P256_COORDINATE_LEN {
                return Err(invalid("ES256"));
            }
            let mut der = P256_SPKI_PREFIX.to_vec();
            der.extend(x);
            der.extend(y);
            (KeyAlgorithm::Es256, der)
        }
        (Some("OKP"), Some("Ed25519")) => {
            let x = bytes("x")
                .filter(|x| x.len() == ED25519_KEY_LEN)
                .ok_or_else(|| invalid("EdDSA"))?;
            let mut der = ED25519_SPKI_PREFIX.to_vec();
            der.extend(x);
            (KeyAlgorithm::EdDsa, der)
        }
        _ => return Err(invalid("unsupported")),
    };
    let declared_alg = member("alg").is_none_or(|declared| declared == alg.as_str());
    let for_signing = member("use").is_none_or(|usage| usage == "sig");
    if !declared_alg || !for_signing {
        return Err(invalid(alg.as_str()));
    }
    ParsedPublicKey::new(verification_algorithm(alg), &der).map_err(|_| invalid(alg.as_str()))?;
    Ok((alg, der))
}

/// A DER INTEGER holding the unsigned big-endian `magnitude` (leading zeros dropped, one
/// added back when the high bit is set).
fn der_integer(magnitude: &[u8]) -> Vec<u8> {
    let first = magnitude
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(magnitude.len());
    let trimmed = &magnitude[first..];
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(trimmed);
    der_tlv(0x02, &content)
}

/// A DER tag-length-value with the definite length form (X.690 §8.1.3).
fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = Vec::with_capacity(len + 6);
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let be = len.to_be_bytes();
        let skip = be.iter().position(|b| *b != 0).unwrap_or(be.len() - 1);
        out.push(0x80 | (be.len() - skip) as u8);
        out.extend_from_slice(&be[skip..]);
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::RsaPublicKeyComponents;

    const ALL: [KeyAlgorithm; 3] = [
        KeyAlgorithm::Rs256,
        KeyAlgorithm::Es256,
        KeyAlgorithm::EdDsa,
    ];
    const MESSAGE: &[u8] = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9";

    fn member(jwk: &Value, name: &str) -> Vec<u8> {
        let text = jwk[name]
            .as_str()
            .unwrap_or_else(|| panic!("{name} missing"));
        assert!(!text.contains('='), "{name} must be unpadded");
        URL_SAFE_NO_PAD.decode(text).expect("base64url")
    }

    #[test]
    fn an_imported_key_is_recognised_and_signs_like_a_generated_one() {
        for alg in ALL {
            let original = generate_signing_key(alg).expect("generate");
            let (found, imported) =
                import_signing_key(PrivateKeyDocument::Pkcs8(&original.pkcs8_der)).expect("import");
            assert_eq!(found, alg);
            assert_eq!(imported.public_key_der, original.public_key_der, "{alg:?}");
            let signature = sign(alg, &imported.pkcs8_der, MESSAGE).expect("sign");
            assert!(verify(alg, &original.public_key_der, MESSAGE, &signature));
        }
    }

    #[test]
    fn keys_we_cannot_sign_with_are_refused() {
        let p384 = EcdsaKeyPair::generate(&aws_lc_rs::signature::ECDSA_P384_SHA384_FIXED_SIGNING)
            .expect("P-384")
            .to_pkcs8v1()
            .expect("pkcs8");
        let rsa = generate_signing_key(KeyAlgorithm::Rs256).expect("rsa");
        let damaged = &rsa.pkcs8_der[..rsa.pkcs8_der.len() / 2];
        for document in [
            PrivateKeyDocument::Pkcs8(p384.as_ref()),
            PrivateKeyDocument::Pkcs8(damaged),
            PrivateKeyDocument::Pkcs8(b"not a key"),
            // An RSA key offered as SEC1 and a P-256 key as PKCS#1 are refused, not guessed.
            PrivateKeyDocument::EcSec1(&rsa.pkcs8_der),
            PrivateKeyDocument::RsaPkcs1(p384.as_ref()),
        ] {
            assert!(matches!(
                import_signing_key(document),
                Err(CryptoError::UnsupportedPrivateKey)
            ));
        }
    }

    #[test]
    fn sign_verify_round_trip_for_every_algorithm() {
        for alg in ALL {
            let key = generate_signing_key(alg).expect("generate");
            let other = generate_signing_key(alg).expect("generate");
            let signature = sign(alg, &key.pkcs8_der, MESSAGE).expect("sign");
            let expected_len = match alg {
                KeyAlgorithm::Rs256 => 256,
                KeyAlgorithm::Es256 | KeyAlgorithm::EdDsa => 64,
            };
            assert_eq!(signature.len(), expected_len, "{alg:?}");
            assert!(
                verify(alg, &key.public_key_der, MESSAGE, &signature),
                "{alg:?}"
            );
            assert!(!verify(
                alg,
                &key.public_key_der,
                b"other message",
                &signature
            ));
            assert!(!verify(alg, &other.public_key_der, MESSAGE, &signature));
            let mut altered = signature.clone();
            altered[10] ^= 1;
            assert!(!verify(alg, &key.public_key_der, MESSAGE, &altered));

            let signer = SigningKey::from_pkcs8(alg, &key.pkcs8_der).expect("parse");
            assert_eq!(signer.algorithm(), alg);
            assert_eq!(signer.public_key_der().expect("spki"), key.public_key_der);
            assert!(verify(
                alg,
                &key.public_key_der,
                MESSAGE,
                &signer.sign(MESSAGE).expect("sign")
            ));
        }
    }

    #[test]
    fn keys_of_another_algorithm_or_garbage_are_refused() {
        let rsa = generate_signing_key(KeyAlgorithm::Rs256).expect("generate");
        let ec = generate_signing_key(KeyAlgorithm::Es256).expect("generate");
        assert!(matches!(
            SigningKey::from_pkcs8(KeyAlgorithm::Rs256, &ec.pkcs8_der),
            Err(CryptoError::InvalidPrivateKey { alg: "RS256" })
        ));
        assert!(SigningKey::from_pkcs8(KeyAlgorithm::Es256, &rsa.pkcs8_der).is_err());
        assert!(SigningKey::from_pkcs8(KeyAlgorithm::EdDsa, &ec.pkcs8_der).is_err());
        assert!(SigningKey::from_pkcs8(KeyAlgorithm::EdDsa, b"garbage").is_err());
        assert!(public_jwk(KeyAlgorithm::Es256, &rsa.public_key_der, "k").is_err());
        assert!(public_jwk(KeyAlgorithm::Rs256, &ec.public_key_der, "k").is_err());
        assert!(public_jwk(KeyAlgorithm::EdDsa, b"", "k").is_err());
    }

    #[test]
    fn public_keys_are_subject_public_key_info() {
        let rsa = generate_signing_key(KeyAlgorithm::Rs256).expect("generate");
        // SEQUENCE, SEQUENCE { rsaEncryption, NULL }: SPKI, not a bare PKCS#1 RSAPublicKey.
        assert_eq!(
            rsa.public_key_der[..19],
            [
                0x30, 0x82, 0x01, 0x22, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
                0x01, 0x01, 0x01, 0x05, 0x00
            ]
        );
        let ec = generate_signing_key(KeyAlgorithm::Es256).expect("generate");
        assert!(ec.public_key_der.starts_with(&P256_SPKI_PREFIX));
        let ed = generate_signing_key(KeyAlgorithm::EdDsa).expect("generate");
        assert!(ed.public_key_der.starts_with(&ED25519_SPKI_PREFIX));
        assert!(!format!("{ed:?}").contains(&URL_SAFE_NO_PAD.encode(&ed.pkcs8_der[..])));
    }

    #[test]
    fn rsa_jwk_has_full_length_modulus_and_verifies_signatures() {
        let key = generate_signing_key(KeyAlgorithm::Rs256).expect("generate");
        let jwk = public_jwk(KeyAlgorithm::Rs256, &key.public_key_der, "kid-1").expect("jwk");
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["alg"], "RS256");
        assert_eq!(jwk["use"], "sig");
        assert_eq!(jwk["kid"], "kid-1");
        let n = member(&jwk, "n");
        let e = member(&jwk, "e");
        assert_eq!(n.len(), 256);
        assert_ne!(n[0], 0);
        assert_eq!(jwk["e"], "AQAB");
        // Rebuild the key from the JWK members alone and check a signature with it.
        let signature = sign(KeyAlgorithm::Rs256, &key.pkcs8_der, MESSAGE).expect("sign");
        RsaPublicKeyComponents { n: &n, e: &e }
            .verify(&RSA_PKCS1_2048_8192_SHA256, MESSAGE, &signature)
            .expect("JWK verifies the signature");
    }

    #[test]
    fn ec_jwk_has_p256_coordinates_and_verifies_signatures() {
        let key = generate_signing_key(KeyAlgorithm::Es256).expect("generate");
        let jwk = public_jwk(KeyAlgorithm::Es256, &key.public_key_der, "kid-2").expect("jwk");
        assert_eq!(jwk["kty"], "EC");
        assert_eq!(jwk["crv"], "P-256");
        assert_eq!(jwk["alg"], "ES256");
        let (x, y) = (member(&jwk, "x"), member(&jwk, "y"));
        assert_eq!((x.len(), y.len()), (32, 32));
        let point = [&[0x04][..], &x, &y].concat();
        let signature = sign(KeyAlgorithm::Es256, &key.pkcs8_der, MESSAGE).expect("sign");
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
            .verify(MESSAGE, &signature)
            .expect("JWK verifies the signature");
    }

    #[test]
    fn okp_jwk_has_ed25519_key_and_verifies_signatures() {
        let key = generate_signing_key(KeyAlgorithm::EdDsa).expect("generate");
        let jwk = public_jwk(KeyAlgorithm::EdDsa, &key.public_key_der, "kid-3").expect("jwk");
        assert_eq!(jwk["kty"], "OKP");
        assert_eq!(jwk["crv"], "Ed25519");
        assert_eq!(jwk["alg"], "EdDSA");
        assert!(jwk.get("y").is_none());
        let x = member(&jwk, "x");
        assert_eq!(x.len(), 32);
        let signature = sign(KeyAlgorithm::EdDsa, &key.pkcs8_der, MESSAGE).expect("sign");
        UnparsedPublicKey::new(&ED25519, &x)
            .verify(MESSAGE, &signature)
            .expect("JWK verifies the signature");
    }

    #[test]
    fn ed25519_matches_rfc_8037_appendix_a() {
        // RFC 8037 A.1 (key) and A.4 (signature of the JWS signing input).
        let d = URL_SAFE_NO_PAD
            .decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
            .expect("d");
        let pkcs8 = Ed25519KeyPair::from_seed_unchecked(&d)
            .expect("seed")
            .to_pkcs8v1()
            .expect("pkcs8");
        let signer = SigningKey::from_pkcs8(KeyAlgorithm::EdDsa, pkcs8.as_ref()).expect("key");
        let spki = signer.public_key_der().expect("spki");
        let jwk = public_jwk(KeyAlgorithm::EdDsa, &spki, "rfc8037").expect("jwk");
        assert_eq!(jwk["x"], "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
        let input = b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
        let signature = signer.sign(input).expect("sign");
        assert_eq!(
            URL_SAFE_NO_PAD.encode(signature),
            "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
        );
    }

    #[test]
    fn jwk_reads_back_into_the_same_spki() {
        for alg in ALL {
            let key = generate_signing_key(alg).expect("generate");
            let jwk = public_jwk(alg, &key.public_key_der, "k").expect("jwk");
            let (read_alg, der) = spki_from_jwk(&jwk).expect("read");
            assert_eq!(read_alg, alg);
            assert_eq!(der, key.public_key_der, "{alg:?}");
            let signature = sign(alg, &key.pkcs8_der, MESSAGE).expect("sign");
            assert!(verify(alg, &der, MESSAGE, &signature));
        }
    }

    #[test]
    fn jwk_reading_refuses_bad_keys() {
        let key = generate_signing_key(KeyAlgorithm::Es256).expect("generate");
        let jwk = public_jwk(KeyAlgorithm::Es256, &key.public_key_der, "k").expect("jwk");
        let mut wrong_alg = jwk.clone();
        wrong_alg["alg"] = Value::from("RS256");
        let mut for_encryption = jwk.clone();
        for_encryption["use"] = Value::from("enc");
        let mut off_curve = jwk.clone();
        off_curve["y"] = Value::from(URL_SAFE_NO_PAD.encode([7u8; 32]));
        let small_rsa =
            json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode([0xc5u8; 128]), "e": "AQAB"});
        for bad in [
            wrong_alg,
            for_encryption,
            off_curve,
            small_rsa,
            json!({"kty": "oct", "k": "AAAA"}),
            json!({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}),
            json!({"kty": "OKP", "crv": "Ed25519", "x": "short"}),
            json!({"kty": "RSA", "n": "!!", "e": "AQAB"}),
            json!("not an object"),
        ] {
            assert!(spki_from_jwk(&bad).is_err(), "{bad}");
        }
    }
}
