//! The instance secret key (DESIGN.md, "Secret key"): one operator-held value from which
//! every symmetric key Gatehouse uses is derived with HKDF-SHA256 (RFC 5869), one `info`
//! label per purpose, so that a digest key can never decrypt and a CSRF key can never forge
//! a token digest. Losing it loses the secrets sealed with it; the
//! [`check_value`](SecretKey::check_value) lets the server notice a replica started with a
//! different key before it writes anything.

use crate::error::{CryptoError, Result};
use crate::random::random_array;
use aws_lc_rs::{hkdf, hmac};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use std::fmt;
use std::fs;
use std::io::{self, Write as _};
use std::path::Path;
use zeroize::Zeroizing;

/// File name of the generated key inside the data directory.
const FILE_NAME: &str = "secret_key";

/// HKDF-Extract salt. Public and fixed: it only separates Gatehouse's use of the key from
/// any other program the operator might (wrongly) share it with.
const HKDF_SALT: &[u8] = b"gatehouse secret key v1";

/// The purpose a subkey is derived for; each one has its own HKDF `info` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// AES-256-GCM key for secrets at rest ([`crate::SecretBox`]).
    AtRestEncryption,
    /// HMAC-SHA-256 key for token and client-secret digests ([`crate::TokenDigester`]).
    TokenDigest,
    /// HMAC-SHA-256 key for CSRF tokens and cookie signatures ([`crate::CsrfSigner`]).
    CookieSigning,
    /// HMAC-SHA-256 key for [`SecretKey::check_value`].
    CheckValue,
}

impl Purpose {
    fn info(self) -> &'static [u8] {
        match self {
            Self::AtRestEncryption => b"gatehouse/v1/at-rest-encryption",
            Self::TokenDigest => b"gatehouse/v1/token-digest",
            Self::CookieSigning => b"gatehouse/v1/cookie-signing",
            Self::CheckValue => b"gatehouse/v1/check-value",
        }
    }
}

/// The instance secret key. Holds the configured text; derives per-purpose subkeys.
/// The text is wiped from memory on drop and never printed.
#[derive(Clone)]
pub struct SecretKey {
    material: Zeroizing<Vec<u8>>,
}

impl SecretKey {
    /// Minimum length of a configured key, in characters. 32 base64 characters carry 192
    /// bits, comfortably above what HMAC-SHA-256 and AES-256 need from a random value.
    pub const MIN_CHARS: usize = 32;

    /// Uses operator-supplied text (the `secret_key` setting) as the key. Leading and
    /// trailing whitespace is ignored, so a mounted secret file ending in a newline gives
    /// the same key as the same value in an environment variable.
    ///
    /// # Errors
    /// [`CryptoError::SecretKeyTooShort`] when fewer than [`Self::MIN_CHARS`] characters
    /// remain after trimming.
    pub fn from_configured(text: &str) -> Result<Self> {
        let text = text.trim();
        let actual = text.chars().count();
        if actual < Self::MIN_CHARS {
            return Err(CryptoError::SecretKeyTooShort {
                min: Self::MIN_CHARS,
                actual,
            });
        }
        Ok(Self {
            material: Zeroizing::new(text.as_bytes().to_vec()),
        })
    }

    /// Reads `data_dir/secret_key`, or creates it (and `data_dir`) when missing: 48 random
    /// bytes, base64, mode 0600. Returns the key and whether it was generated just now.
    ///
    /// The file is written to a temporary name and then hard-linked into place, which
    /// fails rather than overwrites if another process created the key first; in that case
    /// the other process's key is loaded, so two instances starting together agree.
    ///
    /// # Errors
    /// [`CryptoError::SecretKeyFile`] on I/O failure, [`CryptoError::SecretKeyTooShort`]
    /// when the existing file holds too short a key.
    pub fn load_or_generate(data_dir: &Path) -> Result<(Self, bool)> {
        let path = data_dir.join(FILE_NAME);
        if let Some(key) = read_key_file(&path)? {
            return Ok((key, false));
        }
        fs::create_dir_all(data_dir).map_err(|source| CryptoError::SecretKeyFile {
            action: "create the directory for",
            path: data_dir.to_path_buf(),
            source,
        })?;
        let text = Zeroizing::new(STANDARD.encode(random_array::<48>()));
        let key = Self::from_configured(&text)?;
        if write_new_key_file(data_dir, &path, &text)? {
            Ok((key, true))
        } else {
            // Lost a race with another process: its key is the one on disk.
            let key = read_key_file(&path)?.ok_or_else(|| CryptoError::SecretKeyFile {
                action: "read",
                path: path.clone(),
                source: io::ErrorKind::NotFound.into(),
            })?;
            Ok((key, false))
        }
    }

    /// A non-secret fingerprint of the key (base64url HMAC-SHA-256 of a fixed label under
    /// its own subkey). The server stores it in the database on first start and compares
    /// it on every start, so a replica configured with a different key refuses to run
    /// instead of failing to decrypt later.
    pub fn check_value(&self) -> String {
        let key = self.hmac_key(Purpose::CheckValue);
        let tag = hmac::sign(&key, b"gatehouse secret key check value");
        URL_SAFE_NO_PAD.encode(tag.as_ref())
    }

    /// Derives the 32-byte subkey for `purpose`.
    pub(crate) fn derive(&self, purpose: Purpose) -> Zeroizing<[u8; 32]> {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, HKDF_SALT).extract(&self.material);
        let mut out = Zeroizing::new([0u8; 32]);
        prk.expand(&[purpose.info()], hkdf::HKDF_SHA256)
            .and_then(|okm| okm.fill(out.as_mut()))
            .expect("32 bytes is within the HKDF-SHA256 output limit");
        out
    }

    /// Derives the subkey for `purpose` as an HMAC-SHA-256 key.
    pub(crate) fn hmac_key(&self, purpose: Purpose) -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, self.derive(purpose).as_ref())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(**)")
    }
}

/// Reads the key file; `None` when it does not exist.
fn read_key_file(path: &Path) -> Result<Option<SecretKey>> {
    match fs::read_to_string(path) {
        Ok(text) => {
            let text = Zeroizing::new(text);
            SecretKey::from_configured(&text).map(Some)
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CryptoError::SecretKeyFile {
            action: "read",
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes `text` to a fresh temporary file (mode 0600) and links it to `path`. Returns
/// `false` when `path` already existed, in which case nothing is changed.
fn write_new_key_file(dir: &Path, path: &Path, text: &str) -> Result<bool> {
    let suffix = URL_SAFE_NO_PAD.encode(random_array::<9>());
    let temp = dir.join(format!(".{FILE_NAME}.{suffix}.tmp"));
    let io_error = |action: &'static str, at: &Path| {
        let at = at.to_path_buf();
        move |source| CryptoError::SecretKeyFile {
            action,
            path: at,
            source,
        }
    };

    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let result = options
        .open(&temp)
        .and_then(|mut file| {
            file.write_all(text.as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()
        })
        .map_err(io_error("write", &temp))
        .and_then(|()| match fs::hard_link(&temp, path) {
            Ok(()) => Ok(true),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            // Filesystems without hard links: fall back to rename, which may replace a
            // key created in the same instant by another process.
            Err(_) => fs::rename(&temp, path)
                .map(|()| true)
                .map_err(io_error("create", path)),
        });
    // Best effort: the temporary name is gone already after a successful rename.
    let _ = fs::remove_file(&temp);
    let created = result?;
    if created {
        // Make the new directory entry durable; not every platform can open a directory.
        if let Ok(dir) = fs::File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "0123456789abcdefghijklmnopqrstuvwxyz";
    const KEY_B: &str = "zyxwvutsrqponmlkjihgfedcba9876543210";

    #[test]
    fn short_configured_key_is_refused_with_the_minimum() {
        let error = SecretKey::from_configured("too short").expect_err("must be refused");
        assert!(matches!(
            error,
            CryptoError::SecretKeyTooShort { min: 32, actual: 9 }
        ));
        assert!(error.to_string().contains("at least 32 characters"));
        assert!(!error.to_string().contains("too short"));
    }

    #[test]
    fn whitespace_around_a_configured_key_does_not_count() {
        let trimmed = SecretKey::from_configured(KEY_A).expect("valid");
        let padded = SecretKey::from_configured(&format!("  {KEY_A}\n")).expect("valid");
        assert_eq!(trimmed.check_value(), padded.check_value());
        assert!(SecretKey::from_configured(&format!("{}\n\n", &KEY_A[..31])).is_err());
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = SecretKey::from_configured(KEY_A).expect("valid");
        assert_eq!(format!("{key:?}"), "SecretKey(**)");
    }

    #[test]
    fn subkeys_differ_per_purpose_and_per_key() {
        let a = SecretKey::from_configured(KEY_A).expect("valid");
        let b = SecretKey::from_configured(KEY_B).expect("valid");
        let purposes = [
            Purpose::AtRestEncryption,
            Purpose::TokenDigest,
            Purpose::CookieSigning,
            Purpose::CheckValue,
        ];
        let mut seen = std::collections::HashSet::new();
        for purpose in purposes {
            assert_eq!(*a.derive(purpose), *a.derive(purpose));
            assert!(seen.insert(*a.derive(purpose)));
            assert!(seen.insert(*b.derive(purpose)));
        }
        assert_ne!(a.check_value(), b.check_value());
    }

    #[test]
    fn key_file_is_created_private_and_reloaded_identically() {
        let dir = tempfile::tempdir().expect("temp dir");
        let data_dir = dir.path().join("data").join("nested");

        let (first, generated) = SecretKey::load_or_generate(&data_dir).expect("generate");
        assert!(generated);
        let path = data_dir.join(FILE_NAME);
        let text = fs::read_to_string(&path).expect("file written");
        assert_eq!(text.trim().len(), 64, "48 bytes of base64");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&path).expect("metadata").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let leftovers: Vec<_> = fs::read_dir(&data_dir)
            .expect("list")
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.file_name())
            .collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from(FILE_NAME)]);

        let (second, generated) = SecretKey::load_or_generate(&data_dir).expect("reload");
        assert!(!generated);
        assert_eq!(first.check_value(), second.check_value());
        assert_eq!(
            *first.derive(Purpose::TokenDigest),
            *second.derive(Purpose::TokenDigest)
        );
        let configured = SecretKey::from_configured(&text).expect("same text as config");
        assert_eq!(first.check_value(), configured.check_value());
    }

    #[test]
    fn losing_the_creation_race_keeps_the_existing_key() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(FILE_NAME);
        fs::write(&path, KEY_A).expect("existing key");
        assert!(!write_new_key_file(dir.path(), &path, KEY_B).expect("no error"));
        assert_eq!(fs::read_to_string(&path).expect("read"), KEY_A);
        assert_eq!(fs::read_dir(dir.path()).expect("list").count(), 1);
    }

    #[test]
    fn too_short_key_file_is_an_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::write(dir.path().join(FILE_NAME), "short\n").expect("write");
        assert!(matches!(
            SecretKey::load_or_generate(dir.path()),
            Err(CryptoError::SecretKeyTooShort { .. })
        ));
    }
}
