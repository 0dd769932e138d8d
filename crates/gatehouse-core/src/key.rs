//! Signing keys for ID tokens, JWT access tokens and SAML assertions. The private half is
//! stored encrypted with the secret key; the store only ever sees ciphertext.

use crate::ids::KeyId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The JWS algorithm a key signs with (RFC 7518 names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256, the default every client supports.
    #[serde(rename = "RS256")]
    Rs256,
    /// ECDSA P-256 with SHA-256.
    #[serde(rename = "ES256")]
    Es256,
    /// Ed25519.
    #[serde(rename = "EdDSA")]
    EdDsa,
}

impl KeyAlgorithm {
    /// The JWS `alg` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }

    /// Parses a JWS `alg` value.
    pub fn parse(value: &str) -> Option<Self> {
        [Self::Rs256, Self::Es256, Self::EdDsa]
            .into_iter()
            .find(|a| a.as_str() == value)
    }
}

/// A stored signing key.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct SigningKey {
    /// Identifier, also the JWK `kid`.
    pub id: KeyId,
    /// Human name (`default`, `grafana-2026`...).
    pub name: String,
    /// Algorithm.
    pub algorithm: KeyAlgorithm,
    /// PKCS#8 private key encrypted with the secret key (see `gatehouse_crypto::SecretBox`).
    #[serde(skip)]
    pub private_key_sealed: String,
    /// SubjectPublicKeyInfo DER, base64 (standard alphabet).
    pub public_key_der: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it stopped being used for new signatures (kept for verification until expiry).
    pub retired_at: Option<DateTime<Utc>>,
    /// For a retired key: when the last token it could have signed expires; it is published
    /// until then and deleted afterwards.
    pub verify_until: Option<DateTime<Utc>>,
}

impl SigningKey {
    /// Whether tokens it signed may still be verified at `now` (published in JWKS).
    pub fn verifiable_at(&self, now: DateTime<Utc>) -> bool {
        self.verify_until.is_none_or(|until| until > now)
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// A key about to be stored.
#[derive(Clone, PartialEq)]
pub struct NewSigningKey {
    /// Human name, unique.
    pub name: String,
    /// Algorithm.
    pub algorithm: KeyAlgorithm,
    /// Encrypted PKCS#8 private key.
    pub private_key_sealed: String,
    /// SubjectPublicKeyInfo DER, base64.
    pub public_key_der: String,
}
