//! `preprocess-bin`: numeric columns binned into categorical bin labels at quantiles of the
//! reference (docs/preprocessors.md), the binning the binned distances use
//! (`vigil_plugin_stats::binning`).
//!
//! The inner edges are the distinct quantiles of the reference's non-missing values
//! (`np.unique(np.quantile(ref, quantiles))`, numpy's `linear` method); bins are right-closed,
//! `(-inf, e1], (e1, e2], …, (e_k, +inf)`, and bin `i` is labelled `"i"` (`np.searchsorted(
//! edges, x, side="left")`). The labels go to a new categorical column `NAME` + `suffix`, placed
//! after its source (a column of the input under that name, such as an all-missing placeholder
//! for a feature the records do not carry, is replaced). Missing values get a missing label.

use std::collections::HashMap;

use schemars::JsonSchema;
use serde::Deserialize;
use vigil_plugin_sdk::{Batch, Column, ColumnData, ColumnKind, Error, Preprocessor, Result};
use vigil_plugin_stats::batch::{
    check_fittable, check_input, check_shape, kinds, select_numeric, with_new_columns,
};
use vigil_plugin_stats::binning::{DECILES, bin_of, quantile_edges};
use vigil_plugin_stats::order::sorted_values;

/// Configuration of the binning.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Equal-frequency bins: the inner quantiles are 1/bins, 2/bins, …; from 2 to 1000. The
    /// default, 10, gives the deciles of the binned distances. Not with `quantiles`.
    #[serde(default)]
    pub bins: Option<u32>,
    /// The inner quantiles themselves, strictly increasing, each in (0, 1). Not with `bins`.
    #[serde(default)]
    pub quantiles: Option<Vec<f64>>,
    /// The numeric columns to bin; each must be present in every input. When omitted, every
    /// numeric column of the reference is binned wherever it appears.
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    /// What the bin column's name adds to its source's.
    #[serde(default = "default_suffix")]
    pub suffix: String,
    /// Whether the numeric source column stays in the output (a monitor fails the drift test
    /// of a feature the output no longer has).
    #[serde(default = "default_keep")]
    pub keep_source: bool,
}

fn default_suffix() -> String {
    "_bin".to_string()
}

fn default_keep() -> bool {
    true
}

/// A binning fitted on a reference batch.
#[derive(Debug)]
pub struct Bin {
    /// The inner edges of each binned column, by source name.
    edges: HashMap<String, Vec<f64>>,
    /// The bin labels, `"0"` to `"k"` for the widest column.
    labels: Vec<String>,
    suffix: String,
    keep_source: bool,
    required: Vec<String>,
    kinds: HashMap<String, ColumnKind>,
}

impl Preprocessor for Bin {
    type Config = Config;
    const DESCRIPTION: &'static str =
        "Bins numeric columns into categorical labels at quantiles of the reference";

    fn fit(reference: Batch, config: Config) -> Result<Self> {
        check_shape(&reference, "reference")?;
        let quantiles = quantiles(&config)?;
        if config.suffix.is_empty() {
            // A categorical column cannot take the place of a numeric one of the same name.
            return Err(Error::InvalidConfig(
                "suffix is empty; the bin column needs a name of its own".to_string(),
            ));
        }
        let kinds = kinds(&reference);
        let selection = select_numeric(&reference, &kinds, config.columns.as_deref())?;
        let mut edges = HashMap::new();
        for (name, values) in selection.columns {
            check_fittable(name, values)?;
            let target = format!("{name}{}", config.suffix);
            if kinds.get(&target) == Some(&ColumnKind::Numeric) {
                return Err(Error::InvalidConfig(format!(
                    "the bins of `{name}` would go to `{target}`, a numeric column of the \
                     reference; choose another suffix"
                )));
            }
            edges.insert(
                name.to_string(),
                quantile_edges(&sorted_values(values.to_vec()), &quantiles),
            );
        }
        let labels = (0..=quantiles.len()).map(|i| i.to_string()).collect();
        Ok(Bin {
            edges,
            labels,
            suffix: config.suffix,
            keep_source: config.keep_source,
            required: selection.required,
            kinds,
        })
    }

    fn transform(&self, input: Batch) -> Result<Batch> {
        check_input(&input, &self.required, &self.kinds, "binning")?;
        with_new_columns(input, self.keep_source, |column| {
            Ok(match (&column.data, self.edges.get(&column.name)) {
                (ColumnData::Numeric(values), Some(edges)) => Some(vec![Column {
                    name: format!("{}{}", column.name, self.suffix),
                    data: self.bin(edges, values),
                }]),
                _ => None,
            })
        })
    }
}

impl Bin {
    /// The bin labels of `values`, missing for NaN.
    fn bin(&self, edges: &[f64], values: &[f64]) -> ColumnData {
        ColumnData::categorical(
            values
                .iter()
                .map(|&x| (!x.is_nan()).then(|| self.labels[bin_of(edges, x)].as_str())),
        )
    }
}

/// The inner quantiles the configuration asks for.
fn quantiles(config: &Config) -> Result<Vec<f64>> {
    match (&config.bins, &config.quantiles) {
        (Some(_), Some(_)) => Err(Error::InvalidConfig(
            "set bins or quantiles, not both".to_string(),
        )),
        (None, None) => Ok(DECILES.to_vec()),
        (Some(bins), None) => {
            if !(2..=1000).contains(bins) {
                return Err(Error::InvalidConfig(format!(
                    "bins is {bins}; it must be from 2 to 1000"
                )));
            }
            Ok((1..*bins)
                .map(|i| f64::from(i) / f64::from(*bins))
                .collect())
        }
        (None, Some(quantiles)) => {
            if quantiles.is_empty() || quantiles.len() > 999 {
                return Err(Error::InvalidConfig(
                    "quantiles must list from 1 to 999 values".to_string(),
                ));
            }
            if let Some(q) = quantiles.iter().find(|q| !(**q > 0.0 && **q < 1.0)) {
                return Err(Error::InvalidConfig(format!(
                    "quantiles has {q}; each must be strictly between 0 and 1"
                )));
            }
            if quantiles.windows(2).any(|w| w[0] >= w[1]) {
                return Err(Error::InvalidConfig(
                    "quantiles must be strictly increasing".to_string(),
                ));
            }
            Ok(quantiles.clone())
        }
    }
}

vigil_plugin_sdk::export_preprocessor!(Bin);

#[cfg(test)]
mod tests;
