//! A drift test that misbehaves on purpose, chosen by its configuration, so the tests can
//! check that the host contains each failure and keeps serving.

use std::io::Write;

use schemars::JsonSchema;
use serde::Deserialize;
use vigil_hostile::{Mode as Shared, misbehave};
use vigil_plugin_sdk::{ColumnData, ColumnKind, DriftResult, DriftTest, Error, Result, ScoreKind};

/// Which failure to commit in `evaluate`: one every hostile guest shares (`vigil-hostile`),
/// or one of a drift test's own.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(try_from = "String")]
#[schemars(with = "String")]
pub enum Mode {
    /// Write 100 MB to stdout, then return normally.
    StdoutFlood,
    /// Log thousands of records, then return normally.
    LogFlood,
    /// Log thousands of 4 KiB records, each with a forged log line after a newline.
    LogForge,
    /// Return a NaN statistic.
    NanStatistic,
    /// Return a NaN threshold.
    NanThreshold,
    /// Say "drifted" although the p-value is above the threshold.
    Contradiction,
    /// A shared failure mode.
    Shared(Shared),
}

impl TryFrom<String> for Mode {
    type Error = String;

    fn try_from(name: String) -> Result<Mode, String> {
        Ok(match name.as_str() {
            "stdout-flood" => Mode::StdoutFlood,
            "log-flood" => Mode::LogFlood,
            "log-forge" => Mode::LogForge,
            "nan-statistic" => Mode::NanStatistic,
            "nan-threshold" => Mode::NanThreshold,
            "contradiction" => Mode::Contradiction,
            other => Mode::Shared(
                Shared::from_name(other).ok_or_else(|| format!("unknown mode `{other}`"))?,
            ),
        })
    }
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
        match self.mode {
            Mode::Shared(shared) => {
                misbehave(shared).map_err(Error::InvalidInput)?;
                Ok(ok)
            }
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
            Mode::LogForge => {
                let forged = format!(
                    "{}\n2026-12-06T00:00:00.000000Z  INFO vigil: FORGED all clear",
                    "x".repeat(4000)
                );
                for _ in 0..10_000 {
                    vigil_plugin_sdk::log(vigil_plugin_sdk::Level::Warn, &forged);
                }
                Ok(ok)
            }
            Mode::NanStatistic => Ok(DriftResult {
                statistic: f64::NAN,
                ..ok
            }),
            Mode::NanThreshold => Ok(DriftResult {
                threshold: f64::NAN,
                ..ok
            }),
            Mode::Contradiction => Ok(DriftResult {
                drifted: true,
                ..ok
            }),
        }
    }
}

vigil_plugin_sdk::export_drift_test!(Hostile);
