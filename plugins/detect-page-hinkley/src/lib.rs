//! `detect-page-hinkley`: the Page-Hinkley change detector, as River's
//! `river.drift.PageHinkley` (0.26).
//!
//! The arithmetic follows River step by step — a running mean updated as
//! `mean += (1 / n) * (x - mean)`, the two faded cumulative sums, the running extremes and the
//! `min_instances` gate — so that the same stream gives the same detections, bit for bit. As in
//! River, the statistics are reset on the first value after a detection.
//!
//! Stream positions: NaN marks a missing value and is skipped entirely. It does not reach the
//! statistics and does not count as a stream position, so position `p` is the `p`-th non-missing
//! value the detector has received since it was created (over all `update` calls and snapshot
//! round trips). A stream with its NaNs removed, fed to River, reports the same indices.
//!
//! Infinite values are rejected: River would accept them, but one infinity turns the running
//! mean into NaN for good and silences the detector until it is recreated.

use schemars::JsonSchema;
use serde::Deserialize;
use vigil_plugin_sdk::{Detector, Error, Result};

/// Configuration of the Page-Hinkley detector. The defaults are River's.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Values needed (since the start or the last detection) before a change can be signalled.
    #[serde(default = "default_min_instances")]
    pub min_instances: u64,
    /// Tolerated deviation: subtracted from (or, for decreases, added to) every deviation
    /// before it is accumulated. At least 0.
    #[serde(default = "default_delta")]
    pub delta: f64,
    /// The change-detection threshold (lambda); a change is signalled when the cumulative
    /// statistic exceeds it. Greater than 0.
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// Forgetting factor applied to the cumulative sums at every value; 1 means no forgetting.
    /// In (0, 1].
    #[serde(default = "default_alpha")]
    pub alpha: f64,
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

fn default_min_instances() -> u64 {
    30
}

fn default_delta() -> f64 {
    0.005
}

fn default_threshold() -> f64 {
    50.0
}

fn default_alpha() -> f64 {
    // Written as River writes it, so the default is the same f64.
    1.0 - 0.0001
}

impl Default for Config {
    fn default() -> Self {
        Config {
            min_instances: default_min_instances(),
            delta: default_delta(),
            threshold: default_threshold(),
            alpha: default_alpha(),
            mode: Mode::default(),
        }
    }
}

impl Config {
    fn validate(&self) -> Result<()> {
        if !(self.delta.is_finite() && self.delta >= 0.0) {
            return Err(Error::InvalidConfig(format!(
                "delta must be a finite number of at least 0, got {}",
                self.delta
            )));
        }
        if !(self.threshold.is_finite() && self.threshold > 0.0) {
            return Err(Error::InvalidConfig(format!(
                "threshold must be a finite number greater than 0, got {}",
                self.threshold
            )));
        }
        if !(self.alpha > 0.0 && self.alpha <= 1.0) {
            return Err(Error::InvalidConfig(format!(
                "alpha must lie in (0, 1] (1 means no forgetting), got {}",
                self.alpha
            )));
        }
        Ok(())
    }
}

/// The statistics River keeps between values; everything here goes into a snapshot.
#[derive(Debug, Clone, Copy, PartialEq)]
struct State {
    /// Non-missing values received since creation: the position the next value will take.
    seen: u64,
    /// `stats.Mean.n`: values since the last reset, as the f64 River counts them in.
    n: f64,
    /// `stats.Mean._mean`.
    mean: f64,
    sum_increase: f64,
    sum_decrease: f64,
    min_increase: f64,
    max_decrease: f64,
    /// River's `drift_detected` after the last value; the next value resets the statistics.
    drift_detected: bool,
}

impl State {
    fn fresh() -> Self {
        let mut state = State {
            seen: 0,
            n: 0.0,
            mean: 0.0,
            sum_increase: 0.0,
            sum_decrease: 0.0,
            min_increase: 0.0,
            max_decrease: 0.0,
            drift_detected: false,
        };
        state.reset();
        state
    }

    /// River's `_reset`; `seen` is ours and survives.
    fn reset(&mut self) {
        self.n = 0.0;
        self.mean = 0.0;
        self.sum_increase = 0.0;
        self.sum_decrease = 0.0;
        self.min_increase = f64::INFINITY;
        // River's starting value, kept for fidelity: the first value after a reset has zero
        // deviation, so with delta >= 0 it always lifts the maximum off -1.
        self.max_decrease = -1.0;
        self.drift_detected = false;
    }
}

/// The Page-Hinkley detector.
#[derive(Debug, Clone)]
pub struct PageHinkley {
    config: Config,
    state: State,
}

/// Format version written as the first snapshot byte.
const SNAPSHOT_VERSION: u8 = 1;
/// Version byte, `seen` (u64), six f64 fields, the detection flag.
const SNAPSHOT_LEN: usize = 1 + 8 + 6 * 8 + 1;

impl PageHinkley {
    /// River's `update` for one value.
    fn step(&mut self, x: f64) {
        let config = &self.config;
        let s = &mut self.state;
        if s.drift_detected {
            s.reset();
        }

        s.n += 1.0;
        s.mean += (1.0 / s.n) * (x - s.mean);
        let dev = x - s.mean;

        s.sum_increase = config.alpha * s.sum_increase + dev - config.delta;
        s.sum_decrease = config.alpha * s.sum_decrease + dev + config.delta;

        if s.sum_increase < s.min_increase {
            s.min_increase = s.sum_increase;
        }
        if s.sum_decrease > s.max_decrease {
            s.max_decrease = s.sum_decrease;
        }

        // Below the gate River leaves `drift_detected` as it was, which after a reset is false.
        if s.n >= config.min_instances as f64 {
            let test_increase = s.sum_increase - s.min_increase;
            let test_decrease = s.max_decrease - s.sum_decrease;
            s.drift_detected = match config.mode {
                Mode::Up => test_increase > config.threshold,
                Mode::Down => test_decrease > config.threshold,
                Mode::Both => test_increase > config.threshold || test_decrease > config.threshold,
            };
        }
    }
}

impl Detector for PageHinkley {
    type Config = Config;
    const DESCRIPTION: &'static str =
        "Page-Hinkley test for changes in the mean of a stream (River's PageHinkley)";

    fn new(config: Config) -> Result<Self> {
        config.validate()?;
        Ok(PageHinkley {
            config,
            state: State::fresh(),
        })
    }

    fn restore(snapshot: &[u8], config: Config) -> Result<Self> {
        config.validate()?;
        let state = decode(snapshot)?;
        Ok(PageHinkley { config, state })
    }

    fn update(&mut self, values: &[f64]) -> Result<Vec<u64>> {
        // Checked up front so that a rejected call leaves the state untouched.
        if let Some(index) = values.iter().position(|v| v.is_infinite()) {
            return Err(Error::InvalidInput(format!(
                "value {index} of this update is {}; the detector takes finite numbers \
                 (NaN marks a missing value and is skipped)",
                values[index]
            )));
        }
        let mut detections = Vec::new();
        for &x in values {
            if x.is_nan() {
                continue;
            }
            self.step(x);
            if self.state.drift_detected {
                detections.push(self.state.seen);
            }
            self.state.seen += 1;
        }
        Ok(detections)
    }

    fn snapshot(&self) -> Vec<u8> {
        let s = &self.state;
        let mut out = Vec::with_capacity(SNAPSHOT_LEN);
        out.push(SNAPSHOT_VERSION);
        out.extend_from_slice(&s.seen.to_le_bytes());
        for field in [
            s.n,
            s.mean,
            s.sum_increase,
            s.sum_decrease,
            s.min_increase,
            s.max_decrease,
        ] {
            out.extend_from_slice(&field.to_bits().to_le_bytes());
        }
        out.push(u8::from(s.drift_detected));
        out
    }
}

/// Parses a snapshot written by [`Detector::snapshot`], rejecting anything it could not have
/// written.
fn decode(bytes: &[u8]) -> Result<State> {
    let invalid =
        |what: String| Error::InvalidInput(format!("invalid Page-Hinkley snapshot: {what}"));
    let Some(&version) = bytes.first() else {
        return Err(invalid("it is empty".to_string()));
    };
    if version != SNAPSHOT_VERSION {
        return Err(invalid(format!(
            "format version {version} is not supported (expected {SNAPSHOT_VERSION})"
        )));
    }
    if bytes.len() != SNAPSHOT_LEN {
        return Err(invalid(format!(
            "expected {SNAPSHOT_LEN} bytes, got {}",
            bytes.len()
        )));
    }
    let word = |i: usize| {
        let start = 9 + 8 * i;
        let mut raw = [0u8; 8];
        raw.copy_from_slice(&bytes[start..start + 8]);
        f64::from_bits(u64::from_le_bytes(raw))
    };
    let mut seen = [0u8; 8];
    seen.copy_from_slice(&bytes[1..9]);
    let seen = u64::from_le_bytes(seen);
    let drift_detected = match bytes[SNAPSHOT_LEN - 1] {
        0 => false,
        1 => true,
        other => return Err(invalid(format!("detection flag is {other}, not 0 or 1"))),
    };
    let state = State {
        seen,
        n: word(0),
        mean: word(1),
        sum_increase: word(2),
        sum_decrease: word(3),
        min_increase: word(4),
        max_decrease: word(5),
        drift_detected,
    };
    // The count since the last reset is a whole number no larger than the count since creation.
    if !(state.n >= 0.0 && state.n.fract() == 0.0 && state.n <= seen as f64) {
        return Err(invalid(format!(
            "value count {} is inconsistent with {seen} values seen",
            state.n
        )));
    }
    if drift_detected && state.n == 0.0 {
        return Err(invalid(
            "a detection is flagged before any value".to_string(),
        ));
    }
    Ok(state)
}

vigil_plugin_sdk::export_detector!(PageHinkley);

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_plugin_sdk::testing;

    fn detector(config: &str) -> PageHinkley {
        testing::detector::<PageHinkley>(config).expect("valid config")
    }

    fn shifted_stream() -> Vec<f64> {
        // A deterministic up-shift: period-7 wobble around 0, then around 3.
        (0..400)
            .map(|i| f64::from(i % 7) * 0.3 - 0.9 + if i >= 200 { 3.0 } else { 0.0 })
            .collect()
    }

    #[test]
    fn defaults_are_rivers() {
        let config: Config = vigil_plugin_sdk::parse_config("").unwrap();
        assert_eq!(config.min_instances, 30);
        assert_eq!(config.delta, 0.005);
        assert_eq!(config.threshold, 50.0);
        assert_eq!(config.alpha, 0.9999);
        assert_eq!(config.mode, Mode::Both);
    }

    #[test]
    fn rejects_bad_config() {
        for (config, needle) in [
            (r#"{"delta": -0.1}"#, "delta"),
            (r#"{"threshold": 0}"#, "threshold"),
            (r#"{"alpha": 0}"#, "alpha"),
            (r#"{"alpha": 1.5}"#, "alpha"),
            (r#"{"mode": "sideways"}"#, "sideways"),
            (r#"{"min_instances": -1}"#, "-1"),
            (r#"{"lambda": 3}"#, "lambda"),
        ] {
            match testing::detector::<PageHinkley>(config) {
                Err(Error::InvalidConfig(message)) => {
                    assert!(message.contains(needle), "{config}: {message}")
                }
                other => panic!("{config}: expected InvalidConfig, got {other:?}"),
            }
        }
    }

    #[test]
    fn restore_validates_config() {
        let snapshot = detector("").snapshot();
        let config = Config {
            alpha: 2.0,
            ..Config::default()
        };
        assert!(matches!(
            PageHinkley::restore(&snapshot, config),
            Err(Error::InvalidConfig(_))
        ));
    }

    #[test]
    fn nan_is_skipped_and_takes_no_position() {
        let stream = shifted_stream();
        let mut with_gaps = Vec::new();
        for (i, &x) in stream.iter().enumerate() {
            with_gaps.push(x);
            if i % 5 == 0 {
                with_gaps.push(f64::NAN);
            }
        }
        let clean = detector("").update(&stream).unwrap();
        assert!(!clean.is_empty());
        assert_eq!(detector("").update(&with_gaps).unwrap(), clean);
    }

    #[test]
    fn infinite_values_are_rejected_without_changing_state() {
        let mut d = detector("");
        d.update(&[1.0, 2.0]).unwrap();
        let before = d.snapshot();
        match d.update(&[3.0, f64::NEG_INFINITY]) {
            Err(Error::InvalidInput(message)) => assert!(message.contains("value 1")),
            other => panic!("expected InvalidInput, got {other:?}"),
        }
        assert_eq!(d.snapshot(), before);
    }

    #[test]
    fn empty_update_detects_nothing() {
        let mut d = detector("");
        assert_eq!(d.update(&[]).unwrap(), Vec::<u64>::new());
        assert_eq!(d.snapshot(), detector("").snapshot());
    }

    #[test]
    fn snapshot_round_trip_is_exact() {
        let stream = shifted_stream();
        let mut d = detector(r#"{"mode": "up"}"#);
        let found = d.update(&stream).unwrap();
        assert!(!found.is_empty());
        let restored = testing::detector_round_trip(&d, r#"{"mode": "up"}"#).unwrap();
        assert_eq!(restored.state, d.state);
        assert_eq!(restored.snapshot(), d.snapshot());
    }

    #[test]
    fn snapshot_layout() {
        let snapshot = detector("").snapshot();
        assert_eq!(snapshot.len(), SNAPSHOT_LEN);
        assert_eq!(snapshot[0], SNAPSHOT_VERSION);
        // A fresh detector: nothing seen, the running minimum at +inf, the maximum at -1.
        assert_eq!(&snapshot[1..9], &0u64.to_le_bytes());
        assert_eq!(&snapshot[41..49], &f64::INFINITY.to_bits().to_le_bytes());
        assert_eq!(&snapshot[49..57], &(-1.0f64).to_bits().to_le_bytes());
        assert_eq!(snapshot[57], 0);
    }

    #[test]
    fn rejects_malformed_snapshots() {
        let mut d = detector("");
        d.update(&shifted_stream()[..50]).unwrap();
        let good = d.snapshot();

        let mut cases: Vec<(Vec<u8>, &str)> = vec![
            (Vec::new(), "empty"),
            (good[..good.len() - 1].to_vec(), "bytes"),
            ([good.as_slice(), &[0]].concat(), "bytes"),
        ];
        let mut version = good.clone();
        version[0] = 2;
        cases.push((version, "version"));
        let mut flag = good.clone();
        flag[SNAPSHOT_LEN - 1] = 7;
        cases.push((flag, "flag"));
        let mut count = good.clone();
        count[9..17].copy_from_slice(&1e9f64.to_bits().to_le_bytes());
        cases.push((count, "count"));
        let mut fraction = good.clone();
        fraction[9..17].copy_from_slice(&2.5f64.to_bits().to_le_bytes());
        cases.push((fraction, "count"));
        let mut nan_count = good;
        nan_count[9..17].copy_from_slice(&f64::NAN.to_bits().to_le_bytes());
        cases.push((nan_count, "count"));

        for (bytes, needle) in cases {
            match PageHinkley::restore(&bytes, Config::default()) {
                Err(Error::InvalidInput(message)) => {
                    assert!(message.contains(needle), "{message}")
                }
                other => panic!("expected InvalidInput, got {other:?}"),
            }
        }
    }

    #[test]
    fn detection_flag_survives_a_snapshot() {
        // Split right after a detection: the reset must happen on the first value after restore.
        let stream = shifted_stream();
        let all = detector("").update(&stream).unwrap();
        let first = all[0] as usize;
        let mut d = detector("");
        let mut found = d.update(&stream[..=first]).unwrap();
        assert!(d.state.drift_detected);
        let mut d = testing::detector_round_trip(&d, "").unwrap();
        found.extend(d.update(&stream[first + 1..]).unwrap());
        assert_eq!(found, all);
    }

    #[test]
    fn modes_pick_directions() {
        let up: Vec<f64> = shifted_stream();
        let down: Vec<f64> = up.iter().map(|x| -x).collect();
        assert!(
            !detector(r#"{"mode": "up"}"#)
                .update(&up)
                .unwrap()
                .is_empty()
        );
        assert!(
            detector(r#"{"mode": "down"}"#)
                .update(&up)
                .unwrap()
                .is_empty()
        );
        assert!(
            detector(r#"{"mode": "up"}"#)
                .update(&down)
                .unwrap()
                .is_empty()
        );
        assert!(
            !detector(r#"{"mode": "down"}"#)
                .update(&down)
                .unwrap()
                .is_empty()
        );
    }
}
