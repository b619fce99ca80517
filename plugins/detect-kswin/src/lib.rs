//! `detect-kswin`: KSWIN, the Kolmogorov–Smirnov windowing detector (Raab et al., 2020), as
//! River's `river.drift.KSWIN` (0.26.1).
//!
//! The detector keeps the last `window_size` values. Once the window is full, every value
//! triggers a two-sample KS test between the newest `stat_size` values and `stat_size` values
//! drawn at random (without replacement) from the older part of the window; a change is
//! signalled when the p-value is at most `alpha` and the statistic exceeds 0.1. As in River,
//! everything restarts on the first value after a detection, the random generator included.
//!
//! River draws the sample with Python's `random.Random(seed)`. This plugin carries the same
//! Mersenne Twister, seeded and sampled as CPython does (`mt.rs`), and SciPy's exact KS p-value
//! (`ks.rs`), so with the same seed it reports River's detections. River's default seed is
//! `None` (fresh entropy on each run, so no two runs agree); here the default is 42, and any
//! other seed can be set. See `docs/detectors.md`.
//!
//! NaN marks a missing value: it is skipped and takes no stream position. Infinite values are
//! rejected.

mod ks;
mod mt;
use vigil_plugin_stats::stream;

use std::collections::VecDeque;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use vigil_plugin_sdk::{Detector, Error, Result};

use mt::Mt19937;

/// Configuration of KSWIN. The defaults are River's, but for `seed`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Significance level of the KS test. In [0, 1].
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Values kept in the sliding window. At most 1 000 000.
    #[serde(default = "default_window_size")]
    pub window_size: u64,
    /// Values in each of the two samples compared. At least 1, and at most half the window.
    #[serde(default = "default_stat_size")]
    pub stat_size: u64,
    /// Seed of the random sampling, as `random.Random(seed)` in Python (River's default, no
    /// seed, is not reproducible).
    #[serde(default = "default_seed")]
    pub seed: u64,
}

fn default_alpha() -> f64 {
    0.005
}

fn default_window_size() -> u64 {
    100
}

fn default_stat_size() -> u64 {
    30
}

fn default_seed() -> u64 {
    42
}

/// The largest window accepted, to keep snapshots and tests small.
const MAX_WINDOW: u64 = 1_000_000;

impl Config {
    fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.alpha) {
            return Err(Error::InvalidConfig(format!(
                "alpha must lie in [0, 1], got {}",
                self.alpha
            )));
        }
        if !(1..=MAX_WINDOW).contains(&self.window_size) {
            return Err(Error::InvalidConfig(format!(
                "window_size must lie between 1 and {MAX_WINDOW}, got {}",
                self.window_size
            )));
        }
        if self.stat_size == 0 || 2 * self.stat_size > self.window_size {
            return Err(Error::InvalidConfig(format!(
                "stat_size must be at least 1 and at most half of window_size ({}), got {}: \
                 the random sample is drawn from the window's older values",
                self.window_size, self.stat_size
            )));
        }
        Ok(())
    }
}

/// The window and the generator; everything here goes into a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct State {
    /// Non-missing values received since creation: the position the next value takes.
    seen: u64,
    /// The last `window_size` values, oldest first.
    window: VecDeque<f64>,
    rng: Mt19937,
    /// River's `drift_detected` after the last value; the next value restarts everything.
    drift_detected: bool,
}

impl State {
    fn fresh(seen: u64, config: &Config) -> Self {
        State {
            seen,
            window: VecDeque::with_capacity(config.window_size as usize),
            rng: Mt19937::python_seeded(config.seed),
            drift_detected: false,
        }
    }
}

/// The KSWIN detector.
#[derive(Debug, Clone)]
pub struct Kswin {
    config: Config,
    state: State,
    /// Scratch space for the two samples, kept to avoid allocating on every value.
    older: Vec<f64>,
    recent: Vec<f64>,
}

impl Kswin {
    fn with_state(config: Config, state: State) -> Self {
        let k = config.stat_size as usize;
        Kswin {
            config,
            state,
            older: Vec::with_capacity(k),
            recent: Vec::with_capacity(k),
        }
    }

    /// River's `update` for one value.
    fn step(&mut self, x: f64) {
        if self.state.drift_detected {
            self.state = State::fresh(self.state.seen, &self.config);
        }
        let size = self.config.window_size as usize;
        let k = self.config.stat_size as usize;
        let s = &mut self.state;
        if s.window.len() == size {
            s.window.pop_front();
        }
        s.window.push_back(x);
        if s.window.len() < size {
            return;
        }
        let picks = s.rng.sample(size - k, k);
        self.older.clear();
        self.older.extend(picks.iter().map(|&r| s.window[r]));
        self.recent.clear();
        self.recent.extend(s.window.range(size - k..));
        let outcome = ks::ks_equal_sizes(&mut self.older, &mut self.recent);
        s.drift_detected = outcome.p_value <= self.config.alpha && outcome.statistic > 0.1;
    }
}

impl Detector for Kswin {
    type Config = Config;
    const DESCRIPTION: &'static str =
        "KSWIN: changes in the distribution of a stream by windowed KS tests (River's KSWIN)";

    fn new(config: Config) -> Result<Self> {
        config.validate()?;
        let state = State::fresh(0, &config);
        Ok(Kswin::with_state(config, state))
    }

    fn restore(snapshot: &[u8], config: Config) -> Result<Self> {
        config.validate()?;
        let state: State = stream::decode(snapshot, "KSWIN")?;
        if !state.rng.is_valid()
            || state.window.len() as u64 > config.window_size
            || state.window.len() as u64 > state.seen
            || state.window.iter().any(|x| !x.is_finite())
        {
            return Err(stream::invalid(
                "KSWIN",
                "its window or generator does not fit this configuration",
            ));
        }
        Ok(Kswin::with_state(config, state))
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

vigil_plugin_sdk::export_detector!(Kswin);

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_plugin_sdk::testing;

    #[test]
    fn defaults_are_rivers_but_the_seed() {
        let config: Config = vigil_plugin_sdk::parse_config("").unwrap();
        assert_eq!(config.alpha, 0.005);
        assert_eq!(config.window_size, 100);
        assert_eq!(config.stat_size, 30);
        assert_eq!(config.seed, 42);
    }

    #[test]
    fn rejects_bad_config() {
        for (config, needle) in [
            (r#"{"alpha": 1.5}"#, "alpha"),
            (r#"{"window_size": 0}"#, "window_size"),
            (r#"{"window_size": 50, "stat_size": 30}"#, "half"),
            (r#"{"stat_size": 0}"#, "stat_size"),
            (r#"{"seed": -1}"#, "-1"),
            (r#"{"window": 10}"#, "window"),
        ] {
            match testing::detector::<Kswin>(config) {
                Err(Error::InvalidConfig(message)) => {
                    assert!(message.contains(needle), "{config}: {message}")
                }
                other => panic!("{config}: expected InvalidConfig, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_full_window_of_two_levels_is_a_change() {
        // 70 zeros then 30 ones: the sample from the older part is all zeros, D = 1.
        let mut d = testing::detector::<Kswin>("").unwrap();
        let mut values = vec![0.0; 70];
        values.extend([1.0; 30]);
        assert_eq!(d.update(&values).unwrap(), vec![99]);
        // The next value restarts with an empty window.
        d.update(&[5.0]).unwrap();
        assert_eq!(d.state.window.len(), 1);
        assert_eq!(d.state.rng, Mt19937::python_seeded(42));
    }

    #[test]
    fn infinite_values_are_rejected_without_changing_state() {
        let mut d = testing::detector::<Kswin>("").unwrap();
        d.update(&[1.0, 2.0]).unwrap();
        let before = d.snapshot();
        assert!(matches!(
            d.update(&[f64::INFINITY]),
            Err(Error::InvalidInput(_))
        ));
        assert_eq!(d.snapshot(), before);
    }

    #[test]
    fn rejects_malformed_snapshots() {
        let mut d = testing::detector::<Kswin>("").unwrap();
        d.update(&[1.0; 80]).unwrap();
        let good = d.snapshot();
        let config = |json: &str| vigil_plugin_sdk::parse_config(json).unwrap();
        assert!(Kswin::restore(&good, config("")).is_ok());
        for bytes in [
            Vec::new(),
            good[..good.len() - 1].to_vec(),
            [&good[..], &[0]].concat(),
        ] {
            assert!(matches!(
                Kswin::restore(&bytes, config("")),
                Err(Error::InvalidInput(_))
            ));
        }
        // Eighty values do not fit a window of sixty.
        assert!(matches!(
            Kswin::restore(&good, config(r#"{"window_size": 60, "stat_size": 10}"#)),
            Err(Error::InvalidInput(_))
        ));
    }
}
