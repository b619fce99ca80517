//! Order keys: numbers as order-preserving integer keys, and samples sorted by them.
//!
//! Comparing integers is much cheaper than `f64::total_cmp`, in a sort's hot loop and in a
//! merge walk, natively and inside WebAssembly alike; on 1M normal values sorting the keys is
//! about 1.7 times as fast as sorting the floats. The keys are sorted by [`crate::keysort`].
//! (An LSD radix sort was tried and lost to the comparison sort, natively and in the guest.)

/// The key: flipping every bit of a negative number and only the sign bit of a positive one
/// makes the bit patterns' unsigned order equal to `total_cmp`'s order.
pub fn key(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// The inverse of [`key`].
pub fn value(key: u64) -> f64 {
    f64::from_bits(if key >> 63 == 1 {
        key & !(1 << 63)
    } else {
        !key
    })
}

/// Above the key of every number: only a NaN's bits could map to it.
pub const SENTINEL: u64 = u64::MAX;

/// The non-NaN values of a column as sorted keys, `-0.0` counted as `0.0` (NumPy's
/// comparisons make them one value).
#[derive(Debug, Clone)]
pub struct Sample {
    keys: Vec<u64>,
}

impl Sample {
    /// Drops the NaNs (missing values) and sorts the rest.
    pub fn new(values: Vec<f64>) -> Self {
        // Filtering and mapping a `Vec<f64>` into a `Vec<u64>` reuses its allocation.
        let mut keys: Vec<u64> = values
            .into_iter()
            .filter(|x| !x.is_nan())
            .map(|x| key(x + 0.0))
            .collect();
        crate::keysort::sort(&mut keys);
        Sample { keys }
    }

    /// How many values are left.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no value is left.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`th smallest key, or [`SENTINEL`] past the last.
    pub fn key_or_sentinel(&self, i: usize) -> u64 {
        self.keys.get(i).copied().unwrap_or(SENTINEL)
    }

    /// The values, ascending.
    pub fn values(&self) -> Vec<f64> {
        self.keys.iter().map(|&k| value(k)).collect()
    }

    /// The sample's quantile sketch (`crate::sketch`): its `k` order statistics at ranks
    /// `⌈i·n/k⌉`, as a sample of `k` values.
    pub fn sketch(&self, k: usize) -> Sample {
        Sample {
            keys: crate::sketch::ranks(self.len(), k)
                .map(|r| self.keys[r])
                .collect(),
        }
    }

    /// The sorted keys.
    pub fn keys(&self) -> &[u64] {
        &self.keys
    }

    /// The values, ascending, decoded in place (no second buffer).
    pub fn into_values(self) -> Vec<f64> {
        self.keys.into_iter().map(value).collect()
    }
}

/// The non-NaN values, ascending, `-0.0` made `0.0`: [`Sample::new`] decoded.
pub fn sorted_values(values: Vec<f64>) -> Vec<f64> {
    Sample::new(values).into_values()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;

    const SPECIAL: [f64; 12] = [
        0.0,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MIN_POSITIVE,
        -f64::MIN_POSITIVE,
        5e-324,
        -5e-324,
        2.2e-310,
        -2.2e-310,
        f64::MAX,
        f64::MIN,
    ];

    /// Compares bit for bit with `sort_unstable_by(f64::total_cmp)` on the values without
    /// NaN and with `-0.0` made `0.0`.
    fn check(what: &str, input: &[f64]) {
        let mut expected: Vec<f64> = input
            .iter()
            .filter(|x| !x.is_nan())
            .map(|&x| if x == 0.0 { 0.0 } else { x })
            .collect();
        expected.sort_unstable_by(f64::total_cmp);
        let expected: Vec<u64> = expected.iter().map(|x| x.to_bits()).collect();
        let sample = Sample::new(input.to_vec());
        assert_eq!(sample.key_or_sentinel(sample.len()), SENTINEL);
        let actual: Vec<u64> = sample.keys.iter().map(|&k| value(k).to_bits()).collect();
        assert!(actual == expected, "{what}, {} values", input.len());
    }

    fn sizes() -> Vec<usize> {
        vec![0, 1, 2, 3, 7, 100, 1000, 10_007, 100_000]
    }

    /// A named generator of test values.
    type Generator = (&'static str, fn(&mut Rng) -> f64);

    fn generators() -> Vec<Generator> {
        vec![
            ("any bit pattern", |r| r.any_number()),
            ("normal", |r| r.normal()),
            ("normal, 2 decimals", |r| {
                (r.normal() * 100.0).round() / 100.0
            }),
            ("few distinct", |r| [-3.5, -0.0, 0.0, 1.0, 2.5][r.below(5)]),
            ("special values", |r| SPECIAL[r.below(SPECIAL.len())]),
            ("special or normal", |r| {
                if r.below(2) == 0 {
                    SPECIAL[r.below(SPECIAL.len())]
                } else {
                    r.normal()
                }
            }),
            ("signed zeros", |r| if r.below(2) == 0 { 0.0 } else { -0.0 }),
            ("subnormals", |r| {
                let x = f64::from_bits(r.next() & ((1 << 52) - 1));
                if r.below(2) == 0 { x } else { -x }
            }),
            ("positive, wide range", |r| {
                r.unit() * 10f64.powi(r.below(40) as i32 - 20)
            }),
        ]
    }

    #[test]
    fn matches_total_cmp_on_random_inputs() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for (name, generate) in generators() {
            for n in sizes() {
                let input: Vec<f64> = (0..n).map(|_| generate(&mut rng)).collect();
                check(name, &input);
            }
        }
    }

    #[test]
    fn all_equal_values_are_untouched() {
        for x in SPECIAL.into_iter().chain([1.5, -7.25]) {
            for n in sizes() {
                check(&format!("all {x:e}"), &vec![x; n]);
            }
        }
    }

    #[test]
    fn sorted_and_reversed_inputs() {
        let mut rng = Rng(42);
        for n in sizes() {
            let mut input: Vec<f64> = (0..n).map(|_| rng.any_number()).collect();
            input.sort_unstable_by(f64::total_cmp);
            check("sorted", &input);
            input.reverse();
            check("reversed", &input);
        }
    }

    #[test]
    fn nans_are_dropped() {
        let mut rng = Rng(99);
        let nans = [
            f64::NAN,
            -f64::NAN,
            f64::from_bits(0x7FF0_0000_0000_0001),
            f64::from_bits(0xFFF8_0000_0000_0123),
        ];
        for n in sizes() {
            let input: Vec<f64> = (0..n)
                .map(|_| {
                    if rng.below(4) == 0 {
                        nans[rng.below(nans.len())]
                    } else {
                        rng.normal()
                    }
                })
                .collect();
            check("with NaNs", &input);
        }
    }

    #[test]
    fn key_round_trips_and_keeps_order() {
        let mut rng = Rng(3);
        for _ in 0..100_000 {
            let (a, b) = (rng.any_number(), rng.any_number());
            assert_eq!(value(key(a)).to_bits(), a.to_bits());
            assert_eq!(key(a).cmp(&key(b)), a.total_cmp(&b));
            assert!(key(a) < SENTINEL);
        }
        for a in SPECIAL {
            for b in SPECIAL {
                assert_eq!(key(a).cmp(&key(b)), a.total_cmp(&b));
            }
        }
    }
}
