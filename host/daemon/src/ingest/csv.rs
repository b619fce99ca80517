//! CSV records: `id`, `timestamp`, `model_version`, `prediction` and `proba_<class>` columns
//! have those meanings, and every other column is a feature.

use std::borrow::Cow;

use super::batch::BatchBuilder;
use super::scalar::Scalar;
use super::{RecordError, error, too_many};
use crate::vocab::is_missing;

/// What is wrong with a CSV input, as a sentence (the `csv` crate's own message repeats the
/// record and byte positions in its own terms).
pub(super) fn csv_message(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => format!(
            "invalid CSV: line {} has {len} fields where the header has {expected_len}",
            pos.as_ref().map_or(0, |p| p.line())
        ),
        csv::ErrorKind::Utf8 { pos, .. } => format!(
            "invalid CSV: line {} is not UTF-8",
            pos.as_ref().map_or(0, |p| p.line())
        ),
        _ => format!("invalid CSV: {error}"),
    }
}

/// Refuses CSV whose quotes the `csv` crate would read past the row they belong to.
pub(super) fn check_quotes(body: &[u8]) -> Result<(), RecordError> {
    crate::csv_quotes::check(body).map_err(|error| RecordError {
        row: None,
        field: None,
        message: format!("invalid CSV: {error}"),
    })
}

pub(super) fn parse_csv_records(
    body: &[u8],
    builder: &mut BatchBuilder<'_>,
    max_rows: usize,
) -> Result<(), RecordError> {
    check_quotes(body)?;
    let mut reader = csv::ReaderBuilder::new().from_reader(body);
    let headers = reader
        .headers()
        .map_err(|e| RecordError {
            row: None,
            field: None,
            message: format!("the header: {}", csv_message(&e)),
        })?
        .clone();
    let mut record = csv::StringRecord::new();
    let mut row = 0;
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                return Err(RecordError {
                    row: Some(row + 1),
                    field: None,
                    message: csv_message(&e),
                });
            }
        }
        row += 1;
        if row > max_rows {
            return Err(too_many(max_rows));
        }
        let cell = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .and_then(|i| record.get(i))
                .filter(|c| !is_missing(c))
        };
        let id = cell("id").map(|t| Scalar::Text(Cow::Borrowed(t)));
        let timestamp = cell("timestamp").map(|t| match t.parse::<f64>() {
            Ok(v) => Scalar::Number(v),
            Err(_) => Scalar::Text(Cow::Borrowed(t)),
        });
        builder.set_meta(row, id, timestamp, cell("model_version"))?;
        let mut nth_feature = 0;
        for (name, value) in headers.iter().zip(record.iter()) {
            match name {
                "id" | "timestamp" | "model_version" => {}
                "prediction" => {
                    let value = if is_missing(value) {
                        Scalar::Null
                    } else {
                        Scalar::Cell(value)
                    };
                    builder.set_prediction(row, Some(value))?;
                }
                _ if name.starts_with("proba_") => {
                    if !is_missing(value) {
                        let p = value
                            .parse::<f64>()
                            .map_err(|_| error(row, name, "expected a probability"))?;
                        builder.set_probability(row, &name["proba_".len()..], p)?;
                    }
                }
                _ => {
                    let value = if is_missing(value) {
                        Scalar::Null
                    } else {
                        Scalar::Cell(value)
                    };
                    builder.set_feature(row, nth_feature, name, value)?;
                    nth_feature += 1;
                }
            }
        }
        if !headers.iter().any(|h| h == "prediction") {
            builder.set_prediction(row, None)?;
        }
        builder.end_row();
    }
    Ok(())
}
