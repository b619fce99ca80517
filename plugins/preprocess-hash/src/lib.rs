//! `preprocess-hash`: categorical columns hashed into a fixed number of numeric columns, as
//! scikit-learn's `FeatureHasher(input_type="string")` with one column's label per row
//! (docs/preprocessors.md).
//!
//! The hash is MurmurHash3 (x86, 32-bit, seed 0) of the label's UTF-8 bytes, read as a signed
//! 32-bit integer `h`: the label goes to column `|h| mod n_features`, with value `+1` when
//! `h >= 0` and `-1` otherwise (`alternate_sign`, on by default, so collisions cancel out on
//! average), or `+1` always. Columns are named `NAME#0` … `NAME#(n-1)`, placed after the source.
//! Labels the reference never had hash like any other; a missing value is missing (NaN) in
//! every column. The reference only fixes which columns are hashed.

use std::collections::HashMap;

use schemars::JsonSchema;
use serde::Deserialize;
use vigil_plugin_sdk::{
    Batch, CategoricalColumn, Column, ColumnData, ColumnKind, Error, MISSING_CODE, Preprocessor,
    Result,
};
use vigil_plugin_stats::batch::{check_input, check_shape, kinds, select, with_new_columns};

/// Configuration of the hasher.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The categorical columns to hash; each must be present in every input. When omitted,
    /// every categorical column of the reference is hashed wherever it appears.
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    /// How many numeric columns each hashed column becomes, from 1 to 4096.
    #[serde(default = "default_features")]
    pub n_features: u32,
    /// Whether the sign of the hash gives the value's sign (scikit-learn's default).
    #[serde(default = "default_true")]
    pub alternate_sign: bool,
    /// Whether the categorical source column stays in the output.
    #[serde(default = "default_true")]
    pub keep_source: bool,
}

fn default_features() -> u32 {
    16
}

fn default_true() -> bool {
    true
}

/// The hasher, with the columns it applies to.
#[derive(Debug)]
pub struct Hash {
    hashed: Vec<String>,
    n_features: u32,
    alternate_sign: bool,
    keep_source: bool,
    required: Vec<String>,
    kinds: HashMap<String, ColumnKind>,
}

impl Preprocessor for Hash {
    type Config = Config;
    const DESCRIPTION: &'static str =
        "Hashes categorical columns into a fixed number of numeric columns (MurmurHash3)";

    fn fit(reference: Batch, config: Config) -> Result<Self> {
        check_shape(&reference, "reference")?;
        if !(1..=4096).contains(&config.n_features) {
            return Err(Error::InvalidConfig(format!(
                "n_features is {}; it must be from 1 to 4096",
                config.n_features
            )));
        }
        let kinds = kinds(&reference);
        let (picked, required) = select(
            &reference,
            &kinds,
            config.columns.as_deref(),
            ColumnKind::Categorical,
        )?;
        Ok(Hash {
            hashed: picked.into_iter().map(|c| c.name.clone()).collect(),
            n_features: config.n_features,
            alternate_sign: config.alternate_sign,
            keep_source: config.keep_source,
            required,
            kinds,
        })
    }

    fn transform(&self, input: Batch) -> Result<Batch> {
        check_input(&input, &self.required, &self.kinds, "hashing")?;
        with_new_columns(input, self.keep_source, |column| {
            Ok(match &column.data {
                ColumnData::Categorical(c) if self.hashed.contains(&column.name) => {
                    Some(self.encode(&column.name, c))
                }
                _ => None,
            })
        })
    }
}

impl Hash {
    fn encode(&self, name: &str, column: &CategoricalColumn) -> Vec<Column> {
        let n = self.n_features as usize;
        // Each category's column and value, hashed once.
        let slots: Vec<(usize, f64)> = column
            .categories
            .iter()
            .map(|label| slot(label, self.n_features, self.alternate_sign))
            .collect();
        let rows = column.codes.len();
        let mut columns = vec![vec![0.0; rows]; n];
        for (row, &code) in column.codes.iter().enumerate() {
            if code == MISSING_CODE {
                for values in &mut columns {
                    values[row] = f64::NAN;
                }
            } else {
                let (at, value) = slots[code as usize];
                columns[at][row] += value;
            }
        }
        columns
            .into_iter()
            .enumerate()
            .map(|(i, values)| Column {
                name: format!("{name}#{i}"),
                data: ColumnData::Numeric(values),
            })
            .collect()
    }
}

/// The column and value of `label`, as scikit-learn's `_hashing_fast.transform` computes them.
fn slot(label: &str, n_features: u32, alternate_sign: bool) -> (usize, f64) {
    let hash =
        murmur3::murmur3_32(&mut label.as_bytes(), 0).expect("reading a slice cannot fail") as i32;
    let index = if hash == i32::MIN {
        // |i32::MIN| does not fit in an i32; scikit-learn folds it like this.
        (i32::MAX as u32 - (n_features - 1)) % n_features
    } else {
        hash.unsigned_abs() % n_features
    };
    let value = if alternate_sign && hash < 0 {
        -1.0
    } else {
        1.0
    };
    (index as usize, value)
}

vigil_plugin_sdk::export_preprocessor!(Hash);

#[cfg(test)]
mod tests {
    use vigil_plugin_sdk::testing;
    use vigil_plugin_stats::preprocess_harness::{categorical, expect_error, numeric};

    use super::*;

    fn reference() -> Batch {
        Batch {
            columns: vec![
                categorical("c", &[Some("x"), None]),
                numeric("n", &[1.0, 2.0]),
            ],
        }
    }

    fn run(input: Vec<Column>, config: &str) -> Result<Batch> {
        testing::preprocess::<Hash>(reference(), Batch { columns: input }, config)
    }

    #[test]
    fn murmur3_matches_known_values() {
        // MurmurHash3_x86_32 test vectors (seed 0).
        assert_eq!(murmur3::murmur3_32(&mut "".as_bytes(), 0).unwrap(), 0);
        assert_eq!(
            murmur3::murmur3_32(&mut "hello".as_bytes(), 0).unwrap(),
            0x248b_fa47
        );
    }

    #[test]
    fn every_row_has_one_signed_entry_or_is_missing() {
        let out = run(
            vec![categorical("c", &[Some("x"), Some("never seen"), None])],
            r#"{"n_features": 4}"#,
        )
        .unwrap();
        assert_eq!(out.columns.len(), 5);
        for row in 0..2 {
            let entries: Vec<f64> = out.columns[1..]
                .iter()
                .map(|c| match &c.data {
                    ColumnData::Numeric(v) => v[row],
                    ColumnData::Categorical(_) => panic!("hashed columns are numeric"),
                })
                .filter(|&x| x != 0.0)
                .collect();
            assert!(entries == [1.0] || entries == [-1.0], "{entries:?}");
        }
        assert!(out.columns[1..].iter().all(|c| match &c.data {
            ColumnData::Numeric(v) => v[2].is_nan(),
            ColumnData::Categorical(_) => false,
        }));
    }

    #[test]
    fn errors() {
        expect_error(run(vec![], r#"{"n_features": 0}"#), true, "from 1 to 4096");
        expect_error(run(vec![], r#"{"columns": ["n"]}"#), true, "numeric");
        expect_error(run(vec![], r#"{"seed": 1}"#), true, "seed");
        expect_error(
            run(vec![], r#"{"columns": ["c"]}"#),
            false,
            "`c` is configured for hashing but missing",
        );
    }
}
