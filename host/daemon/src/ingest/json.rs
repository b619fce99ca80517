//! JSON records, as an array or as NDJSON (one record a line), deserialized straight into
//! the batch's columns: no intermediate map or list per record.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::batch::BatchBuilder;
use super::scalar::{Key, Pairs, Scalar};
use super::{RecordError, too_many};

/// Parses a JSON array of records into `builder`.
pub(super) fn parse_json_records(
    body: &[u8],
    builder: &mut BatchBuilder<'_>,
    max_rows: usize,
) -> Result<(), RecordError> {
    let mut refused = None;
    let mut reader = serde_json::Deserializer::from_slice(body);
    let records = RecordsSeed {
        builder,
        max_rows,
        refused: &mut refused,
    };
    records
        .deserialize(&mut reader)
        .and_then(|()| reader.end())
        .map_err(|e| refused.take().unwrap_or_else(|| json_error(None, e)))?;
    Ok(())
}

/// Parses NDJSON records, one a line, into `builder`.
pub(super) fn parse_ndjson_records(
    body: &[u8],
    builder: &mut BatchBuilder<'_>,
    max_rows: usize,
) -> Result<(), RecordError> {
    for (row, line) in ndjson_lines(body) {
        if row > max_rows {
            return Err(too_many(max_rows));
        }
        let mut refused = None;
        let mut reader = serde_json::Deserializer::from_slice(line);
        let record = RecordSeed {
            builder: &mut *builder,
            row,
            refused: &mut refused,
        };
        record
            .deserialize(&mut reader)
            .and_then(|()| reader.end())
            .map_err(|e| refused.take().unwrap_or_else(|| json_error(Some(row), e)))?;
    }
    Ok(())
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

pub(super) fn json_error(row: Option<usize>, e: serde_json::Error) -> RecordError {
    RecordError {
        row,
        field: None,
        message: format!("invalid JSON: {e}"),
    }
}

/// Lines of an NDJSON body with their 1-based row numbers, blank lines skipped.
pub(super) fn ndjson_lines(body: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
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
