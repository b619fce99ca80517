//! Parsing ingestion requests — JSON arrays, NDJSON and CSV — straight into columns.
//!
//! A record is
//! `{"id", "timestamp", "model_version", "features": {name: number|string|null}, "prediction",
//! "probabilities": {class: p}}`; everything but `features` is optional. In CSV the columns
//! `id`, `timestamp`, `model_version`, `prediction` and `proba_<class>` have those meanings and
//! every other column is a feature. Timestamps are RFC 3339 text or Unix seconds; a record
//! without one gets the time it arrived; a record without an id gets a random one.
//!
//! With a schema (the features of the model's monitors) a record must fit it: no unknown
//! features, numbers where numbers are declared, finite numbers only; a missing feature is a
//! missing value. Without one, a feature is numeric while every value is a number. Any error
//! names the row (1-based) and the field, and the whole request is refused.
//!
//! `json` reads arrays and NDJSON, `csv` reads CSV; both fill a [`BatchBuilder`], which checks
//! each value as it comes. `labels` parses labels requests.

mod batch;
mod column;
mod csv;
mod json;
mod labels;
mod scalar;
#[cfg(test)]
mod tests;

use vigil_store::RecordBatch;

pub use self::batch::BatchBuilder;
pub use self::labels::parse_labels;
use crate::vocab::{FeatureKind, Format, Task};

/// Why a request was refused: the row and field, when one is to blame.
#[derive(Debug, PartialEq)]
pub struct RecordError {
    pub row: Option<usize>,
    pub field: Option<String>,
    pub message: String,
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.row, &self.field) {
            (Some(row), Some(field)) => write!(f, "row {row}, field `{field}`: {}", self.message),
            (Some(row), None) => write!(f, "row {row}: {}", self.message),
            (None, Some(field)) => write!(f, "field `{field}`: {}", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}

fn error(row: usize, field: &str, message: impl Into<String>) -> RecordError {
    RecordError {
        row: Some(row),
        field: Some(field.to_string()),
        message: message.into(),
    }
}

fn too_many(max_rows: usize) -> RecordError {
    RecordError {
        row: Some(max_rows + 1),
        field: None,
        message: format!("more than {max_rows} records in one request"),
    }
}

/// Parses a records request into columns.
pub fn parse_records(
    body: &[u8],
    format: Format,
    schema: Option<&[(String, FeatureKind)]>,
    task: Task,
    max_rows: usize,
    now_ms: i64,
) -> Result<RecordBatch, RecordError> {
    let mut builder = BatchBuilder::new(schema, task, now_ms);
    match format {
        Format::Json => json::parse_json_records(body, &mut builder, max_rows)?,
        Format::Ndjson => json::parse_ndjson_records(body, &mut builder, max_rows)?,
        Format::Csv => csv::parse_csv_records(body, &mut builder, max_rows)?,
    }
    if builder.rows == 0 {
        return Err(RecordError {
            row: None,
            field: None,
            message: "the request holds no records".into(),
        });
    }
    Ok(builder.finish())
}
