//! `preprocess-clip`: clips numeric columns to quantiles of the reference
//! (docs/preprocessors.md), as `np.clip(x, np.nanquantile(ref, lower), np.nanquantile(ref,
//! upper))` with NumPy's default `linear` quantile method.
//!
//! The bounds are the quantiles of each reference column's non-missing values (the
//! interpolation of `vigil_plugin_stats::binning::quantile`, which the binned distances use).
//! Missing values stay missing; categorical columns, numeric columns left out by `columns` and
//! input columns the reference did not have pass through.

use std::collections::HashMap;

use schemars::JsonSchema;
use serde::Deserialize;
use vigil_plugin_sdk::{Batch, ColumnKind, Error, Preprocessor, Result};
use vigil_plugin_stats::batch::{
    check_fittable, check_input, check_shape, kinds, select_numeric, transform_numeric,
};
use vigil_plugin_stats::binning::quantile;
use vigil_plugin_stats::order::sorted_values;

/// Configuration of the clipper.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The quantile of the reference below which values are raised to it, in [0, 1]; `null`
    /// for no lower bound.
    #[serde(default = "default_lower")]
    pub lower: Option<f64>,
    /// The quantile of the reference above which values are lowered to it, in [0, 1]; `null`
    /// for no upper bound.
    #[serde(default = "default_upper")]
    pub upper: Option<f64>,
    /// The numeric columns to clip; each must be numeric in the reference and present in
    /// every input. When omitted, every numeric column of the reference is clipped wherever it
    /// appears.
    #[serde(default)]
    pub columns: Option<Vec<String>>,
}

fn default_lower() -> Option<f64> {
    Some(0.01)
}

fn default_upper() -> Option<f64> {
    Some(0.99)
}

impl Default for Config {
    fn default() -> Self {
        Config {
            lower: default_lower(),
            upper: default_upper(),
            columns: None,
        }
    }
}

/// The bounds fitted for one column.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bounds {
    lower: f64,
    upper: f64,
}

/// A clipper fitted on a reference batch.
#[derive(Debug)]
pub struct Clip {
    bounds: HashMap<String, Bounds>,
    required: Vec<String>,
    kinds: HashMap<String, ColumnKind>,
}

impl Preprocessor for Clip {
    type Config = Config;
    const DESCRIPTION: &'static str =
        "Clips numeric columns to lower and upper quantiles of the reference";

    fn fit(reference: Batch, config: Config) -> Result<Self> {
        check_shape(&reference, "reference")?;
        check_quantiles(&config)?;
        let kinds = kinds(&reference);
        let selection = select_numeric(&reference, &kinds, config.columns.as_deref())?;
        let mut bounds = HashMap::new();
        for (name, values) in selection.columns {
            check_fittable(name, values)?;
            let sorted = sorted_values(values.to_vec());
            let at = |q: Option<f64>, none: f64| q.map_or(none, |q| quantile(&sorted, q));
            bounds.insert(
                name.to_string(),
                Bounds {
                    lower: at(config.lower, f64::NEG_INFINITY),
                    upper: at(config.upper, f64::INFINITY),
                },
            );
        }
        Ok(Clip {
            bounds,
            required: selection.required,
            kinds,
        })
    }

    fn transform(&self, input: Batch) -> Result<Batch> {
        check_input(&input, &self.required, &self.kinds, "clipping")?;
        // `f64::clamp` keeps NaN, as `np.clip` does.
        Ok(transform_numeric(input, &self.bounds, |b, x| {
            x.clamp(b.lower, b.upper)
        }))
    }
}

/// Both quantiles in [0, 1], the lower not above the upper.
fn check_quantiles(config: &Config) -> Result<()> {
    for (name, q) in [("lower", config.lower), ("upper", config.upper)] {
        if let Some(q) = q
            && !(0.0..=1.0).contains(&q)
        {
            return Err(Error::InvalidConfig(format!(
                "{name} is {q}; a quantile must be in [0, 1]"
            )));
        }
    }
    if let (Some(lower), Some(upper)) = (config.lower, config.upper)
        && lower > upper
    {
        return Err(Error::InvalidConfig(format!(
            "lower ({lower}) is above upper ({upper})"
        )));
    }
    Ok(())
}

vigil_plugin_sdk::export_preprocessor!(Clip);

#[cfg(test)]
mod tests {
    use vigil_plugin_sdk::{Column, ColumnData, testing};
    use vigil_plugin_stats::preprocess_harness::{categorical, expect_error, numeric};

    use super::*;

    fn reference() -> Batch {
        Batch {
            columns: vec![
                numeric("a", &[0.0, 10.0, 20.0, 30.0, 40.0, f64::NAN]),
                categorical("c", &[Some("x"), None, Some("y"), None, None, None]),
                numeric("flat", &[5.0; 6]),
            ],
        }
    }

    fn run(input: Vec<Column>, config: &str) -> Result<Batch> {
        testing::preprocess::<Clip>(reference(), Batch { columns: input }, config)
    }

    #[test]
    fn clips_to_interpolated_quantiles() {
        let out = run(
            vec![numeric(
                "a",
                &[-5.0, 1.0, 25.0, 45.0, f64::NAN, f64::INFINITY],
            )],
            r#"{"lower": 0.1, "upper": 0.75}"#,
        )
        .unwrap();
        let ColumnData::Numeric(a) = &out.columns[0].data else {
            panic!()
        };
        // 0.1 of [0, 10, 20, 30, 40] is 4, 0.75 is 30.
        assert_eq!(a[..4], [4.0, 4.0, 25.0, 30.0]);
        assert!(a[4].is_nan());
        assert_eq!(a[5], 30.0);
    }

    #[test]
    fn a_missing_bound_is_open_and_constant_columns_clip_to_their_value() {
        let out = run(
            vec![numeric("a", &[-5.0, 45.0]), numeric("flat", &[4.0, 6.0])],
            r#"{"lower": null, "upper": 0.5}"#,
        )
        .unwrap();
        assert_eq!(out.columns[0].data, ColumnData::numeric(vec![-5.0, 20.0]));
        assert_eq!(out.columns[1].data, ColumnData::numeric(vec![4.0, 5.0]));
    }

    #[test]
    fn errors() {
        let input = || vec![numeric("a", &[1.0])];
        for (config, needle) in [
            (r#"{"lower": -0.1}"#, "[0, 1]"),
            (r#"{"upper": 1.5}"#, "[0, 1]"),
            (r#"{"lower": 0.9, "upper": 0.1}"#, "above"),
            (r#"{"columns": ["c"]}"#, "categorical"),
            (r#"{"columns": ["zz"]}"#, "zz"),
            (r#"{"quantile": 0.1}"#, "quantile"),
        ] {
            expect_error(run(input(), config), true, needle);
        }
        expect_error(
            run(vec![numeric("flat", &[1.0])], r#"{"columns": ["a"]}"#),
            false,
            "`a` is configured for clipping but missing",
        );
        expect_error(
            testing::preprocess::<Clip>(
                Batch {
                    columns: vec![numeric("a", &[f64::NAN])],
                },
                Batch { columns: vec![] },
                "",
            ),
            false,
            "no non-missing values",
        );
    }

    #[test]
    fn empty_input_keeps_its_columns() {
        let input = vec![numeric("a", &[]), categorical("c", &[])];
        assert_eq!(run(input.clone(), "").unwrap().columns, input);
    }
}
