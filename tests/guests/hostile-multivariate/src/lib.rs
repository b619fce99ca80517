//! A multivariate drift test that misbehaves on purpose, chosen by its configuration, so the
//! tests can check that the host contains each failure of this plugin kind and keeps serving.

use schemars::JsonSchema;
use serde::Deserialize;
use vigil_hostile::{Mode as Shared, misbehave};
use vigil_plugin_sdk::{Batch, DriftResult, Error, MultivariateDriftTest, Result, ScoreKind};

/// Which failure to commit in `evaluate`: one every hostile guest shares (`vigil-hostile`),
/// or one of a drift test's own.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(try_from = "String")]
#[schemars(with = "String")]
pub enum Mode {
    /// Return a NaN statistic.
    NanStatistic,
    /// Say "drifted" although the p-value is above the threshold.
    Contradiction,
    /// A p-value outside [0, 1].
    PValueTwo,
    /// A shared failure mode.
    Shared(Shared),
}

impl TryFrom<String> for Mode {
    type Error = String;

    fn try_from(name: String) -> Result<Mode, String> {
        Ok(match name.as_str() {
            "nan-statistic" => Mode::NanStatistic,
            "contradiction" => Mode::Contradiction,
            "p-value-two" => Mode::PValueTwo,
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

impl MultivariateDriftTest for Hostile {
    type Config = Config;
    const DESCRIPTION: &'static str = "Misbehaves on purpose (host containment tests)";
    const SCORE: ScoreKind = ScoreKind::PValue;

    fn new(_reference: Batch, config: Config) -> Result<Self> {
        Ok(Hostile { mode: config.mode })
    }

    fn evaluate(&self, current: Batch) -> Result<DriftResult> {
        let ok = DriftResult {
            statistic: current.columns.len() as f64,
            p_value: Some(1.0),
            threshold: 0.05,
            drifted: false,
        };
        match self.mode {
            Mode::Shared(shared) => {
                misbehave(shared).map_err(Error::InvalidInput)?;
                Ok(ok)
            }
            Mode::NanStatistic => Ok(DriftResult {
                statistic: f64::NAN,
                ..ok
            }),
            Mode::Contradiction => Ok(DriftResult {
                drifted: true,
                ..ok
            }),
            Mode::PValueTwo => Ok(DriftResult {
                p_value: Some(2.0),
                ..ok
            }),
        }
    }
}

vigil_plugin_sdk::export_multivariate_drift_test!(Hostile);
