//! Request IDs: 32 lowercase hex characters, unique per emulator.

use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Issues request IDs: a random 64-bit prefix per emulator, then a counter
/// passed through a bijective mixer, so IDs look random yet never repeat
/// (distinct counters give distinct mixed values).
pub(crate) struct RequestIds {
    prefix: u64,
    key: u64,
    counter: AtomicU64,
}

impl RequestIds {
    pub(crate) fn new() -> Self {
        static INSTANCES: AtomicU64 = AtomicU64::new(0);
        // `RandomState` is seeded from the OS once per process; hashing the
        // time and an instance counter gives each emulator its own values.
        let random = |salt: u64| {
            let mut hasher = RandomState::new().build_hasher();
            hasher.write_u64(salt);
            hasher.write_u64(INSTANCES.fetch_add(1, Ordering::Relaxed));
            let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
            hasher.write_u128(nanos);
            hasher.finish()
        };
        Self {
            prefix: random(1),
            key: random(2),
            counter: AtomicU64::new(0),
        }
    }

    pub(crate) fn next(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("{:016x}{:016x}", self.prefix, mix(n ^ self.key))
    }
}

/// SplitMix64's finaliser: a bijection on `u64`.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_lowercase_hex_and_distinct() {
        let ids = RequestIds::new();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let id = ids.next();
            assert_eq!(id.len(), 32);
            assert!(id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
            assert!(seen.insert(id));
        }
    }
}
