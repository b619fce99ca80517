//! `detect-adwin`: ADWIN, adaptive windowing (Bifet and Gavaldà, 2007), as River's
//! `river.drift.ADWIN` (0.26.1), with its bucket compression (ADWIN2) and its clock.
//!
//! The window is kept as rows of buckets: row `i` holds up to `max_buckets` buckets, each the
//! total and variance of `2^i` consecutive values, oldest first; when a row overflows, its two
//! oldest buckets merge into one of the next row. Every `clock` values, once the window is
//! longer than `grace_period`, every split of the window into an older part `W0` and a newer
//! part `W1` at a bucket boundary (both at least `min_window_length` long) is tested; when
//! `|mean(W0) - mean(W1)|` exceeds the bound `epsilon_cut`, the oldest bucket is dropped and the
//! test repeats on the shorter window. A change is signalled when any bucket was dropped.
//!
//! The arithmetic keeps River's operation order, so the same stream gives the same detections,
//! and, as in River, the whole window is discarded on the first value after a detection. See
//! `docs/detectors.md`.
//!
//! NaN marks a missing value: it is skipped and takes no stream position. Infinite values are
//! rejected: one would make the window's total infinite for good.

use vigil_plugin_stats::stream;

use std::collections::VecDeque;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use vigil_plugin_sdk::{Detector, Error, Result};

/// Configuration of ADWIN. The defaults are River's.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Significance of the cut test (smaller detects less). In (0, 1).
    #[serde(default = "default_delta")]
    pub delta: f64,
    /// The window is tested every `clock` values. At least 1.
    #[serde(default = "default_clock")]
    pub clock: u64,
    /// Buckets of each size kept before the two oldest merge. At least 1.
    #[serde(default = "default_max_buckets")]
    pub max_buckets: u64,
    /// The shortest sub-window a cut may leave on either side.
    #[serde(default = "default_min_window_length")]
    pub min_window_length: u64,
    /// No test until the window is longer than this.
    #[serde(default = "default_grace_period")]
    pub grace_period: u64,
}

fn default_delta() -> f64 {
    0.002
}

fn default_clock() -> u64 {
    32
}

fn default_max_buckets() -> u64 {
    5
}

fn default_min_window_length() -> u64 {
    5
}

fn default_grace_period() -> u64 {
    10
}

impl Config {
    fn validate(&self) -> Result<()> {
        if !(self.delta > 0.0 && self.delta < 1.0) {
            return Err(Error::InvalidConfig(format!(
                "delta must lie strictly between 0 and 1, got {}",
                self.delta
            )));
        }
        if self.clock == 0 {
            return Err(Error::InvalidConfig(
                "clock must be at least 1 (1 tests the window after every value)".to_string(),
            ));
        }
        if !(1..=1024).contains(&self.max_buckets) {
            return Err(Error::InvalidConfig(format!(
                "max_buckets must lie between 1 and 1024, got {}",
                self.max_buckets
            )));
        }
        Ok(())
    }
}

/// One bucket: the sum of its values and the sum of their squared deviations from its mean.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Bucket {
    total: f64,
    variance: f64,
}

/// The window and its statistics; everything here goes into a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct State {
    /// Non-missing values received since creation: the position the next value takes.
    seen: u64,
    /// Sum of the values in the window.
    total: f64,
    /// Sum of their squared deviations from the window's mean.
    variance: f64,
    /// Values in the window (a float, as River counts them).
    width: f64,
    /// Values since the last reset, for the clock.
    tick: u64,
    /// `rows[i]`: buckets of `2^i` values each, oldest first. Ring buffers, so that merging
    /// the two oldest buckets moves nothing; serialized as sequences, as `Vec`s were.
    rows: Vec<VecDeque<Bucket>>,
    /// River's `drift_detected` after the last value; the next value resets the window.
    drift_detected: bool,
}

impl State {
    fn fresh(seen: u64) -> Self {
        State {
            seen,
            total: 0.0,
            variance: 0.0,
            width: 0.0,
            tick: 0,
            rows: vec![VecDeque::new()],
            drift_detected: false,
        }
    }
}

/// Values per bucket in row `row`.
fn bucket_size(row: usize) -> f64 {
    (1u64 << row) as f64
}

/// `1 / bucket_size(row)`, exact (a power of two), so `x * bucket_share(row)` has the bits of
/// River's `x / bucket_size(row)` without a division.
fn bucket_share(row: usize) -> f64 {
    f64::from_bits((1023 - row as u64) << 52)
}

/// The ADWIN detector.
#[derive(Debug, Clone)]
pub struct Adwin {
    config: Config,
    state: State,
    /// The `tick` of the next test: the next multiple of `clock`. Kept beside the state (and
    /// derived from it on restore) so that each value costs a comparison, not the 64-bit
    /// remainder `tick % clock`, which the guest pays as a hardware division.
    next_test: u64,
}

/// The first multiple of `clock` above `tick`.
fn next_multiple(tick: u64, clock: u64) -> u64 {
    (tick / clock + 1).saturating_mul(clock)
}

impl Adwin {
    /// River's `update` for one value: insert, then test on the clock.
    fn step(&mut self, x: f64) {
        if self.state.drift_detected {
            self.state = State::fresh(self.state.seen);
            self.next_test = self.config.clock;
        }
        self.insert(x);
        self.state.drift_detected = self.detect_change();
    }

    fn insert(&mut self, x: f64) {
        let s = &mut self.state;
        s.rows[0].push_back(Bucket {
            total: x,
            variance: 0.0,
        });
        s.width += 1.0;
        let mut increment = 0.0;
        if s.width > 1.0 {
            let deviation = x - s.total / (s.width - 1.0);
            increment = (s.width - 1.0) * deviation * deviation / s.width;
        }
        s.variance += increment;
        s.total += x;
        self.compress();
    }

    /// Merges the two oldest buckets of every full row into the next row.
    fn compress(&mut self) {
        let full = self.config.max_buckets as usize + 1;
        let rows = &mut self.state.rows;
        let mut row = 0;
        while rows[row].len() == full {
            let (size, share) = (bucket_size(row), bucket_share(row));
            let (a, b) = (rows[row][0], rows[row][1]);
            let (mean_a, mean_b) = (a.total * share, b.total * share);
            let merged = Bucket {
                total: a.total + b.total,
                variance: a.variance
                    + b.variance
                    + size * 0.5 * (mean_a - mean_b) * (mean_a - mean_b),
            };
            if row + 1 == rows.len() {
                rows.push(VecDeque::with_capacity(full));
            }
            rows[row + 1].push_back(merged);
            rows[row].pop_front();
            rows[row].pop_front();
            if rows[row + 1].len() < full {
                break;
            }
            row += 1;
        }
    }

    /// Drops the oldest bucket (the first of the last row).
    fn drop_oldest(&mut self) {
        let s = &mut self.state;
        let last = s.rows.len() - 1;
        let size = bucket_size(last);
        let oldest = s.rows[last].pop_front().expect("the last row has a bucket");
        let mean = oldest.total * bucket_share(last);
        s.width -= size;
        s.total -= oldest.total;
        let window_mean = s.total / s.width;
        s.variance -= oldest.variance
            + size * s.width * (mean - window_mean) * (mean - window_mean) / (size + s.width);
        if s.rows[last].is_empty() && last > 0 {
            s.rows.pop();
        }
    }

    /// Tests every split on the clock, dropping the oldest bucket while a cut is found.
    fn detect_change(&mut self) -> bool {
        self.state.tick += 1;
        if self.state.tick != self.next_test {
            return false;
        }
        self.next_test = next_multiple(self.state.tick, self.config.clock);
        if self.state.width <= self.config.grace_period as f64 {
            return false;
        }
        let mut detected = false;
        while self.find_cut() {
            detected = true;
            self.drop_oldest();
        }
        detected
    }

    /// Whether some split of the window, oldest buckets first, passes the cut test.
    fn find_cut(&self) -> bool {
        let s = &self.state;
        let min_length = self.config.min_window_length as f64;
        // The parts of `epsilon_cut` that do not depend on the split, computed once per scan
        // (the same values River computes for every split, so the same results).
        let delta_prime = (2.0 * s.width.ln() / self.config.delta).ln();
        let mean_variance = s.variance / s.width;
        let cut = |n0: f64, n1: f64, delta_mean: f64| {
            let m_recip = 1.0 / (n0 - min_length + 1.0) + 1.0 / (n1 - min_length + 1.0);
            let epsilon = (2.0 * m_recip * mean_variance * delta_prime).sqrt()
                + 2.0 / 3.0 * delta_prime * m_recip;
            delta_mean.abs() > epsilon
        };
        // `2 · var · delta'`, less a margin, for the division-free pre-test.
        let bound_factor = 2.0 * mean_variance * delta_prime * (1.0 - 1e-9);
        let (mut n0, mut n1) = (0.0, s.width);
        let (mut u0, mut u1) = (0.0, s.total);
        for (row, buckets) in s.rows.iter().enumerate().rev() {
            let size = bucket_size(row);
            for (k, bucket) in buckets.iter().enumerate() {
                n0 += size;
                n1 -= size;
                u0 += bucket.total;
                u1 -= bucket.total;
                if row == 0 && k + 1 == buckets.len() {
                    // The newest bucket: no split is left after it.
                    return false;
                }
                if n1 >= min_length
                    && n0 >= min_length
                    && !surely_no_cut(u0, u1, n0, n1, min_length, bound_factor)
                    && cut(n0, n1, u0 / n0 - u1 / n1)
                {
                    return true;
                }
            }
        }
        false
    }
}

/// Whether the cut test of River's arithmetic (`|u0/n0 − u1/n1| > epsilon`) certainly fails for
/// this split, decided without a division or a square root. Nearly every split of every scan
/// fails the test, and four divisions and a square root per split were most of ADWIN's time.
///
/// `epsilon ≥ sqrt(2 m var delta')` with `m = (n0' + n1') / (n0' n1')`, `nk' = nk − L + 1`, so
/// the test fails when `(u0 n1 − u1 n0)² n0' n1' ≤ 2 var delta' (n0 n1)² (n0' + n1')`. Both
/// sides are taken with room to spare: the difference is raised by 1e-12 of its terms' sizes
/// (far above the rounding of either this product or River's `u0/n0 − u1/n1`), and the bound
/// (`bound_factor`, `2 var delta'`) lowered by 1e-9. When this says "no cut", River's
/// arithmetic says so too; otherwise the split is tested exactly as River tests it. NaN,
/// infinities, or a negative variance never pass as "no cut".
#[inline]
fn surely_no_cut(u0: f64, u1: f64, n0: f64, n1: f64, min_length: f64, bound_factor: f64) -> bool {
    let difference = (u0 * n1 - u1 * n0).abs() + 1e-12 * (u0.abs() * n1 + u1.abs() * n0);
    let (m0, m1) = (n0 - min_length + 1.0, n1 - min_length + 1.0);
    let product = n0 * n1;
    difference * difference * (m0 * m1) <= bound_factor * (product * product) * (m0 + m1)
}

impl Detector for Adwin {
    type Config = Config;
    const DESCRIPTION: &'static str =
        "ADWIN: changes in the mean of a stream by adaptive windowing (River's ADWIN)";

    fn new(config: Config) -> Result<Self> {
        config.validate()?;
        Ok(Adwin {
            next_test: config.clock,
            config,
            state: State::fresh(0),
        })
    }

    fn restore(snapshot: &[u8], config: Config) -> Result<Self> {
        config.validate()?;
        let state: State = stream::decode(snapshot, "ADWIN")?;
        let full = config.max_buckets as usize + 1;
        let counted: f64 = state
            .rows
            .iter()
            .enumerate()
            .map(|(row, buckets)| buckets.len() as f64 * bucket_size(row))
            .sum();
        if state.rows.is_empty()
            || state.rows.len() > 64
            || state.rows.iter().any(|r| r.len() >= full)
            || counted != state.width
            || state.width > state.seen as f64
        {
            return Err(stream::invalid(
                "ADWIN",
                "its buckets do not fit its window or this configuration's max_buckets",
            ));
        }
        Ok(Adwin {
            next_test: next_multiple(state.tick, config.clock),
            config,
            state,
        })
    }

    fn update(&mut self, values: &[f64]) -> Result<Vec<u64>> {
        stream::check_finite(values)?;
        let mut detections = Vec::new();
        for &x in values.iter().filter(|x| !x.is_nan()) {
            self.step(x);
            if self.state.drift_detected {
                detections.push(self.state.seen);
            }
            self.state.seen += 1;
        }
        Ok(detections)
    }

    fn snapshot(&self) -> Vec<u8> {
        stream::encode(&self.state)
    }
}

vigil_plugin_sdk::export_detector!(Adwin);

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_plugin_sdk::testing;

    #[test]
    fn bucket_shares_are_exact_reciprocals() {
        for row in 0..64 {
            assert_eq!(bucket_share(row), 1.0 / bucket_size(row));
            let x = 0.1 + row as f64 * 1e-3;
            assert_eq!(x * bucket_share(row), x / bucket_size(row));
        }
    }

    #[test]
    fn defaults_are_rivers() {
        let config: Config = vigil_plugin_sdk::parse_config("").unwrap();
        assert_eq!(config.delta, 0.002);
        assert_eq!(config.clock, 32);
        assert_eq!(config.max_buckets, 5);
        assert_eq!(config.min_window_length, 5);
        assert_eq!(config.grace_period, 10);
    }

    #[test]
    fn rejects_bad_config() {
        for (config, needle) in [
            (r#"{"delta": 0}"#, "delta"),
            (r#"{"delta": 1.5}"#, "delta"),
            (r#"{"clock": 0}"#, "clock"),
            (r#"{"max_buckets": 0}"#, "max_buckets"),
            (r#"{"grace_period": -3}"#, "-3"),
            (r#"{"window": 3}"#, "window"),
        ] {
            match testing::detector::<Adwin>(config) {
                Err(Error::InvalidConfig(message)) => {
                    assert!(message.contains(needle), "{config}: {message}")
                }
                other => panic!("{config}: expected InvalidConfig, got {other:?}"),
            }
        }
    }

    #[test]
    fn buckets_hold_the_window() {
        let mut d = testing::detector::<Adwin>("").unwrap();
        let values: Vec<f64> = (0..1000).map(|i| f64::from(i % 3)).collect();
        assert!(d.update(&values).unwrap().is_empty());
        assert_eq!(d.state.width, 1000.0);
        assert_eq!(d.state.total, 999.0);
        // At most max_buckets per row, and the rows' sizes add up to the window.
        assert!(d.state.rows.iter().all(|r| r.len() <= 5));
        let mean = 999.0 / 1000.0;
        let variance: f64 = values.iter().map(|x| (x - mean) * (x - mean)).sum();
        assert!((d.state.variance - variance).abs() < 1e-9 * variance);
    }

    #[test]
    fn infinite_values_are_rejected_without_changing_state() {
        let mut d = testing::detector::<Adwin>("").unwrap();
        d.update(&[1.0, 2.0]).unwrap();
        let before = d.snapshot();
        assert!(matches!(
            d.update(&[3.0, f64::INFINITY]),
            Err(Error::InvalidInput(_))
        ));
        assert_eq!(d.snapshot(), before);
    }

    #[test]
    fn rejects_malformed_snapshots() {
        let mut d = testing::detector::<Adwin>("").unwrap();
        d.update(&[1.0; 100]).unwrap();
        let good = d.snapshot();
        let config = |json: &str| vigil_plugin_sdk::parse_config(json).unwrap();
        assert!(Adwin::restore(&good, config("")).is_ok());
        for bytes in [
            Vec::new(),
            good[..good.len() - 1].to_vec(),
            [&good[..], &[0]].concat(),
        ] {
            assert!(matches!(
                Adwin::restore(&bytes, config("")),
                Err(Error::InvalidInput(_))
            ));
        }
        // Rows of five buckets do not fit a configuration that merges at three.
        assert!(matches!(
            Adwin::restore(&good, config(r#"{"max_buckets": 2}"#)),
            Err(Error::InvalidInput(_))
        ));
    }
}
