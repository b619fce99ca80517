//! `preprocess-derive`: new numeric columns from two numeric columns each: a ratio, a
//! difference or a product (docs/preprocessors.md). No general expression language: the
//! operations are a closed list, so a configuration cannot do more than it says.
//!
//! A derived column is appended after the input's columns, in configuration order, or takes
//! the place of an input column of that name (a placeholder for a feature the records do not
//! carry), which must then be numeric. A missing operand gives a missing result, as does a
//! ratio whose divisor is 0 (where numpy would give an infinity or NaN).

use std::collections::{HashMap, HashSet};

use schemars::JsonSchema;
use serde::Deserialize;
use vigil_plugin_sdk::{Batch, Column, ColumnData, ColumnKind, Error, Preprocessor, Result};
use vigil_plugin_stats::batch::{check_configured, check_input, check_shape, kind_name, kinds};

/// The operations a derived column can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// `left / right`; missing where `right` is 0.
    Ratio,
    /// `left - right`.
    Difference,
    /// `left * right`.
    Product,
}

/// One derived column.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Derived {
    /// The new column's name.
    pub name: String,
    /// What it is.
    pub op: Operation,
    /// The first operand: a numeric column of the reference.
    pub left: String,
    /// The second operand: a numeric column of the reference.
    pub right: String,
}

/// Configuration: the derived columns.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The columns to derive, in output order; their operands must be in every input.
    pub columns: Vec<Derived>,
}

/// The derivations, checked against the reference.
#[derive(Debug)]
pub struct Derive {
    derived: Vec<Derived>,
    required: Vec<String>,
    kinds: HashMap<String, ColumnKind>,
}

impl Preprocessor for Derive {
    type Config = Config;
    const DESCRIPTION: &'static str = "Adds ratios, differences or products of two numeric columns";

    fn fit(reference: Batch, config: Config) -> Result<Self> {
        check_shape(&reference, "reference")?;
        let kinds = kinds(&reference);
        if config.columns.is_empty() {
            return Err(Error::InvalidConfig(
                "columns is empty; list the columns to derive".to_string(),
            ));
        }
        let mut names = HashSet::new();
        let mut required = Vec::new();
        for derived in &config.columns {
            let name = &derived.name;
            if name.is_empty() || !names.insert(name) {
                return Err(Error::InvalidConfig(format!(
                    "columns derives `{name}` twice, or a column without a name"
                )));
            }
            for operand in [&derived.left, &derived.right] {
                check_configured(
                    operand,
                    &format!("the operand of `{name}`"),
                    &kinds,
                    Some(ColumnKind::Numeric),
                )?;
                if !required.contains(operand) {
                    required.push(operand.clone());
                }
            }
            if let Some(&kind) = kinds.get(name)
                && kind != ColumnKind::Numeric
            {
                return Err(Error::InvalidConfig(format!(
                    "`{name}` is a {} column of the reference; a derived column is numeric, so \
                     choose another name",
                    kind_name(kind)
                )));
            }
            if names.contains(&derived.left) || names.contains(&derived.right) {
                return Err(Error::InvalidConfig(format!(
                    "`{name}` uses a derived column; operands must be columns of the input"
                )));
            }
        }
        Ok(Derive {
            derived: config.columns,
            required,
            kinds,
        })
    }

    fn transform(&self, input: Batch) -> Result<Batch> {
        check_input(&input, &self.required, &self.kinds, "deriving")?;
        let values = |name: &str| -> Result<&[f64]> {
            match input
                .columns
                .iter()
                .find(|c| c.name == name)
                .map(|c| &c.data)
            {
                Some(ColumnData::Numeric(values)) => Ok(values),
                _ => Err(Error::InvalidInput(format!(
                    "column `{name}` is not numeric in the input"
                ))),
            }
        };
        let mut made = Vec::new();
        for derived in &self.derived {
            let (left, right) = (values(&derived.left)?, values(&derived.right)?);
            let data = left
                .iter()
                .zip(right)
                .map(|(&l, &r)| apply(derived.op, l, r))
                .collect();
            made.push(Column {
                name: derived.name.clone(),
                data: ColumnData::Numeric(data),
            });
        }
        let mut columns = input.columns;
        for column in made {
            match columns.iter_mut().find(|c| c.name == column.name) {
                Some(placeholder) if matches!(placeholder.data, ColumnData::Numeric(_)) => {
                    *placeholder = column;
                }
                Some(_) => {
                    return Err(Error::InvalidInput(format!(
                        "the input has a categorical column `{}`, where a derived numeric \
                         column goes; rename one of them",
                        column.name
                    )));
                }
                None => columns.push(column),
            }
        }
        Ok(Batch { columns })
    }
}

/// One value of a derived column.
fn apply(op: Operation, left: f64, right: f64) -> f64 {
    match op {
        Operation::Ratio if right == 0.0 => f64::NAN,
        Operation::Ratio => left / right,
        Operation::Difference => left - right,
        Operation::Product => left * right,
    }
}

vigil_plugin_sdk::export_preprocessor!(Derive);

#[cfg(test)]
mod tests {
    use vigil_plugin_sdk::testing;
    use vigil_plugin_stats::preprocess_harness::{categorical, expect_error, numeric};

    use super::*;

    fn reference() -> Batch {
        Batch {
            columns: vec![
                numeric("a", &[1.0]),
                numeric("b", &[2.0]),
                categorical("c", &[Some("x")]),
            ],
        }
    }

    fn run(input: Vec<Column>, config: &str) -> Result<Batch> {
        testing::preprocess::<Derive>(reference(), Batch { columns: input }, config)
    }

    const ALL: &str = r#"{"columns": [
        {"name": "a_per_b", "op": "ratio", "left": "a", "right": "b"},
        {"name": "a_minus_b", "op": "difference", "left": "a", "right": "b"},
        {"name": "a_times_b", "op": "product", "left": "a", "right": "b"}]}"#;

    fn numbers(batch: &Batch, name: &str) -> Vec<f64> {
        match &batch.columns.iter().find(|c| c.name == name).unwrap().data {
            ColumnData::Numeric(v) => v.clone(),
            ColumnData::Categorical(_) => panic!("`{name}` is categorical"),
        }
    }

    #[test]
    fn derives_after_the_input() {
        let out = run(
            vec![
                numeric("a", &[6.0, 1.0, f64::NAN]),
                numeric("b", &[3.0, 0.0, 1.0]),
            ],
            ALL,
        )
        .unwrap();
        let names: Vec<&str> = out.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "a_per_b", "a_minus_b", "a_times_b"]);
        let ratio = numbers(&out, "a_per_b");
        assert_eq!(ratio[0], 2.0);
        assert!(ratio[1].is_nan(), "a zero divisor gives a missing value");
        assert!(ratio[2].is_nan(), "a missing operand gives a missing value");
        assert_eq!(numbers(&out, "a_minus_b")[..2], [3.0, 1.0]);
        assert_eq!(numbers(&out, "a_times_b")[..2], [18.0, 0.0]);
    }

    #[test]
    fn a_numeric_placeholder_is_replaced_in_place() {
        let config = r#"{"columns": [{"name": "r", "op": "ratio", "left": "a", "right": "b"}]}"#;
        let out = run(
            vec![
                numeric("r", &[f64::NAN]),
                numeric("a", &[1.0]),
                numeric("b", &[4.0]),
            ],
            config,
        )
        .unwrap();
        assert_eq!(out.columns[0].name, "r");
        assert_eq!(numbers(&out, "r"), [0.25]);
        expect_error(
            run(
                vec![
                    categorical("r", &[None]),
                    numeric("a", &[1.0]),
                    numeric("b", &[4.0]),
                ],
                config,
            ),
            false,
            "categorical column `r`",
        );
    }

    #[test]
    fn errors() {
        let one = |name: &str, op: &str, left: &str, right: &str| {
            format!(
                r#"{{"columns": [{{"name": "{name}", "op": "{op}", "left": "{left}", "right": "{right}"}}]}}"#
            )
        };
        for (config, needle) in [
            (r#"{"columns": []}"#.to_string(), "empty"),
            (one("x", "power", "a", "b"), "power"),
            (one("x", "ratio", "a", "zz"), "zz"),
            (one("x", "ratio", "a", "c"), "categorical"),
            (one("c", "ratio", "a", "b"), "choose another name"),
            (one("", "ratio", "a", "b"), "without a name"),
            (r#"{"columns": [{"name": "x", "op": "ratio", "left": "a", "right": "b", "scale": 2}]}"#.to_string(), "scale"),
        ] {
            expect_error(run(vec![], &config), true, needle);
        }
        expect_error(
            run(vec![numeric("a", &[1.0])], ALL),
            false,
            "`b` is configured for deriving but missing",
        );
    }

    #[test]
    fn empty_input_gets_empty_derived_columns() {
        let out = run(vec![numeric("a", &[]), numeric("b", &[])], ALL).unwrap();
        assert_eq!(out.columns.len(), 5);
        assert!(out.columns.iter().all(|c| c.data.is_empty()));
    }
}
