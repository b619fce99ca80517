//! `preprocess-standardize`: centres and scales numeric columns with statistics fitted on the
//! reference, as scikit-learn's `StandardScaler` does.
//!
//! For each standardized column the reference's non-missing values give a mean and a population
//! standard deviation (ddof = 0), and `transform` maps `x` to `(x - mean) / scale`. The sums are
//! numpy's pairwise sums over the column with missing values counted as zeros, exactly as
//! `np.nanmean` and `np.nanvar` compute them, so the fitted statistics match numpy bit for bit.
//! The scale is the standard deviation, or 1 where the column is constant up to rounding
//! (scikit-learn's `_is_constant_feature` bound, which also covers a standard deviation of 0).
//!
//! Missing values (NaN) stay missing. Categorical columns, numeric columns left out by the
//! `columns` setting and input columns the reference did not have pass through unchanged.

use std::collections::HashMap;

use schemars::JsonSchema;
use serde::Deserialize;
use vigil_plugin_sdk::{Batch, ColumnKind, Preprocessor, Result};
use vigil_plugin_stats::batch::{
    check_fittable, check_input, check_shape, kinds, select_numeric, transform_numeric,
};

/// Configuration of the standardizer.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The numeric columns to standardize. Listed columns must be numeric in the reference and
    /// present in every input batch. When omitted, every numeric column of the reference is
    /// standardized wherever it appears in an input (an input without it is not an error).
    #[serde(default)]
    pub columns: Option<Vec<String>>,
}

/// The statistics fitted for one column.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Fitted {
    /// Mean of the reference's non-missing values.
    mean: f64,
    /// The divisor: the population standard deviation, or 1 for a constant column.
    scale: f64,
}

/// A standardizer fitted on a reference batch.
#[derive(Debug)]
pub struct Standardize {
    /// Statistics of the standardized columns, by name.
    fitted: HashMap<String, Fitted>,
    /// Names listed in the configuration, which every input must carry.
    required: Vec<String>,
    /// The kind of every reference column, to catch an input column that changed kind.
    kinds: HashMap<String, ColumnKind>,
}

impl Preprocessor for Standardize {
    type Config = Config;
    const DESCRIPTION: &'static str =
        "Standardizes numeric columns to zero mean and unit variance using reference statistics";

    fn fit(reference: Batch, config: Config) -> Result<Self> {
        check_shape(&reference, "reference")?;
        let kinds = kinds(&reference);

        let selection = select_numeric(&reference, &kinds, config.columns.as_deref())?;
        let mut fitted = HashMap::new();
        for (name, values) in selection.columns {
            fitted.insert(name.to_string(), fit_column(name, values)?);
        }
        let required = selection.required;
        Ok(Standardize {
            fitted,
            required,
            kinds,
        })
    }

    fn transform(&self, input: Batch) -> Result<Batch> {
        check_input(&input, &self.required, &self.kinds, "standardization")?;

        Ok(transform_numeric(input, &self.fitted, |f, x| {
            (x - f.mean) / f.scale
        }))
    }
}

/// Mean and scale of one reference column, as numpy and scikit-learn compute them.
fn fit_column(name: &str, values: &[f64]) -> Result<Fitted> {
    check_fittable(name, values)?;
    let count = values.iter().filter(|x| !x.is_nan()).count();
    let n = count as f64;
    // `np.nanmean` and `np.nanvar` sum the whole column with each NaN replaced by 0, so the
    // zeros stay in place and the pairwise blocks line up with numpy's.
    let zeroed: Vec<f64> = values
        .iter()
        .map(|&x| if x.is_nan() { 0.0 } else { x })
        .collect();
    let mean = numpy_sum(&zeroed) / n;
    let squares: Vec<f64> = values
        .iter()
        .map(|&x| {
            if x.is_nan() {
                0.0
            } else {
                let d = x - mean;
                d * d
            }
        })
        .collect();
    let var = numpy_sum(&squares) / n;
    let scale = if is_constant(var, mean, n) {
        1.0
    } else {
        var.sqrt()
    };
    Ok(Fitted { mean, scale })
}

/// scikit-learn's `_is_constant_feature`: the variance is within the rounding error bound of
/// the two-pass algorithm (Chan, Golub & LeVeque), so the column is constant in all but noise.
fn is_constant(var: f64, mean: f64, n: f64) -> bool {
    let eps = f64::EPSILON;
    let spread = n * mean * eps;
    let upper_bound = n * eps * var + spread * spread;
    var <= upper_bound
}

/// `np.add.reduce` over a contiguous f64 array: the identity 0 plus numpy's pairwise sum.
fn numpy_sum(values: &[f64]) -> f64 {
    0.0 + vigil_plugin_stats::sum::pairwise_sum(values)
}

vigil_plugin_sdk::export_preprocessor!(Standardize);

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_plugin_sdk::{Column, ColumnData, testing};
    use vigil_plugin_stats::preprocess_harness::{categorical, expect_error, numeric};

    fn batch(columns: Vec<Column>) -> Batch {
        Batch { columns }
    }

    fn reference() -> Batch {
        batch(vec![
            numeric("a", &[1.0, 2.0, 3.0, f64::NAN]),
            categorical("c", &[Some("x"), None, Some("y"), Some("x")]),
            numeric("b", &[10.0, 10.0, 10.0, 10.0]),
        ])
    }

    fn values(batch: &Batch, name: &str) -> Vec<f64> {
        match &batch.columns.iter().find(|c| c.name == name).unwrap().data {
            ColumnData::Numeric(v) => v.clone(),
            ColumnData::Categorical(_) => panic!("`{name}` is categorical"),
        }
    }

    #[test]
    fn standardizes_numeric_and_passes_the_rest() {
        let input = batch(vec![
            numeric("b", &[10.0, 12.0]),
            categorical("c", &[Some("z"), None]),
            numeric("new", &[5.0, 6.0]),
            numeric("a", &[f64::NAN, 4.0]),
        ]);
        let out = testing::preprocess::<Standardize>(reference(), input.clone(), "").unwrap();
        let names: Vec<&str> = out.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["b", "c", "new", "a"]);
        // a: mean 2, population std sqrt(2/3).
        let a = values(&out, "a");
        assert!(a[0].is_nan());
        assert!((a[1] - 2.0 / (2.0f64 / 3.0).sqrt()).abs() < 1e-15);
        // b is constant: scale 1.
        assert_eq!(values(&out, "b"), [0.0, 2.0]);
        assert_eq!(out.columns[1], input.columns[1]);
        assert_eq!(out.columns[2], input.columns[2]);
    }

    #[test]
    fn configured_columns_only() {
        let input = batch(vec![
            numeric("a", &[3.0]),
            numeric("b", &[11.0]),
            categorical("c", &[Some("x")]),
        ]);
        let out = testing::preprocess::<Standardize>(reference(), input, r#"{"columns": ["b"]}"#)
            .unwrap();
        assert_eq!(values(&out, "a"), [3.0]);
        assert_eq!(values(&out, "b"), [1.0]);
    }

    #[test]
    fn empty_input_keeps_its_columns() {
        let input = batch(vec![numeric("a", &[]), categorical("c", &[])]);
        let out = testing::preprocess::<Standardize>(reference(), input.clone(), "").unwrap();
        assert_eq!(out, input);
    }

    #[test]
    fn config_errors() {
        let input = || batch(vec![numeric("a", &[1.0])]);
        for (config, needle) in [
            (r#"{"columns": ["zz"]}"#, "zz"),
            (r#"{"columns": ["c"]}"#, "categorical"),
            (r#"{"columns": []}"#, "empty"),
            (r#"{"columns": ["a", "a"]}"#, "twice"),
            (r#"{"column": ["a"]}"#, "column"),
        ] {
            expect_error(
                testing::preprocess::<Standardize>(reference(), input(), config),
                true,
                needle,
            );
        }
    }

    #[test]
    fn configured_column_missing_from_input() {
        let input = batch(vec![numeric("b", &[1.0])]);
        expect_error(
            testing::preprocess::<Standardize>(reference(), input, r#"{"columns": ["a"]}"#),
            false,
            "`a`",
        );
    }

    #[test]
    fn kind_change_is_rejected() {
        let input = batch(vec![categorical("a", &[Some("1")])]);
        expect_error(
            testing::preprocess::<Standardize>(reference(), input, ""),
            false,
            "categorical in the input but was numeric",
        );
        let input = batch(vec![numeric("c", &[1.0])]);
        expect_error(
            testing::preprocess::<Standardize>(reference(), input, ""),
            false,
            "numeric in the input but was categorical",
        );
    }

    #[test]
    fn reference_errors() {
        let input = || batch(vec![]);
        let all_missing = batch(vec![numeric("a", &[f64::NAN, f64::NAN])]);
        expect_error(
            testing::preprocess::<Standardize>(all_missing, input(), ""),
            false,
            "no non-missing values",
        );
        let empty = batch(vec![numeric("a", &[])]);
        expect_error(
            testing::preprocess::<Standardize>(empty, input(), ""),
            false,
            "no non-missing values",
        );
        let infinite = batch(vec![numeric("a", &[1.0, f64::INFINITY])]);
        expect_error(
            testing::preprocess::<Standardize>(infinite, input(), ""),
            false,
            "inf",
        );
        let ragged = batch(vec![numeric("a", &[1.0, 2.0]), numeric("b", &[1.0])]);
        expect_error(
            testing::preprocess::<Standardize>(ragged, input(), ""),
            false,
            "differ in length",
        );
        let twice = batch(vec![numeric("a", &[1.0]), numeric("a", &[2.0])]);
        expect_error(
            testing::preprocess::<Standardize>(twice, input(), ""),
            false,
            "two columns named `a`",
        );
    }

    #[test]
    fn ragged_input_is_rejected() {
        let input = batch(vec![numeric("a", &[1.0, 2.0]), categorical("c", &[None])]);
        expect_error(
            testing::preprocess::<Standardize>(reference(), input, ""),
            false,
            "differ in length",
        );
    }

    #[test]
    fn an_all_missing_column_can_be_left_out() {
        let reference = batch(vec![
            numeric("a", &[1.0, 3.0]),
            numeric("empty", &[f64::NAN, f64::NAN]),
        ]);
        let input = batch(vec![numeric("a", &[2.0]), numeric("empty", &[7.0])]);
        let out =
            testing::preprocess::<Standardize>(reference, input, r#"{"columns": ["a"]}"#).unwrap();
        assert_eq!(values(&out, "a"), [0.0]);
        assert_eq!(values(&out, "empty"), [7.0]);
    }

    #[test]
    fn pairwise_sum_matches_numpy_on_a_known_case() {
        // np.sum(np.full(37, 0.1)) is 3.7000000000000006; a plain left fold gives
        // 3.700000000000002.
        let values = vec![0.1; 37];
        assert_eq!(numpy_sum(&values), 3.7000000000000006);
        assert_eq!(values.iter().fold(0.0, |a, b| a + b), 3.700000000000002);
    }

    #[test]
    fn constant_up_to_rounding_gets_unit_scale() {
        let fitted = fit_column("flat", &[0.1; 15]).unwrap();
        assert_ne!(fitted.mean, 0.1);
        assert_eq!(fitted.scale, 1.0);
        let fitted = fit_column("signal", &[0.1, 0.1, 0.1 + 1e-9]).unwrap();
        assert_ne!(fitted.scale, 1.0);
    }
}
