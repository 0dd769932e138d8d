//! Time-based one-time passwords for the TOTP MFA device: RFC 6238 (TOTP) over RFC 4226
//! (HOTP), plus what enrolment needs: random secrets in base32 (RFC 4648 §6), the
//! `otpauth://` provisioning URI (Google Authenticator "Key Uri Format") and its QR code.
//! Pure functions: the caller stores the secret (sealed with [`crate::SecretBox`]), the
//! parameters and the last used time step, and supplies the clock.
//!
//! - RFC 4226 §5.3: HMAC over the 8-byte big-endian counter, dynamic truncation,
//!   `mod 10^digits`. §7.3 asks for throttling of failed attempts: that is the caller's job.
//! - RFC 6238 §4: the counter is the time step `floor(unix_time / period)`; §5.2: accept a
//!   small window of steps around the current one for clock drift, and never accept a
//!   code for a step at or before the last one that succeeded (single use).
//!
//! Why not the `totp-rs` crate (the pick in DESIGN.md): its HMAC, SHA-1 and SHA-2 come
//! from RustCrypto (`hmac` 0.13, `sha1` 0.11, `sha2` 0.11), a second implementation of
//! primitives this crate otherwise takes from aws-lc-rs alone, and it still would not do
//! what Gatehouse needs around the HMAC: its `check` returns a bool rather than the
//! matched step that replay protection must store, and we write our own provisioning URI
//! and QR code (its `otpauth`/`qr` features pull `url` and an image stack). HOTP itself is
//! a dozen lines on `aws_lc_rs::hmac`, pinned below by the RFC 4226 Appendix D and
//! RFC 6238 Appendix B test vectors; base32 is a few more, pinned by RFC 4648 §10.

use crate::error::{CryptoError, Result};
use crate::random::random_array;
use crate::token::constant_time_eq;
use aws_lc_rs::hmac;
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};
use std::fmt;
use std::str::FromStr;
use zeroize::Zeroizing;

/// Most digits a code can have (RFC 6238 allows 6 to 8).
const MAX_DIGITS: usize = 8;

/// Longest code input `verify` looks at, spaces included; longer input is refused outright.
const MAX_CODE_INPUT_LEN: usize = 64;

/// The RFC 4648 base32 alphabet.
const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// The shared secret of a TOTP device. Zeroized on drop; `Debug` prints no key material.
#[derive(Clone)]
pub struct TotpSecret {
    bytes: Zeroizing<Vec<u8>>,
}

impl TotpSecret {
    /// Length of a generated secret: 160 bits, the length RFC 4226 §4 (R6) recommends and
    /// the output size of HMAC-SHA-1.
    pub const GENERATED_BYTES: usize = 20;

    /// Shortest secret accepted from outside: 80 bits. RFC 4226 §4 asks for at least 128
    /// bits, but the widespread 16-character base32 secrets (80 bits) must still import;
    /// Gatehouse itself only generates [`Self::GENERATED_BYTES`].
    pub const MIN_BYTES: usize = 10;

    /// Longest secret accepted: 128 bytes, twice the RFC 6238 SHA-512 seed.
    pub const MAX_BYTES: usize = 128;

    /// A new random secret of [`Self::GENERATED_BYTES`] bytes from the system CSPRNG.
    ///
    /// # Panics
    /// If the system random number generator fails.
    pub fn generate() -> Self {
        let bytes = Zeroizing::new(random_array::<{ Self::GENERATED_BYTES }>());
        Self {
            bytes: Zeroizing::new(bytes.to_vec()),
        }
    }

    /// A secret from raw bytes, e.g. after unsealing it from storage.
    ///
    /// # Errors
    /// [`CryptoError::TotpSecretFormat`] if the length is outside
    /// [`Self::MIN_BYTES`]..=[`Self::MAX_BYTES`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if !(Self::MIN_BYTES..=Self::MAX_BYTES).contains(&bytes.len()) {
            return Err(Self::format_error());
        }
        Ok(Self {
            bytes: Zeroizing::new(bytes.to_vec()),
        })
    }

    /// A secret from its base32 text (RFC 4648 §6), as authenticator apps and other
    /// identity providers show it. Lenient the way people type it: lowercase letters,
    /// spaces and hyphens between groups, and trailing `=` padding are accepted; bits
    /// left over after the last whole byte are dropped, as authenticator apps do.
    ///
    /// # Errors
    /// [`CryptoError::TotpSecretFormat`] on any other character, on `=` before the end,
    /// or if the decoded length is outside [`Self::MIN_BYTES`]..=[`Self::MAX_BYTES`].
    pub fn from_base32(text: &str) -> Result<Self> {
        // Generous for grouping characters and padding, small enough to bound the work.
        if text.len() > Self::MAX_BYTES * 4 {
            return Err(Self::format_error());
        }
        let bytes = base32_decode(text).ok_or_else(Self::format_error)?;
        if !(Self::MIN_BYTES..=Self::MAX_BYTES).contains(&bytes.len()) {
            return Err(Self::format_error());
        }
        Ok(Self { bytes })
    }

    /// The secret in base32 (RFC 4648 §6): uppercase, no padding, no grouping, as the
    /// `secret` parameter of a provisioning URI and manual entry in apps expect.
    pub fn to_base32(&self) -> Zeroizing<String> {
        base32_encode(&self.bytes)
    }

    /// The raw secret, e.g. to seal it for storage.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn format_error() -> CryptoError {
        CryptoError::TotpSecretFormat {
            min: Self::MIN_BYTES,
            max: Self::MAX_BYTES,
        }
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(**)")
    }
}

/// The HMAC hash function of a TOTP device (RFC 6238 §1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TotpAlgorithm {
    /// HMAC-SHA-1: the default, and the only one every authenticator app supports.
    #[default]
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

impl TotpAlgorithm {
    /// The name used in provisioning URIs: `SHA1`, `SHA256` or `SHA512`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }

    fn hmac_algorithm(self) -> hmac::Algorithm {
        match self {
            // SHA-1's collision weakness does not affect HMAC; RFC 6238 and every app use it.
            Self::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Self::Sha256 => hmac::HMAC_SHA256,
            Self::Sha512 => hmac::HMAC_SHA512,
        }
    }
}

impl fmt::Display for TotpAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TotpAlgorithm {
    type Err = CryptoError;

    /// Parses `SHA1`, `SHA256` or `SHA512` (any case), as found in provisioning URIs.
    fn from_str(name: &str) -> Result<Self> {
        [Self::Sha1, Self::Sha256, Self::Sha512]
            .into_iter()
            .find(|algorithm| algorithm.as_str().eq_ignore_ascii_case(name))
            .ok_or(CryptoError::TotpParams(
                "the algorithm must be SHA1, SHA256 or SHA512",
            ))
    }
}

/// How a TOTP device computes and checks codes. The default is what authenticator apps
/// assume: SHA-1, 6 digits, 30-second steps, and one step of tolerated clock drift either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TotpParams {
    algorithm: TotpAlgorithm,
    digits: u8,
    period_secs: u32,
    skew_steps: u8,
}

impl TotpParams {
    /// Fewest digits in a code (RFC 4226 §5.3 requires at least 6).
    pub const MIN_DIGITS: u8 = 6;
    /// Most digits in a code.
    pub const MAX_DIGITS: u8 = 8;
    /// Longest time step accepted, in seconds.
    pub const MAX_PERIOD_SECS: u32 = 300;
    /// Most steps of clock drift tolerated on each side of the current step.
    pub const MAX_SKEW_STEPS: u8 = 10;

    /// Parameters checked against the limits above.
    ///
    /// # Errors
    /// [`CryptoError::TotpParams`] if `digits` is not 6 to 8, `period_secs` is not 1 to
    /// [`Self::MAX_PERIOD_SECS`], or `skew_steps` exceeds [`Self::MAX_SKEW_STEPS`].
    pub fn new(
        algorithm: TotpAlgorithm,
        digits: u8,
        period_secs: u32,
        skew_steps: u8,
    ) -> Result<Self> {
        if !(Self::MIN_DIGITS..=Self::MAX_DIGITS).contains(&digits) {
            return Err(CryptoError::TotpParams("digits must be 6, 7 or 8"));
        }
        if !(1..=Self::MAX_PERIOD_SECS).contains(&period_secs) {
            return Err(CryptoError::TotpParams(
                "the period must be between 1 and 300 seconds",
            ));
        }
        if skew_steps > Self::MAX_SKEW_STEPS {
            return Err(CryptoError::TotpParams(
                "the tolerated clock skew must be at most 10 steps",
            ));
        }
        Ok(Self {
            algorithm,
            digits,
            period_secs,
            skew_steps,
        })
    }

    /// The HMAC hash function.
    pub const fn algorithm(&self) -> TotpAlgorithm {
        self.algorithm
    }

    /// Digits in a code.
    pub const fn digits(&self) -> u8 {
        self.digits
    }

    /// Length of a time step, in seconds.
    pub const fn period_secs(&self) -> u32 {
        self.period_secs
    }

    /// Steps of clock drift tolerated on each side of the current step.
    pub const fn skew_steps(&self) -> u8 {
        self.skew_steps
    }

    /// The time step (RFC 6238 §4.2, `T`) that `unix_time` falls in.
    pub const fn step_at(&self, unix_time: u64) -> u64 {
        // `period_secs` is at least 1 by construction.
        unix_time / self.period_secs as u64
    }
}

impl Default for TotpParams {
    fn default() -> Self {
        Self {
            algorithm: TotpAlgorithm::Sha1,
            digits: 6,
            period_secs: 30,
            skew_steps: 1,
        }
    }
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum TotpVerification {
    /// The code is right for time step `step`, which is later than the last used step.
    /// Store `step` as the device's last used step before accepting the login, so the
    /// same code cannot be used again.
    Valid {
        /// The matched time step.
        step: u64,
    },
    /// The code is not right for any step in the window, or is not a well-formed code.
    Invalid,
    /// The code is right, but for a step at or before the last used one (RFC 6238 §5.2).
    /// Refuse it; for throttling count it as a failure like [`Self::Invalid`].
    Replayed,
}

/// The code for `unix_time`, zero-padded to `params.digits()` digits. For tests and for the
/// setup page; logins go through [`verify`].
pub fn code_at(secret: &TotpSecret, params: &TotpParams, unix_time: u64) -> String {
    let key = hmac::Key::new(params.algorithm.hmac_algorithm(), secret.as_bytes());
    let code = hotp(&key, params.step_at(unix_time), params.digits);
    code[..usize::from(params.digits)]
        .iter()
        .map(|&digit| char::from(digit))
        .collect()
}

/// Checks a code typed by the user at `now_unix`.
///
/// Accepts the code if it matches a step within `params.skew_steps()` of the current one
/// and that step is later than `last_used_step` (the step stored from the device's previous
/// successful use; `None` if it has never been used). Spaces anywhere in `code` are
/// ignored ("123 456"); anything else but exactly `params.digits()` ASCII digits is
/// [`TotpVerification::Invalid`]. Every step in the window is computed and compared in
/// constant time, so the timing does not tell which step matched.
///
/// Rate limiting failed attempts (RFC 4226 §7.3) is the caller's job: a 6-digit code
/// falls to about a million guesses.
pub fn verify(
    secret: &TotpSecret,
    params: &TotpParams,
    code: &str,
    now_unix: u64,
    last_used_step: Option<u64>,
) -> TotpVerification {
    let Some(submitted) = normalize_code(code, params.digits) else {
        return TotpVerification::Invalid;
    };
    let digits = usize::from(params.digits);
    let key = hmac::Key::new(params.algorithm.hmac_algorithm(), secret.as_bytes());
    let current = params.step_at(now_unix);
    let skew = u64::from(params.skew_steps);
    let mut fresh_match = None;
    let mut replayed_match = false;
    for step in current.saturating_sub(skew)..=current.saturating_add(skew) {
        let expected = hotp(&key, step, params.digits);
        if constant_time_eq(&expected[..digits], &submitted[..digits]) {
            if last_used_step.is_none_or(|used| step > used) {
                // The earliest fresh step, so a later code from the same window still works.
                fresh_match.get_or_insert(step);
            } else {
                replayed_match = true;
            }
        }
    }
    match (fresh_match, replayed_match) {
        (Some(step), _) => TotpVerification::Valid { step },
        (None, true) => TotpVerification::Replayed,
        (None, false) => TotpVerification::Invalid,
    }
}

/// The `otpauth://totp/` URI that enrols `secret` in an authenticator app (Google
/// Authenticator "Key Uri Format"): label `issuer:account`, then the `secret`, `issuer`,
/// `algorithm`, `digits` and `period` parameters. Issuer and account are percent-encoded
/// (UTF-8; everything but RFC 3986 unreserved characters and `@`), so spaces become `%20`
/// and a colon inside either becomes `%3A`, leaving the literal `:` as the only separator.
/// The format forbids colons in the names, and some apps decode the label before
/// splitting it, so issuer names are best kept free of colons. An empty `issuer` leaves
/// out both the label prefix and the parameter.
///
/// The URI contains the secret, hence the [`Zeroizing`] wrapper.
pub fn provisioning_uri(
    secret: &TotpSecret,
    params: &TotpParams,
    issuer: &str,
    account: &str,
) -> Zeroizing<String> {
    let secret_base32 = secret.to_base32();
    // Reserve enough up front that the string never reallocates (which would leave an
    // unzeroized copy of the secret behind): percent-encoding at most triples a byte.
    let capacity = 128 + secret_base32.len() + 3 * (2 * issuer.len() + account.len());
    let mut uri = Zeroizing::new(String::with_capacity(capacity));
    uri.push_str("otpauth://totp/");
    if !issuer.is_empty() {
        push_percent_encoded(&mut uri, issuer);
        uri.push(':');
    }
    push_percent_encoded(&mut uri, account);
    uri.push_str("?secret=");
    uri.push_str(&secret_base32);
    if !issuer.is_empty() {
        uri.push_str("&issuer=");
        push_percent_encoded(&mut uri, issuer);
    }
    uri.push_str("&algorithm=");
    uri.push_str(params.algorithm.as_str());
    uri.push_str("&digits=");
    uri.push_str(&params.digits.to_string());
    uri.push_str("&period=");
    uri.push_str(&params.period_secs.to_string());
    uri
}

/// `text` (normally a [`provisioning_uri`]) as a QR code in SVG: black modules on white
/// with the 4-module quiet zone, error correction level M, at least 256 px square and
/// scalable (it has a `viewBox`). Starts with `<svg`, without an XML declaration, so it can
/// be inlined in an HTML page as well as served as `image/svg+xml`. It encodes the secret:
/// serve it only to the user enrolling, with `Cache-Control: no-store`.
///
/// # Errors
/// [`CryptoError::QrCode`] if `text` is too long for a QR code (over about 2,300 bytes).
pub fn qr_svg(text: &str) -> Result<String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|_| CryptoError::QrCode)?;
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(256, 256)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .quiet_zone(true)
        .build();
    Ok(match image.find("<svg") {
        Some(start) => image[start..].to_owned(),
        None => image,
    })
}

/// HOTP (RFC 4226 §5.3) for `counter`: the first `digits` bytes of the result are the
/// code's ASCII digits, the rest are `'0'`.
fn hotp(key: &hmac::Key, counter: u64, digits: u8) -> [u8; MAX_DIGITS] {
    let tag = hmac::sign(key, &counter.to_be_bytes());
    let mac = tag.as_ref();
    // Dynamic truncation (§5.3). The MAC is 20, 32 or 64 bytes and the offset at most 15,
    // so the four bytes read are always in range.
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let truncated = u32::from_be_bytes([
        mac[offset] & 0x7f,
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]);
    let mut value = truncated % 10u32.pow(u32::from(digits));
    let mut code = [b'0'; MAX_DIGITS];
    for slot in code[..usize::from(digits)].iter_mut().rev() {
        // `value % 10` is below 10, so the cast is lossless.
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
    code
}

/// The ASCII digits of a typed code with spaces removed, if it is exactly `digits` of them.
fn normalize_code(code: &str, digits: u8) -> Option<[u8; MAX_DIGITS]> {
    if code.len() > MAX_CODE_INPUT_LEN {
        return None;
    }
    let mut normalized = [0u8; MAX_DIGITS];
    let mut len = 0;
    for byte in code.bytes() {
        match byte {
            b' ' => {}
            b'0'..=b'9' => {
                *normalized.get_mut(len)? = byte;
                len += 1;
            }
            _ => return None,
        }
    }
    (len == usize::from(digits)).then_some(normalized)
}

/// RFC 4648 §6 base32, uppercase, without padding.
fn base32_encode(bytes: &[u8]) -> Zeroizing<String> {
    // Exact length, so the string never reallocates and leaves copies behind.
    let mut text = Zeroizing::new(String::with_capacity((bytes.len() * 8).div_ceil(5)));
    let mut buffer: u16 = 0;
    let mut bits = 0u32;
    for &byte in bytes {
        buffer = (buffer << 8) | u16::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            text.push(base32_char(buffer >> bits));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        text.push(base32_char(buffer << (5 - bits)));
    }
    text
}

fn base32_char(index: u16) -> char {
    char::from(BASE32_ALPHABET[usize::from(index & 0x1f)])
}

/// Decodes RFC 4648 §6 base32 leniently (see [`TotpSecret::from_base32`]).
fn base32_decode(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let mut bytes = Zeroizing::new(Vec::with_capacity(text.len() * 5 / 8));
    let mut buffer: u16 = 0;
    let mut bits = 0u32;
    let mut padding = false;
    for character in text.bytes() {
        let value = match character {
            b'A'..=b'Z' => character - b'A',
            b'a'..=b'z' => character - b'a',
            b'2'..=b'7' => character - b'2' + 26,
            b' ' | b'-' => continue,
            b'=' => {
                padding = true;
                continue;
            }
            _ => return None,
        };
        if padding {
            return None;
        }
        buffer = (buffer << 5) | u16::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            // Masked to eight bits, so the cast is lossless.
            bytes.push(((buffer >> bits) & 0xff) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(bytes)
}

/// Appends `text` percent-encoded (RFC 3986 §2.1, UTF-8), keeping only unreserved
/// characters and `@` literal.
fn push_percent_encoded(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'@') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const RFC_SEED_SHA1: &[u8] = b"12345678901234567890";
    const RFC_SEED_SHA256: &[u8] = b"12345678901234567890123456789012";
    const RFC_SEED_SHA512: &[u8] =
        b"1234567890123456789012345678901234567890123456789012345678901234";

    /// RFC 6238 Appendix B: (time, SHA-1, SHA-256, SHA-512), 8 digits, 30-second steps.
    const RFC6238_VECTORS: [(u64, [&str; 3]); 6] = [
        (59, ["94287082", "46119246", "90693936"]),
        (1_111_111_109, ["07081804", "68084774", "25091201"]),
        (1_111_111_111, ["14050471", "67062674", "99943326"]),
        (1_234_567_890, ["89005924", "91819424", "93441116"]),
        (2_000_000_000, ["69279037", "90698825", "38618901"]),
        (20_000_000_000, ["65353130", "77737706", "47863826"]),
    ];

    fn secret(bytes: &[u8]) -> TotpSecret {
        TotpSecret::from_bytes(bytes).expect("valid secret")
    }

    fn params(algorithm: TotpAlgorithm, digits: u8, skew_steps: u8) -> TotpParams {
        TotpParams::new(algorithm, digits, 30, skew_steps).expect("valid parameters")
    }

    fn rfc6238_check(algorithm: TotpAlgorithm, seed: &[u8], column: usize) {
        let secret = secret(seed);
        let params = params(algorithm, 8, 1);
        for (time, codes) in RFC6238_VECTORS {
            let expected = codes[column];
            assert_eq!(
                code_at(&secret, &params, time),
                expected,
                "{algorithm} at {time}"
            );
            assert_eq!(
                verify(&secret, &params, expected, time, None),
                TotpVerification::Valid { step: time / 30 },
                "{algorithm} at {time}"
            );
        }
    }

    #[test]
    fn rfc6238_appendix_b_sha1() {
        rfc6238_check(TotpAlgorithm::Sha1, RFC_SEED_SHA1, 0);
    }

    #[test]
    fn rfc6238_appendix_b_sha256() {
        rfc6238_check(TotpAlgorithm::Sha256, RFC_SEED_SHA256, 1);
    }

    #[test]
    fn rfc6238_appendix_b_sha512() {
        rfc6238_check(TotpAlgorithm::Sha512, RFC_SEED_SHA512, 2);
    }

    #[test]
    fn rfc4226_appendix_d_hotp_values() {
        // HOTP is TOTP with a one-second step at time = counter.
        let secret = secret(RFC_SEED_SHA1);
        let params = TotpParams::new(TotpAlgorithm::Sha1, 6, 1, 0).expect("valid parameters");
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, code) in (0u64..).zip(expected) {
            assert_eq!(
                code_at(&secret, &params, counter),
                code,
                "counter {counter}"
            );
        }
    }

    #[test]
    fn seven_digit_codes_are_the_low_digits() {
        let secret = secret(RFC_SEED_SHA1);
        let seven = params(TotpAlgorithm::Sha1, 7, 1);
        // 94287082 mod 10^7.
        assert_eq!(code_at(&secret, &seven, 59), "4287082");
        // 07081804 mod 10^6 keeps its leading zero.
        assert_eq!(
            code_at(&secret, &TotpParams::default(), 1_111_111_109),
            "081804"
        );
    }

    #[test]
    fn skew_window_accepts_adjacent_steps_and_refuses_beyond() {
        let secret = TotpSecret::generate();
        let params = TotpParams::default();
        let now = 1_700_000_000 - 1_700_000_000 % 30 + 29; // last second of a step
        let current = now / 30;
        let code_for = |step: u64| code_at(&secret, &params, step * 30);
        for step in [current - 1, current, current + 1] {
            assert_eq!(
                verify(&secret, &params, &code_for(step), now, None),
                TotpVerification::Valid { step }
            );
        }
        for step in [current - 2, current + 2] {
            assert_eq!(
                verify(&secret, &params, &code_for(step), now, None),
                TotpVerification::Invalid
            );
        }
        // One second later the window has moved on by a step.
        assert_eq!(
            verify(&secret, &params, &code_for(current - 1), now + 1, None),
            TotpVerification::Invalid
        );
        assert_eq!(
            verify(&secret, &params, &code_for(current + 2), now + 1, None),
            TotpVerification::Valid { step: current + 2 }
        );
    }

    #[test]
    fn zero_skew_accepts_only_the_current_step() {
        let secret = TotpSecret::generate();
        let params = params(TotpAlgorithm::Sha1, 6, 0);
        let now = 1_700_000_015;
        let current = now / 30;
        let code_for = |step: u64| code_at(&secret, &params, step * 30);
        assert_eq!(
            verify(&secret, &params, &code_for(current), now, None),
            TotpVerification::Valid { step: current }
        );
        assert_eq!(
            verify(&secret, &params, &code_for(current - 1), now, None),
            TotpVerification::Invalid
        );
        assert_eq!(
            verify(&secret, &params, &code_for(current + 1), now, None),
            TotpVerification::Invalid
        );
    }

    #[test]
    fn window_at_the_epoch_does_not_underflow() {
        let secret = TotpSecret::generate();
        let params = TotpParams::default();
        let code = code_at(&secret, &params, 0);
        assert_eq!(
            verify(&secret, &params, &code, 0, None),
            TotpVerification::Valid { step: 0 }
        );
        let _ = verify(&secret, &params, "000000", u64::MAX, Some(u64::MAX));
    }

    #[test]
    fn used_steps_are_refused_and_the_next_step_is_accepted() {
        let secret = TotpSecret::generate();
        let params = TotpParams::default();
        let now = 1_700_000_010;
        let current = now / 30;
        let code = code_at(&secret, &params, now);
        let TotpVerification::Valid { step } = verify(&secret, &params, &code, now, None) else {
            panic!("the current code must verify");
        };
        assert_eq!(step, current);
        // Same code again, even a few seconds later in the same step.
        assert_eq!(
            verify(&secret, &params, &code, now + 5, Some(step)),
            TotpVerification::Replayed
        );
        // An older code still inside the skew window.
        let older = code_at(&secret, &params, now - 30);
        assert_eq!(
            verify(&secret, &params, &older, now, Some(step)),
            TotpVerification::Replayed
        );
        // The next step's code is fresh.
        let next = code_at(&secret, &params, now + 30);
        assert_eq!(
            verify(&secret, &params, &next, now + 30, Some(step)),
            TotpVerification::Valid { step: current + 1 }
        );
        // A wrong code stays Invalid whatever the last used step.
        let wrong = if code == "000000" { "000001" } else { "000000" };
        assert_eq!(
            verify(&secret, &params, wrong, now, Some(step)),
            TotpVerification::Invalid
        );
    }

    #[test]
    fn spaces_inside_and_around_the_code_are_ignored() {
        let secret = secret(RFC_SEED_SHA1);
        let params = TotpParams::default();
        // 287082 is the SHA-1 6-digit code at time 59 (step 1, RFC 4226 counter 1).
        for typed in ["287082", "287 082", " 287082 ", "2 8 7 0 8 2", "287  082"] {
            assert_eq!(
                verify(&secret, &params, typed, 59, None),
                TotpVerification::Valid { step: 1 },
                "{typed:?}"
            );
        }
    }

    #[test]
    fn malformed_codes_are_invalid() {
        let secret = secret(RFC_SEED_SHA1);
        let params = TotpParams::default();
        let long = "2".repeat(10_000);
        for typed in [
            "",
            "      ",
            "28708",
            "2870820",
            "28708a",
            "abcdef",
            "+287082",
            "-287082",
            "287-082",
            "287\t082",
            "287082\n",
            "２８７０８２", // fullwidth digits
            "٢٨٧٠٨٢",       // Arabic-Indic digits
            "287082\u{0}",
            "287\u{a0}082", // no-break space
            long.as_str(),
        ] {
            assert_eq!(
                verify(&secret, &params, typed, 59, None),
                TotpVerification::Invalid,
                "{typed:?}"
            );
        }
        // Eight digits are too many for a six-digit device, even when they are the 8-digit code.
        assert_eq!(
            verify(&secret, &params, "94287082", 59, None),
            TotpVerification::Invalid
        );
    }

    #[test]
    fn base32_matches_rfc4648_test_vectors() {
        let vectors: [(&[u8], &str); 7] = [
            (b"", ""),
            (b"f", "MY"),
            (b"fo", "MZXQ"),
            (b"foo", "MZXW6"),
            (b"foob", "MZXW6YQ"),
            (b"fooba", "MZXW6YTB"),
            (b"foobar", "MZXW6YTBOI"),
        ];
        for (bytes, text) in vectors {
            assert_eq!(base32_encode(bytes).as_str(), text);
            assert_eq!(
                base32_decode(text).as_deref().map(Vec::as_slice),
                Some(bytes)
            );
        }
        // RFC 4648 §10 writes them padded.
        assert_eq!(
            base32_decode("MZXW6YQ=").as_deref().map(Vec::as_slice),
            Some(&b"foob"[..])
        );
        assert_eq!(
            base32_decode("MY======").as_deref().map(Vec::as_slice),
            Some(&b"f"[..])
        );
    }

    #[test]
    fn base32_round_trip_of_a_generated_secret() {
        let generated = TotpSecret::generate();
        assert_eq!(generated.as_bytes().len(), TotpSecret::GENERATED_BYTES);
        let text = generated.to_base32();
        assert_eq!(text.len(), 32);
        assert!(text.bytes().all(|b| BASE32_ALPHABET.contains(&b)));
        let parsed = TotpSecret::from_base32(&text).expect("round trip");
        assert_eq!(parsed.as_bytes(), generated.as_bytes());
        assert_ne!(TotpSecret::generate().as_bytes(), generated.as_bytes());
    }

    #[test]
    fn from_base32_accepts_what_people_type() {
        let expected = secret(RFC_SEED_SHA1);
        assert_eq!(
            expected.to_base32().as_str(),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
        for typed in [
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
            "gezdgnbvgy3tqojqgezdgnbvgy3tqojq",
            "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ",
            "gezd-gnbv-gy3t-qojq-gezd-gnbv-gy3t-qojq",
        ] {
            let parsed = TotpSecret::from_base32(typed).expect(typed);
            assert_eq!(parsed.as_bytes(), expected.as_bytes(), "{typed}");
        }
        // The classic 16-character (80-bit) secret imports; 26 characters drop 2 bits.
        assert_eq!(
            TotpSecret::from_base32("JBSWY3DPEHPK3PXP")
                .expect("80-bit secret")
                .as_bytes(),
            b"Hello!\xde\xad\xbe\xef"
        );
        assert_eq!(
            TotpSecret::from_base32("JBSWY3DPEHPK3PXPJBSWY3DPEH")
                .expect("26 characters")
                .as_bytes()
                .len(),
            16
        );
    }

    #[test]
    fn from_base32_refuses_malformed_and_out_of_range_secrets() {
        for text in [
            "",
            "JBSWY3DPEHPK3PX",    // 75 bits: under the minimum
            "JBSWY3DPEHPK3PX1",   // '1' is not base32
            "JBSWY3DPEHPK3PX0",   // nor '0'
            "JBSWY3DPEHPK3PX8",   // nor '8'
            "JBSWY3DP=EHPK3PXP",  // padding in the middle
            "JBSWY3DPEHPK3PXPé",  // non-ASCII
            "JBSWY3DP\nEHPK3PXP", // only spaces and hyphens separate
        ] {
            let error = TotpSecret::from_base32(text).expect_err(text);
            assert!(
                matches!(error, CryptoError::TotpSecretFormat { .. }),
                "{text}"
            );
        }
        let too_long = "A".repeat((TotpSecret::MAX_BYTES + 1) * 8 / 5 + 1);
        assert!(TotpSecret::from_base32(&too_long).is_err());
        let huge = " ".repeat(1_000_000);
        assert!(TotpSecret::from_base32(&huge).is_err());
        assert!(TotpSecret::from_bytes(&[0; 9]).is_err());
        assert!(TotpSecret::from_bytes(&[0; TotpSecret::MAX_BYTES + 1]).is_err());
        assert!(TotpSecret::from_bytes(&[0; TotpSecret::MAX_BYTES]).is_ok());
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let secret = secret(RFC_SEED_SHA1);
        let debug = format!("{secret:?}");
        assert_eq!(debug, "TotpSecret(**)");
    }

    #[test]
    fn params_default_and_limits() {
        let default = TotpParams::default();
        assert_eq!(default.algorithm(), TotpAlgorithm::Sha1);
        assert_eq!(default.digits(), 6);
        assert_eq!(default.period_secs(), 30);
        assert_eq!(default.skew_steps(), 1);
        assert_eq!(
            TotpParams::new(TotpAlgorithm::Sha1, 6, 30, 1).ok(),
            Some(default)
        );
        assert!(TotpParams::new(TotpAlgorithm::Sha1, 5, 30, 1).is_err());
        assert!(TotpParams::new(TotpAlgorithm::Sha1, 9, 30, 1).is_err());
        assert!(TotpParams::new(TotpAlgorithm::Sha1, 6, 0, 1).is_err());
        assert!(TotpParams::new(TotpAlgorithm::Sha1, 6, 301, 1).is_err());
        assert!(TotpParams::new(TotpAlgorithm::Sha1, 6, 30, 11).is_err());
        assert!(TotpParams::new(TotpAlgorithm::Sha512, 8, 60, 10).is_ok());
        assert_eq!(default.step_at(59), 1);
        assert_eq!(default.step_at(60), 2);
    }

    #[test]
    fn algorithm_names_round_trip() {
        for algorithm in [
            TotpAlgorithm::Sha1,
            TotpAlgorithm::Sha256,
            TotpAlgorithm::Sha512,
        ] {
            assert_eq!(
                algorithm.as_str().parse::<TotpAlgorithm>().ok(),
                Some(algorithm)
            );
            assert_eq!(algorithm.to_string(), algorithm.as_str());
        }
        assert_eq!(
            "sha256".parse::<TotpAlgorithm>().ok(),
            Some(TotpAlgorithm::Sha256)
        );
        assert!("MD5".parse::<TotpAlgorithm>().is_err());
        assert!("SHA-1".parse::<TotpAlgorithm>().is_err());
    }

    #[test]
    fn provisioning_uri_encodes_label_and_issuer() {
        let secret = secret(RFC_SEED_SHA1);
        let uri = provisioning_uri(
            &secret,
            &TotpParams::default(),
            "Example Co: Staging",
            "alice smith@example.com",
        );
        assert_eq!(
            uri.as_str(),
            "otpauth://totp/Example%20Co%3A%20Staging:alice%20smith@example.com\
             ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Example%20Co%3A%20Staging\
             &algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn provisioning_uri_escapes_uri_syntax_and_non_ascii() {
        let secret = secret(RFC_SEED_SHA1);
        let params = TotpParams::new(TotpAlgorithm::Sha256, 8, 60, 1).expect("valid");
        let uri = provisioning_uri(&secret, &params, "Zoë & Co", "a+b/c?d#e=f%g");
        assert_eq!(
            uri.as_str(),
            "otpauth://totp/Zo%C3%AB%20%26%20Co:a%2Bb%2Fc%3Fd%23e%3Df%25g\
             ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Zo%C3%AB%20%26%20Co\
             &algorithm=SHA256&digits=8&period=60"
        );
        let no_issuer = provisioning_uri(&secret, &TotpParams::default(), "", "alice");
        assert_eq!(
            no_issuer.as_str(),
            "otpauth://totp/alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn qr_svg_is_a_scalable_dark_on_light_svg() {
        let uri = provisioning_uri(
            &TotpSecret::generate(),
            &TotpParams::default(),
            "Gatehouse",
            "alice@example.com",
        );
        let image = qr_svg(&uri).expect("fits in a QR code");
        assert!(image.starts_with("<svg"), "{}", &image[..40]);
        assert!(image.ends_with("</svg>"));
        assert!(image.contains("viewBox=\"0 0 "));
        assert!(image.contains("<rect") && image.contains("fill=\"#ffffff\""));
        assert!(image.contains("<path") && image.contains("fill=\"#000000\""));
        let width: u32 = image
            .split("width=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .and_then(|number| number.parse().ok())
            .expect("a width attribute");
        assert!(width >= 256, "{width}");
        assert_eq!(qr_svg(&uri).expect("deterministic"), image);
    }

    #[test]
    fn qr_svg_refuses_text_too_long_for_a_qr_code() {
        assert!(matches!(
            qr_svg(&"x".repeat(4_000)),
            Err(CryptoError::QrCode)
        ));
    }

    proptest! {
        #[test]
        fn verify_never_panics(
            code in any::<String>(),
            now in any::<u64>(),
            last_used in any::<Option<u64>>(),
            digits in 6u8..=8,
            skew in 0u8..=10,
        ) {
            let secret = secret(RFC_SEED_SHA1);
            let params = TotpParams::new(TotpAlgorithm::Sha1, digits, 30, skew).expect("valid");
            let _ = verify(&secret, &params, &code, now, last_used);
        }

        #[test]
        fn verify_never_panics_on_digit_like_input(
            code in "[0-9 ]{0,12}",
            now in any::<u64>(),
            last_used in any::<Option<u64>>(),
        ) {
            let secret = secret(RFC_SEED_SHA1);
            let _ = verify(&secret, &TotpParams::default(), &code, now, last_used);
        }

        #[test]
        fn base32_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let text = base32_encode(&bytes);
            let decoded = base32_decode(&text);
            prop_assert_eq!(decoded.as_deref(), Some(&bytes));
        }

        #[test]
        fn from_base32_never_panics(text in any::<String>()) {
            let _ = TotpSecret::from_base32(&text);
        }
    }
}
