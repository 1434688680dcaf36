//! A fast hasher for integer identities the kernel hands out (socket cookies, inodes,
//! pids). They come from kernel counters, not from the network, so SipHash's defence
//! against chosen keys buys nothing; at 100k sockets per tick SipHash was a fifth of the
//! dashboard's CPU. Never use this for keys a remote peer chooses (addresses, ports).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// Multiply-and-fold hasher for integer keys.
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        // Fibonacci hashing; fold the high bits down because hashbrown uses the top 7 bits
        // as a tag and the low bits as the bucket index.
        let h = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = h ^ (h >> 32);
    }
}

/// A `HashMap` keyed by kernel-assigned integers.
pub type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// A `HashSet` of kernel-assigned integers.
pub type IdSet<K> = HashSet<K, BuildHasherDefault<IdHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_ids_spread_over_buckets() {
        let m: IdMap<u64, u64> = (0..10_000u64).map(|i| (i, i * 2)).collect();
        assert_eq!(m.len(), 10_000);
        assert_eq!(m.get(&4_321), Some(&8_642));
        let low7: IdSet<u64> = (0..1024u64)
            .map(|i| {
                let mut h = IdHasher::default();
                h.write_u64(i);
                h.finish() & 0x7f
            })
            .collect();
        assert!(low7.len() > 100, "low bits cluster: {}", low7.len());
    }
}
