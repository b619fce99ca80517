//! `preprocess-log1p`: `ln(1 + x)` of numeric columns, as `np.log1p` (docs/preprocessors.md).
//!
//! `log1p` is defined only above -1. By default a value at or below -1 fails the batch with an
//! error naming the column, the row and the value; `at_or_below_minus_one = "missing"` makes
//! such values missing instead. The reference is checked the same way when the plugin is
//! fitted. Missing values stay missing; categorical columns, numeric columns left out by
//! `columns` and input columns the reference did not have pass through.

use std::collections::HashMap;

use schemars::JsonSchema;
use serde::Deserialize;
use vigil_plugin_sdk::{Batch, ColumnData, ColumnKind, Error, Preprocessor, Result};
use vigil_plugin_stats::batch::{
    check_input, check_shape, kinds, select_numeric, transform_numeric,
};

/// What to do with a value at or below -1.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutOfDomain {
    /// Fail the batch, naming the column, row and value.
    #[default]
    Error,
    /// Make the value missing (NaN).
    Missing,
}

/// Configuration of the transform.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The numeric columns to transform; each must be numeric in the reference and present in
    /// every input. When omitted, every numeric column of the reference is transformed wherever
    /// it appears.
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    /// What a value at or below -1 does: `error` (the default) or `missing`.
    #[serde(default)]
    pub at_or_below_minus_one: OutOfDomain,
}

/// The transform, with the columns it applies to.
#[derive(Debug)]
pub struct Log1p {
    /// The transformed columns (the map's values are unused: nothing is fitted per column).
    chosen: HashMap<String, ()>,
    required: Vec<String>,
    kinds: HashMap<String, ColumnKind>,
    out_of_domain: OutOfDomain,
}

impl Preprocessor for Log1p {
    type Config = Config;
    const DESCRIPTION: &'static str = "Takes ln(1 + x) of numeric columns";

    fn fit(reference: Batch, config: Config) -> Result<Self> {
        check_shape(&reference, "reference")?;
        let kinds = kinds(&reference);
        let selection = select_numeric(&reference, &kinds, config.columns.as_deref())?;
        let chosen = selection
            .columns
            .iter()
            .map(|(name, _)| (name.to_string(), ()))
            .collect();
        let log1p = Log1p {
            chosen,
            required: selection.required,
            kinds,
            out_of_domain: config.at_or_below_minus_one,
        };
        log1p.check_domain(&reference, "reference")?;
        Ok(log1p)
    }

    fn transform(&self, input: Batch) -> Result<Batch> {
        check_input(&input, &self.required, &self.kinds, "log1p")?;
        self.check_domain(&input, "input")?;
        // Values at or below -1 only reach here when they are to become missing.
        Ok(transform_numeric(input, &self.chosen, |(), x| {
            if x <= -1.0 { f64::NAN } else { x.ln_1p() }
        }))
    }
}

impl Log1p {
    /// With the `error` setting, no transformed column may hold a value at or below -1.
    fn check_domain(&self, batch: &Batch, what: &str) -> Result<()> {
        if self.out_of_domain == OutOfDomain::Missing {
            return Ok(());
        }
        for column in &batch.columns {
            let ColumnData::Numeric(values) = &column.data else {
                continue;
            };
            if !self.chosen.contains_key(&column.name) {
                continue;
            }
            if let Some((row, x)) = values.iter().enumerate().find(|(_, x)| **x <= -1.0) {
                return Err(Error::InvalidInput(format!(
                    "{what} column `{}` has {x} at row {row}; log1p needs values above -1 (set \
                     at_or_below_minus_one to \"missing\" to make such values missing)",
                    column.name
                )));
            }
        }
        Ok(())
    }
}

vigil_plugin_sdk::export_preprocessor!(Log1p);

#[cfg(test)]
mod tests {
    use vigil_plugin_sdk::{Column, testing};
    use vigil_plugin_stats::preprocess_harness::{categorical, expect_error, numeric};

    use super::*;

    fn reference() -> Batch {
        Batch {
            columns: vec![
                numeric("a", &[0.0, 1.0, f64::NAN]),
                categorical("c", &[Some("x"), None, Some("y")]),
            ],
        }
    }

    fn run(input: Vec<Column>, config: &str) -> Result<Batch> {
        testing::preprocess::<Log1p>(reference(), Batch { columns: input }, config)
    }

    #[test]
    fn transforms_numeric_columns() {
        let out = run(vec![numeric("a", &[0.0, f64::NAN, 1e-20, -0.5])], "").unwrap();
        let ColumnData::Numeric(a) = &out.columns[0].data else {
            panic!()
        };
        assert_eq!(a[0], 0.0);
        assert!(a[1].is_nan());
        assert_eq!(a[2], 1e-20, "log1p keeps tiny values exact");
        assert_eq!(a[3], (0.5f64).ln());
    }

    #[test]
    fn values_at_or_below_minus_one() {
        expect_error(
            run(vec![numeric("a", &[0.0, -1.0])], ""),
            false,
            "input column `a` has -1 at row 1",
        );
        let out = run(
            vec![numeric("a", &[-1.0, -3.0, 0.0])],
            r#"{"at_or_below_minus_one": "missing"}"#,
        )
        .unwrap();
        let ColumnData::Numeric(a) = &out.columns[0].data else {
            panic!()
        };
        assert!(a[0].is_nan() && a[1].is_nan());
        assert_eq!(a[2], 0.0);
        let reference = Batch {
            columns: vec![numeric("a", &[-2.0])],
        };
        expect_error(
            testing::preprocess::<Log1p>(reference, Batch { columns: vec![] }, ""),
            false,
            "reference column `a` has -2",
        );
    }

    #[test]
    fn config_and_input_errors() {
        expect_error(run(vec![], r#"{"columns": ["c"]}"#), true, "categorical");
        expect_error(
            run(vec![], r#"{"at_or_below_minus_one": "clip"}"#),
            true,
            "clip",
        );
        expect_error(
            run(vec![], r#"{"columns": ["a"]}"#),
            false,
            "`a` is configured for log1p but missing",
        );
        expect_error(
            run(vec![categorical("a", &[None])], ""),
            false,
            "categorical in the input",
        );
    }

    #[test]
    fn empty_input_keeps_its_columns() {
        let input = vec![numeric("a", &[]), categorical("c", &[])];
        assert_eq!(run(input.clone(), "").unwrap().columns, input);
    }
}
