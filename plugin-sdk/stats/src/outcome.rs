//! Thresholds and results: how every drift test checks its threshold and reads its statistic.

use vigil_plugin_sdk::{ColumnData, DriftResult, Error, Result};

use crate::labels::no_values;
use crate::order::sorted_values;

/// A significance level: drift when the p-value is below it. Must lie strictly in (0, 1).
pub fn p_value_threshold(threshold: f64) -> Result<f64> {
    if threshold > 0.0 && threshold < 1.0 {
        Ok(threshold)
    } else {
        Err(Error::InvalidConfig(format!(
            "threshold must lie strictly between 0 and 1, got {threshold}"
        )))
    }
}

/// A distance threshold: drift when the statistic is at or above it. Must be positive and
/// finite.
pub fn distance_threshold(threshold: f64) -> Result<f64> {
    if threshold.is_finite() && threshold > 0.0 {
        Ok(threshold)
    } else {
        Err(Error::InvalidConfig(format!(
            "threshold must be a positive number, got {threshold}"
        )))
    }
}

/// The result of a hypothesis test: drifted when `p_value < threshold`.
pub fn p_value_result(statistic: f64, p_value: f64, threshold: f64) -> DriftResult {
    DriftResult {
        statistic,
        p_value: Some(p_value),
        threshold,
        drifted: p_value < threshold,
    }
}

/// The result of a distance: drifted when `statistic >= threshold`.
pub fn distance_result(statistic: f64, threshold: f64) -> DriftResult {
    DriftResult {
        statistic,
        p_value: None,
        threshold,
        drifted: statistic >= threshold,
    }
}

/// The non-missing values of a numeric column, ascending (`-0.0` made `0.0`); an error if the
/// column is categorical or nothing is left.
pub fn numeric_sample(column: ColumnData, what: &str) -> Result<Vec<f64>> {
    let ColumnData::Numeric(values) = column else {
        return Err(Error::InvalidInput(format!(
            "this test takes a numeric column; the {what} is categorical"
        )));
    };
    let sorted = sorted_values(values);
    if sorted.is_empty() {
        return Err(no_values(what));
    }
    Ok(sorted)
}

/// The values of a numeric column in column order, missing ones (NaN) kept; an error if the
/// column is categorical or empty. For statistics of sums, which see a NaN in their sums and so
/// need [`without_nan`] only when a sum is NaN: the common column without missing values is
/// then read once less.
pub fn numeric_column(column: ColumnData, what: &str) -> Result<Vec<f64>> {
    let ColumnData::Numeric(values) = column else {
        return Err(Error::InvalidInput(format!(
            "this test takes a numeric column; the {what} is categorical"
        )));
    };
    if values.is_empty() {
        return Err(no_values(what));
    }
    Ok(values)
}

/// `values` without its missing values (NaN), in column order; an error if nothing is left.
pub fn without_nan(values: &[f64], what: &str) -> Result<Vec<f64>> {
    let kept: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if kept.is_empty() {
        return Err(no_values(what));
    }
    Ok(kept)
}

/// Whether any value is NaN: a pass without branches per value.
pub fn has_nan(values: &[f64]) -> bool {
    values
        .chunks(256)
        .any(|chunk| chunk.iter().fold(false, |seen, v| seen | v.is_nan()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds() {
        assert!(p_value_threshold(0.05).is_ok());
        for bad in [0.0, 1.0, -0.1, f64::NAN] {
            assert!(p_value_threshold(bad).is_err(), "{bad}");
        }
        assert!(distance_threshold(2.0).is_ok());
        for bad in [0.0, -1.0, f64::INFINITY, f64::NAN] {
            assert!(distance_threshold(bad).is_err(), "{bad}");
        }
        assert!(p_value_result(1.0, 0.01, 0.05).drifted);
        assert!(!p_value_result(1.0, 0.05, 0.05).drifted);
        assert!(distance_result(0.1, 0.1).drifted);
    }

    #[test]
    fn numeric_sample_drops_missing_values() {
        let sorted = numeric_sample(ColumnData::numeric(vec![2.0, f64::NAN, -0.0]), "x").unwrap();
        assert_eq!(sorted, vec![0.0, 2.0]);
        assert!(numeric_sample(ColumnData::numeric(vec![f64::NAN]), "x").is_err());
        assert!(numeric_sample(ColumnData::categorical([Some("a")]), "x").is_err());
    }
}
