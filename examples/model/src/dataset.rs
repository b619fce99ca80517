//! Labeled records read from CSV: the columns that are features, typed, and the labels.
//!
//! The CSV is what `GET /v1/models/{model}/records?labeled=true&format=csv` answers
//! (docs/retraining.md): `id,timestamp,model_version,<features…>,prediction,proba_<class>…,label`.
//! Every column but those bookkeeping ones and `label` is a feature.

use std::io::Read;
use std::ops::Range;

use anyhow::{Context as _, bail};

/// Columns that describe a record or the deployed model's answer rather than the customer: never
/// features, so that a model cannot learn from the old model's predictions.
const NOT_FEATURES: [&str; 5] = ["id", "timestamp", "model_version", "prediction", "label"];
const PROBABILITY_PREFIX: &str = "proba_";

/// The texts that mean "no value", as the daemon reads CSV (docs/monitors.md).
const MISSING: [&str; 5] = ["", "NA", "NaN", "nan", "null"];

/// Whether a CSV cell holds no value.
pub fn is_missing(cell: &str) -> bool {
    MISSING.contains(&cell.trim())
}

/// One feature column of the labeled records.
#[derive(Clone, Debug, PartialEq)]
pub struct Feature {
    pub name: String,
    pub values: Values,
}

/// A column's cells, `None` where missing. A column is numeric when every present cell reads
/// as a finite number, categorical otherwise.
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    Numeric(Vec<Option<f64>>),
    Categorical(Vec<Option<String>>),
}

/// Labeled records, in the order they were read (the order of their offsets).
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    pub features: Vec<Feature>,
    pub labels: Vec<String>,
    /// Rows left out because their label was missing.
    pub unlabeled: usize,
}

impl Dataset {
    /// Reads CSV with a header row and a `label` column. Rows without a label are left out and
    /// counted; columns with no value at all are left out (nothing can be learned from them).
    pub fn from_csv(reader: impl Read) -> anyhow::Result<Dataset> {
        let mut csv = csv::ReaderBuilder::new()
            .flexible(false)
            .from_reader(reader);
        let headers = csv.headers().context("reading the CSV header")?.clone();
        let Some(label_at) = headers.iter().position(|h| h == "label") else {
            bail!(
                "the CSV has no `label` column (columns: {})",
                headers.iter().collect::<Vec<_>>().join(",")
            );
        };
        let feature_at: Vec<usize> = headers
            .iter()
            .enumerate()
            .filter(|(_, name)| {
                !NOT_FEATURES.contains(name) && !name.starts_with(PROBABILITY_PREFIX)
            })
            .map(|(i, _)| i)
            .collect();
        let mut cells: Vec<Vec<Option<String>>> = vec![Vec::new(); feature_at.len()];
        let mut labels = Vec::new();
        let mut unlabeled = 0;
        for (row, record) in csv.records().enumerate() {
            let record = record.with_context(|| format!("reading CSV row {}", row + 1))?;
            let label = record.get(label_at).unwrap_or("");
            if is_missing(label) {
                unlabeled += 1;
                continue;
            }
            labels.push(label.trim().to_string());
            for (column, &at) in cells.iter_mut().zip(&feature_at) {
                let cell = record.get(at).unwrap_or("");
                column.push((!is_missing(cell)).then(|| cell.trim().to_string()));
            }
        }
        let features = feature_at
            .iter()
            .zip(cells)
            .filter(|(_, cells)| cells.iter().any(Option::is_some))
            .map(|(&at, cells)| Feature {
                name: headers[at].to_string(),
                values: Values::from_cells(cells),
            })
            .collect();
        Ok(Dataset {
            features,
            labels,
            unlabeled,
        })
    }

    /// How many labeled records there are.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// One row's features as a request body's `features` would give them: numbers, strings,
    /// `null` where missing. For scoring a model on records it was not fitted on.
    pub fn row_features(&self, row: usize) -> serde_json::Map<String, serde_json::Value> {
        self.features
            .iter()
            .map(|feature| {
                let value = match &feature.values {
                    Values::Numeric(cells) => {
                        cells[row].map_or(serde_json::Value::Null, |v| v.into())
                    }
                    Values::Categorical(cells) => cells[row]
                        .clone()
                        .map_or(serde_json::Value::Null, serde_json::Value::String),
                };
                (feature.name.clone(), value)
            })
            .collect()
    }

    /// The distinct labels among `rows`, sorted.
    pub fn classes(&self, rows: Range<usize>) -> Vec<String> {
        let mut classes: Vec<String> = self.labels[rows].to_vec();
        classes.sort();
        classes.dedup();
        classes
    }
}

impl Values {
    fn from_cells(cells: Vec<Option<String>>) -> Values {
        let numbers: Option<Vec<Option<f64>>> = cells
            .iter()
            .map(|cell| match cell {
                None => Some(None),
                Some(text) => text.parse::<f64>().ok().filter(|x| x.is_finite()).map(Some),
            })
            .collect();
        match numbers {
            Some(numbers) => Values::Numeric(numbers),
            None => Values::Categorical(cells),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_are_the_columns_that_describe_the_record() {
        let csv = "id,timestamp,model_version,age,plan,prediction,proba_0,proba_1,label\n\
                   a,2026-01-01T00:00:00Z,v1,42,basic,1,0.2,0.8,1\n\
                   b,2026-01-01T00:00:01Z,v1,,pro,0,0.9,0.1,0\n\
                   c,2026-01-01T00:00:02Z,v1,30.5,NA,0,0.9,0.1,\n\
                   d,2026-01-01T00:00:03Z,v1,NaN,3,0,0.9,0.1,0\n";
        let data = Dataset::from_csv(csv.as_bytes()).unwrap();
        assert_eq!(data.labels, ["1", "0", "0"]);
        assert_eq!(data.unlabeled, 1);
        assert_eq!(
            data.features,
            [
                Feature {
                    name: "age".into(),
                    values: Values::Numeric(vec![Some(42.0), None, None]),
                },
                Feature {
                    name: "plan".into(),
                    // `3` among words: the column is categorical, the number a category.
                    values: Values::Categorical(vec![
                        Some("basic".into()),
                        Some("pro".into()),
                        Some("3".into())
                    ]),
                },
            ]
        );
        assert_eq!(data.classes(0..3), ["0", "1"]);
    }

    #[test]
    fn a_csv_without_labels_is_refused_by_name() {
        let error = Dataset::from_csv("id,age\na,1\n".as_bytes()).unwrap_err();
        assert!(error.to_string().contains("no `label` column"), "{error}");
    }

    #[test]
    fn empty_columns_are_left_out() {
        let data = Dataset::from_csv("age,note,label\n1,,0\n2,,1\n".as_bytes()).unwrap();
        let names: Vec<&str> = data.features.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["age"]);
    }
}
