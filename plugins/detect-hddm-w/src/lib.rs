//! `detect-hddm-w`: HDDM-W (Frías-Blanco et al., 2014), the drift detection method based on
//! McDiarmid's bound with exponentially weighted moving averages, on a 0/1 error stream, as
//! River's `river.drift.binary.HDDMW` (0.26.1).
//!
//! The detector keeps an EWMA of the whole stream and, for each direction, a cut point: the
//! moment the EWMA plus its McDiarmid bound was lowest (for increases) or the EWMA minus the
//! bound highest (for decreases). It compares the EWMA up to the cut point with the EWMA of the
//! values after it, and signals a change when their difference exceeds the bound at
//! `drift_confidence`. The arithmetic follows River's step by step; as in River, the
//! statistics restart on the first value after a detection. See `docs/detectors.md`.
//!
//! Values must be 0 (correct) or 1 (error). NaN marks a missing value: it is skipped and takes
//! no stream position.

use vigil_plugin_stats::stream;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use vigil_plugin_sdk::{Detector, Error, Result};

/// Configuration of HDDM-W. The defaults are River's.
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
    /// Weight of the newest value in the moving averages. In (0, 1].
    #[serde(default = "default_lambda_val")]
    pub lambda_val: f64,
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

fn default_lambda_val() -> f64 {
    0.05
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
        if !(self.lambda_val > 0.0 && self.lambda_val <= 1.0) {
            return Err(Error::InvalidConfig(format!(
                "lambda_val must lie in (0, 1], got {}",
                self.lambda_val
            )));
        }
        Ok(())
    }
}

/// River's `SampleInfo`: an EWMA and its independent bounded condition (`ibc`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Sample {
    /// `EWMean.mean`; the first value sets it, later ones are weighted in.
    ewma: f64,
    /// `_is_init`: whether any value has been added (River's `EWMean.initialized` with it).
    is_init: bool,
    ibc: f64,
}

impl Sample {
    const EMPTY: Sample = Sample {
        ewma: 0.0,
        is_init: false,
        ibc: 1.0,
    };

    fn update(&mut self, x: f64, lambda: f64) {
        // River computes `1 - lambda` once, when the EWMean is created.
        let one_minus = 1.0 - lambda;
        self.ewma = if self.is_init {
            lambda * x + one_minus * self.ewma
        } else {
            x
        };
        self.is_init = true;
        // `lambd * lambd` and `(1 - lambd) ** 2`, each rounded once as Python rounds them.
        self.ibc = lambda * lambda + one_minus * one_minus * self.ibc;
    }
}

/// River's statistics; everything here goes into a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct State {
    /// Non-missing values received since creation: the position the next value takes.
    seen: u64,
    total: Sample,
    s1_decr: Sample,
    s1_incr: Sample,
    s2_decr: Sample,
    s2_incr: Sample,
    incr_cutpoint: f64,
    decr_cutpoint: f64,
    /// River's `drift_detected` after the last value; the next value resets the statistics.
    drift_detected: bool,
}

impl State {
    fn fresh(seen: u64) -> Self {
        State {
            seen,
            total: Sample::EMPTY,
            s1_decr: Sample::EMPTY,
            s1_incr: Sample::EMPTY,
            s2_decr: Sample::EMPTY,
            s2_incr: Sample::EMPTY,
            incr_cutpoint: f64::INFINITY,
            decr_cutpoint: f64::NEG_INFINITY,
            drift_detected: false,
        }
    }
}

/// The HDDM-W detector.
#[derive(Debug, Clone)]
pub struct HddmW {
    config: Config,
    state: State,
    /// `ln(1 / drift_confidence)`, which River recomputes for every bound; computed once, it
    /// is the same number.
    ln_inverse_confidence: f64,
}

/// River's `_mcdiarmid_bound`, with `log` = `ln(1 / confidence)`.
fn mcdiarmid_bound(ibc: f64, log: f64) -> f64 {
    (ibc * log / 2.0).sqrt()
}

/// River's `_has_mean_changed`: whether `later`'s EWMA exceeds `earlier`'s by more than the
/// bound.
fn mean_changed(earlier: Sample, later: Sample, log: f64) -> bool {
    if !(earlier.is_init && later.is_init) {
        return false;
    }
    let bound = mcdiarmid_bound(earlier.ibc + later.ibc, log);
    later.ewma - earlier.ewma > bound
}

impl HddmW {
    fn with_state(config: Config, state: State) -> Self {
        HddmW {
            ln_inverse_confidence: (1.0 / config.drift_confidence).ln(),
            config,
            state,
        }
    }

    /// River's `update` for one value (0 or 1).
    fn step(&mut self, x: f64) {
        let lambda = self.config.lambda_val;
        let log = self.ln_inverse_confidence;
        if self.state.drift_detected {
            self.state = State::fresh(self.state.seen);
        }
        let s = &mut self.state;
        s.total.update(x, lambda);

        // `_update_incr_stats`.
        let eps = mcdiarmid_bound(s.total.ibc, log);
        if s.total.ewma + eps < s.incr_cutpoint {
            s.incr_cutpoint = s.total.ewma + eps;
            s.s1_incr = s.total;
            s.s2_incr = Sample::EMPTY;
        } else {
            s.s2_incr.update(x, lambda);
        }
        let mut detected = mean_changed(s.s1_incr, s.s2_incr, log);

        // `_update_decr_stats`.
        let eps = mcdiarmid_bound(s.total.ibc, log);
        if s.total.ewma - eps > s.decr_cutpoint {
            s.decr_cutpoint = s.total.ewma - eps;
            s.s1_decr = s.total;
            s.s2_decr = Sample::EMPTY;
        } else {
            s.s2_decr.update(x, lambda);
        }
        if self.config.two_sided_test && mean_changed(s.s2_decr, s.s1_decr, log) {
            detected = true;
        }
        s.drift_detected = detected;
    }
}

impl Detector for HddmW {
    type Config = Config;
    const DESCRIPTION: &'static str = "HDDM-W: changes in the weighted mean of a 0/1 error stream by McDiarmid's bound \
         (River's HDDMW)";

    fn new(config: Config) -> Result<Self> {
        config.validate()?;
        Ok(HddmW::with_state(config, State::fresh(0)))
    }

    fn restore(snapshot: &[u8], config: Config) -> Result<Self> {
        config.validate()?;
        let state: State = stream::decode(snapshot, "HDDM-W")?;
        Ok(HddmW::with_state(config, state))
    }

    fn update(&mut self, values: &[f64]) -> Result<Vec<u64>> {
        stream::check_bits(values, "HDDM-W")?;
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

vigil_plugin_sdk::export_detector!(HddmW);

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_plugin_sdk::testing;

    #[test]
    fn defaults_are_rivers() {
        let config: Config = vigil_plugin_sdk::parse_config("").unwrap();
        assert_eq!(config.drift_confidence, 0.001);
        assert_eq!(config.warning_confidence, 0.005);
        assert_eq!(config.lambda_val, 0.05);
        assert!(!config.two_sided_test);
    }

    #[test]
    fn rejects_bad_config() {
        for (config, needle) in [
            (r#"{"drift_confidence": 1}"#, "drift_confidence"),
            (r#"{"lambda_val": 0}"#, "lambda_val"),
            (r#"{"lambda": 0.1}"#, "lambda"),
        ] {
            match testing::detector::<HddmW>(config) {
                Err(Error::InvalidConfig(message)) => {
                    assert!(message.contains(needle), "{config}: {message}")
                }
                other => panic!("{config}: expected InvalidConfig, got {other:?}"),
            }
        }
    }

    #[test]
    fn values_other_than_bits_are_rejected() {
        let mut d = testing::detector::<HddmW>("").unwrap();
        assert!(matches!(d.update(&[0.0, 0.3]), Err(Error::InvalidInput(_))));
        assert_eq!(
            d.snapshot(),
            testing::detector::<HddmW>("").unwrap().snapshot()
        );
    }

    #[test]
    fn rejects_malformed_snapshots() {
        let mut d = testing::detector::<HddmW>("").unwrap();
        d.update(&[1.0, 0.0, 1.0]).unwrap();
        let good = d.snapshot();
        let config = || vigil_plugin_sdk::parse_config("").unwrap();
        assert!(HddmW::restore(&good, config()).is_ok());
        for bytes in [
            Vec::new(),
            good[..good.len() - 1].to_vec(),
            [&good[..], &[0]].concat(),
        ] {
            assert!(matches!(
                HddmW::restore(&bytes, config()),
                Err(Error::InvalidInput(_))
            ));
        }
    }
}
