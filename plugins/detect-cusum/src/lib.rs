//! `detect-cusum`: the two-sided tabular CUSUM (Page, 1954; in the form of Montgomery's
//! *Introduction to Statistical Quality Control*) for shifts of the mean of a stream.
//!
//! River has no CUSUM, so this plugin follows the textbook definition, written out in
//! `docs/detectors.md`: the first `warm_start` values after the start (or a detection) estimate
//! the in-control mean `mu0` and standard deviation `sigma` (Welford's update, `n - 1` in the
//! denominator); from the next value on,
//!
//! ```text
//! upper = max(0, upper + (x - mu0) - k * sigma)
//! lower = max(0, lower + (mu0 - x) - k * sigma)
//! ```
//!
//! and a change is signalled when `upper > h * sigma` (an increase) or `lower > h * sigma` (a
//! decrease). The defaults `k = 0.5` and `h = 5` are the textbook's, tuned to a shift of one
//! standard deviation. As River's detectors do, the statistics restart on the first value after
//! a detection. `tests/reference/generate_detectors.py` holds a plain Python version of the
//! same definition, and the plugin must report the same indices.
//!
//! NaN marks a missing value: it is skipped and takes no stream position. Infinite values are
//! rejected.

use vigil_plugin_stats::stream;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use vigil_plugin_sdk::{Detector, Error, Result};

/// Configuration of CUSUM.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Values (since the start or the last detection) that estimate the in-control mean and
    /// standard deviation. At least 2.
    #[serde(default = "default_warm_start")]
    pub warm_start: u64,
    /// Allowance (slack), in standard deviations: half the shift to detect. At least 0.
    #[serde(default = "default_k")]
    pub k: f64,
    /// Decision interval, in standard deviations. Greater than 0.
    #[serde(default = "default_h")]
    pub h: f64,
    /// Which changes of the mean to signal.
    #[serde(default)]
    pub mode: Mode,
}

/// The direction of change the detector signals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Increases of the mean only.
    Up,
    /// Decreases of the mean only.
    Down,
    /// Increases and decreases.
    #[default]
    Both,
}

fn default_warm_start() -> u64 {
    30
}

fn default_k() -> f64 {
    0.5
}

fn default_h() -> f64 {
    5.0
}

impl Config {
    fn validate(&self) -> Result<()> {
        if self.warm_start < 2 {
            return Err(Error::InvalidConfig(format!(
                "warm_start must be at least 2 (a standard deviation needs two values), got {}",
                self.warm_start
            )));
        }
        if !(self.k.is_finite() && self.k >= 0.0) {
            return Err(Error::InvalidConfig(format!(
                "k must be a finite number of at least 0, got {}",
                self.k
            )));
        }
        if !(self.h.is_finite() && self.h > 0.0) {
            return Err(Error::InvalidConfig(format!(
                "h must be a finite number greater than 0, got {}",
                self.h
            )));
        }
        Ok(())
    }
}

/// The statistics; everything here goes into a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct State {
    /// Non-missing values received since creation: the position the next value takes.
    seen: u64,
    /// Warm-up values so far (stops at `warm_start`), and their running mean and sum of
    /// squared deviations.
    n: f64,
    mean: f64,
    m2: f64,
    /// The in-control mean and standard deviation, set when the warm-up ends.
    target: f64,
    sigma: f64,
    upper: f64,
    lower: f64,
    /// Whether the last value was a detection; the next value restarts the statistics.
    drift_detected: bool,
}

impl State {
    fn fresh(seen: u64) -> Self {
        State {
            seen,
            n: 0.0,
            mean: 0.0,
            m2: 0.0,
            target: 0.0,
            sigma: 0.0,
            upper: 0.0,
            lower: 0.0,
            drift_detected: false,
        }
    }
}

/// `max(0, x)` as Python's `max(0.0, x)` computes it (0 unless `x` is greater).
fn positive_part(x: f64) -> f64 {
    if x > 0.0 { x } else { 0.0 }
}

/// The CUSUM detector.
#[derive(Debug, Clone)]
pub struct Cusum {
    config: Config,
    state: State,
}

impl Cusum {
    fn step(&mut self, x: f64) {
        let config = &self.config;
        if self.state.drift_detected {
            self.state = State::fresh(self.state.seen);
        }
        let s = &mut self.state;
        let warm_start = config.warm_start as f64;
        if s.n < warm_start {
            s.n += 1.0;
            let deviation = x - s.mean;
            s.mean += deviation / s.n;
            s.m2 += deviation * (x - s.mean);
            if s.n == warm_start {
                s.target = s.mean;
                s.sigma = (s.m2 / (s.n - 1.0)).sqrt();
            }
            return;
        }
        let slack = config.k * s.sigma;
        s.upper = positive_part(s.upper + (x - s.target) - slack);
        s.lower = positive_part(s.lower + (s.target - x) - slack);
        let limit = config.h * s.sigma;
        s.drift_detected = match config.mode {
            Mode::Up => s.upper > limit,
            Mode::Down => s.lower > limit,
            Mode::Both => s.upper > limit || s.lower > limit,
        };
    }
}

impl Detector for Cusum {
    type Config = Config;
    const DESCRIPTION: &'static str =
        "CUSUM: two-sided tabular cumulative sum for shifts of the mean of a stream";

    fn new(config: Config) -> Result<Self> {
        config.validate()?;
        Ok(Cusum {
            config,
            state: State::fresh(0),
        })
    }

    fn restore(snapshot: &[u8], config: Config) -> Result<Self> {
        config.validate()?;
        let state: State = stream::decode(snapshot, "CUSUM")?;
        if !(state.n >= 0.0
            && state.n.fract() == 0.0
            && state.n <= config.warm_start as f64
            && state.n <= state.seen as f64)
        {
            return Err(stream::invalid(
                "CUSUM",
                "its warm-up count does not fit this configuration's warm_start",
            ));
        }
        Ok(Cusum { config, state })
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

vigil_plugin_sdk::export_detector!(Cusum);

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_plugin_sdk::testing;

    fn detector(config: &str) -> Cusum {
        testing::detector::<Cusum>(config).unwrap()
    }

    #[test]
    fn defaults_are_the_textbooks() {
        let config: Config = vigil_plugin_sdk::parse_config("").unwrap();
        assert_eq!(config.warm_start, 30);
        assert_eq!(config.k, 0.5);
        assert_eq!(config.h, 5.0);
        assert_eq!(config.mode, Mode::Both);
    }

    #[test]
    fn rejects_bad_config() {
        for (config, needle) in [
            (r#"{"warm_start": 1}"#, "warm_start"),
            (r#"{"k": -0.5}"#, "k must"),
            (r#"{"h": 0}"#, "h must"),
            (r#"{"mode": "sideways"}"#, "sideways"),
            (r#"{"threshold": 3}"#, "threshold"),
        ] {
            match testing::detector::<Cusum>(config) {
                Err(Error::InvalidConfig(message)) => {
                    assert!(message.contains(needle), "{config}: {message}")
                }
                other => panic!("{config}: expected InvalidConfig, got {other:?}"),
            }
        }
    }

    #[test]
    fn shift_is_caught_after_the_textbook_sums() {
        // Warm-up alternating 0 and 2: mean 1, sample standard deviation just above 1.
        let mut d = detector(r#"{"warm_start": 4}"#);
        let sigma = (4.0f64 / 3.0).sqrt();
        assert!(d.update(&[0.0, 2.0, 0.0, 2.0]).unwrap().is_empty());
        assert_eq!((d.state.target, d.state.sigma), (1.0, sigma));
        // Each value 4 adds 3 - k*sigma to the upper sum; it passes h*sigma on the third.
        let found = d.update(&[4.0, 4.0, 4.0]).unwrap();
        assert_eq!(found, vec![6]);
        // The next value restarts the warm-up.
        d.update(&[5.0]).unwrap();
        assert_eq!((d.state.n, d.state.upper), (1.0, 0.0));
    }

    #[test]
    fn constant_warm_up_flags_any_departure() {
        let mut d = detector(r#"{"warm_start": 3}"#);
        assert!(d.update(&[2.0; 50]).unwrap().is_empty());
        assert_eq!(d.update(&[2.5]).unwrap(), vec![50]);
    }

    #[test]
    fn infinite_values_are_rejected_without_changing_state() {
        let mut d = detector("");
        d.update(&[1.0, 2.0]).unwrap();
        let before = d.snapshot();
        assert!(matches!(
            d.update(&[f64::NEG_INFINITY]),
            Err(Error::InvalidInput(_))
        ));
        assert_eq!(d.snapshot(), before);
    }

    #[test]
    fn rejects_malformed_snapshots() {
        let mut d = detector("");
        d.update(&[1.0, 3.0, 2.0]).unwrap();
        let good = d.snapshot();
        let config = |json: &str| vigil_plugin_sdk::parse_config(json).unwrap();
        assert!(Cusum::restore(&good, config("")).is_ok());
        for bytes in [
            Vec::new(),
            good[..good.len() - 1].to_vec(),
            [&good[..], &[0]].concat(),
        ] {
            assert!(matches!(
                Cusum::restore(&bytes, config("")),
                Err(Error::InvalidInput(_))
            ));
        }
        assert!(matches!(
            Cusum::restore(&good, config(r#"{"warm_start": 2}"#)),
            Err(Error::InvalidInput(_))
        ));
    }
}
