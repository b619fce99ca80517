//! `detect-ddm`: the Drift Detection Method (Gama et al., 2004) on a 0/1 error stream, as
//! River's `river.drift.binary.DDM` (0.26.1).
//!
//! DDM tracks the error rate `p` and its binomial standard deviation `s = sqrt(p (1 - p) / n)`,
//! remembers the smallest `p + s` seen after the warm start, and signals a change when
//! `p + s > p_min + drift_threshold * s_min`. The arithmetic follows River's step by step, so
//! the same stream gives the same detections; as in River, the statistics restart on the first
//! value after a detection. See `docs/detectors.md`.
//!
//! Values must be 0 (correct) or 1 (error). NaN marks a missing value: it is skipped and takes
//! no stream position.

use vigil_plugin_stats::stream;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use vigil_plugin_sdk::{Detector, Error, Result};

/// Configuration of DDM. The defaults are River's.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Values needed (since the start or the last detection) before a change can be signalled.
    #[serde(default = "default_warm_start")]
    pub warm_start: u64,
    /// Standard deviations above the minimum for a warning (kept for River parity; warnings
    /// are not reported). Greater than 0.
    #[serde(default = "default_warning_threshold")]
    pub warning_threshold: f64,
    /// Standard deviations above the minimum for a change. Greater than 0.
    #[serde(default = "default_drift_threshold")]
    pub drift_threshold: f64,
}

fn default_warm_start() -> u64 {
    30
}

fn default_warning_threshold() -> f64 {
    2.0
}

fn default_drift_threshold() -> f64 {
    3.0
}

impl Config {
    fn validate(&self) -> Result<()> {
        for (name, value) in [
            ("warning_threshold", self.warning_threshold),
            ("drift_threshold", self.drift_threshold),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return Err(Error::InvalidConfig(format!(
                    "{name} must be a finite number greater than 0, got {value}"
                )));
            }
        }
        Ok(())
    }
}

/// River's statistics; everything here goes into a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct State {
    /// Non-missing values received since creation: the position the next value takes.
    seen: u64,
    /// `stats.Mean.n` of the error indicator since the last reset.
    n: f64,
    /// `stats.Mean._mean`: the error rate.
    p: f64,
    /// `_p_min` and `_s_min`, unset until the warm start has passed.
    p_min: Option<f64>,
    s_min: Option<f64>,
    /// `_ps_min`.
    ps_min: f64,
    /// River's `drift_detected` after the last value; the next value resets the statistics.
    drift_detected: bool,
}

impl State {
    fn fresh(seen: u64) -> Self {
        State {
            seen,
            n: 0.0,
            p: 0.0,
            p_min: None,
            s_min: None,
            ps_min: f64::INFINITY,
            drift_detected: false,
        }
    }
}

/// The DDM detector.
#[derive(Debug, Clone)]
pub struct Ddm {
    config: Config,
    state: State,
}

impl Ddm {
    /// River's `update` for one value (0 or 1).
    fn step(&mut self, x: f64) {
        let config = &self.config;
        if self.state.drift_detected {
            self.state = State::fresh(self.state.seen);
        }
        let s = &mut self.state;
        s.n += 1.0;
        s.p += (1.0 / s.n) * (x - s.p);
        let p_i = s.p;
        let s_i = (p_i * (1.0 - p_i) / s.n).sqrt();
        if s.n > config.warm_start as f64 {
            if p_i + s_i <= s.ps_min {
                s.p_min = Some(p_i);
                s.s_min = Some(s_i);
                s.ps_min = p_i + s_i;
            }
            let (p_min, s_min) = (s.p_min.unwrap_or(0.0), s.s_min.unwrap_or(0.0));
            if p_i + s_i > p_min + config.drift_threshold * s_min {
                s.drift_detected = true;
            }
        }
    }
}

impl Detector for Ddm {
    type Config = Config;
    const DESCRIPTION: &'static str =
        "DDM: changes in the error rate of a 0/1 error stream (River's DDM)";

    fn new(config: Config) -> Result<Self> {
        config.validate()?;
        Ok(Ddm {
            config,
            state: State::fresh(0),
        })
    }

    fn restore(snapshot: &[u8], config: Config) -> Result<Self> {
        config.validate()?;
        let state: State = stream::decode(snapshot, "DDM")?;
        if !(state.n >= 0.0 && state.n.fract() == 0.0 && state.n <= state.seen as f64) {
            return Err(stream::invalid("DDM", "its value count is inconsistent"));
        }
        Ok(Ddm { config, state })
    }

    fn update(&mut self, values: &[f64]) -> Result<Vec<u64>> {
        stream::check_bits(values, "DDM")?;
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

vigil_plugin_sdk::export_detector!(Ddm);

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_plugin_sdk::testing;

    #[test]
    fn defaults_are_rivers() {
        let config: Config = vigil_plugin_sdk::parse_config("").unwrap();
        assert_eq!(config.warm_start, 30);
        assert_eq!(config.warning_threshold, 2.0);
        assert_eq!(config.drift_threshold, 3.0);
    }

    #[test]
    fn rejects_bad_config() {
        for (config, needle) in [
            (r#"{"drift_threshold": 0}"#, "drift_threshold"),
            (r#"{"warning_threshold": -1}"#, "warning_threshold"),
            (r#"{"warm_start": -1}"#, "-1"),
            (r#"{"delta": 3}"#, "delta"),
        ] {
            match testing::detector::<Ddm>(config) {
                Err(Error::InvalidConfig(message)) => {
                    assert!(message.contains(needle), "{config}: {message}")
                }
                other => panic!("{config}: expected InvalidConfig, got {other:?}"),
            }
        }
    }

    #[test]
    fn values_other_than_bits_are_rejected_without_changing_state() {
        let mut d = testing::detector::<Ddm>("").unwrap();
        d.update(&[1.0, 0.0]).unwrap();
        let before = d.snapshot();
        match d.update(&[1.0, 0.5]) {
            Err(Error::InvalidInput(message)) => {
                assert!(
                    message.contains("value 1") && message.contains("0.5"),
                    "{message}"
                )
            }
            other => panic!("expected InvalidInput, got {other:?}"),
        }
        assert_eq!(d.snapshot(), before);
    }

    #[test]
    fn rejects_malformed_snapshots() {
        let mut d = testing::detector::<Ddm>("").unwrap();
        d.update(&[1.0; 40]).unwrap();
        let good = d.snapshot();
        for bytes in [Vec::new(), good[..good.len() - 1].to_vec(), {
            let mut v = good.clone();
            v[0] = 9;
            v
        }] {
            assert!(matches!(
                Ddm::restore(&bytes, Config::default_for_tests()),
                Err(Error::InvalidInput(_))
            ));
        }
    }

    impl Config {
        fn default_for_tests() -> Self {
            vigil_plugin_sdk::parse_config("").unwrap()
        }
    }
}
