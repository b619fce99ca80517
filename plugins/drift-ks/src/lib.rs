//! `drift-ks`: the two-sample Kolmogorov–Smirnov test, as `scipy.stats.ks_2samp(method="auto")`.

mod double_double;
mod kolmogorov;
pub mod ks;
mod math;
mod smirnov;

use schemars::JsonSchema;
use serde::Deserialize;
use vigil_plugin_sdk::{ColumnData, ColumnKind, DriftResult, DriftTest, Error, Result, ScoreKind};
use vigil_plugin_stats::labels::no_values;
use vigil_plugin_stats::order::Sample;
use vigil_plugin_stats::outcome::{p_value_result, p_value_threshold};
use vigil_plugin_stats::sketch::quantile_count;

/// Configuration of the KS test.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Drift when the p-value is below this.
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// Keep only this many quantiles of a reference larger than that (16 to 1048576): memory
    /// and evaluation time no longer grow with the reference, and the statistic is within
    /// 1/sketch of the exact one (docs/statistics.md). Off when absent.
    #[serde(default)]
    pub sketch: Option<usize>,
}

fn default_threshold() -> f64 {
    0.05
}

/// The test, holding the sorted reference (or its sketch, and the reference's size).
pub struct Ks {
    reference: Sample,
    reference_size: usize,
    threshold: f64,
}

impl DriftTest for Ks {
    type Config = Config;
    const DESCRIPTION: &'static str =
        "Two-sample Kolmogorov-Smirnov test (exact for small samples, asymptotic for large)";
    const COLUMN_KINDS: &'static [ColumnKind] = &[ColumnKind::Numeric];
    const SCORE: ScoreKind = ScoreKind::PValue;

    fn new(reference: ColumnData, config: Config) -> Result<Self> {
        let threshold = p_value_threshold(config.threshold)?;
        let sketch = config.sketch.map(quantile_count).transpose()?;
        let reference = sorted_values(reference, "reference")?;
        let reference_size = reference.len();
        let reference = match sketch {
            Some(k) if reference_size > k => reference.sketch(k),
            _ => reference,
        };
        Ok(Ks {
            threshold,
            reference,
            reference_size,
        })
    }

    fn evaluate(&self, current: ColumnData) -> Result<DriftResult> {
        let current = sorted_values(current, "current window")?;
        let outcome = if self.reference.len() == self.reference_size {
            ks::ks_2samp(&self.reference, &current)
        } else {
            ks::ks_2samp_sketched(&self.reference, self.reference_size, &current)
        };
        Ok(p_value_result(
            outcome.statistic,
            outcome.p_value,
            self.threshold,
        ))
    }
}

/// The column's non-missing values, sorted; an error if none are left.
fn sorted_values(column: ColumnData, what: &str) -> Result<Sample> {
    let ColumnData::Numeric(values) = column else {
        return Err(Error::InvalidInput(format!(
            "the KS test takes a numeric column; the {what} is categorical"
        )));
    };
    let sample = Sample::new(values);
    if sample.is_empty() {
        return Err(no_values(what));
    }
    Ok(sample)
}

vigil_plugin_sdk::export_drift_test!(Ks);
