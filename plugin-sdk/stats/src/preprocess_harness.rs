//! The reference test every standard preprocessor runs: each case of a file in
//! `tests/reference/` (written by a committed NumPy / scikit-learn script) run through the
//! plugin, every output value compared within 1e-9 relative, labels compared exactly.
//!
//! A case is `{"name", "config": {...}, "reference": TABLE, "input": TABLE, "expected": TABLE |
//! {"error": "invalid-config" | "invalid-input", "mentions": "..."}, "categorical": [NAME]}`
//! (the last optional). A TABLE is an object of
//! columns in order; a column holding any string is categorical, as is one `categorical` names or
//! whose reference column holds a string; the others are numeric, and `null` is a missing value.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use vigil_plugin_sdk::testing::preprocess;
use vigil_plugin_sdk::{
    Batch, CategoricalColumn, Column, ColumnData, Error, MISSING_CODE, Preprocessor,
};

/// The bound the standard preprocessors are held to: 1e-9 relative (exact zeros must be exact).
pub const RELATIVE: f64 = 1e-9;

#[derive(Deserialize)]
struct ReferenceFile {
    generated_by: String,
    versions: serde_json::Map<String, serde_json::Value>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    config: serde_json::Value,
    reference: Table,
    input: Table,
    expected: Expected,
    /// Columns to read as categorical though they hold no label (all missing, or empty).
    #[serde(default)]
    categorical: Vec<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Expected {
    Error { error: String, mentions: String },
    Table(Table),
}

/// One cell: a number, a label, or `null` for a missing value.
#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum Cell {
    Number(f64),
    Label(String),
    Missing(()),
}

/// Columns in the order the file lists them (a JSON object, read in order).
struct Table(Vec<(String, Vec<Cell>)>);

impl<'de> Deserialize<'de> for Table {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct InOrder;
        impl<'de> Visitor<'de> for InOrder {
            type Value = Table;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of columns")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Table, A::Error> {
                let mut columns = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    columns.push(entry);
                }
                Ok(Table(columns))
            }
        }
        deserializer.deserialize_map(InOrder)
    }
}

impl Table {
    /// Whether the column holds a label.
    fn has_labels(&self, name: &str) -> bool {
        self.0
            .iter()
            .any(|(n, cells)| n == name && cells.iter().any(|c| matches!(c, Cell::Label(_))))
    }

    /// The batch; a column without labels is categorical when the case lists it under
    /// `categorical` or the reference has labels in it.
    fn batch(&self, case: &Case) -> Batch {
        let columns = self
            .0
            .iter()
            .map(|(name, cells)| {
                let categorical = cells.iter().any(|c| matches!(c, Cell::Label(_)))
                    || case.categorical.contains(name)
                    || case.reference.has_labels(name);
                let data = if categorical {
                    ColumnData::categorical(cells.iter().map(|c| match c {
                        Cell::Label(s) => Some(s.as_str()),
                        Cell::Missing(()) => None,
                        Cell::Number(x) => panic!("column `{name}` mixes {x} with labels"),
                    }))
                } else {
                    ColumnData::numeric(
                        cells
                            .iter()
                            .map(|c| match c {
                                Cell::Number(x) => *x,
                                _ => f64::NAN,
                            })
                            .collect::<Vec<_>>(),
                    )
                };
                Column {
                    name: name.clone(),
                    data,
                }
            })
            .collect();
        Batch { columns }
    }
}

/// The labels of a categorical column, `None` for missing.
pub fn labels(column: &CategoricalColumn) -> Vec<Option<&str>> {
    column
        .codes
        .iter()
        .map(|&code| (code != MISSING_CODE).then(|| column.categories[code as usize].as_str()))
        .collect()
}

fn close(got: f64, want: f64, relative: f64) -> bool {
    if want.is_nan() {
        got.is_nan()
    } else {
        got == want || (got - want).abs() <= relative * want.abs()
    }
}

/// Runs every case of `tests/reference/{file}` (written by `generator`) through `P` and
/// panics on the first difference beyond `relative` (usually [`RELATIVE`]). Returns the number
/// of cases run.
pub fn check_preprocessor_file<P: Preprocessor>(
    file: &str,
    generator: &str,
    relative: f64,
) -> usize {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/reference")
        .join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run {generator}", path.display()));
    let reference: ReferenceFile = serde_json::from_str(&text).expect("reference file parses");
    assert!(
        reference.generated_by.contains(generator),
        "{file} was written by {}",
        reference.generated_by
    );
    assert!(reference.versions.contains_key("numpy"));
    for case in &reference.cases {
        check_case::<P>(case, relative);
    }
    reference.cases.len()
}

fn check_case<P: Preprocessor>(case: &Case, relative: f64) {
    let name = &case.name;
    let result = preprocess::<P>(
        case.reference.batch(case),
        case.input.batch(case),
        &case.config.to_string(),
    );
    let expected = match &case.expected {
        Expected::Error { error, mentions } => {
            let message = match (error.as_str(), result) {
                ("invalid-config", Err(Error::InvalidConfig(m))) => m,
                ("invalid-input", Err(Error::InvalidInput(m))) => m,
                (_, other) => panic!("case {name}: expected {error}, got {other:?}"),
            };
            assert!(
                message.contains(mentions.as_str()),
                "case {name}: `{message}` does not mention `{mentions}`"
            );
            return;
        }
        Expected::Table(table) => table.batch(case),
    };
    let out = result.unwrap_or_else(|e| panic!("case {name}: {e:?}"));
    let names = |b: &Batch| b.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&out), names(&expected), "case {name}: columns");
    for (got, want) in out.columns.iter().zip(&expected.columns) {
        let column = &want.name;
        match (&got.data, &want.data) {
            (ColumnData::Numeric(got), ColumnData::Numeric(want)) => {
                assert_eq!(got.len(), want.len(), "case {name}, `{column}`: rows");
                for (row, (&g, &w)) in got.iter().zip(want).enumerate() {
                    assert!(
                        close(g, w, relative),
                        "case {name}, `{column}` row {row}: got {g}, reference {w}"
                    );
                }
            }
            (ColumnData::Categorical(got), ColumnData::Categorical(want)) => {
                assert_eq!(labels(got), labels(want), "case {name}, `{column}`");
            }
            // An empty or all-missing expected column reads as numeric.
            (ColumnData::Categorical(got), ColumnData::Numeric(want))
                if want.iter().all(|w| w.is_nan()) =>
            {
                assert!(
                    labels(got).iter().all(Option::is_none) && got.codes.len() == want.len(),
                    "case {name}, `{column}`: expected {} missing values",
                    want.len()
                );
            }
            _ => panic!("case {name}, `{column}`: column kind differs from the reference"),
        }
    }
}

/// A numeric column, for unit tests.
pub fn numeric(name: &str, values: &[f64]) -> Column {
    Column {
        name: name.to_string(),
        data: ColumnData::numeric(values.to_vec()),
    }
}

/// A categorical column (`None` missing), for unit tests.
pub fn categorical(name: &str, values: &[Option<&str>]) -> Column {
    Column {
        name: name.to_string(),
        data: ColumnData::categorical(values.iter().copied()),
    }
}

/// Panics unless `result` is an invalid-config (`config`) or invalid-input error whose message
/// contains `needle`.
pub fn expect_error(result: Result<Batch, Error>, config: bool, needle: &str) {
    match result {
        Err(Error::InvalidConfig(message)) if config => {
            assert!(message.contains(needle), "{message}")
        }
        Err(Error::InvalidInput(message)) if !config => {
            assert!(message.contains(needle), "{message}")
        }
        other => panic!("expected an error mentioning `{needle}`, got {other:?}"),
    }
}
