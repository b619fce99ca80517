//! `detect-hddm-a`: HDDM-A (Frías-Blanco et al., 2014), the drift detection method based on
//! Hoeffding's bound with the moving-average test, on a 0/1 error stream, as River's
//! `river.drift.binary.HDDMA` (0.26.1).
//!
//! The detector keeps the running mean `z` of the stream and two earlier snapshots of it: the
//! one whose mean plus Hoeffding bound was lowest (`x_min`) and, for the two-sided test, the
//! one whose mean minus the bound was highest (`x_max`). A change is signalled when the mean has
//! risen above `x_min` (or fallen below `x_max`) by more than the bound for the two sample
//! sizes at `drift_confidence`. The arithmetic follows River's step by step; as in River, the
//! statistics restart on the first value after a detection. See `docs/detectors.md`.
//!
//! Values must be 0 (correct) or 1 (error). NaN marks a missing value: it is skipped and takes
//! no stream position.

use vigil_plugin_stats::stream;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use vigil_plugin_sdk::{Detector, Error, Result};

/// Configuration of HDDM-A. The defaults are River's.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Confidence level of the change test (smaller detects less). In (0, 1).
    #[serde(default = "default_drift_confidence")]
    pub drift_confidence: f64,
    /// Confidence level of the warning test (kept for River parity; warnings are not
    /// reported). In (0, 1).
    #[serde(default = "default_warning_confidence")]
    pub warning_confidence: f64,
    /// Also signal decreases of the error rate; by default only increases are.
    #[serde(default)]
    pub two_sided_test: bool,
}

fn default_drift_confidence() -> f64 {
    0.001
}

fn default_warning_confidence() -> f64 {
    0.005
}

impl Config {
    fn validate(&self) -> Result<()> {
        for (name, value) in [
            ("drift_confidence", self.drift_confidence),
            ("warning_confidence", self.warning_confidence),
        ] {
            if !(value > 0.0 && value < 1.0) {
                return Err(Error::InvalidConfig(format!(
                    "{name} must lie strictly between 0 and 1, got {value}"
                )));
            }
        }
        Ok(())
    }
}

/// A `stats.Mean`: River clones whole means, so they are kept as pairs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Mean {
    n: f64,
    mean: f64,
}

impl Mean {
    const EMPTY: Mean = Mean { n: 0.0, mean: 0.0 };

    fn update(&mut self, x: f64) {
        self.n += 1.0;
        self.mean += (1.0 / self.n) * (x - self.mean);
    }
}

/// River's statistics; everything here goes into a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct State {
    /// Non-missing values received since creation: the position the next value takes.
    seen: u64,
    x_min: Mean,
    x_max: Mean,
    z: Mean,
    /// River's `drift_detected` after the last value; the next value resets the statistics.
    drift_detected: bool,
}

impl State {
    fn fresh(seen: u64) -> Self {
        State {
            seen,
            x_min: Mean::EMPTY,
            x_max: Mean::EMPTY,
            z: Mean::EMPTY,
            drift_detected: false,
        }
    }
}

/// The HDDM-A detector.
#[derive(Debug, Clone)]
pub struct HddmA {
    config: Config,
    state: State,
    /// `ln(1 / drift_confidence)` and `ln(2 / drift_confidence)`, which River recomputes on
    /// every value; computed once, they are the same numbers.
    ln_inverse_confidence: f64,
    ln_two_over_confidence: f64,
}

impl HddmA {
    fn with_state(config: Config, state: State) -> Self {
        let confidence = config.drift_confidence;
        HddmA {
            ln_inverse_confidence: (1.0 / confidence).ln(),
            ln_two_over_confidence: (2.0 / confidence).ln(),
            config,
            state,
        }
    }

    fn hoeffding_bound(&self, n: f64) -> f64 {
        (1.0 / (2.0 * n) * self.ln_inverse_confidence).sqrt()
    }

    /// River's `update` for one value (0 or 1).
    fn step(&mut self, x: f64) {
        if self.state.drift_detected {
            self.state = State::fresh(self.state.seen);
        }
        self.state.z.update(x);
        let z = self.state.z;
        if self.state.x_min.n == 0.0 {
            self.state.x_min = z;
        }
        if self.state.x_max.n == 0.0 {
            self.state.x_max = z;
        }
        let eps_z = self.hoeffding_bound(z.n);
        let eps_x = self.hoeffding_bound(self.state.x_min.n);
        if self.state.x_min.mean + eps_x >= z.mean + eps_z {
            self.state.x_min = z;
        }
        let eps_x = self.hoeffding_bound(self.state.x_max.n);
        if self.state.x_max.mean - eps_x <= z.mean - eps_z {
            self.state.x_max = z;
        }
        let log = self.ln_two_over_confidence;
        self.state.drift_detected = mean_increased(self.state.x_min, z, log)
            || (self.config.two_sided_test && mean_decreased(self.state.x_max, z, log));
    }
}

/// The bound on the difference of the means of `earlier` (a prefix of the stream) and `z`
/// (the whole stream), as River's `_mean_incr` and `_mean_decr` compute it; `None` when the
/// two are the same sample. `log` is `ln(2 / confidence)`.
fn bound(earlier: Mean, z: Mean, log: f64) -> Option<f64> {
    if earlier.n == z.n {
        return None;
    }
    let m = (z.n - earlier.n) / earlier.n * (1.0 / z.n);
    Some((m / 2.0 * log).sqrt())
}

/// River's `_mean_incr`.
fn mean_increased(x_min: Mean, z: Mean, log: f64) -> bool {
    bound(x_min, z, log).is_some_and(|eps| z.mean - x_min.mean >= eps)
}

/// River's `_mean_decr`.
fn mean_decreased(x_max: Mean, z: Mean, log: f64) -> bool {
    bound(x_max, z, log).is_some_and(|eps| x_max.mean - z.mean >= eps)
}

impl Detector for HddmA {
    type Config = Config;
    const DESCRIPTION: &'static str =
        "HDDM-A: changes in the mean of a 0/1 error stream by Hoeffding's bound (River's HDDMA)";

    fn new(config: Config) -> Result<Self> {
        config.validate()?;
        Ok(HddmA::with_state(config, State::fresh(0)))
    }

    fn restore(snapshot: &[u8], config: Config) -> Result<Self> {
        config.validate()?;
        let state: State = stream::decode(snapshot, "HDDM-A")?;
        let z = state.z.n;
        if !(z <= state.seen as f64 && state.x_min.n <= z && state.x_max.n <= z) {
            return Err(stream::invalid("HDDM-A", "its counts are inconsistent"));
        }
        Ok(HddmA::with_state(config, state))
    }

    fn update(&mut self, values: &[f64]) -> Result<Vec<u64>> {
        stream::check_bits(values, "HDDM-A")?;
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

vigil_plugin_sdk::export_detector!(HddmA);

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_plugin_sdk::testing;

    #[test]
    fn defaults_are_rivers() {
        let config: Config = vigil_plugin_sdk::parse_config("").unwrap();
        assert_eq!(config.drift_confidence, 0.001);
        assert_eq!(config.warning_confidence, 0.005);
        assert!(!config.two_sided_test);
    }

    #[test]
    fn rejects_bad_config() {
        for (config, needle) in [
            (r#"{"drift_confidence": 0}"#, "drift_confidence"),
            (r#"{"warning_confidence": 1}"#, "warning_confidence"),
            (r#"{"two_sided": true}"#, "two_sided"),
        ] {
            match testing::detector::<HddmA>(config) {
                Err(Error::InvalidConfig(message)) => {
                    assert!(message.contains(needle), "{config}: {message}")
                }
                other => panic!("{config}: expected InvalidConfig, got {other:?}"),
            }
        }
    }

    #[test]
    fn values_other_than_bits_are_rejected() {
        let mut d = testing::detector::<HddmA>("").unwrap();
        assert!(matches!(
            d.update(&[0.0, -1.0]),
            Err(Error::InvalidInput(_))
        ));
        assert_eq!(
            d.snapshot(),
            testing::detector::<HddmA>("").unwrap().snapshot()
        );
    }

    #[test]
    fn rejects_malformed_snapshots() {
        let mut d = testing::detector::<HddmA>("").unwrap();
        d.update(&[1.0, 0.0, 1.0]).unwrap();
        let good = d.snapshot();
        let config = || vigil_plugin_sdk::parse_config("").unwrap();
        assert!(HddmA::restore(&good, config()).is_ok());
        for bytes in [
            Vec::new(),
            good[..good.len() - 1].to_vec(),
            [&good[..], &[0]].concat(),
        ] {
            assert!(matches!(
                HddmA::restore(&bytes, config()),
                Err(Error::InvalidInput(_))
            ));
        }
    }
}
