//! The Mersenne Twister MT19937 exactly as Python's `random` module seeds and draws from it,
//! so that KSWIN picks the same sample River picks for the same seed.
//!
//! Written out rather than taken from a crate because the detector's snapshot must hold the
//! generator's whole state (624 words and a position), which the crates do not expose.

use serde::{Deserialize, Serialize};

const N: usize = 624;
const M: usize = 397;

/// An MT19937 generator with its state in the open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mt19937 {
    /// The 624 state words (a `Vec` so that serde can take it).
    words: Vec<u32>,
    /// The next word to temper; 624 means the state must be twisted first.
    index: usize,
}

impl Mt19937 {
    /// `random.Random(seed)` for a non-negative integer seed: `init_by_array` with the seed's
    /// 32-bit words, least significant first (`[0]` for zero).
    pub fn python_seeded(seed: u64) -> Self {
        let (low, high) = (seed as u32, (seed >> 32) as u32);
        if high == 0 {
            Self::from_key(&[low])
        } else {
            Self::from_key(&[low, high])
        }
    }

    fn from_key(key: &[u32]) -> Self {
        let mut mt = vec![0u32; N];
        mt[0] = 19_650_218;
        for i in 1..N {
            mt[i] = 1_812_433_253u32
                .wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..N.max(key.len()) {
            mt[i] = (mt[i] ^ (mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_mul(1_664_525))
                .wrapping_add(key[j])
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..N - 1 {
            mt[i] = (mt[i] ^ (mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_mul(1_566_083_941))
                .wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
        }
        mt[0] = 0x8000_0000;
        Mt19937 {
            words: mt,
            index: N,
        }
    }

    /// Whether a deserialized state is one this type could hold.
    pub fn is_valid(&self) -> bool {
        self.words.len() == N && self.index <= N
    }

    fn twist(&mut self) {
        let mt = &mut self.words;
        for k in 0..N {
            let y = (mt[k] & 0x8000_0000) | (mt[(k + 1) % N] & 0x7fff_ffff);
            let mag = if y & 1 == 1 { 0x9908_b0df } else { 0 };
            mt[k] = mt[(k + M) % N] ^ (y >> 1) ^ mag;
        }
        self.index = 0;
    }

    /// The next 32-bit output (`genrand_uint32`).
    pub fn next_u32(&mut self) -> u32 {
        if self.index >= N {
            self.twist();
        }
        let mut y = self.words[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// `random.Random._randbelow(n)` for `0 < n < 2^32`: rejection sampling on
    /// `getrandbits(n.bit_length())`.
    pub fn below(&mut self, n: u32) -> u32 {
        debug_assert!(n > 0);
        let bits = 32 - n.leading_zeros();
        loop {
            let r = self.next_u32() >> (32 - bits);
            if r < n {
                return r;
            }
        }
    }

    /// `random.Random.sample(range(population), k)`, with Python's choice between a shrinking
    /// pool and a set of picks. Needs `k <= population < 2^32`.
    pub fn sample(&mut self, population: usize, k: usize) -> Vec<usize> {
        debug_assert!(k <= population && population < 1 << 32);
        let mut set_size = 21usize;
        if k > 5 {
            // `4 ** ceil(log(k * 3, 4))`, with Python's float logarithm.
            let exponent = (((k * 3) as f64).ln() / 4f64.ln()).ceil() as u32;
            set_size += 4usize.pow(exponent);
        }
        let mut result = Vec::with_capacity(k);
        if population <= set_size {
            let mut pool: Vec<usize> = (0..population).collect();
            for i in 0..k {
                let j = self.below((population - i) as u32) as usize;
                result.push(pool[j]);
                pool[j] = pool[population - i - 1];
            }
        } else {
            let mut selected = vec![false; population];
            for _ in 0..k {
                let mut j = self.below(population as u32) as usize;
                while selected[j] {
                    j = self.below(population as u32) as usize;
                }
                selected[j] = true;
                result.push(j);
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Outputs of CPython 3.11's `random.Random(seed)`, for `getrandbits(32)` and `sample`.
    #[test]
    fn draws_as_python_does() {
        let mut mt = Mt19937::python_seeded(42);
        let words: Vec<u32> = (0..3).map(|_| mt.next_u32()).collect();
        assert_eq!(words, [2746317213, 478163327, 107420369]);
        let mut mt = Mt19937::python_seeded((1 << 40) + 5);
        assert_eq!([mt.next_u32(), mt.next_u32()], [2166296868, 2220160828]);
        assert_eq!(Mt19937::python_seeded(0).next_u32(), 3626764237);
    }

    #[test]
    fn samples_as_python_does() {
        // The pool method (70 <= 21 + 4^4).
        let picks = Mt19937::python_seeded(42).sample(70, 30);
        assert_eq!(
            picks,
            [
                14, 3, 35, 31, 28, 17, 13, 43, 47, 57, 34, 5, 37, 27, 2, 1, 58, 63, 69, 32, 38, 54,
                67, 12, 45, 41, 59, 26, 51, 65
            ]
        );
        // Also the pool method (180 <= 21 + 4^5).
        let picks = Mt19937::python_seeded(3).sample(180, 120);
        assert_eq!(picks[..10], [60, 151, 139, 33, 94, 154, 121, 160, 148, 16]);
        // The set method: 100 > 21 + 4^3, and 50 > 21 for five picks.
        assert_eq!(
            Mt19937::python_seeded(3).sample(100, 6),
            [30, 75, 69, 16, 47, 77]
        );
        assert_eq!(Mt19937::python_seeded(7).sample(50, 5), [20, 9, 25, 41, 3]);
    }
}
