//! Password hashing (DESIGN.md, "passwords"): Argon2id (RFC 9106) with the OWASP Password
//! Storage Cheat Sheet's 2023 minimum (m = 19 MiB, t = 2, p = 1) by default. Hashes run on
//! a small fixed pool of hashing threads behind a semaphore, so a burst of logins queues instead of
//! starving the async workers or exhausting memory (each hash holds `memory_kib`).
//!
//! Each hashing thread keeps its Argon2 work area between hashes and drops it after a minute
//! without work: a fresh 19 MiB area per hash costs thousands of page faults (several
//! milliseconds per sign-in), while a kept one costs nothing after the first hash. Measured
//! trade-off (bench/README.md): the dropped area goes back to the allocator, but mimalloc keeps
//! an idle thread's freed segments, so resident memory stays about one area per hashing thread
//! higher after the first burst of sign-ins.
//!
//! Verification also accepts Argon2i/Argon2d and bcrypt (`$2a$`, `$2b$`, `$2y$`, as
//! exported by Dex and authentik) and reports that such hashes need rehashing, so imported
//! users move to the current parameters on their next login.

use crate::error::{CryptoError, Result};
use crate::random::random_array;
use crate::token::constant_time_eq;
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::cell::RefCell;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

/// Largest Argon2 memory cost a stored hash may ask for (1 GiB), so a bad import cannot
/// exhaust memory.
const MAX_MEMORY_KIB: u32 = 1024 * 1024;
/// Largest Argon2 iteration count a stored hash may ask for.
const MAX_ITERATIONS: u32 = 64;
/// Largest Argon2 parallelism a stored hash may ask for.
const MAX_PARALLELISM: u32 = 64;
/// Largest bcrypt cost a stored hash may ask for (cost 16 is several seconds per attempt).
const MAX_BCRYPT_COST: u32 = 16;
/// Salt length for new hashes, as RFC 9106 §3.1 recommends.
const SALT_LEN: usize = 16;
/// Fixed salt for [`PasswordHasher::verify_dummy`]; its output is thrown away.
const DUMMY_SALT: [u8; SALT_LEN] = *b"gatehouse-dummy!";
/// How long a hashing thread keeps its work area without a job before giving the memory back.
const WORK_AREA_IDLE: Duration = Duration::from_secs(60);

thread_local! {
    /// This thread's Argon2 work area, reused from hash to hash (see the module docs).
    static WORK_AREA: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs `hash` with a work area of `blocks` Argon2 blocks. Areas up to `keep_blocks` (the
/// configured cost) are kept on this thread for the next hash; a larger one, asked for by an
/// imported hash with a higher cost, is freed at once so it cannot pin memory.
///
/// The kept area is not wiped between hashes: it holds Argon2's internal state, from which only
/// the hash itself can be recomputed (the argon2 crate does not wipe its own areas either).
fn with_work_area<T>(
    blocks: usize,
    keep_blocks: usize,
    hash: impl FnOnce(&mut [Block]) -> Result<T>,
) -> Result<T> {
    if blocks > keep_blocks {
        let mut area = Vec::new();
        grow(&mut area, blocks)?;
        return hash(&mut area);
    }
    WORK_AREA.with(|cell| {
        // A nested hash on this thread cannot happen; if it ever did, it gets its own area.
        let Ok(mut area) = cell.try_borrow_mut() else {
            let mut area = Vec::new();
            grow(&mut area, blocks)?;
            return hash(&mut area);
        };
        grow(&mut area, blocks)?;
        hash(&mut area[..blocks])
    })
}

/// Grows `area` to at least `blocks` blocks, reporting allocation failure instead of aborting.
fn grow(area: &mut Vec<Block>, blocks: usize) -> Result<()> {
    if area.len() < blocks {
        area.try_reserve_exact(blocks - area.len())
            .map_err(|_| CryptoError::PasswordHashing)?;
        area.resize(blocks, Block::default());
    }
    Ok(())
}

/// Gives this thread's kept work area back to the allocator, and the allocator's free memory
/// back to the operating system: an idle thread would otherwise keep it resident.
fn release_work_area() {
    WORK_AREA.with(|cell| {
        if let Ok(mut area) = cell.try_borrow_mut() {
            *area = Vec::new();
        }
    });
    gatehouse_alloc::return_free_memory();
}

/// Argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordParams {
    /// Memory cost in KiB (`m`).
    pub memory_kib: u32,
    /// Number of passes (`t`).
    pub iterations: u32,
    /// Degree of parallelism, i.e. lanes (`p`).
    pub parallelism: u32,
}

impl Default for PasswordParams {
    /// OWASP 2023 minimum for Argon2id: m = 19456 KiB, t = 2, p = 1.
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// The outcome of checking a password against a stored hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Verification {
    /// The password matches. When `needs_rehash` is set, the caller should store a fresh
    /// [`PasswordHasher::hash`] of the password (older scheme or parameters).
    Valid {
        /// Whether the stored hash is not Argon2id with the current parameters.
        needs_rehash: bool,
    },
    /// The password does not match.
    Invalid,
}

impl Verification {
    /// Whether the password matched.
    pub fn is_valid(self) -> bool {
        matches!(self, Self::Valid { .. })
    }
}

/// Hashes and verifies passwords. Cheap to clone; clones share the concurrency limit.
#[derive(Clone, Debug)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    pool: Arc<HashPool>,
}

/// A job for the hashing threads.
type HashJob = Box<dyn FnOnce() + Send>;

/// The threads that run every hash. Argon2 allocates `memory_kib` per hash; glibc keeps
/// freed memory in a per-thread arena (up to 8 per core), so hashing on tokio's growing
/// blocking pool let a burst of logins pin ~20 MiB per arena (363 MiB RSS measured after a
/// login benchmark). A fixed set of threads bounds that to one buffer per thread.
struct HashPool {
    jobs: Option<flume::Sender<HashJob>>,
}

impl std::fmt::Debug for HashPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashPool")
            .field("running", &self.jobs.is_some())
            .finish()
    }
}

impl HashPool {
    /// Starts `threads` hashing threads; they exit when the pool is dropped.
    fn start(threads: usize) -> Self {
        let (sender, receiver) = flume::unbounded::<HashJob>();
        let mut started = 0;
        for index in 0..threads.max(1) {
            let receiver = receiver.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("gatehouse-hash-{index}"))
                .spawn(move || {
                    loop {
                        match receiver.recv_timeout(WORK_AREA_IDLE) {
                            Ok(job) => job(),
                            Err(flume::RecvTimeoutError::Timeout) => release_work_area(),
                            Err(flume::RecvTimeoutError::Disconnected) => return,
                        }
                    }
                });
            if spawned.is_ok() {
                started += 1;
            }
        }
        // With no thread at all, jobs fall back to tokio's blocking pool.
        Self {
            jobs: (started > 0).then_some(sender),
        }
    }
}

impl PasswordHasher {
    /// A hasher with `params`, allowing as many concurrent hashes as the machine has
    /// hardware threads.
    ///
    /// # Errors
    /// [`CryptoError::PasswordParams`] when Argon2 rejects the parameters.
    pub fn new(params: PasswordParams) -> Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        Self::with_max_concurrent(params, cores)
    }

    /// A hasher with `params` running at most `max_concurrent` hashes at once (at least
    /// one); further calls wait their turn.
    ///
    /// # Errors
    /// [`CryptoError::PasswordParams`] when Argon2 rejects the parameters.
    pub fn with_max_concurrent(params: PasswordParams, max_concurrent: usize) -> Result<Self> {
        let params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            Some(Params::DEFAULT_OUTPUT_LEN),
        )
        .map_err(|error| CryptoError::PasswordParams(error.to_string()))?;
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            pool: Arc::new(HashPool::start(max_concurrent.max(1))),
        })
    }

    /// The parameters new hashes are made with.
    pub fn params(&self) -> PasswordParams {
        PasswordParams {
            memory_kib: self.params.m_cost(),
            iterations: self.params.t_cost(),
            parallelism: self.params.p_cost(),
        }
    }

    /// Hashes `password` into a PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`) on the
    /// blocking pool, waiting for a free slot first.
    ///
    /// # Errors
    /// [`CryptoError::PasswordHashing`] or [`CryptoError::PasswordTask`].
    pub async fn hash(&self, password: String) -> Result<String> {
        let password = Zeroizing::new(password);
        let hasher = self.clone();
        self.run_blocking(move || hasher.hash_blocking(&password))
            .await?
    }

    /// Checks `password` against a stored hash on the blocking pool, waiting for a free
    /// slot first. See [`Self::verify_blocking`] for the accepted schemes.
    ///
    /// # Errors
    /// As [`Self::verify_blocking`], plus [`CryptoError::PasswordTask`].
    pub async fn verify(&self, password: String, phc_hash: String) -> Result<Verification> {
        let password = Zeroizing::new(password);
        let hasher = self.clone();
        self.run_blocking(move || hasher.verify_blocking(&password, &phc_hash))
            .await?
    }

    /// Spends the same work as verifying against a hash with the current parameters, then
    /// answers [`Verification::Invalid`]. Call it when the username is unknown, so response
    /// times do not reveal which accounts exist.
    pub async fn verify_dummy(&self, password: String) -> Verification {
        let password = Zeroizing::new(password);
        let hasher = self.clone();
        // A failed task still means "invalid"; there is nothing else to report.
        let _ = self
            .run_blocking(move || hasher.verify_dummy_blocking(&password))
            .await;
        Verification::Invalid
    }

    /// Synchronous [`Self::hash`] for the CLI and tests; does not take a concurrency slot.
    ///
    /// # Errors
    /// [`CryptoError::PasswordHashing`] if Argon2 fails.
    pub fn hash_blocking(&self, password: &str) -> Result<String> {
        let salt = random_array::<SALT_LEN>();
        let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
        let blocks = self.params.block_count();
        with_work_area(blocks, blocks, |area| {
            self.argon2()
                .hash_password_into_with_memory(password.as_bytes(), &salt, &mut output, area)
                .map_err(|_| CryptoError::PasswordHashing)
        })?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&self.params)
                .map_err(|_| CryptoError::PasswordHashing)?,
            salt: Some(Salt::new(&salt).map_err(|_| CryptoError::PasswordHashing)?),
            hash: Some(Output::new(&output).map_err(|_| CryptoError::PasswordHashing)?),
        };
        Ok(phc.to_string())
    }

    /// Synchronous [`Self::verify`]; does not take a concurrency slot.
    ///
    /// Accepts Argon2id (needs rehash when its parameters differ from the current ones),
    /// Argon2i and Argon2d (always need rehash) and bcrypt `$2a$`/`$2b$`/`$2y$` (always
    /// need rehash).
    ///
    /// # Errors
    /// [`CryptoError::PasswordHashFormat`] for a hash that cannot be parsed or uses another
    /// scheme; [`CryptoError::PasswordHashCost`] for one asking for more than 1 GiB, 64
    /// passes, 64 lanes or bcrypt cost 16.
    pub fn verify_blocking(&self, password: &str, phc_hash: &str) -> Result<Verification> {
        if is_bcrypt(phc_hash) {
            return verify_bcrypt(password, phc_hash);
        }
        let parsed = PasswordHash::new(phc_hash).map_err(|_| CryptoError::PasswordHashFormat)?;
        let algorithm = Algorithm::try_from(parsed.algorithm.as_str())
            .map_err(|_| CryptoError::PasswordHashFormat)?;
        let params = Params::try_from(&parsed).map_err(|_| CryptoError::PasswordHashFormat)?;
        if params.m_cost() > MAX_MEMORY_KIB
            || params.t_cost() > MAX_ITERATIONS
            || params.p_cost() > MAX_PARALLELISM
        {
            return Err(CryptoError::PasswordHashCost);
        }
        let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
            return Err(CryptoError::PasswordHashFormat);
        };
        let version = match parsed.version {
            Some(version) => {
                Version::try_from(version).map_err(|_| CryptoError::PasswordHashFormat)?
            }
            None => Version::V0x10,
        };
        let mut computed = Zeroizing::new(vec![0u8; expected.as_bytes().len()]);
        with_work_area(params.block_count(), self.params.block_count(), |area| {
            Argon2::new(algorithm, version, params.clone())
                .hash_password_into_with_memory(password.as_bytes(), salt, &mut computed, area)
                .map_err(|_| CryptoError::PasswordHashFormat)
        })?;
        if !constant_time_eq(&computed, expected.as_bytes()) {
            return Ok(Verification::Invalid);
        }
        Ok(Verification::Valid {
            needs_rehash: algorithm != Algorithm::Argon2id
                || version != Version::V0x13
                || params.m_cost() != self.params.m_cost()
                || params.t_cost() != self.params.t_cost()
                || params.p_cost() != self.params.p_cost()
                || params.output_len() != Some(Params::DEFAULT_OUTPUT_LEN)
                || salt.len() < SALT_LEN,
        })
    }

    /// Synchronous [`Self::verify_dummy`].
    pub fn verify_dummy_blocking(&self, password: &str) {
        let mut output = Zeroizing::new([0u8; Params::DEFAULT_OUTPUT_LEN]);
        let blocks = self.params.block_count();
        // Only the time spent matters; an error here costs less time but reveals nothing.
        let _ = with_work_area(blocks, blocks, |area| {
            self.argon2()
                .hash_password_into_with_memory(
                    password.as_bytes(),
                    &DUMMY_SALT,
                    output.as_mut(),
                    area,
                )
                .map_err(|_| CryptoError::PasswordHashing)
        });
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Runs `job` on the hashing threads once a permit is free. The permit moves into the
    /// job, so it is held until the hash really ends even if the caller's future is dropped
    /// (a client disconnecting mid-login).
    async fn run_blocking<T, F>(&self, job: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| CryptoError::PasswordTask)?;
        let Some(jobs) = &self.pool.jobs else {
            return tokio::task::spawn_blocking(move || {
                let _permit = permit;
                job()
            })
            .await
            .map_err(|_| CryptoError::PasswordTask);
        };
        let (done, result) = tokio::sync::oneshot::channel();
        let boxed: HashJob = Box::new(move || {
            let output = job();
            // Free the slot before answering, so the caller never sees it still taken.
            drop(permit);
            let _ = done.send(output);
        });
        jobs.send(boxed).map_err(|_| CryptoError::PasswordTask)?;
        result.await.map_err(|_| CryptoError::PasswordTask)
    }

    #[cfg(test)]
    fn available_permits(&self) -> usize {
        self.permits.available_permits()
    }
}

impl Default for PasswordHasher {
    /// [`PasswordParams::default`], one concurrent hash per hardware thread.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        Self {
            params: Params::DEFAULT,
            permits: Arc::new(Semaphore::new(cores)),
            pool: Arc::new(HashPool::start(cores)),
        }
    }
}

fn is_bcrypt(hash: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|prefix| hash.starts_with(prefix))
}

fn verify_bcrypt(password: &str, hash: &str) -> Result<Verification> {
    let cost: u32 = hash
        .get(4..6)
        .and_then(|cost| cost.parse().ok())
        .ok_or(CryptoError::PasswordHashFormat)?;
    if cost > MAX_BCRYPT_COST {
        return Err(CryptoError::PasswordHashCost);
    }
    match bcrypt::verify(password, hash) {
        Ok(true) => Ok(Verification::Valid { needs_rehash: true }),
        Ok(false) => Ok(Verification::Invalid),
        Err(_) => Err(CryptoError::PasswordHashFormat),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordHasher as _;

    /// Cheap parameters so the tests stay fast; production defaults are tested separately.
    fn cheap() -> PasswordParams {
        PasswordParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        }
    }

    fn hasher() -> PasswordHasher {
        PasswordHasher::new(cheap()).expect("valid params")
    }

    #[test]
    fn defaults_are_the_owasp_minimum() {
        let hasher = PasswordHasher::default();
        assert_eq!(
            hasher.params(),
            PasswordParams {
                memory_kib: 19_456,
                iterations: 2,
                parallelism: 1
            }
        );
        assert_eq!(hasher.params(), PasswordParams::default());
        let hash = hasher.hash_blocking("pw").expect("hash");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
    }

    #[test]
    fn invalid_params_are_an_error() {
        let zero = PasswordParams {
            memory_kib: 64,
            iterations: 0,
            parallelism: 1,
        };
        assert!(matches!(
            PasswordHasher::new(zero),
            Err(CryptoError::PasswordParams(_))
        ));
    }

    #[tokio::test]
    async fn argon2id_hash_verifies_and_wrong_password_is_invalid() {
        let hasher = hasher();
        let hash = hasher.hash("correct horse".into()).await.expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert_ne!(
            hash,
            hasher.hash("correct horse".into()).await.expect("hash")
        );
        assert_eq!(
            hasher
                .verify("correct horse".into(), hash.clone())
                .await
                .expect("verify"),
            Verification::Valid {
                needs_rehash: false
            }
        );
        assert_eq!(
            hasher
                .verify("correct horsf".into(), hash)
                .await
                .expect("verify"),
            Verification::Invalid
        );
    }

    #[test]
    fn other_params_or_variants_need_rehash() {
        let current = hasher();
        let older = PasswordHasher::new(PasswordParams {
            memory_kib: 32,
            ..cheap()
        })
        .expect("valid params");
        let hash = older.hash_blocking("pw").expect("hash");
        assert_eq!(
            current.verify_blocking("pw", &hash).expect("verify"),
            Verification::Valid { needs_rehash: true }
        );
        assert_eq!(
            older.verify_blocking("pw", &hash).expect("verify"),
            Verification::Valid {
                needs_rehash: false
            }
        );
        let params = Params::new(64, 1, 1, None).expect("params");
        let version_10 = Argon2::new(Algorithm::Argon2id, Version::V0x10, params)
            .hash_password_with_salt(b"pw", &[1u8; 16])
            .expect("hash")
            .to_string();
        assert!(version_10.starts_with("$argon2id$v=16$"), "{version_10}");
        assert_eq!(
            current.verify_blocking("pw", &version_10).expect("verify"),
            Verification::Valid { needs_rehash: true }
        );
        for algorithm in [Algorithm::Argon2i, Algorithm::Argon2d] {
            let params = Params::new(64, 1, 1, None).expect("params");
            let hash = Argon2::new(algorithm, Version::V0x13, params)
                .hash_password_with_salt(b"pw", &[1u8; 16])
                .expect("hash")
                .to_string();
            assert!(hash.starts_with(&format!("${}$", algorithm.ident().as_str())));
            assert_eq!(
                current.verify_blocking("pw", &hash).expect("verify"),
                Verification::Valid { needs_rehash: true }
            );
            assert_eq!(
                current.verify_blocking("wrong", &hash).expect("verify"),
                Verification::Invalid
            );
        }
    }

    #[test]
    fn our_hashes_match_the_argon2_crates_own_encoding() {
        let ours = hasher().hash_blocking("correct horse").expect("hash");
        let parsed = PasswordHash::new(&ours).expect("phc");
        let salt = parsed.salt.expect("salt");
        let theirs = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 1, 1, None).expect("params"),
        )
        .hash_password_with_salt(b"correct horse", &salt)
        .expect("hash")
        .to_string();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn work_area_is_kept_for_the_configured_cost_and_released_when_idle() {
        std::thread::spawn(|| {
            let hasher = hasher();
            let kept = || WORK_AREA.with(|area| area.borrow().len());
            assert_eq!(kept(), 0);
            let hash = hasher.hash_blocking("pw").expect("hash");
            assert_eq!(kept(), 64);
            assert!(
                hasher
                    .verify_blocking("pw", &hash)
                    .expect("verify")
                    .is_valid()
            );
            assert_eq!(kept(), 64);

            // An imported hash with a higher cost verifies in an area of its own that is
            // not kept, and the kept one still serves the next hash correctly.
            let costly = Argon2::new(
                Algorithm::Argon2id,
                Version::V0x13,
                Params::new(256, 1, 1, None).expect("params"),
            )
            .hash_password_with_salt(b"pw", &[7u8; 16])
            .expect("hash")
            .to_string();
            assert_eq!(
                hasher.verify_blocking("pw", &costly).expect("verify"),
                Verification::Valid { needs_rehash: true }
            );
            assert_eq!(
                hasher.verify_blocking("pX", &costly).expect("verify"),
                Verification::Invalid
            );
            assert_eq!(kept(), 64);
            assert!(
                hasher
                    .verify_blocking("pw", &hash)
                    .expect("verify")
                    .is_valid()
            );
            assert!(
                !hasher
                    .verify_blocking("px", &hash)
                    .expect("verify")
                    .is_valid()
            );

            release_work_area();
            assert_eq!(kept(), 0);
            assert!(
                hasher
                    .verify_blocking("pw", &hash)
                    .expect("verify")
                    .is_valid()
            );
        })
        .join()
        .expect("test thread");
    }

    #[test]
    fn hashes_without_salt_or_output_are_format_errors() {
        let hasher = hasher();
        for hash in [
            "$argon2id$v=19$m=64,t=1,p=1",
            "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ",
        ] {
            assert!(
                matches!(
                    hasher.verify_blocking("pw", hash),
                    Err(CryptoError::PasswordHashFormat)
                ),
                "{hash}"
            );
        }
    }

    #[test]
    fn reference_implementation_vector_verifies() {
        // Known-answer vector of the Argon2 reference implementation (phc-winner-argon2
        // test suite): password "password", salt "somesalt", m=256, t=2, p=2.
        let hash =
            "$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc";
        let hasher = hasher();
        assert_eq!(
            hasher.verify_blocking("password", hash).expect("verify"),
            Verification::Valid { needs_rehash: true }
        );
        assert_eq!(
            hasher.verify_blocking("Password", hash).expect("verify"),
            Verification::Invalid
        );
    }

    #[tokio::test]
    async fn bcrypt_hash_verifies_and_needs_rehash() {
        let hasher = hasher();
        let hash = bcrypt::hash("dex-password", 4).expect("bcrypt");
        assert!(hash.starts_with("$2b$04$"));
        assert_eq!(
            hasher
                .verify("dex-password".into(), hash.clone())
                .await
                .expect("verify"),
            Verification::Valid { needs_rehash: true }
        );
        assert_eq!(
            hasher
                .verify("dex-passworD".into(), hash.clone())
                .await
                .expect("verify"),
            Verification::Invalid
        );
        for prefix in ["$2a$", "$2y$"] {
            let variant = hash.replacen("$2b$", prefix, 1);
            assert_eq!(
                hasher
                    .verify_blocking("dex-password", &variant)
                    .expect("verify"),
                Verification::Valid { needs_rehash: true }
            );
        }
    }

    #[test]
    fn garbage_hashes_are_errors_not_panics() {
        let hasher = hasher();
        for garbage in [
            "",
            "plaintext",
            "$",
            "$argon2id$",
            "$argon2id$v=19$m=64,t=1,p=1$",
            "$argon2id$v=19$m=64,t=1,p=1$!!!$!!!",
            "$argon2id$v=19$m=x,t=1,p=1$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo",
            "$argon2id$v=99$m=64,t=1,p=1$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo",
            "$argon2id$v=19$m=8,t=1,p=4$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo",
            "$argon2id$v=19$m=64,t=0,p=1$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo",
            "$argon2x$v=19$m=64,t=1,p=1$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo",
            "$scrypt$ln=16,r=8,p=1$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo",
            "$pbkdf2-sha256$29000$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo",
            "$2b$",
            "$2b$xx$abcdefghijklmnopqrstuv",
            "$2b$04$tooshort",
            "$2b$04$ééééééééééééééééééééééééééééééééééééééééééééééééééééé",
        ] {
            assert!(
                matches!(
                    hasher.verify_blocking("pw", garbage),
                    Err(CryptoError::PasswordHashFormat)
                ),
                "{garbage:?}"
            );
        }
    }

    #[test]
    fn hashes_asking_for_excessive_cost_are_refused() {
        let hasher = hasher();
        for costly in [
            "$argon2id$v=19$m=4194304,t=1,p=1$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo",
            "$argon2id$v=19$m=64,t=1000,p=1$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo",
            "$2b$20$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
        ] {
            assert!(
                matches!(
                    hasher.verify_blocking("pw", costly),
                    Err(CryptoError::PasswordHashCost)
                ),
                "{costly:?}"
            );
        }
    }

    #[tokio::test]
    async fn dummy_verify_is_always_invalid() {
        assert_eq!(
            hasher().verify_dummy("anything".into()).await,
            Verification::Invalid
        );
    }

    #[tokio::test]
    async fn semaphore_bounds_concurrent_hashes() {
        let hasher = PasswordHasher::with_max_concurrent(cheap(), 1).expect("valid params");
        assert_eq!(hasher.available_permits(), 1);
        // Hold the only slot: a hash must wait for it, whatever the scheduling.
        let held = Arc::clone(&hasher.permits)
            .acquire_owned()
            .await
            .expect("permit");
        let waiting = tokio::spawn({
            let hasher = hasher.clone();
            async move { hasher.hash("pw".into()).await }
        });
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        assert!(!waiting.is_finished());
        assert_eq!(hasher.available_permits(), 0);
        drop(held);
        let hash = waiting.await.expect("task").expect("hash");
        assert!(
            hasher
                .verify_blocking("pw", &hash)
                .expect("verify")
                .is_valid()
        );
        assert_eq!(hasher.available_permits(), 1);
    }
}
