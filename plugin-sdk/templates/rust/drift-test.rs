//! `{{name}}`: how far the window's mean moved from the reference's, relative to the
//! reference's range. A distance: the window drifted when it reaches `threshold`. Replace the
//! statistic with yours; the tests below show how to check it.

use schemars::JsonSchema;
use serde::Deserialize;
use vigil_plugin_sdk::{ColumnData, ColumnKind, DriftResult, DriftTest, Error, Result, ScoreKind};

/// The plugin's settings.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Distance that counts as drift.
    #[serde(default = "default_threshold")]
    pub threshold: f64,
}

fn default_threshold() -> f64 {
    0.1
}

/// The test, built from the reference.
pub struct {{class}} {
    mean: f64,
    range: f64,
    threshold: f64,
}

/// The non-missing values of a numeric column.
fn present(column: ColumnData, what: &str) -> Result<Vec<f64>> {
    let ColumnData::Numeric(values) = column else {
        return Err(Error::InvalidInput(format!("the {what} is not numeric")));
    };
    Ok(values.into_iter().filter(|v| !v.is_nan()).collect())
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

impl DriftTest for {{class}} {
    type Config = Config;
    const DESCRIPTION: &'static str = "{{description}}";
    const COLUMN_KINDS: &'static [ColumnKind] = &[ColumnKind::Numeric];
    const SCORE: ScoreKind = ScoreKind::Distance;

    fn new(reference: ColumnData, config: Config) -> Result<Self> {
        if config.threshold <= 0.0 {
            return Err(Error::InvalidConfig(format!(
                "threshold must be positive, got {}",
                config.threshold
            )));
        }
        let values = present(reference, "reference")?;
        if values.len() < 2 {
            return Err(Error::InvalidInput("the reference needs at least two values".into()));
        }
        let (low, high) = values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(*v), h.max(*v)));
        let range = if high > low { high - low } else { 1.0 };
        Ok({{class}} { mean: mean(&values), range, threshold: config.threshold })
    }

    fn evaluate(&self, current: ColumnData) -> Result<DriftResult> {
        let values = present(current, "current window")?;
        if values.is_empty() {
            return Err(Error::InvalidInput("the window has no values".into()));
        }
        let distance = (mean(&values) - self.mean).abs() / self.range;
        Ok(DriftResult {
            statistic: distance,
            p_value: None,
            threshold: self.threshold,
            drifted: distance >= self.threshold,
        })
    }
}

vigil_plugin_sdk::export_drift_test!({{class}});

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_plugin_sdk::testing::drift_test;

    fn numbers(shift: f64) -> ColumnData {
        ColumnData::numeric((0..500).map(|i| (i % 10) as f64 + shift).collect::<Vec<f64>>())
    }

    #[test]
    fn a_shifted_window_drifts_and_a_similar_one_does_not() {
        assert!(!drift_test::<{{class}}>(numbers(0.0), numbers(0.0), "{}").unwrap().drifted);
        let shifted = drift_test::<{{class}}>(numbers(0.0), numbers(3.0), "{}").unwrap();
        assert!(shifted.drifted);
        assert!((shifted.statistic - 3.0 / 9.0).abs() < 1e-12);
    }

    #[test]
    fn bad_input_and_settings_are_refused() {
        let empty = ColumnData::numeric(vec![f64::NAN]);
        assert!(drift_test::<{{class}}>(numbers(0.0), empty, "{}").is_err());
        let bad = drift_test::<{{class}}>(numbers(0.0), numbers(0.0), r#"{"threshold": -1}"#);
        assert!(matches!(bad, Err(Error::InvalidConfig(_))));
    }
}
