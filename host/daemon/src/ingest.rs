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

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use vigil_store::{Column, ColumnData, LabelValue, MISSING_CODE, RecordBatch};

use crate::vocab::{FeatureKind, is_missing, number_text};
use crate::vocab::{Format, Task};

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

/// A JSON value of a feature, prediction or label, or a CSV cell.
#[derive(Debug)]
enum Scalar<'a> {
    Null,
    Number(f64),
    Text(Cow<'a, str>),
    Bool(bool),
    /// A CSV cell, which has no type of its own: a number where a number is expected, and its
    /// text as written where text is (a categorical `007` stays `007`).
    Cell(&'a str),
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for ScalarVisitor<'a> {
            type Value = Scalar<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number, a string, a boolean or null")
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Null)
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Null)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Scalar::Number(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Scalar::Number(v as f64))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Scalar::Number(v))
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Scalar::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Scalar::Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Scalar::Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_any(ScalarVisitor(std::marker::PhantomData))
    }
}

/// Name → value pairs in their order, without building a map.
#[derive(Debug, Default)]
struct Pairs<'a, V>(Vec<(Cow<'a, str>, V)>);

/// A map key, borrowed from the input when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for KeyVisitor<'a> {
            type Value = Key<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        deserializer.deserialize_str(KeyVisitor(std::marker::PhantomData))
    }
}

impl<'de: 'a, 'a, V: Deserialize<'de>> Deserialize<'de> for Pairs<'a, V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PairsVisitor<'a, V>(std::marker::PhantomData<(&'a (), V)>);
        impl<'de: 'a, 'a, V: Deserialize<'de>> Visitor<'de> for PairsVisitor<'a, V> {
            type Value = Pairs<'a, V>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some(Key(key)) = map.next_key::<Key<'a>>()? {
                    pairs.push((key, map.next_value()?));
                }
                Ok(Pairs(pairs))
            }
        }
        deserializer.deserialize_map(PairsVisitor(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireLabel<'a> {
    #[serde(borrow)]
    id: Scalar<'a>,
    #[serde(borrow)]
    label: Scalar<'a>,
}

/// A column being filled row by row.
enum Builder {
    Numeric(Vec<f64>),
    Text {
        categories: Vec<String>,
        index: HashMap<String, u32>,
        codes: Vec<u32>,
    },
}

impl Builder {
    fn new(kind: FeatureKind, rows: usize) -> Builder {
        match kind {
            FeatureKind::Numeric => Builder::Numeric(Vec::with_capacity(rows)),
            FeatureKind::Categorical => Builder::Text {
                categories: Vec::new(),
                index: HashMap::new(),
                codes: Vec::with_capacity(rows),
            },
        }
    }

    fn len(&self) -> usize {
        match self {
            Builder::Numeric(values) => values.len(),
            Builder::Text { codes, .. } => codes.len(),
        }
    }

    fn push_missing(&mut self) {
        match self {
            Builder::Numeric(values) => values.push(f64::NAN),
            Builder::Text { codes, .. } => codes.push(MISSING_CODE),
        }
    }

    fn push_text(&mut self, text: &str) {
        if let Builder::Numeric(_) = self {
            self.make_text();
        }
        let Builder::Text {
            categories,
            index,
            codes,
        } = self
        else {
            unreachable!("made text above")
        };
        let code = match index.get(text) {
            Some(&code) => code,
            None => {
                let code = categories.len() as u32;
                categories.push(text.to_string());
                index.insert(text.to_string(), code);
                code
            }
        };
        codes.push(code);
    }

    fn push_number(&mut self, value: f64) {
        match self {
            Builder::Numeric(values) => values.push(value),
            Builder::Text { .. } => self.push_text(&number_text(value)),
        }
    }

    /// Turns numbers seen so far into text: a column that turned out categorical.
    fn make_text(&mut self) {
        let Builder::Numeric(values) = self else {
            return;
        };
        let values = std::mem::take(values);
        *self = Builder::new(FeatureKind::Categorical, values.len());
        for v in values {
            if v.is_nan() {
                self.push_missing();
            } else {
                self.push_text(&number_text(v));
            }
        }
    }

    fn finish(self) -> ColumnData {
        match self {
            Builder::Numeric(values) => ColumnData::Numeric(values),
            Builder::Text {
                categories, codes, ..
            } => ColumnData::Categorical { categories, codes },
        }
    }
}

/// Turns parsed rows into a [`RecordBatch`], checking each against the schema.
pub struct BatchBuilder<'s> {
    schema: Option<&'s [(String, FeatureKind)]>,
    task: Task,
    now_ms: i64,
    rows: usize,
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

    fn set_feature(
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
    fn end_row(&mut self) {
        self.rows += 1;
        for column in &mut self.features {
            if column.len() < self.rows {
                column.push_missing();
            }
        }
    }

    fn set_prediction(&mut self, row: usize, value: Option<Scalar<'_>>) -> Result<(), RecordError> {
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

    fn set_probability(&mut self, row: usize, class: &str, p: f64) -> Result<(), RecordError> {
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

    fn set_meta(
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

    fn finish(mut self) -> RecordBatch {
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

/// A JSON array of records, each deserialized straight into the builder's columns.
struct RecordsSeed<'b, 's> {
    builder: &'b mut BatchBuilder<'s>,
    max_rows: usize,
    /// Where a record refused by the builder leaves its error: serde's error type cannot
    /// carry the row and field.
    refused: &'b mut Option<RecordError>,
}

impl<'de> DeserializeSeed<'de> for RecordsSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RecordsSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of records")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut row = 1;
        loop {
            let record = RecordSeed {
                builder: &mut *self.builder,
                row,
                refused: &mut *self.refused,
            };
            if seq.next_element_seed(record)?.is_none() {
                return Ok(());
            }
            if row == self.max_rows {
                // Anything more is one record too many.
                if seq.next_element::<de::IgnoredAny>()?.is_some() {
                    return Err(refuse(self.refused, too_many(self.max_rows)));
                }
                return Ok(());
            }
            row += 1;
        }
    }
}

/// One record object, deserialized straight into the builder's columns: no intermediate
/// map or list per record.
struct RecordSeed<'b, 's> {
    builder: &'b mut BatchBuilder<'s>,
    row: usize,
    refused: &'b mut Option<RecordError>,
}

const RECORD_FIELDS: &[&str] = &[
    "id",
    "timestamp",
    "model_version",
    "features",
    "prediction",
    "probabilities",
];

/// Leaves `error` for the caller, and returns the serde error that stops the parse (its
/// text is never shown: the caller reports `error` instead).
fn refuse<E: de::Error>(slot: &mut Option<RecordError>, error: RecordError) -> E {
    *slot = Some(error);
    E::custom("record refused")
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a record object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (builder, row) = (self.builder, self.row);
        let mut id: Option<Scalar> = None;
        let mut timestamp: Option<Scalar> = None;
        let mut version: Option<Key> = None;
        let mut prediction: Option<Scalar> = None;
        let mut probabilities: Option<Pairs<f64>> = None;
        let mut seen = [false; RECORD_FIELDS.len()];
        while let Some(Key(key)) = map.next_key::<Key>()? {
            let Some(field) = RECORD_FIELDS.iter().position(|f| *f == key) else {
                return Err(de::Error::unknown_field(&key, RECORD_FIELDS));
            };
            if std::mem::replace(&mut seen[field], true) {
                return Err(de::Error::duplicate_field(RECORD_FIELDS[field]));
            }
            match field {
                0 => id = map.next_value()?,
                1 => timestamp = map.next_value()?,
                2 => version = map.next_value()?,
                3 => map.next_value_seed(FeaturesSeed {
                    builder: &mut *builder,
                    row,
                    refused: &mut *self.refused,
                })?,
                4 => prediction = map.next_value()?,
                _ => probabilities = map.next_value()?,
            }
        }
        if !seen[3] {
            return Err(de::Error::missing_field("features"));
        }
        let version = version.as_ref().map(|v| &*v.0);
        let done = builder
            .set_meta(row, id, timestamp, version)
            .and_then(|()| builder.set_prediction(row, prediction))
            .and_then(|()| {
                for (class, p) in probabilities.unwrap_or_default().0 {
                    builder.set_probability(row, &class, p)?;
                }
                Ok(())
            });
        match done {
            Ok(()) => {
                builder.end_row();
                Ok(())
            }
            Err(error) => Err(refuse(self.refused, error)),
        }
    }
}

/// A record's `features` object, each value pushed onto its column as it is read.
struct FeaturesSeed<'b, 's> {
    builder: &'b mut BatchBuilder<'s>,
    row: usize,
    refused: &'b mut Option<RecordError>,
}

impl<'de> DeserializeSeed<'de> for FeaturesSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FeaturesSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object of features")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut nth = 0;
        while let Some(Key(name)) = map.next_key::<Key>()? {
            let value: Scalar = map.next_value()?;
            if let Err(error) = self.builder.set_feature(self.row, nth, &name, value) {
                return Err(refuse(self.refused, error));
            }
            nth += 1;
        }
        Ok(())
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

fn json_error(row: Option<usize>, e: serde_json::Error) -> RecordError {
    RecordError {
        row,
        field: None,
        message: format!("invalid JSON: {e}"),
    }
}

fn too_many(max_rows: usize) -> RecordError {
    RecordError {
        row: Some(max_rows + 1),
        field: None,
        message: format!("more than {max_rows} records in one request"),
    }
}

/// Lines of an NDJSON body with their 1-based row numbers, blank lines skipped.
fn ndjson_lines(body: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    // memchr finds the newlines many bytes at a time; a byte-by-byte split cost a tenth of
    // the parse.
    let ends = memchr::memchr_iter(b'\n', body).chain([body.len()]);
    let mut start = 0;
    ends.map(move |end| {
        let line = &body[start.min(end)..end];
        start = end + 1;
        line
    })
    .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
    .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
    .enumerate()
    .map(|(i, line)| (i + 1, line))
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
        Format::Json => {
            let mut refused = None;
            let mut reader = serde_json::Deserializer::from_slice(body);
            let records = RecordsSeed {
                builder: &mut builder,
                max_rows,
                refused: &mut refused,
            };
            records
                .deserialize(&mut reader)
                .and_then(|()| reader.end())
                .map_err(|e| refused.take().unwrap_or_else(|| json_error(None, e)))?;
        }
        Format::Ndjson => {
            for (row, line) in ndjson_lines(body) {
                if row > max_rows {
                    return Err(too_many(max_rows));
                }
                let mut refused = None;
                let mut reader = serde_json::Deserializer::from_slice(line);
                let record = RecordSeed {
                    builder: &mut builder,
                    row,
                    refused: &mut refused,
                };
                record
                    .deserialize(&mut reader)
                    .and_then(|()| reader.end())
                    .map_err(|e| refused.take().unwrap_or_else(|| json_error(Some(row), e)))?;
            }
        }
        Format::Csv => parse_csv_records(body, &mut builder, max_rows)?,
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

/// What is wrong with a CSV input, as a sentence (the `csv` crate's own message repeats the
/// record and byte positions in its own terms).
fn csv_message(error: &csv::Error) -> String {
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
fn check_quotes(body: &[u8]) -> Result<(), RecordError> {
    crate::csv_quotes::check(body).map_err(|error| RecordError {
        row: None,
        field: None,
        message: format!("invalid CSV: {error}"),
    })
}

fn parse_csv_records(
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

    fn schema() -> Vec<(String, FeatureKind)> {
        vec![
            ("age".into(), FeatureKind::Numeric),
            ("plan".into(), FeatureKind::Categorical),
        ]
    }

    #[test]
    fn the_three_formats_give_the_same_batch() {
        let json = br#"[
            {"id": "a", "timestamp": 1700000000, "model_version": "v1", "features": {"age": 31, "plan": "pro"}, "prediction": 1, "probabilities": {"1": 0.9, "0": 0.1}},
            {"id": "b", "timestamp": "2023-11-14T22:13:21Z", "features": {"age": null, "plan": 7}, "prediction": "0", "probabilities": {"1": 0.2, "0": 0.8}}
        ]"#;
        let ndjson = br#"{"id": "a", "timestamp": 1700000000, "model_version": "v1", "features": {"age": 31, "plan": "pro"}, "prediction": 1, "probabilities": {"1": 0.9, "0": 0.1}}

{"id": "b", "timestamp": "2023-11-14T22:13:21Z", "features": {"age": null, "plan": 7}, "prediction": "0", "probabilities": {"1": 0.2, "0": 0.8}}
"#;
        let csv = b"id,timestamp,model_version,age,plan,prediction,proba_1,proba_0\n\
                    a,1700000000,v1,31,pro,1,0.9,0.1\n\
                    b,2023-11-14T22:13:21Z,,NA,7,0,0.2,0.8\n";
        let s = schema();
        let parse = |body: &[u8], format| {
            parse_records(body, format, Some(&s), Task::Classification, 100, 0).unwrap()
        };
        let a = parse(json, Format::Json);
        let b = parse(ndjson, Format::Ndjson);
        let c = parse(csv, Format::Csv);
        assert_eq!(a.encode(), b.encode());
        assert_eq!(a.encode(), c.encode());
        assert_eq!(a.ids, ["a", "b"]);
        assert_eq!(a.timestamps, [1_700_000_000_000, 1_700_000_001_000]);
        assert_eq!(a.model_versions, [Some("v1".into()), None]);
        let ColumnData::Categorical { categories, codes } = &a.feature("plan").unwrap().data else {
            panic!()
        };
        assert_eq!(categories, &["pro", "7"]);
        assert_eq!(codes, &[0, 1]);
    }

    #[test]
    fn errors_name_row_and_field() {
        let s = schema();
        let check = |body: &[u8], format, expected: &str| {
            let e = parse_records(body, format, Some(&s), Task::Classification, 2, 0).unwrap_err();
            assert_eq!(e.to_string(), expected);
        };
        check(
            br#"[{"features": {"age": 1}}, {"features": {"age": "old"}}]"#,
            Format::Json,
            "row 2, field `age`: expected a number",
        );
        check(
            br#"[{"features": {"height": 1}}]"#,
            Format::Json,
            "row 1, field `height`: not a feature of this model's monitors",
        );
        check(
            b"{\"features\": {}}\n{\"features\": {\"age\": 1}, \"probabilities\": {\"x\": 2}}\n",
            Format::Ndjson,
            "row 2, field `probabilities.x`: must lie in [0, 1]",
        );
        check(
            b"age,plan\nx,y\n",
            Format::Csv,
            "row 1, field `age`: expected a number",
        );
        check(b"[]", Format::Json, "the request holds no records");
        check(
            br#"[{"features": {}}, {"features": {}}, {"features": {}}]"#,
            Format::Json,
            "row 3: more than 2 records in one request",
        );
        let e = parse_records(
            b"{\"features\": {}}\n{oops\n",
            Format::Ndjson,
            Some(&s),
            Task::Classification,
            9,
            0,
        )
        .unwrap_err();
        assert_eq!(e.row, Some(2));
        let e = parse_records(
            br#"[{"features": {}, "prediction": "cat"}]"#,
            Format::Json,
            None,
            Task::Regression,
            9,
            0,
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("prediction"));
        let e = parse_records(
            br#"[{"features": {}, "extra": 1}]"#,
            Format::Json,
            None,
            Task::Regression,
            9,
            0,
        )
        .unwrap_err();
        assert!(e.message.contains("extra"), "{e}");
    }

    #[test]
    fn without_a_schema_columns_are_inferred() {
        let batch = parse_records(
            br#"[{"features": {"x": 1, "c": 2}}, {"features": {"c": "two", "late": 5}}]"#,
            Format::Json,
            None,
            Task::Regression,
            9,
            42,
        )
        .unwrap();
        assert_eq!(batch.timestamps, [42, 42]);
        assert_eq!(batch.ids.len(), 2);
        assert_ne!(batch.ids[0], batch.ids[1]);
        let ColumnData::Numeric(x) = &batch.feature("x").unwrap().data else {
            panic!()
        };
        assert_eq!(x[0], 1.0);
        assert!(x[1].is_nan());
        let ColumnData::Categorical { categories, codes } = &batch.feature("c").unwrap().data
        else {
            panic!()
        };
        assert_eq!(
            (categories.as_slice(), codes.as_slice()),
            (&["2".to_string(), "two".into()][..], &[0, 1][..])
        );
        let ColumnData::Numeric(late) = &batch.feature("late").unwrap().data else {
            panic!()
        };
        assert!(late[0].is_nan() && late[1] == 5.0);
    }

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

    #[test]
    fn content_types() {
        assert_eq!(
            Format::from_content_type("application/json; charset=utf-8"),
            Some(Format::Json)
        );
        assert_eq!(
            Format::from_content_type("application/x-ndjson"),
            Some(Format::Ndjson)
        );
        assert_eq!(Format::from_content_type("text/csv"), Some(Format::Csv));
        assert_eq!(Format::from_content_type("text/plain"), None);
    }
}
