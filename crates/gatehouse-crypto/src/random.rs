//! Random bytes from aws-lc's CSPRNG. A failing system RNG leaves no safe way to go on
//! (every nonce, salt and token depends on it), so it panics rather than return an error
//! every caller would have to invent handling for.

/// Fills an `N`-byte array from the system CSPRNG.
///
/// # Panics
/// If aws-lc's random number generator fails, which only happens when the operating system
/// cannot supply entropy.
pub(crate) fn random_array<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system random number generator failed");
    bytes
}

/// A uniformly random 64-bit number from the system generator (for codes drawn from an
/// alphabet, such as RFC 8628 user codes).
///
/// # Panics
/// If the system random number generator fails.
pub fn random_u64() -> u64 {
    u64::from_le_bytes(random_array::<8>())
}
