//! A drift test that misbehaves on purpose, chosen by its configuration, so the tests can
//! check that the host contains each failure and keeps serving.

use std::io::Write;

use schemars::JsonSchema;
use serde::Deserialize;
use vigil_hostile::{Mode as Shared, misbehave};
use vigil_plugin_sdk::{ColumnData, ColumnKind, DriftResult, DriftTest, Error, Result, ScoreKind};

/// Which failure to commit in `evaluate`: the modes every hostile guest shares
/// (`vigil-hostile`), and three of a drift test's own.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Return a normal result.
    Behave,
    /// Spin forever.
    Loop,
    /// Allocate until the memory cap stops it.
    MemoryBomb,
    /// Recurse without bound.
    Recursion,
    /// Panic with a message.
    Panic,
    /// Write 100 MB to stdout, then return normally.
    StdoutFlood,
    /// Log thousands of records, then return normally.
    LogFlood,
    /// Return a NaN statistic.
    NanStatistic,
    /// Return a plugin error.
    Refuse,
}

/// Configuration: the failure mode.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Config {
    /// What to do in `evaluate`.
    pub mode: Mode,
}

/// The misbehaving test.
pub struct Hostile {
    mode: Mode,
}

impl DriftTest for Hostile {
    type Config = Config;
    const DESCRIPTION: &'static str = "Misbehaves on purpose (host containment tests)";
    const COLUMN_KINDS: &'static [ColumnKind] = &[ColumnKind::Numeric, ColumnKind::Categorical];
    const SCORE: ScoreKind = ScoreKind::PValue;

    fn new(_reference: ColumnData, config: Config) -> Result<Self> {
        Ok(Hostile { mode: config.mode })
    }

    fn evaluate(&self, current: ColumnData) -> Result<DriftResult> {
        let ok = DriftResult {
            statistic: current.len() as f64,
            p_value: Some(1.0),
            threshold: 0.05,
            drifted: false,
        };
        let shared = match self.mode {
            Mode::Behave => Some(Shared::Behave),
            Mode::Loop => Some(Shared::Loop),
            Mode::MemoryBomb => Some(Shared::MemoryBomb),
            Mode::Recursion => Some(Shared::Recursion),
            Mode::Panic => Some(Shared::Panic),
            Mode::Refuse => Some(Shared::Refuse),
            Mode::StdoutFlood | Mode::LogFlood | Mode::NanStatistic => None,
        };
        if let Some(shared) = shared {
            misbehave(shared).map_err(Error::InvalidInput)?;
            return Ok(ok);
        }
        match self.mode {
            Mode::StdoutFlood => {
                let chunk = vec![b'x'; 1 << 20];
                let mut stdout = std::io::stdout();
                for _ in 0..100 {
                    stdout
                        .write_all(&chunk)
                        .map_err(|e| Error::Internal(e.to_string()))?;
                }
                Ok(ok)
            }
            Mode::LogFlood => {
                for i in 0..10_000 {
                    vigil_plugin_sdk::log(vigil_plugin_sdk::Level::Info, &format!("record {i}"));
                }
                Ok(ok)
            }
            Mode::NanStatistic => Ok(DriftResult {
                statistic: f64::NAN,
                ..ok
            }),
            _ => unreachable!("the shared modes returned above"),
        }
    }
}

vigil_plugin_sdk::export_drift_test!(Hostile);
