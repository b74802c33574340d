//! A small, fast, deterministic hasher for the scoring lookup tables (member and event ids).
//!
//! Only used for lookups; no output ever depends on hash-map iteration order. It is not
//! HashDoS-resistant: ids are assigned by our own service, and a crafted collision set could
//! only slow scoring down, never change its result.

use std::hash::{BuildHasherDefault, Hasher};

/// FxHash (rustc's hasher): word-at-a-time multiply-rotate.
#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let (words, rest) = bytes.as_chunks::<8>();
        for w in words {
            self.add(u64::from_le_bytes(*w));
        }
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // hashbrown takes the bucket index from the low bits, which a multiply mixes poorly
        // (ids that differ only in their last characters clustered and probed long chains);
        // rotate the well-mixed high bits down, as rustc-hash 2 does.
        self.hash.rotate_left(26)
    }
}

pub type FxBuild = BuildHasherDefault<FxHasher>;
pub type FxHashMap<K, V> = std::collections::HashMap<K, V, FxBuild>;
pub type FxHashSet<K> = std::collections::HashSet<K, FxBuild>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinguishes_prefixes_and_lengths() {
        let mut s: FxHashSet<&str> = FxHashSet::default();
        for k in ["", "a", "a\0", "ab", "abcdefgh", "abcdefgh\0", "abcdefghi"] {
            assert!(s.insert(k));
        }
        assert!(!s.insert("ab"));
        assert_eq!(s.len(), 7);
    }
}
