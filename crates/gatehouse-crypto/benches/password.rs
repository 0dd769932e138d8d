//! Rough costs of the crate's hot operations, to size the password-hash semaphore and to
//! spot regressions: `cargo bench -p gatehouse-crypto --bench password`. Plain loops with
//! `Instant`, printed as text; no statistics beyond the median.

use gatehouse_crypto::keys::{self, KeyAlgorithm};
use gatehouse_crypto::{PasswordHasher, SecretKey, SigningKey, TokenDigester, generate_token};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Runs `job` `runs` times and returns the median duration.
fn median_of(runs: usize, mut job: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            job();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

/// Runs `job` repeatedly for about `budget` and returns calls per second.
fn per_second(budget: Duration, mut job: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < budget {
        for _ in 0..64 {
            job();
        }
        calls += 64;
    }
    calls as f64 / start.elapsed().as_secs_f64()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let budget = Duration::from_secs(1);
    let hasher = PasswordHasher::default();
    let params = hasher.params();
    println!(
        "argon2id m={} KiB t={} p={} (single thread)",
        params.memory_kib, params.iterations, params.parallelism
    );

    let hash = hasher.hash_blocking("correct horse battery staple")?;
    let hash_time = median_of(11, || {
        black_box(hasher.hash_blocking(black_box("correct horse battery staple"))).ok();
    });
    println!(
        "  hash   median of 11: {:>8.2} ms",
        hash_time.as_secs_f64() * 1e3
    );
    let verify_time = median_of(11, || {
        black_box(hasher.verify_blocking(black_box("correct horse battery staple"), &hash)).ok();
    });
    println!(
        "  verify median of 11: {:>8.2} ms",
        verify_time.as_secs_f64() * 1e3
    );
    let dummy_time = median_of(11, || hasher.verify_dummy_blocking(black_box("nobody")));
    println!(
        "  dummy  median of 11: {:>8.2} ms",
        dummy_time.as_secs_f64() * 1e3
    );

    let secret_key = SecretKey::from_configured("a benchmark secret key of enough length")?;
    let digester = TokenDigester::new(&secret_key);
    let token = generate_token("gh_");
    let rate = per_second(budget, || {
        black_box(digester.digest(black_box(&token)));
    });
    println!("token digest (HMAC-SHA-256 + base64url): {rate:>10.0} /s");

    let message = b"eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhbGljZSIsImF1ZCI6ImdyYWZhbmEifQ";
    for alg in [
        KeyAlgorithm::Rs256,
        KeyAlgorithm::Es256,
        KeyAlgorithm::EdDsa,
    ] {
        let keygen = median_of(5, || {
            black_box(keys::generate_signing_key(alg)).ok();
        });
        let key = keys::generate_signing_key(alg)?;
        let signer = SigningKey::from_pkcs8(alg, &key.pkcs8_der)?;
        let signatures = per_second(budget, || {
            black_box(signer.sign(black_box(message))).ok();
        });
        let one_shot = per_second(budget, || {
            black_box(keys::sign(alg, &key.pkcs8_der, black_box(message))).ok();
        });
        let signature = signer.sign(message)?;
        let verifications = per_second(budget, || {
            black_box(keys::verify(alg, &key.public_key_der, message, &signature));
        });
        println!(
            "{:<6} sign {signatures:>8.0} /s (parsed key) {one_shot:>8.0} /s (parse each time), \
             verify {verifications:>8.0} /s, keygen median of 5 {:>7.2} ms",
            alg.as_str(),
            keygen.as_secs_f64() * 1e3
        );
    }
    Ok(())
}
