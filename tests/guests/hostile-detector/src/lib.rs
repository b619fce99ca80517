//! A detector that returns far more change points than it was given values, to check the
//! host's cap on what a plugin may return.

use schemars::JsonSchema;
use serde::Deserialize;
use vigil_plugin_sdk::{Detector, Result};

/// Configuration: how many positions to return per update.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Config {
    /// Positions returned by every `update`.
    pub positions: u64,
}

/// The detector.
pub struct Flood {
    positions: u64,
}

impl Detector for Flood {
    type Config = Config;
    const DESCRIPTION: &'static str = "Returns a huge list on purpose (host containment tests)";

    fn new(config: Config) -> Result<Self> {
        Ok(Flood {
            positions: config.positions,
        })
    }

    fn restore(_snapshot: &[u8], config: Config) -> Result<Self> {
        Self::new(config)
    }

    fn update(&mut self, _values: &[f64]) -> Result<Vec<u64>> {
        Ok((0..self.positions).collect())
    }

    fn snapshot(&self) -> Vec<u8> {
        Vec::new()
    }
}

vigil_plugin_sdk::export_detector!(Flood);
