//! `preprocess-impute`: fills missing values with a value fitted on the reference, as
//! scikit-learn's `SimpleImputer` does (docs/preprocessors.md).
//!
//! Each reference column gets a strategy: its own under `columns`, else `strategy` (numeric
//! columns) or `categorical_strategy` (categorical ones). `mean` and `median` are taken over the
//! reference's non-missing values, `most_frequent` picks the smallest of the tied values (as
//! scikit-learn does), `constant` fills `fill_value`, and `keep` leaves the column alone. A
//! categorical column whose fill label is new gets it as a new category. Input columns the
//! reference did not have pass through; labels the reference never saw stay as they are.
//!
//! Unlike `SimpleImputer`, which silently drops a column with no non-missing values, fitting
//! such a column with `mean`, `median` or `most_frequent` is an error that says how to fix it.

mod statistics;

use std::collections::{BTreeMap, HashMap};

use schemars::JsonSchema;
use serde::Deserialize;
use vigil_plugin_sdk::{
    Batch, CategoricalColumn, Column, ColumnData, ColumnKind, Error, MISSING_CODE, Preprocessor,
    Result,
};
use vigil_plugin_stats::batch::{
    check_configured, check_input, check_shape, kind, kinds, map_columns,
};

/// How a column's missing values are filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The reference's mean (numeric columns only).
    Mean,
    /// The reference's median (numeric columns only).
    Median,
    /// The reference's most frequent value, the smallest of those tied.
    MostFrequent,
    /// The configured `fill_value`.
    Constant,
    /// Leave the column as it is.
    Keep,
}

/// A constant to fill with: a number for a numeric column, a label for a categorical one.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum FillValue {
    /// For a numeric column.
    Number(f64),
    /// For a categorical column.
    Label(String),
}

/// The strategy of one column, overriding the defaults.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ColumnConfig {
    /// How to fill this column.
    pub strategy: Strategy,
    /// The constant for `constant`: a number for a numeric column, a label for a categorical
    /// one. Defaults to `fill_value` or `categorical_fill_value`.
    #[serde(default)]
    pub fill_value: Option<FillValue>,
}

/// Configuration of the imputer.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The strategy of every numeric column not listed under `columns`.
    #[serde(default = "default_numeric")]
    pub strategy: Strategy,
    /// The strategy of every categorical column not listed under `columns`; `mean` and
    /// `median` are not defined for labels.
    #[serde(default = "default_categorical")]
    pub categorical_strategy: Strategy,
    /// The number `constant` fills numeric columns with (scikit-learn's default, 0).
    #[serde(default)]
    pub fill_value: f64,
    /// The label `constant` fills categorical columns with (scikit-learn's default).
    #[serde(default = "default_label")]
    pub categorical_fill_value: String,
    /// Per-column strategies, by column name. Each listed column must be in the reference and
    /// in every input.
    #[serde(default)]
    pub columns: BTreeMap<String, ColumnConfig>,
}

fn default_numeric() -> Strategy {
    Strategy::Mean
}

fn default_categorical() -> Strategy {
    Strategy::MostFrequent
}

fn default_label() -> String {
    "missing_value".to_string()
}

impl Default for Config {
    fn default() -> Self {
        Config {
            strategy: default_numeric(),
            categorical_strategy: default_categorical(),
            fill_value: 0.0,
            categorical_fill_value: default_label(),
            columns: BTreeMap::new(),
        }
    }
}

/// What fills one column's missing values.
#[derive(Debug, Clone, PartialEq)]
enum Fill {
    Number(f64),
    Label(String),
}

/// An imputer fitted on a reference batch.
#[derive(Debug)]
pub struct Impute {
    /// The fill of every imputed column, by name (columns kept as they are have none).
    fills: HashMap<String, Fill>,
    /// The columns listed under `columns`, which every input must carry.
    required: Vec<String>,
    /// The kind of every reference column.
    kinds: HashMap<String, ColumnKind>,
}

impl Preprocessor for Impute {
    type Config = Config;
    const DESCRIPTION: &'static str =
        "Fills missing values with the reference's mean, median, most frequent value or a constant";

    fn fit(reference: Batch, config: Config) -> Result<Self> {
        check_shape(&reference, "reference")?;
        let kinds = kinds(&reference);
        check_defaults(&config)?;
        for (name, column) in &config.columns {
            check_configured(name, "columns", &kinds, None)?;
            check_column_config(name, column, kinds[name])?;
        }
        let mut fills = HashMap::new();
        for column in &reference.columns {
            if let Some(fill) = fit_column(column, &config)? {
                fills.insert(column.name.clone(), fill);
            }
        }
        Ok(Impute {
            fills,
            required: config.columns.into_keys().collect(),
            kinds,
        })
    }

    fn transform(&self, input: Batch) -> Result<Batch> {
        check_input(&input, &self.required, &self.kinds, "imputation")?;
        map_columns(input, |column| {
            let data = match (self.fills.get(&column.name), column.data) {
                (Some(Fill::Number(fill)), ColumnData::Numeric(mut values)) => {
                    for x in values.iter_mut().filter(|x| x.is_nan()) {
                        *x = *fill;
                    }
                    ColumnData::Numeric(values)
                }
                (Some(Fill::Label(fill)), ColumnData::Categorical(c)) => {
                    ColumnData::Categorical(fill_labels(c, fill))
                }
                (_, data) => data,
            };
            Ok(Column {
                name: column.name,
                data,
            })
        })
    }
}

/// The defaults must make sense for the kind they apply to.
fn check_defaults(config: &Config) -> Result<()> {
    if matches!(
        config.categorical_strategy,
        Strategy::Mean | Strategy::Median
    ) {
        return Err(Error::InvalidConfig(format!(
            "categorical_strategy is {:?}, which needs numbers; use most_frequent, constant or \
             keep for categorical columns",
            config.categorical_strategy
        )));
    }
    if !config.fill_value.is_finite() {
        return Err(Error::InvalidConfig(
            "fill_value must be a finite number".to_string(),
        ));
    }
    Ok(())
}

/// A per-column strategy must suit the column's kind, and its fill value too.
fn check_column_config(name: &str, column: &ColumnConfig, kind: ColumnKind) -> Result<()> {
    let categorical = kind == ColumnKind::Categorical;
    if categorical && matches!(column.strategy, Strategy::Mean | Strategy::Median) {
        return Err(Error::InvalidConfig(format!(
            "columns.{name}: `{name}` is categorical, so its strategy cannot be {:?}; use \
             most_frequent, constant or keep",
            column.strategy
        )));
    }
    match (&column.fill_value, column.strategy) {
        (None, _) => Ok(()),
        (Some(_), strategy) if strategy != Strategy::Constant => Err(Error::InvalidConfig(
            format!("columns.{name}: fill_value is only used by the constant strategy"),
        )),
        (Some(FillValue::Number(_)), _) if categorical => Err(Error::InvalidConfig(format!(
            "columns.{name}: `{name}` is categorical, so its fill_value must be a label (a \
             string)"
        ))),
        (Some(FillValue::Label(_)), _) if !categorical => Err(Error::InvalidConfig(format!(
            "columns.{name}: `{name}` is numeric, so its fill_value must be a number"
        ))),
        (Some(FillValue::Number(x)), _) if !x.is_finite() => Err(Error::InvalidConfig(format!(
            "columns.{name}: fill_value must be a finite number"
        ))),
        _ => Ok(()),
    }
}

/// The fill of one reference column, `None` when it is kept as it is.
fn fit_column(column: &Column, config: &Config) -> Result<Option<Fill>> {
    let name = &column.name;
    let own = config.columns.get(name);
    let strategy = match (own, kind(&column.data)) {
        (Some(c), _) => c.strategy,
        (None, ColumnKind::Numeric) => config.strategy,
        (None, ColumnKind::Categorical) => config.categorical_strategy,
    };
    let none_present = || {
        Error::InvalidInput(format!(
            "reference column `{name}` has no non-missing values to take its {strategy:?} \
             from; set its strategy to constant or keep under `columns`"
        ))
    };
    let fill = match (&column.data, strategy) {
        (_, Strategy::Keep) => return Ok(None),
        (ColumnData::Numeric(_), Strategy::Constant) => Fill::Number(match own {
            Some(ColumnConfig {
                fill_value: Some(FillValue::Number(x)),
                ..
            }) => *x,
            _ => config.fill_value,
        }),
        (ColumnData::Categorical(_), Strategy::Constant) => Fill::Label(match own {
            Some(ColumnConfig {
                fill_value: Some(FillValue::Label(label)),
                ..
            }) => label.clone(),
            _ => config.categorical_fill_value.clone(),
        }),
        (ColumnData::Numeric(values), strategy) => {
            if let Some(x) = values.iter().find(|x| x.is_infinite()) {
                return Err(Error::InvalidInput(format!(
                    "reference column `{name}` contains {x}; only finite values (or NaN for \
                     missing) can be fitted"
                )));
            }
            let fitted = match strategy {
                Strategy::Mean => statistics::mean(values),
                Strategy::Median => statistics::median(values),
                _ => statistics::most_frequent_number(values),
            };
            Fill::Number(fitted.ok_or_else(none_present)?)
        }
        (ColumnData::Categorical(c), _) => {
            Fill::Label(statistics::most_frequent_label(c).ok_or_else(none_present)?)
        }
    };
    Ok(Some(fill))
}

/// Missing codes replaced by the fill label's code, the label added if the column lacks it.
fn fill_labels(mut column: CategoricalColumn, fill: &str) -> CategoricalColumn {
    if !column.codes.contains(&MISSING_CODE) {
        return column;
    }
    let code = match column.categories.iter().position(|c| c == fill) {
        Some(code) => code as u32,
        None => {
            column.categories.push(fill.to_string());
            (column.categories.len() - 1) as u32
        }
    };
    for c in column.codes.iter_mut().filter(|c| **c == MISSING_CODE) {
        *c = code;
    }
    column
}

vigil_plugin_sdk::export_preprocessor!(Impute);

#[cfg(test)]
mod tests;
