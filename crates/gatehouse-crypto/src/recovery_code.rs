//! Static recovery codes: short single-use secrets a person writes down to sign in when their
//! authenticator is lost. Ten characters of Crockford's base32 (50 bits) from the system
//! CSPRNG, shown as `abcde-fghij`. Stored only as keyed digests ([`crate::TokenDigester`]);
//! what the person types is normalised first, so spaces, dashes, letter case and the
//! look-alikes Crockford decodes (`o` for `0`, `i` and `l` for `1`) do not matter.

use crate::random::random_array;

/// Crockford's base32: digits and letters without `i l o u`.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Characters in a code (without the dash).
pub const RECOVERY_CODE_LEN: usize = 10;

/// A fresh recovery code, formatted `abcde-fghij`.
///
/// # Panics
/// If the system random number generator fails.
pub fn generate_recovery_code() -> String {
    let bytes = random_array::<RECOVERY_CODE_LEN>();
    let mut code = String::with_capacity(RECOVERY_CODE_LEN + 1);
    for (i, byte) in bytes.iter().enumerate() {
        if i == RECOVERY_CODE_LEN / 2 {
            code.push('-');
        }
        // 256 is a multiple of 32, so the low five bits are uniform.
        code.push(char::from(ALPHABET[usize::from(byte & 31)]));
    }
    code
}

/// The canonical form of a typed code (lower case, no spaces or dashes), or `None` when it
/// cannot be a recovery code. Digest this form.
pub fn normalise_recovery_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_lowercase() {
            'o' => '0',
            'i' | 'l' => '1',
            other => other,
        })
        .collect();
    (code.len() == RECOVERY_CODE_LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_formatted_random_and_normalise_back() {
        let a = generate_recovery_code();
        let b = generate_recovery_code();
        assert_ne!(a, b);
        assert_eq!(a.len(), RECOVERY_CODE_LEN + 1);
        assert_eq!(a.as_bytes()[5], b'-');
        let canonical = normalise_recovery_code(&a).expect("own code");
        assert_eq!(canonical, a.replace('-', ""));
        assert_eq!(
            normalise_recovery_code(&format!(" {} ", a.to_uppercase())),
            Some(canonical)
        );
    }

    #[test]
    fn other_input_is_not_a_code() {
        assert_eq!(
            normalise_recovery_code("OIL00-11111").as_deref(),
            Some("0110011111")
        );
        for bad in [
            "",
            "123456",
            "abcde-fghi",
            "abcde-fghijk",
            "uuuuu-uuuuu",
            "abcde_fghij",
        ] {
            assert_eq!(normalise_recovery_code(bad), None, "{bad:?}");
        }
    }
}
