//! `GET /v1/models/{model}/records`: a model's records at a range of stream offsets, with
//! their labels, as CSV or NDJSON, for retraining runs (docs/retraining.md).
//!
//! The answer is streamed: the stored batches are read a few at a time
//! ([`Store::read_records_chunk`]), each piece encoded and sent before the next is read, so a
//! range of a million records never sits in memory. The first piece is read before the answer
//! begins, so a range that starts in pruned records is a `410`; records pruned while the answer
//! is on its way end it early (the connection closes without the chunked body's end), which a
//! client sees as an error, never as a short success. The range is cut at the end of the stream
//! as it was when the request came; the headers `X-Vigil-Records-Start` and
//! `X-Vigil-Records-End` say which offsets the answer covers.

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use vigil_store::{ColumnData, LabelValue, MISSING_CODE, RecordBatch, Store};

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::models::find_model;
use crate::vocab::number_text;

/// The most records one request may ask for: a longer range is read in several requests.
pub const MAX_RECORDS_PER_REQUEST: i64 = 1_000_000;

/// Records read from the store per piece of the answer (plus at most one stored batch).
const PIECE_RECORDS: i64 = 10_000;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// The first offset (default 0).
    start: Option<i64>,
    /// The offset past the last (default: `start` plus [`MAX_RECORDS_PER_REQUEST`], cut at the
    /// end of the stream).
    end: Option<i64>,
    /// Only the records that have a label.
    #[serde(default)]
    labeled: bool,
    /// `csv` or `ndjson`; else the `Accept` header decides, CSV by default.
    format: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Csv,
    Ndjson,
}

impl Format {
    fn chosen(query: Option<&str>, headers: &HeaderMap) -> ApiResult<Format> {
        match query {
            Some("csv") => return Ok(Format::Csv),
            Some("ndjson") => return Ok(Format::Ndjson),
            Some(other) => {
                return Err(ApiError::invalid(format!(
                    "format: `{other}` is not one; expected `csv` or `ndjson`"
                )));
            }
            None => {}
        }
        let accept = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        Ok(if accept.contains("application/x-ndjson") {
            Format::Ndjson
        } else {
            Format::Csv
        })
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Ndjson => "application/x-ndjson",
        }
    }
}

/// The columns of an answer, fixed before its first byte: the model's features in the order of
/// its schema (its monitors' features), or, for a model without monitors, those of the first
/// records of the range; the classes of the first records' probabilities.
struct Columns {
    features: Vec<String>,
    classes: Vec<String>,
}

pub async fn records(
    State(state): State<AppState>,
    Path(model): Path<String>,
    Query(query): Query<ExportQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let model = find_model(&state, &model).await?;
    let format = Format::chosen(query.format.as_deref(), &headers)?;
    let start = query.start.unwrap_or(0);
    if start < 0 {
        return Err(ApiError::invalid("start: a record offset, from 0"));
    }
    let end = query
        .end
        .unwrap_or(start.saturating_add(MAX_RECORDS_PER_REQUEST));
    if end < start {
        return Err(ApiError::invalid(format!(
            "end: {end} is before start {start}"
        )));
    }
    if end - start > MAX_RECORDS_PER_REQUEST {
        return Err(ApiError::invalid(format!(
            "at most {MAX_RECORDS_PER_REQUEST} records per request; ask for {start}..{} and \
             continue from there",
            start + MAX_RECORDS_PER_REQUEST
        )));
    }
    let end = end
        .min(state.store.record_count(model.id).await?)
        .max(start);
    let first = state
        .store
        .read_records_chunk(model.id, start, end, PIECE_RECORDS)
        .await?;
    let schema = state.schemas.get(&state.store, model.id).await?;
    let columns = Columns {
        features: match schema.as_ref() {
            Some(schema) => schema.iter().map(|(name, _)| name.clone()).collect(),
            None => first.features.iter().map(|c| c.name.clone()).collect(),
        },
        classes: first.probabilities.iter().map(|c| c.name.clone()).collect(),
    };
    let export = Export {
        store: state.store.clone(),
        model_id: model.id,
        next: start,
        end,
        labeled: query.labeled,
        format,
        columns,
        first: Some(first),
        header_sent: false,
    };
    let body = futures_util::stream::try_unfold(export, |mut export| async move {
        match export.next_piece().await {
            Ok(Some(bytes)) => Ok(Some((bytes, export))),
            Ok(None) => Ok(None),
            Err(error) => {
                tracing::warn!(model_id = export.model_id, %error, "records export cut short");
                Err(error)
            }
        }
    });
    let mut response = Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    headers.insert("x-vigil-records-start", HeaderValue::from(start));
    headers.insert("x-vigil-records-end", HeaderValue::from(end));
    Ok(response)
}

/// Where an answer is: what is left to read, and how to write it.
struct Export {
    store: Store,
    model_id: i64,
    next: i64,
    end: i64,
    labeled: bool,
    format: Format,
    columns: Columns,
    /// The piece read before the answer began.
    first: Option<RecordBatch>,
    header_sent: bool,
}

impl Export {
    /// The next piece of the answer, encoded; `None` at the end.
    async fn next_piece(&mut self) -> vigil_store::Result<Option<Bytes>> {
        let mut out = Vec::new();
        if !self.header_sent {
            self.header_sent = true;
            if self.format == Format::Csv {
                out = csv_header(&self.columns);
            }
        }
        // Pieces whose records all lack a label write nothing: read on until one does.
        loop {
            let piece = match self.first.take() {
                Some(first) => first,
                None => {
                    self.store
                        .read_records_chunk(self.model_id, self.next, self.end, PIECE_RECORDS)
                        .await?
                }
            };
            if piece.is_empty() {
                return Ok((!out.is_empty()).then(|| out.into()));
            }
            let labels = self
                .store
                .labels_of(self.model_id, self.next, &piece.ids)
                .await?;
            let mut by_row: Vec<Option<LabelValue>> = vec![None; piece.len()];
            for (offset, label) in labels {
                by_row[(offset - self.next) as usize] = Some(label);
            }
            self.next += piece.len() as i64;
            let rows = Rows::new(&piece, &self.columns);
            match self.format {
                Format::Csv => write_csv(&mut out, &rows, &by_row, self.labeled),
                Format::Ndjson => write_ndjson(&mut out, &rows, &by_row, self.labeled),
            }
            if !out.is_empty() {
                return Ok(Some(out.into()));
            }
        }
    }
}

/// A piece's columns in the answer's order: each feature and class column, or none where the
/// piece lacks it.
struct Rows<'a> {
    batch: &'a RecordBatch,
    columns: &'a Columns,
    features: Vec<Option<&'a ColumnData>>,
    probabilities: Vec<Option<&'a ColumnData>>,
}

impl<'a> Rows<'a> {
    fn new(batch: &'a RecordBatch, columns: &'a Columns) -> Rows<'a> {
        let find = |list: &'a [vigil_store::Column], name: &str| {
            list.iter().find(|c| c.name == name).map(|c| &c.data)
        };
        Rows {
            batch,
            columns,
            features: columns
                .features
                .iter()
                .map(|name| find(&batch.features, name))
                .collect(),
            probabilities: columns
                .classes
                .iter()
                .map(|class| find(&batch.probabilities, class))
                .collect(),
        }
    }

    /// When the record at `row` was made, as RFC 3339 to the millisecond.
    fn timestamp(&self, row: usize) -> String {
        let ms = self.batch.timestamps[row].max(0) as u64;
        humantime::format_rfc3339_millis(
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms),
        )
        .to_string()
    }
}

/// One value of a column: a number, a text, or missing.
enum Cell<'a> {
    Number(f64),
    Text(&'a str),
    Missing,
}

fn cell(column: Option<&ColumnData>, row: usize) -> Cell<'_> {
    match column {
        Some(ColumnData::Numeric(values)) if !values[row].is_nan() => Cell::Number(values[row]),
        Some(ColumnData::Categorical { categories, codes }) if codes[row] != MISSING_CODE => {
            Cell::Text(&categories[codes[row] as usize])
        }
        _ => Cell::Missing,
    }
}

fn label_cell(label: &Option<LabelValue>) -> Cell<'_> {
    match label {
        Some(LabelValue::Number(n)) => Cell::Number(*n),
        Some(LabelValue::Text(t)) => Cell::Text(t),
        None => Cell::Missing,
    }
}

impl Cell<'_> {
    /// As CSV text: numbers in their shortest exact form, missing as an empty field.
    fn text(&self) -> String {
        match self {
            Cell::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => number_text(*n),
            // Debug writes the shortest text that reads back exactly, with an exponent for
            // very large and very small numbers.
            Cell::Number(n) => format!("{n:?}"),
            Cell::Text(t) => t.to_string(),
            Cell::Missing => String::new(),
        }
    }

    fn json(&self) -> serde_json::Value {
        match self {
            Cell::Number(n) => serde_json::Value::from(*n),
            Cell::Text(t) => serde_json::Value::from(*t),
            Cell::Missing => serde_json::Value::Null,
        }
    }
}

fn csv_header(columns: &Columns) -> Vec<u8> {
    let mut header = vec!["id".to_string(), "timestamp".into(), "model_version".into()];
    header.extend(columns.features.iter().cloned());
    header.push("prediction".into());
    header.extend(columns.classes.iter().map(|c| format!("proba_{c}")));
    header.push("label".into());
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&header).expect("writing to memory");
    writer.into_inner().expect("writing to memory")
}

fn write_csv(out: &mut Vec<u8>, rows: &Rows<'_>, labels: &[Option<LabelValue>], labeled: bool) {
    let mut writer = csv::Writer::from_writer(std::mem::take(out));
    let batch = rows.batch;
    let mut record = Vec::new();
    for (row, label) in labels.iter().enumerate() {
        if labeled && label.is_none() {
            continue;
        }
        record.clear();
        record.push(batch.ids[row].clone());
        record.push(rows.timestamp(row));
        record.push(batch.model_versions[row].clone().unwrap_or_default());
        record.extend(rows.features.iter().map(|c| cell(*c, row).text()));
        record.push(cell(batch.prediction.as_ref(), row).text());
        record.extend(rows.probabilities.iter().map(|c| cell(*c, row).text()));
        record.push(label_cell(label).text());
        writer.write_record(&record).expect("writing to memory");
    }
    *out = writer.into_inner().expect("writing to memory");
}

/// NDJSON in the shape ingestion reads (`{"id", "timestamp", "model_version", "features",
/// "prediction", "probabilities"}`), with `"label"`.
fn write_ndjson(out: &mut Vec<u8>, rows: &Rows<'_>, labels: &[Option<LabelValue>], labeled: bool) {
    let batch = rows.batch;
    for (row, label) in labels.iter().enumerate() {
        if labeled && label.is_none() {
            continue;
        }
        let features: serde_json::Map<String, serde_json::Value> = rows
            .features
            .iter()
            .zip(&rows.columns.features)
            .map(|(column, name)| (name.clone(), cell(*column, row).json()))
            .collect();
        let mut record = serde_json::json!({
            "id": batch.ids[row],
            "timestamp": rows.timestamp(row),
            "model_version": batch.model_versions[row],
            "features": features,
            "prediction": cell(batch.prediction.as_ref(), row).json(),
        });
        if !rows.probabilities.is_empty() {
            let probabilities: serde_json::Map<String, serde_json::Value> = rows
                .probabilities
                .iter()
                .zip(&rows.columns.classes)
                .map(|(column, class)| (class.clone(), cell(*column, row).json()))
                .collect();
            record["probabilities"] = probabilities.into();
        }
        record["label"] = label_cell(label).json();
        serde_json::to_writer(&mut *out, &record).expect("writing to memory");
        out.push(b'\n');
    }
}
