//! RFC 9053 COSE keys for WebAuthn credential public keys: ES256 (-7, EC2 on P-256),
//! RS256 (-257, RSA PKCS#1 v1.5 with SHA-256) and EdDSA (-8, OKP Ed25519), and signature
//! verification with aws-lc-rs.

use super::WebauthnError;
use super::cbor::{self, Value};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ED25519, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents,
    UnparsedPublicKey,
};

/// COSE algorithm identifiers we accept, in the order we ask authenticators for them.
pub const SUPPORTED_ALGORITHMS: [i64; 3] = [-7, -8, -257];

/// A credential public key taken from a COSE_Key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CosePublicKey {
    /// ES256: the uncompressed P-256 point `04 || x || y`.
    Es256(Vec<u8>),
    /// EdDSA: the 32-byte Ed25519 key.
    EdDsa(Vec<u8>),
    /// RS256: modulus and exponent, big-endian.
    Rs256 {
        /// Modulus.
        n: Vec<u8>,
        /// Public exponent.
        e: Vec<u8>,
    },
}

impl CosePublicKey {
    /// Parses a decoded COSE_Key map.
    pub(crate) fn from_cbor(key: &Value) -> Result<Self, WebauthnError> {
        let bad = |why: &'static str| WebauthnError::PublicKey(why);
        let int = |label: i128| key.get_int(label).and_then(Value::as_int);
        let bytes = |label: i128| key.get_int(label).and_then(Value::as_bytes);
        let kty = int(1).ok_or(bad("missing key type"))?;
        let alg = int(3).ok_or(bad("missing algorithm"))?;
        match (kty, alg) {
            (2, -7) => {
                if int(-1) != Some(1) {
                    return Err(bad("ES256 key not on curve P-256"));
                }
                let (x, y) = (bytes(-2), bytes(-3));
                match (x, y) {
                    (Some(x), Some(y)) if x.len() == 32 && y.len() == 32 => {
                        let mut point = Vec::with_capacity(65);
                        point.push(0x04);
                        point.extend_from_slice(x);
                        point.extend_from_slice(y);
                        Ok(Self::Es256(point))
                    }
                    _ => Err(bad("ES256 key coordinates missing or of the wrong length")),
                }
            }
            (1, -8) => {
                if int(-1) != Some(6) {
                    return Err(bad("EdDSA key not on curve Ed25519"));
                }
                match bytes(-2) {
                    Some(x) if x.len() == 32 => Ok(Self::EdDsa(x.to_vec())),
                    _ => Err(bad("Ed25519 key missing or of the wrong length")),
                }
            }
            (3, -257) => match (bytes(-1), bytes(-2)) {
                (Some(n), Some(e)) if !n.is_empty() && !e.is_empty() => Ok(Self::Rs256 {
                    n: n.to_vec(),
                    e: e.to_vec(),
                }),
                _ => Err(bad("RSA key modulus or exponent missing")),
            },
            _ => Err(WebauthnError::UnsupportedAlgorithm),
        }
    }

    /// Parses COSE_Key bytes (as stored).
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Self, WebauthnError> {
        let value = cbor::decode(bytes).map_err(|e| WebauthnError::Cbor(e.0))?;
        Self::from_cbor(&value)
    }

    /// The COSE algorithm identifier.
    pub(crate) fn algorithm(&self) -> i64 {
        match self {
            Self::Es256(_) => -7,
            Self::EdDsa(_) => -8,
            Self::Rs256 { .. } => -257,
        }
    }

    /// Checks `signature` over `message`.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), WebauthnError> {
        let result = match self {
            Self::Es256(point) => {
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point).verify(message, signature)
            }
            Self::EdDsa(key) => UnparsedPublicKey::new(&ED25519, key).verify(message, signature),
            Self::Rs256 { n, e } => RsaPublicKeyComponents {
                n: n.as_slice(),
                e: e.as_slice(),
            }
            .verify(&RSA_PKCS1_2048_8192_SHA256, message, signature),
        };
        result.map_err(|_| WebauthnError::BadSignature)
    }
}
