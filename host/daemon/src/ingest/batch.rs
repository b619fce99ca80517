//! The batch a request fills: its rows' ids, times and versions, and a column per feature,
//! each value checked against the schema (or the column's kind inferred without one).

use std::borrow::Cow;
use std::collections::HashMap;

use vigil_store::{Column, ColumnData, RecordBatch};

use super::column::Builder;
use super::scalar::Scalar;
use super::{RecordError, error};
use crate::vocab::{FeatureKind, Task, number_text};

/// Turns parsed rows into a [`RecordBatch`], checking each against the schema.
pub struct BatchBuilder<'s> {
    schema: Option<&'s [(String, FeatureKind)]>,
    task: Task,
    now_ms: i64,
    pub(super) rows: usize,
    ids: Vec<String>,
    timestamps: Vec<i64>,
    versions: Vec<Option<String>>,
    names: Vec<String>,
    positions: HashMap<String, usize>,
    /// The column of the nth feature of the previous record.
    order: Vec<usize>,
    features: Vec<Builder>,
    prediction: Option<Builder>,
    probabilities: Vec<(String, Vec<f64>)>,
}

impl<'s> BatchBuilder<'s> {
    pub fn new(schema: Option<&'s [(String, FeatureKind)]>, task: Task, now_ms: i64) -> Self {
        let mut builder = BatchBuilder {
            schema,
            task,
            now_ms,
            rows: 0,
            ids: Vec::new(),
            timestamps: Vec::new(),
            versions: Vec::new(),
            names: Vec::new(),
            positions: HashMap::new(),
            order: Vec::new(),
            features: Vec::new(),
            prediction: None,
            probabilities: Vec::new(),
        };
        for (name, kind) in schema.unwrap_or_default() {
            builder.positions.insert(name.clone(), builder.names.len());
            builder.names.push(name.clone());
            builder.features.push(Builder::new(*kind, 0));
        }
        builder
    }

    /// The column of feature `name`, the `nth` of its record. Records of one request
    /// usually list their features in the same order (if not the schema's: serializers often
    /// sort keys), so the column the previous record had in that place is tried first.
    fn feature(&mut self, row: usize, nth: usize, name: &str) -> Result<usize, RecordError> {
        if let Some(&i) = self.order.get(nth)
            && self.names[i] == name
        {
            return Ok(i);
        }
        let found = self.positions.get(name).copied();
        if let Some(i) = found {
            self.remember(nth, i);
            return Ok(i);
        }
        if self.schema.is_some() {
            return Err(error(row, name, "not a feature of this model's monitors"));
        }
        // A model without monitors takes any features, within the bounds a monitor's have.
        crate::vocab::check_feature_name(name).map_err(|message| error(row, name, message))?;
        if self.features.len() >= MAX_FEATURES {
            return Err(error(
                row,
                name,
                format!("a record has at most {MAX_FEATURES} features"),
            ));
        }
        let mut column = Builder::new(FeatureKind::Numeric, self.rows + 1);
        for _ in 0..self.rows {
            column.push_missing();
        }
        self.positions.insert(name.to_string(), self.names.len());
        self.names.push(name.to_string());
        self.features.push(column);
        self.remember(nth, self.features.len() - 1);
        Ok(self.features.len() - 1)
    }

    fn remember(&mut self, nth: usize, column: usize) {
        if nth >= self.order.len() {
            self.order.resize(nth + 1, column);
        }
        self.order[nth] = column;
    }

    pub(super) fn set_feature(
        &mut self,
        row: usize,
        nth: usize,
        name: &str,
        value: Scalar<'_>,
    ) -> Result<(), RecordError> {
        let i = self.feature(row, nth, name)?;
        let column = &mut self.features[i];
        if column.len() > self.rows {
            return Err(error(row, name, "appears twice"));
        }
        let numeric_schema = self
            .schema
            .is_some_and(|_| matches!(column, Builder::Numeric(_)));
        let value = match value {
            Scalar::Cell(text) => match (&*column, text.parse::<f64>()) {
                (Builder::Numeric(_), Ok(v)) => Scalar::Number(v),
                _ => Scalar::Text(Cow::Borrowed(text)),
            },
            other => other,
        };
        match value {
            Scalar::Null => column.push_missing(),
            Scalar::Number(v) if !v.is_finite() => {
                return Err(error(row, name, "numbers must be finite"));
            }
            Scalar::Number(v) => column.push_number(v),
            Scalar::Text(_) | Scalar::Bool(_) if numeric_schema => {
                return Err(error(row, name, "expected a number"));
            }
            Scalar::Text(text) => column.push_text(&text),
            Scalar::Bool(b) => column.push_text(if b { "true" } else { "false" }),
            Scalar::Cell(_) => unreachable!("cells were typed above"),
        }
        Ok(())
    }

    /// Ends a row: features it did not name are missing.
    pub(super) fn end_row(&mut self) {
        self.rows += 1;
        for column in &mut self.features {
            if column.len() < self.rows {
                column.push_missing();
            }
        }
    }

    pub(super) fn set_prediction(
        &mut self,
        row: usize,
        value: Option<Scalar<'_>>,
    ) -> Result<(), RecordError> {
        let task = self.task;
        let rows = self.rows;
        let prediction = self.prediction.get_or_insert_with(|| {
            let mut column = Builder::new(
                match task {
                    Task::Regression => FeatureKind::Numeric,
                    Task::Classification => FeatureKind::Categorical,
                },
                rows + 1,
            );
            for _ in 0..rows {
                column.push_missing();
            }
            column
        });
        let value = match (value.unwrap_or(Scalar::Null), task) {
            (Scalar::Cell(text), Task::Regression) => match text.parse::<f64>() {
                Ok(v) => Scalar::Number(v),
                Err(_) => Scalar::Text(Cow::Borrowed(text)),
            },
            (Scalar::Cell(text), Task::Classification) => Scalar::Text(Cow::Borrowed(text)),
            (other, _) => other,
        };
        match (value, task) {
            (Scalar::Null, _) => prediction.push_missing(),
            (Scalar::Number(v), _) if !v.is_finite() => {
                return Err(error(row, "prediction", "numbers must be finite"));
            }
            (Scalar::Number(v), Task::Regression) => prediction.push_number(v),
            (_, Task::Regression) => {
                return Err(error(
                    row,
                    "prediction",
                    "a regression model predicts numbers",
                ));
            }
            (Scalar::Number(v), Task::Classification) => prediction.push_text(&number_text(v)),
            (Scalar::Text(t), Task::Classification) => prediction.push_text(&t),
            (Scalar::Bool(b), Task::Classification) => {
                prediction.push_text(if b { "true" } else { "false" })
            }
            (Scalar::Cell(_), _) => unreachable!("cells were typed above"),
        }
        Ok(())
    }

    pub(super) fn set_probability(
        &mut self,
        row: usize,
        class: &str,
        p: f64,
    ) -> Result<(), RecordError> {
        if !(0.0..=1.0).contains(&p) {
            return Err(error(
                row,
                &format!("probabilities.{class}"),
                "must lie in [0, 1]",
            ));
        }
        let rows = self.rows;
        let column = match self.probabilities.iter().position(|(c, _)| c == class) {
            Some(i) => &mut self.probabilities[i].1,
            None => {
                if self.probabilities.len() >= 1024 {
                    return Err(error(row, "probabilities", "more than 1024 classes"));
                }
                self.probabilities
                    .push((class.to_string(), vec![f64::NAN; rows]));
                &mut self.probabilities.last_mut().expect("pushed").1
            }
        };
        if column.len() > rows {
            return Err(error(
                row,
                &format!("probabilities.{class}"),
                "appears twice",
            ));
        }
        column.push(p);
        Ok(())
    }

    pub(super) fn set_meta(
        &mut self,
        row: usize,
        id: Option<Scalar<'_>>,
        timestamp: Option<Scalar<'_>>,
        version: Option<&str>,
    ) -> Result<(), RecordError> {
        let id = match id {
            None | Some(Scalar::Null) => uuid::Uuid::new_v4().to_string(),
            Some(Scalar::Text(t)) if !t.is_empty() && t.len() <= 256 => t.into_owned(),
            Some(Scalar::Number(n)) if n.fract() == 0.0 && n.is_finite() => number_text(n),
            Some(_) => {
                return Err(error(
                    row,
                    "id",
                    "expected a string of 1 to 256 bytes or an integer",
                ));
            }
        };
        let bad_time = || {
            error(
                row,
                "timestamp",
                "expected an RFC 3339 time or Unix seconds, from 1970 to the year 9999",
            )
        };
        let timestamp = match timestamp {
            None | Some(Scalar::Null) => self.now_ms,
            Some(Scalar::Number(seconds)) if (0.0..=MAX_UNIX_SECONDS).contains(&seconds) => {
                (seconds * 1000.0).round() as i64
            }
            Some(Scalar::Text(text)) => parse_time(&text).ok_or_else(bad_time)?,
            Some(_) => return Err(bad_time()),
        };
        if version.is_some_and(|v| v.len() > 256) {
            return Err(error(row, "model_version", "at most 256 bytes"));
        }
        self.ids.push(id);
        self.timestamps.push(timestamp);
        self.versions
            .push(version.filter(|v| !v.is_empty()).map(str::to_string));
        Ok(())
    }

    pub(super) fn finish(mut self) -> RecordBatch {
        if let Some(prediction) = &mut self.prediction {
            while prediction.len() < self.rows {
                prediction.push_missing();
            }
        }
        for (_, column) in &mut self.probabilities {
            column.resize(self.rows, f64::NAN);
        }
        RecordBatch {
            ids: self.ids,
            timestamps: self.timestamps,
            model_versions: self.versions,
            features: self
                .names
                .into_iter()
                .zip(self.features)
                .map(|(name, b)| Column {
                    name,
                    data: b.finish(),
                })
                .collect(),
            prediction: self.prediction.map(Builder::finish),
            probabilities: self
                .probabilities
                .into_iter()
                .map(|(name, values)| Column {
                    name,
                    data: ColumnData::Numeric(values),
                })
                .collect(),
        }
    }
}

/// Most features a request may name when the model has no monitor to say which
/// (docs/reliability.md, U9).
const MAX_FEATURES: usize = 1024;

/// The last second of the year 9999, the latest time RFC 3339 can write.
const MAX_UNIX_SECONDS: f64 = 253_402_300_799.0;

fn parse_time(text: &str) -> Option<i64> {
    let time = humantime::parse_rfc3339_weak(text).ok()?;
    let since = time.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(since.as_millis() as i64)
}
