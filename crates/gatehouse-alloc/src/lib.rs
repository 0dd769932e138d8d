//! Gatehouse's memory allocator, and the one thing Gatehouse asks of it beyond allocating.
//!
//! The binary uses mimalloc ([`Allocator`]) because glibc's per-thread arenas kept every
//! 19 MiB Argon2id work area ever used (bench/README.md). mimalloc, however, returns freed
//! memory to the operating system lazily, during later allocations on the thread that freed
//! it. A password-hashing thread that frees its work area and then sits idle never gets there,
//! so the memory stayed resident. [`return_free_memory`] asks for it to be returned now.

/// The process's global allocator (`#[global_allocator]` in the binary).
pub use mimalloc::MiMalloc as Allocator;

/// Returns memory freed on the calling thread to the operating system. Cheap enough for a
/// thread that just went idle; not meant for hot paths.
pub fn return_free_memory() {
    // SAFETY: `mi_collect` takes no pointers and may be called from any thread at any time.
    // In a process whose global allocator is not mimalloc (unit tests) it only tidies
    // mimalloc's own, empty heap.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_collect(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returning_memory_is_harmless_at_any_time() {
        let block = vec![7u8; 4 << 20];
        drop(block);
        return_free_memory();
        return_free_memory();
        // The allocator still works afterwards.
        assert_eq!(
            vec![1u8; 1024].iter().map(|&b| u32::from(b)).sum::<u32>(),
            1024
        );
    }
}
