//! `detect-eddm`: the Early Drift Detection Method (Baena-García et al., 2006) on a 0/1 error
//! stream, as River's `river.drift.binary.EDDM` (0.26.1).
//!
//! EDDM watches the distance (in values) between consecutive errors: their mean `p'` and
//! standard deviation `s'`, and the largest `p' + 2 s'` seen. Once both the values and the
//! errors since the last reset exceed the warm start, a change is signalled when
//! `(p' + 2 s') / max(p' + 2 s') < beta`. The arithmetic follows River's step by step; as in
//! River, the statistics restart on the first value after a detection. See `docs/detectors.md`.
//!
//! Values must be 0 (correct) or 1 (error). NaN marks a missing value: it is skipped and takes
//! no stream position.

use vigil_plugin_stats::stream;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use vigil_plugin_sdk::{Detector, Error, Result};

/// Configuration of EDDM. The defaults are River's.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Values and errors needed (since the start or the last detection) before a change can
    /// be signalled.
    #[serde(default = "default_warm_start")]
    pub warm_start: u64,
    /// Warning level (kept for River parity; warnings are not reported). At least `beta`.
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Change level: a change is signalled when the ratio falls below it. In (0, 1].
    #[serde(default = "default_beta")]
    pub beta: f64,
}

fn default_warm_start() -> u64 {
    30
}

fn default_alpha() -> f64 {
    0.95
}

fn default_beta() -> f64 {
    0.9
}

impl Config {
    fn validate(&self) -> Result<()> {
        if !(self.beta > 0.0 && self.beta <= 1.0) {
            return Err(Error::InvalidConfig(format!(
                "beta must lie in (0, 1], got {}",
                self.beta
            )));
        }
        if !(self.alpha >= self.beta && self.alpha <= 1.0) {
            return Err(Error::InvalidConfig(format!(
                "alpha must lie between beta ({}) and 1, got {}",
                self.beta, self.alpha
            )));
        }
        Ok(())
    }
}

/// River's statistics; everything here goes into a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct State {
    /// Non-missing values received since creation: the position the next value takes.
    seen: u64,
    /// `_n`: values since the last reset.
    n: u64,
    /// `_last_error`: the value count at the last error.
    last_error: u64,
    /// `_n_errors`.
    n_errors: u64,
    /// `stats.Var` of the distances between errors: its mean's `n` and `_mean`, and `_S`.
    distances_n: f64,
    distances_mean: f64,
    distances_s: f64,
    /// `_p2s_prime_max`.
    p2s_prime_max: f64,
    /// River's `drift_detected` after the last value; the next value resets the statistics.
    drift_detected: bool,
}

impl State {
    fn fresh(seen: u64) -> Self {
        State {
            seen,
            n: 0,
            last_error: 0,
            n_errors: 0,
            distances_n: 0.0,
            distances_mean: 0.0,
            distances_s: 0.0,
            p2s_prime_max: -1.0,
            drift_detected: false,
        }
    }

    /// `stats.Var.update` (ddof 1).
    fn add_distance(&mut self, x: f64) {
        let mean_old = self.distances_mean;
        self.distances_n += 1.0;
        self.distances_mean += (1.0 / self.distances_n) * (x - self.distances_mean);
        self.distances_s += 1.0 * (x - mean_old) * (x - self.distances_mean);
    }

    /// `stats.Var.get` (ddof 1).
    fn distances_variance(&self) -> f64 {
        if self.distances_n > 1.0 {
            self.distances_s / (self.distances_n - 1.0)
        } else {
            0.0
        }
    }
}

/// The EDDM detector.
#[derive(Debug, Clone)]
pub struct Eddm {
    config: Config,
    state: State,
}

impl Eddm {
    /// River's `update` for one value (0 or 1).
    fn step(&mut self, x: f64) {
        let config = &self.config;
        if self.state.drift_detected {
            self.state = State::fresh(self.state.seen);
        }
        let s = &mut self.state;
        s.n += 1;
        if x == 1.0 {
            s.n_errors += 1;
            s.add_distance((s.n - s.last_error) as f64);
            if s.n > config.warm_start {
                let pi_prime = s.distances_mean;
                let si_prime = s.distances_variance().sqrt();
                let p2s_prime = pi_prime + 2.0 * si_prime;
                if p2s_prime > s.p2s_prime_max {
                    s.p2s_prime_max = p2s_prime;
                } else if s.n_errors > config.warm_start {
                    let level = p2s_prime / s.p2s_prime_max;
                    if level < config.beta {
                        s.drift_detected = true;
                    }
                }
            }
            s.last_error = s.n;
        }
    }
}

impl Detector for Eddm {
    type Config = Config;
    const DESCRIPTION: &'static str =
        "EDDM: changes in the distance between errors of a 0/1 error stream (River's EDDM)";

    fn new(config: Config) -> Result<Self> {
        config.validate()?;
        Ok(Eddm {
            config,
            state: State::fresh(0),
        })
    }

    fn restore(snapshot: &[u8], config: Config) -> Result<Self> {
        config.validate()?;
        let state: State = stream::decode(snapshot, "EDDM")?;
        if !(state.n <= state.seen
            && state.last_error <= state.n
            && state.n_errors <= state.n
            && state.distances_n == state.n_errors as f64)
        {
            return Err(stream::invalid("EDDM", "its counts are inconsistent"));
        }
        Ok(Eddm { config, state })
    }

    fn update(&mut self, values: &[f64]) -> Result<Vec<u64>> {
        stream::check_bits(values, "EDDM")?;
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

vigil_plugin_sdk::export_detector!(Eddm);

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_plugin_sdk::testing;

    #[test]
    fn defaults_are_rivers() {
        let config: Config = vigil_plugin_sdk::parse_config("").unwrap();
        assert_eq!(config.warm_start, 30);
        assert_eq!(config.alpha, 0.95);
        assert_eq!(config.beta, 0.9);
    }

    #[test]
    fn rejects_bad_config() {
        for (config, needle) in [
            (r#"{"beta": 0}"#, "beta"),
            (r#"{"alpha": 0.8, "beta": 0.9}"#, "alpha"),
            (r#"{"alpha": 1.5}"#, "alpha"),
            (r#"{"gamma": 3}"#, "gamma"),
        ] {
            match testing::detector::<Eddm>(config) {
                Err(Error::InvalidConfig(message)) => {
                    assert!(message.contains(needle), "{config}: {message}")
                }
                other => panic!("{config}: expected InvalidConfig, got {other:?}"),
            }
        }
    }

    #[test]
    fn values_other_than_bits_are_rejected_without_changing_state() {
        let mut d = testing::detector::<Eddm>("").unwrap();
        d.update(&[1.0, 0.0]).unwrap();
        let before = d.snapshot();
        assert!(matches!(d.update(&[1.0, 2.0]), Err(Error::InvalidInput(_))));
        assert_eq!(d.snapshot(), before);
    }

    #[test]
    fn rejects_malformed_snapshots() {
        let mut d = testing::detector::<Eddm>("").unwrap();
        d.update(&[1.0, 0.0, 1.0]).unwrap();
        let good = d.snapshot();
        let config = || vigil_plugin_sdk::parse_config("").unwrap();
        assert!(Eddm::restore(&good, config()).is_ok());
        for bytes in [
            Vec::new(),
            good[..good.len() - 1].to_vec(),
            [&good[..], &[0]].concat(),
        ] {
            assert!(matches!(
                Eddm::restore(&bytes, config()),
                Err(Error::InvalidInput(_))
            ));
        }
    }
}
