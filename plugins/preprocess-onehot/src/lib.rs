//! `preprocess-onehot`: categorical columns one-hot encoded over the reference's categories, as
//! scikit-learn's `OneHotEncoder` (docs/preprocessors.md).
//!
//! Each encoded column gets one numeric 0/1 column per label the reference has, named
//! `NAME` + `separator` + `LABEL`, in label order (byte order, as scikit-learn sorts them),
//! placed after the source. A missing value is missing (NaN) in every indicator column. A label
//! the reference never had fails the batch (`unseen = "error"`, naming the column and label)
//! or gives all zeros (`unseen = "ignore"`, scikit-learn's `handle_unknown="ignore"`).

use std::collections::HashMap;

use schemars::JsonSchema;
use serde::Deserialize;
use vigil_plugin_sdk::{
    Batch, CategoricalColumn, Column, ColumnData, ColumnKind, Error, MISSING_CODE, Preprocessor,
    Result,
};
use vigil_plugin_stats::batch::{check_input, check_shape, kinds, select, with_new_columns};

/// What a label the reference never had does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Unseen {
    /// Fail the batch, naming the column and the label.
    #[default]
    Error,
    /// Encode it as all zeros.
    Ignore,
}

/// Configuration of the encoder.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The categorical columns to encode; each must be present in every input. When omitted,
    /// every categorical column of the reference is encoded wherever it appears.
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    /// What a label the reference never had does: `error` (the default) or `ignore` (zeros).
    #[serde(default)]
    pub unseen: Unseen,
    /// Between the column's name and the label in an indicator column's name.
    #[serde(default = "default_separator")]
    pub separator: String,
    /// Whether the categorical source column stays in the output (a monitor fails the drift
    /// test of a feature the output no longer has).
    #[serde(default = "default_keep")]
    pub keep_source: bool,
}

fn default_separator() -> String {
    "=".to_string()
}

fn default_keep() -> bool {
    true
}

/// An encoder fitted on a reference batch.
#[derive(Debug)]
pub struct OneHot {
    /// The reference's labels of each encoded column, sorted.
    categories: HashMap<String, Vec<String>>,
    unseen: Unseen,
    separator: String,
    keep_source: bool,
    required: Vec<String>,
    kinds: HashMap<String, ColumnKind>,
}

impl Preprocessor for OneHot {
    type Config = Config;
    const DESCRIPTION: &'static str =
        "One-hot encodes categorical columns over the reference's categories";

    fn fit(reference: Batch, config: Config) -> Result<Self> {
        check_shape(&reference, "reference")?;
        let kinds = kinds(&reference);
        let (picked, required) = select(
            &reference,
            &kinds,
            config.columns.as_deref(),
            ColumnKind::Categorical,
        )?;
        let mut categories = HashMap::new();
        for column in picked {
            let ColumnData::Categorical(c) = &column.data else {
                continue;
            };
            let mut labels: Vec<String> = c
                .counts()
                .into_iter()
                .zip(&c.categories)
                .filter(|&(count, _)| count > 0)
                .map(|(_, label)| label.clone())
                .collect();
            if labels.is_empty() {
                return Err(Error::InvalidInput(format!(
                    "reference column `{}` has no non-missing values to take categories from; \
                     leave it out with the `columns` setting",
                    column.name
                )));
            }
            labels.sort_unstable();
            categories.insert(column.name.clone(), labels);
        }
        Ok(OneHot {
            categories,
            unseen: config.unseen,
            separator: config.separator,
            keep_source: config.keep_source,
            required,
            kinds,
        })
    }

    fn transform(&self, input: Batch) -> Result<Batch> {
        check_input(&input, &self.required, &self.kinds, "one-hot encoding")?;
        with_new_columns(input, self.keep_source, |column| {
            match (&column.data, self.categories.get(&column.name)) {
                (ColumnData::Categorical(c), Some(labels)) => {
                    self.encode(&column.name, c, labels).map(Some)
                }
                _ => Ok(None),
            }
        })
    }
}

impl OneHot {
    /// One indicator column per reference label.
    fn encode(
        &self,
        name: &str,
        column: &CategoricalColumn,
        labels: &[String],
    ) -> Result<Vec<Column>> {
        // The indicator of each of the input's categories; `None` for an unseen one.
        let positions: Vec<Option<usize>> = column
            .categories
            .iter()
            .map(|label| labels.binary_search(label).ok())
            .collect();
        let rows = column.codes.len();
        let mut indicators = vec![vec![0.0; rows]; labels.len()];
        for (row, &code) in column.codes.iter().enumerate() {
            if code == MISSING_CODE {
                for indicator in &mut indicators {
                    indicator[row] = f64::NAN;
                }
                continue;
            }
            match positions[code as usize] {
                Some(at) => indicators[at][row] = 1.0,
                None if self.unseen == Unseen::Ignore => {}
                None => {
                    return Err(Error::InvalidInput(format!(
                        "column `{name}` has `{}` at row {row}, a label the reference did not \
                         have (it had {} labels); set unseen to \"ignore\" to encode such labels \
                         as zeros",
                        column.categories[code as usize],
                        labels.len()
                    )));
                }
            }
        }
        Ok(labels
            .iter()
            .zip(indicators)
            .map(|(label, values)| Column {
                name: format!("{name}{}{label}", self.separator),
                data: ColumnData::Numeric(values),
            })
            .collect())
    }
}

vigil_plugin_sdk::export_preprocessor!(OneHot);

#[cfg(test)]
mod tests {
    use vigil_plugin_sdk::testing;
    use vigil_plugin_stats::preprocess_harness::{categorical, expect_error, numeric};

    use super::*;

    fn reference() -> Batch {
        Batch {
            columns: vec![
                categorical("c", &[Some("y"), None, Some("x"), Some("y")]),
                numeric("n", &[1.0, 2.0, 3.0, 4.0]),
            ],
        }
    }

    fn run(input: Vec<Column>, config: &str) -> Result<Batch> {
        testing::preprocess::<OneHot>(reference(), Batch { columns: input }, config)
    }

    fn numbers(batch: &Batch, name: &str) -> Vec<f64> {
        match &batch.columns.iter().find(|c| c.name == name).unwrap().data {
            ColumnData::Numeric(v) => v.clone(),
            ColumnData::Categorical(_) => panic!("`{name}` is categorical"),
        }
    }

    #[test]
    fn encodes_sorted_reference_labels() {
        let out = run(vec![categorical("c", &[Some("x"), Some("y"), None])], "").unwrap();
        let names: Vec<&str> = out.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["c", "c=x", "c=y"]);
        assert_eq!(numbers(&out, "c=x")[..2], [1.0, 0.0]);
        assert_eq!(numbers(&out, "c=y")[..2], [0.0, 1.0]);
        assert!(numbers(&out, "c=x")[2].is_nan() && numbers(&out, "c=y")[2].is_nan());
    }

    #[test]
    fn unseen_labels() {
        expect_error(
            run(vec![categorical("c", &[Some("x"), Some("z")])], ""),
            false,
            "column `c` has `z` at row 1",
        );
        let out = run(
            vec![categorical("c", &[Some("z")])],
            r#"{"unseen": "ignore", "keep_source": false, "separator": "_"}"#,
        )
        .unwrap();
        let names: Vec<&str> = out.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["c_x", "c_y"]);
        assert_eq!(numbers(&out, "c_x"), [0.0]);
    }

    #[test]
    fn errors() {
        expect_error(run(vec![], r#"{"columns": ["n"]}"#), true, "numeric");
        expect_error(run(vec![], r#"{"unseen": "drop"}"#), true, "drop");
        expect_error(
            run(vec![], r#"{"columns": ["c"]}"#),
            false,
            "`c` is configured for one-hot encoding but missing",
        );
        expect_error(
            run(
                vec![categorical("c", &[Some("x")]), categorical("c=x", &[None])],
                "",
            ),
            false,
            "categorical column `c=x`, where a numeric column goes",
        );
        let reference = Batch {
            columns: vec![categorical("c", &[None])],
        };
        expect_error(
            testing::preprocess::<OneHot>(reference, Batch { columns: vec![] }, ""),
            false,
            "no non-missing values",
        );
    }

    #[test]
    fn empty_input_gets_empty_indicators() {
        let out = run(vec![categorical("c", &[])], "").unwrap();
        assert_eq!(out.columns.len(), 3);
        assert!(out.columns.iter().all(|c| c.data.is_empty()));
    }
}
