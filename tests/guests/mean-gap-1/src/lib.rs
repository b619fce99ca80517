//! `mean-gap`, a drift test in two versions for the shadow-evaluation tests: version 1
//! (this crate) measures the gap between the window's mean and the reference's in the column's
//! units; version 2 (`mean-gap-2`, built from this same file) measures it in reference
//! standard deviations. Both drift past `max_gap`.

use schemars::JsonSchema;
use serde::Deserialize;
use vigil_plugin_sdk::{ColumnData, ColumnKind, DriftResult, DriftTest, Error, Result, ScoreKind};

/// Settings of both versions.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The largest gap that is not drift.
    #[serde(default = "one")]
    pub max_gap: f64,
}

fn one() -> f64 {
    1.0
}

/// Whether this build is version 2, which scales the gap by the reference's spread.
const SCALED: bool = matches!(env!("CARGO_PKG_VERSION").as_bytes(), [b'2', ..]);

/// The test, built from the reference's mean and standard deviation.
pub struct MeanGap {
    mean: f64,
    scale: f64,
    max_gap: f64,
}

fn mean_and_std(column: ColumnData) -> Result<(f64, f64)> {
    let ColumnData::Numeric(values) = column else {
        return Err(Error::InvalidInput("mean-gap takes numeric columns".into()));
    };
    let values: Vec<f64> = values.into_iter().filter(|v| !v.is_nan()).collect();
    if values.is_empty() {
        return Err(Error::InvalidInput("no values to compare".into()));
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    Ok((mean, variance.sqrt()))
}

impl DriftTest for MeanGap {
    type Config = Config;
    const DESCRIPTION: &'static str = "Gap between the means (in reference standard deviations \
                                       from version 2)";
    const COLUMN_KINDS: &'static [ColumnKind] = &[ColumnKind::Numeric];
    const SCORE: ScoreKind = ScoreKind::Distance;

    fn new(reference: ColumnData, config: Config) -> Result<Self> {
        let (mean, std) = mean_and_std(reference)?;
        Ok(MeanGap {
            mean,
            scale: if SCALED {
                std.max(f64::MIN_POSITIVE)
            } else {
                1.0
            },
            max_gap: config.max_gap,
        })
    }

    fn evaluate(&self, current: ColumnData) -> Result<DriftResult> {
        let gap = (mean_and_std(current)?.0 - self.mean).abs() / self.scale;
        Ok(DriftResult {
            statistic: gap,
            p_value: None,
            threshold: self.max_gap,
            drifted: gap > self.max_gap,
        })
    }
}

vigil_plugin_sdk::export_drift_test!(MeanGap, name = "mean-gap");
