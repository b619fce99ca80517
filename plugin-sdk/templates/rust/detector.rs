//! `{{name}}`: a two-sided CUSUM on the stream's running mean: flags a change when the
//! cumulative deviation passes `threshold`, then starts over. Replace `update` with yours; the
//! host keeps the detector's state between windows through `snapshot` and `restore`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use vigil_plugin_sdk::{Detector, Error, Result};

/// The plugin's settings.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Cumulative deviation that is a change.
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// Deviation ignored at each step.
    #[serde(default = "default_drift")]
    pub drift: f64,
}

fn default_threshold() -> f64 {
    5.0
}

fn default_drift() -> f64 {
    0.5
}

/// Everything the detector remembers between windows.
#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    seen: u64,
    count: u64,
    mean: f64,
    high: f64,
    low: f64,
}

/// The detector.
pub struct {{class}} {
    config: Config,
    state: State,
}

impl {{class}} {
    fn with(config: Config, state: State) -> Result<Self> {
        if config.threshold <= 0.0 {
            return Err(Error::InvalidConfig(format!(
                "threshold must be positive, got {}",
                config.threshold
            )));
        }
        Ok({{class}} { config, state })
    }
}

impl Detector for {{class}} {
    type Config = Config;
    const DESCRIPTION: &'static str = "{{description}}";

    fn new(config: Config) -> Result<Self> {
        Self::with(config, State::default())
    }

    fn restore(snapshot: &[u8], config: Config) -> Result<Self> {
        let state = serde_json::from_slice(snapshot)
            .map_err(|e| Error::InvalidInput(format!("unreadable snapshot: {e}")))?;
        Self::with(config, state)
    }

    fn update(&mut self, values: &[f64]) -> Result<Vec<u64>> {
        let (config, s) = (&self.config, &mut self.state);
        let mut found = Vec::new();
        for &value in values.iter().filter(|v| !v.is_nan()) {
            let position = s.seen;
            s.seen += 1;
            s.count += 1;
            s.mean += (value - s.mean) / s.count as f64;
            s.high = (s.high + value - s.mean - config.drift).max(0.0);
            s.low = (s.low + s.mean - value - config.drift).max(0.0);
            if s.high > config.threshold || s.low > config.threshold {
                found.push(position);
                *s = State { seen: s.seen, ..State::default() };
            }
        }
        Ok(found)
    }

    fn snapshot(&self) -> Vec<u8> {
        serde_json::to_vec(&self.state).expect("the state serializes")
    }
}

vigil_plugin_sdk::export_detector!({{class}});

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_plugin_sdk::testing::{detector, detector_round_trip};

    #[test]
    fn a_jump_is_found_once_across_a_snapshot_and_a_flat_stream_never() {
        let mut flat = detector::<{{class}}>("{}").unwrap();
        assert!(flat.update(&[1.0; 100]).unwrap().is_empty());
        let mut stream = detector::<{{class}}>("{}").unwrap();
        assert!(stream.update(&[0.0; 100]).unwrap().is_empty());
        let mut resumed = detector_round_trip(&stream, "{}").unwrap();
        let found = resumed.update(&[10.0; 20]).unwrap();
        assert!((100..105).contains(&found[0]), "{found:?}");
        assert!(detector::<{{class}}>(r#"{"threshold": 0}"#).is_err());
    }
}
