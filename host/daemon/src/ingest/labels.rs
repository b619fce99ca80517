//! Labels requests: `{"id", "label"}` records in JSON or NDJSON, or CSV with the columns
//! `id` and `label`.

use std::borrow::Cow;

use serde::Deserialize;
use vigil_store::LabelValue;

use super::csv::{check_quotes, csv_message};
use super::json::{json_error, ndjson_lines};
use super::scalar::Scalar;
use super::{RecordError, error, too_many};
use crate::vocab::{Format, Task, number_text};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireLabel<'a> {
    #[serde(borrow)]
    id: Scalar<'a>,
    #[serde(borrow)]
    label: Scalar<'a>,
}

/// Parses a labels request: `{"id", "label"}` records, or CSV with `id,label`. A CSV label is
/// a number for a regression model and its text as written for a classifier (a class `007`
/// stays `007`, as its predictions do).
pub fn parse_labels(
    body: &[u8],
    format: Format,
    task: Task,
    max_rows: usize,
) -> Result<Vec<(String, LabelValue)>, RecordError> {
    let mut labels = Vec::new();
    let mut add = |row: usize, id: Scalar<'_>, label: Scalar<'_>| -> Result<(), RecordError> {
        let id = match id {
            Scalar::Text(t) if !t.is_empty() && t.len() <= 256 => t.into_owned(),
            Scalar::Number(n) if n.fract() == 0.0 && n.is_finite() => number_text(n),
            _ => return Err(error(row, "id", "expected a record id")),
        };
        let label = match (label, task) {
            (Scalar::Number(n), _) if n.is_finite() => LabelValue::Number(n),
            (_, Task::Regression) => {
                return Err(error(
                    row,
                    "label",
                    "a regression model's label is a finite number",
                ));
            }
            (Scalar::Text(t), _) if !t.is_empty() && t.len() <= 256 => {
                LabelValue::Text(t.into_owned())
            }
            (Scalar::Bool(b), _) => LabelValue::Text(b.to_string()),
            _ => {
                return Err(error(
                    row,
                    "label",
                    "a classifier's label is a class: a string of 1 to 256 bytes, a number or a \
                     boolean",
                ));
            }
        };
        labels.push((id, label));
        Ok(())
    };
    match format {
        Format::Json => {
            let records: Vec<WireLabel> =
                serde_json::from_slice(body).map_err(|e| json_error(None, e))?;
            if records.len() > max_rows {
                return Err(too_many(max_rows));
            }
            for (i, r) in records.into_iter().enumerate() {
                add(i + 1, r.id, r.label)?;
            }
        }
        Format::Ndjson => {
            for (row, line) in ndjson_lines(body) {
                if row > max_rows {
                    return Err(too_many(max_rows));
                }
                let r: WireLabel =
                    serde_json::from_slice(line).map_err(|e| json_error(Some(row), e))?;
                add(row, r.id, r.label)?;
            }
        }
        Format::Csv => {
            check_quotes(body)?;
            let mut reader = csv::ReaderBuilder::new().from_reader(body);
            let headers = reader.headers().map_err(|e| RecordError {
                row: None,
                field: None,
                message: format!("the header: {}", csv_message(&e)),
            })?;
            let (Some(id_at), Some(label_at), 2) = (
                headers.iter().position(|h| h == "id"),
                headers.iter().position(|h| h == "label"),
                headers.len(),
            ) else {
                return Err(RecordError {
                    row: None,
                    field: None,
                    message: "labels CSV has exactly the columns `id` and `label`".into(),
                });
            };
            for (i, record) in reader.records().enumerate() {
                let row = i + 1;
                if row > max_rows {
                    return Err(too_many(max_rows));
                }
                let record = record.map_err(|e| RecordError {
                    row: Some(row),
                    field: None,
                    message: csv_message(&e),
                })?;
                let text = |at: usize| record.get(at).unwrap_or("");
                let label = match (task, text(label_at).parse::<f64>()) {
                    (Task::Regression, Ok(v)) => Scalar::Number(v),
                    _ => Scalar::Text(Cow::Borrowed(text(label_at))),
                };
                add(row, Scalar::Text(Cow::Borrowed(text(id_at))), label)?;
            }
        }
    }
    if labels.is_empty() {
        return Err(RecordError {
            row: None,
            field: None,
            message: "the request holds no labels".into(),
        });
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_parse_in_every_format() {
        let json = parse_labels(
            br#"[{"id": "a", "label": 1.5}, {"id": 7, "label": 2}]"#,
            Format::Json,
            Task::Regression,
            9,
        )
        .unwrap();
        let csv = parse_labels(b"id,label\na,1.5\n7,2\n", Format::Csv, Task::Regression, 9);
        assert_eq!(Ok(json), csv);
        // A classifier's CSV labels are classes as written, like its predictions.
        let classes = parse_labels(
            b"id,label\na,007\n7,cat\n",
            Format::Csv,
            Task::Classification,
            9,
        )
        .unwrap();
        assert_eq!(classes[0], ("a".into(), LabelValue::Text("007".into())));
        assert_eq!(classes[1], ("7".into(), LabelValue::Text("cat".into())));
        assert!(parse_labels(b"id,value\na,1\n", Format::Csv, Task::Classification, 9).is_err());
        assert!(parse_labels(br#"[{"id": "a"}]"#, Format::Json, Task::Classification, 9).is_err());
    }
}
