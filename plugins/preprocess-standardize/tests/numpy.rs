//! The standardizer against numpy, on the cases in `tests/reference/standardize.json` (written
//! by `generate_standardize.py`). Every output value must lie within 1e-12 (relative) of
//! numpy's, missing values must stay missing, and categorical columns must pass through.

use std::fmt;

use preprocess_standardize::Standardize;
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use vigil_plugin_sdk::{Batch, CategoricalColumn, Column, ColumnData, MISSING_CODE, testing};

#[derive(Deserialize)]
struct Reference {
    versions: serde_json::Map<String, serde_json::Value>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    config: serde_json::Value,
    reference: Table,
    input: Table,
    expected: Table,
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
    /// A column with any label in it is categorical; otherwise numeric, `null` as NaN.
    fn batch(&self) -> Batch {
        let columns = self
            .0
            .iter()
            .map(|(name, cells)| {
                let categorical = cells.iter().any(|c| matches!(c, Cell::Label(_)));
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

fn labels(column: &CategoricalColumn) -> Vec<Option<&str>> {
    column
        .codes
        .iter()
        .map(|&code| (code != MISSING_CODE).then(|| column.categories[code as usize].as_str()))
        .collect()
}

fn reference() -> Reference {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/reference/standardize.json"
    );
    let text = std::fs::read_to_string(path).expect("reference file is readable");
    let reference: Reference = serde_json::from_str(&text).expect("reference file parses");
    assert!(reference.versions.contains_key("numpy"));
    assert!(
        reference.cases.len() >= 5,
        "the reference holds every scenario"
    );
    reference
}

#[test]
fn matches_numpy() {
    for case in reference().cases {
        let name = &case.name;
        let out = testing::preprocess::<Standardize>(
            case.reference.batch(),
            case.input.batch(),
            &case.config.to_string(),
        )
        .unwrap_or_else(|e| panic!("case {name}: {e:?}"));
        let expected = case.expected.batch();

        let names = |b: &Batch| b.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&out), names(&expected), "case {name}: column order");
        for (got, want) in out.columns.iter().zip(&expected.columns) {
            let column = &want.name;
            match (&got.data, &want.data) {
                (ColumnData::Numeric(got), ColumnData::Numeric(want)) => {
                    assert_eq!(got.len(), want.len(), "case {name}, `{column}`: rows");
                    for (row, (&g, &w)) in got.iter().zip(want).enumerate() {
                        let close = if w.is_nan() {
                            g.is_nan()
                        } else {
                            (g - w).abs() <= 1e-12 * w.abs()
                        };
                        assert!(
                            close,
                            "case {name}, `{column}` row {row}: got {g}, numpy {w}"
                        );
                    }
                }
                (ColumnData::Categorical(got), ColumnData::Categorical(want)) => {
                    assert_eq!(labels(got), labels(want), "case {name}, `{column}`");
                }
                _ => panic!("case {name}, `{column}`: column kind changed"),
            }
        }
    }
}
