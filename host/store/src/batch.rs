//! Ingested records held column by column, and their byte encoding in the store.
//!
//! A window of a million rows is read back by decoding a few hundred blobs into flat vectors,
//! not by assembling a million rows. The encoding is little-endian and length-prefixed:
//!
//! ```text
//! "VGB1" rows:u32 ids:strings timestamps:i64×rows versions:column
//!        prediction:(0 | 1 column) features:u32 column… probabilities:u32 column…
//! column   = name:string tag:u8 (0 numeric: f64×rows | 1 categorical: strings codes:u32×rows)
//! strings  = count:u32 (len:u32 utf8)…
//! ```

use crate::Error;

/// The value marking a missing entry in a categorical column's codes.
pub const MISSING_CODE: u32 = u32::MAX;

const MAGIC: &[u8; 4] = b"VGB1";

/// One column: numbers with NaN for missing, or dictionary-encoded strings.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub name: String,
    pub data: ColumnData,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ColumnData {
    Numeric(Vec<f64>),
    Categorical {
        categories: Vec<String>,
        /// An index into `categories` per row, or [`MISSING_CODE`].
        codes: Vec<u32>,
    },
}

impl ColumnData {
    pub fn len(&self) -> usize {
        match self {
            ColumnData::Numeric(values) => values.len(),
            ColumnData::Categorical { codes, .. } => codes.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows in `range`, as a new column of the same kind.
    pub fn slice(&self, range: std::ops::Range<usize>) -> ColumnData {
        match self {
            ColumnData::Numeric(values) => ColumnData::Numeric(values[range].to_vec()),
            ColumnData::Categorical { categories, codes } => ColumnData::Categorical {
                categories: categories.clone(),
                codes: codes[range].to_vec(),
            },
        }
    }

    /// Appends `other`'s rows, merging dictionaries. Mixing kinds turns numbers into text.
    pub fn append(&mut self, other: &ColumnData) {
        match (&mut *self, other) {
            (ColumnData::Numeric(values), ColumnData::Numeric(more)) => values.extend(more),
            (ColumnData::Categorical { categories, codes }, ColumnData::Categorical { .. }) => {
                let (more_categories, more_codes) = other.as_categorical();
                let mut index: std::collections::HashMap<&str, u32> = categories
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (c.as_str(), i as u32))
                    .collect();
                let mut added = Vec::new();
                let remap: Vec<u32> = more_categories
                    .iter()
                    .map(|c| match index.get(c.as_str()) {
                        Some(&code) => code,
                        None => {
                            let code = (categories.len() + added.len()) as u32;
                            index.insert(c.as_str(), code);
                            added.push(c.clone());
                            code
                        }
                    })
                    .collect();
                codes.extend(more_codes.iter().map(|&c| {
                    if c == MISSING_CODE {
                        MISSING_CODE
                    } else {
                        remap[c as usize]
                    }
                }));
                categories.extend(added);
            }
            (ColumnData::Numeric(_), ColumnData::Categorical { .. }) => {
                let mut text = ColumnData::Categorical {
                    categories: Vec::new(),
                    codes: Vec::new(),
                };
                text.append(self);
                text.append(other);
                *self = text;
            }
            (ColumnData::Categorical { .. }, ColumnData::Numeric(_)) => {
                self.append(&numbers_as_text(other));
            }
        }
    }

    /// The column as dictionary-encoded text (numbers are written in their shortest form).
    fn as_categorical(&self) -> (std::borrow::Cow<'_, [String]>, std::borrow::Cow<'_, [u32]>) {
        match self {
            ColumnData::Categorical { categories, codes } => (categories.into(), codes.into()),
            ColumnData::Numeric(_) => match numbers_as_text(self) {
                ColumnData::Categorical { categories, codes } => (categories.into(), codes.into()),
                ColumnData::Numeric(_) => unreachable!("numbers_as_text returns text"),
            },
        }
    }
}

fn numbers_as_text(column: &ColumnData) -> ColumnData {
    let ColumnData::Numeric(values) = column else {
        return column.clone();
    };
    let mut categories = Vec::new();
    let mut index = std::collections::HashMap::new();
    let codes = values
        .iter()
        .map(|v| {
            if v.is_nan() {
                return MISSING_CODE;
            }
            *index.entry(v.to_bits()).or_insert_with(|| {
                categories.push(v.to_string());
                (categories.len() - 1) as u32
            })
        })
        .collect();
    ColumnData::Categorical { categories, codes }
}

/// Records of one model, column by column. Every column has `ids.len()` rows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecordBatch {
    pub ids: Vec<String>,
    /// Unix milliseconds.
    pub timestamps: Vec<i64>,
    /// The model version that served each record (categorical, may be missing).
    pub model_versions: Vec<Option<String>>,
    pub features: Vec<Column>,
    pub prediction: Option<ColumnData>,
    /// One numeric column per class, named by the class.
    pub probabilities: Vec<Column>,
}

impl RecordBatch {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn feature(&self, name: &str) -> Option<&Column> {
        self.features.iter().find(|c| c.name == name)
    }

    /// The rows whose positions `keep` selects, in order.
    pub fn select(&self, keep: &[usize]) -> RecordBatch {
        let pick_column = |data: &ColumnData| match data {
            ColumnData::Numeric(values) => {
                ColumnData::Numeric(keep.iter().map(|&i| values[i]).collect())
            }
            ColumnData::Categorical { categories, codes } => ColumnData::Categorical {
                categories: categories.clone(),
                codes: keep.iter().map(|&i| codes[i]).collect(),
            },
        };
        RecordBatch {
            ids: keep.iter().map(|&i| self.ids[i].clone()).collect(),
            timestamps: keep.iter().map(|&i| self.timestamps[i]).collect(),
            model_versions: keep
                .iter()
                .map(|&i| self.model_versions[i].clone())
                .collect(),
            features: self
                .features
                .iter()
                .map(|c| Column {
                    name: c.name.clone(),
                    data: pick_column(&c.data),
                })
                .collect(),
            prediction: self.prediction.as_ref().map(pick_column),
            probabilities: self
                .probabilities
                .iter()
                .map(|c| Column {
                    name: c.name.clone(),
                    data: pick_column(&c.data),
                })
                .collect(),
        }
    }

    /// The rows in `range`.
    pub fn slice(&self, range: std::ops::Range<usize>) -> RecordBatch {
        let slice_columns = |columns: &[Column]| {
            columns
                .iter()
                .map(|c| Column {
                    name: c.name.clone(),
                    data: c.data.slice(range.clone()),
                })
                .collect()
        };
        RecordBatch {
            ids: self.ids[range.clone()].to_vec(),
            timestamps: self.timestamps[range.clone()].to_vec(),
            model_versions: self.model_versions[range.clone()].to_vec(),
            features: slice_columns(&self.features),
            prediction: self.prediction.as_ref().map(|p| p.slice(range.clone())),
            probabilities: slice_columns(&self.probabilities),
        }
    }

    /// Appends `other`'s rows. Columns are matched by name; a column missing on one side is
    /// filled with missing values, so batches ingested under different schemas still line up.
    pub fn append(&mut self, other: &RecordBatch) {
        let (before, added) = (self.len(), other.len());
        append_columns(&mut self.features, &other.features, before, added);
        append_columns(&mut self.probabilities, &other.probabilities, before, added);
        match (&mut self.prediction, &other.prediction) {
            (Some(mine), Some(theirs)) => mine.append(theirs),
            (Some(mine), None) => mine.append(&missing(mine, added)),
            (None, Some(theirs)) => {
                let mut column = missing(theirs, before);
                column.append(theirs);
                self.prediction = Some(column);
            }
            (None, None) => {}
        }
        self.ids.extend(other.ids.iter().cloned());
        self.timestamps.extend(&other.timestamps);
        self.model_versions
            .extend(other.model_versions.iter().cloned());
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Writer(Vec::with_capacity(
            64 + self.len() * (16 + 8 * self.features.len()),
        ));
        out.0.extend_from_slice(MAGIC);
        out.u32(self.len() as u32);
        out.strings(&self.ids);
        for t in &self.timestamps {
            out.0.extend_from_slice(&t.to_le_bytes());
        }
        let versions = optional_text_column(&self.model_versions);
        out.column_data(&versions);
        match &self.prediction {
            None => out.0.push(0),
            Some(data) => {
                out.0.push(1);
                out.column_data(data);
            }
        }
        for columns in [&self.features, &self.probabilities] {
            out.u32(columns.len() as u32);
            for column in columns {
                out.string(&column.name);
                out.column_data(&column.data);
            }
        }
        out.0
    }

    /// Only the record ids of an encoded batch, which come first.
    pub fn decode_ids(bytes: &[u8]) -> Result<Vec<String>, Error> {
        Reader { bytes, at: 0 }.header()
    }

    pub fn decode(bytes: &[u8]) -> Result<RecordBatch, Error> {
        let mut input = Reader { bytes, at: 0 };
        let ids = input.header()?;
        let rows = ids.len();
        let timestamps = input
            .take(rows.checked_mul(8).ok_or_else(too_long)?)?
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect();
        let model_versions = match input.column_data(rows)? {
            ColumnData::Categorical { categories, codes } => codes
                .iter()
                .map(|&c| (c != MISSING_CODE).then(|| categories[c as usize].clone()))
                .collect(),
            ColumnData::Numeric(_) => {
                return Err(Error::Corrupt("model versions are not text".into()));
            }
        };
        let prediction = match input.u8()? {
            0 => None,
            _ => Some(input.column_data(rows)?),
        };
        let mut groups = [Vec::new(), Vec::new()];
        for group in &mut groups {
            let count = input.u32()?;
            for _ in 0..count {
                let name = input.string()?;
                let data = input.column_data(rows)?;
                group.push(Column { name, data });
            }
        }
        let [features, probabilities] = groups;
        Ok(RecordBatch {
            ids,
            timestamps,
            model_versions,
            features,
            prediction,
            probabilities,
        })
    }
}

fn append_columns(mine: &mut Vec<Column>, theirs: &[Column], before: usize, added: usize) {
    for column in mine.iter_mut() {
        match theirs.iter().find(|c| c.name == column.name) {
            Some(other) => column.data.append(&other.data),
            None => {
                let fill = missing(&column.data, added);
                column.data.append(&fill);
            }
        }
    }
    for other in theirs {
        if !mine.iter().any(|c| c.name == other.name) {
            let mut data = missing(&other.data, before);
            data.append(&other.data);
            mine.push(Column {
                name: other.name.clone(),
                data,
            });
        }
    }
}

/// `rows` missing values, of the same kind as `like`.
fn missing(like: &ColumnData, rows: usize) -> ColumnData {
    match like {
        ColumnData::Numeric(_) => ColumnData::Numeric(vec![f64::NAN; rows]),
        ColumnData::Categorical { .. } => ColumnData::Categorical {
            categories: Vec::new(),
            codes: vec![MISSING_CODE; rows],
        },
    }
}

fn optional_text_column(values: &[Option<String>]) -> ColumnData {
    let mut categories: Vec<String> = Vec::new();
    let codes = values
        .iter()
        .map(|v| match v {
            None => MISSING_CODE,
            Some(v) => match categories.iter().position(|c| c == v) {
                Some(i) => i as u32,
                None => {
                    categories.push(v.clone());
                    (categories.len() - 1) as u32
                }
            },
        })
        .collect();
    ColumnData::Categorical { categories, codes }
}

fn too_long() -> Error {
    Error::Corrupt("record batch length overflows".into())
}

struct Writer(Vec<u8>);

impl Writer {
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn string(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
    }

    fn strings(&mut self, items: &[String]) {
        self.u32(items.len() as u32);
        for s in items {
            self.string(s);
        }
    }

    fn column_data(&mut self, data: &ColumnData) {
        match data {
            ColumnData::Numeric(values) => {
                self.0.push(0);
                for v in values {
                    self.0.extend_from_slice(&v.to_le_bytes());
                }
            }
            ColumnData::Categorical { categories, codes } => {
                self.0.push(1);
                self.strings(categories);
                for c in codes {
                    self.0.extend_from_slice(&c.to_le_bytes());
                }
            }
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// The format tag, the row count and the record ids, one per row.
    fn header(&mut self) -> Result<Vec<String>, Error> {
        if self.take(4)? != MAGIC {
            return Err(Error::Corrupt("record batch has an unknown format".into()));
        }
        let rows = self.u32()? as usize;
        let ids = self.strings()?;
        if ids.len() != rows {
            return Err(Error::Corrupt(
                "record batch ids do not match its row count".into(),
            ));
        }
        Ok(ids)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self.at.checked_add(n).ok_or_else(too_long)?;
        let slice = self
            .bytes
            .get(self.at..end)
            .ok_or_else(|| Error::Corrupt("record batch is truncated".into()))?;
        self.at = end;
        Ok(slice)
    }

    fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn string(&mut self) -> Result<String, Error> {
        let len = self.u32()? as usize;
        String::from_utf8(self.take(len)?.to_vec())
            .map_err(|_| Error::Corrupt("record batch holds invalid UTF-8".into()))
    }

    fn strings(&mut self) -> Result<Vec<String>, Error> {
        let count = self.u32()? as usize;
        // Each string takes at least its 4-byte length: refuse counts the input cannot hold.
        if count > (self.bytes.len() - self.at) / 4 {
            return Err(too_long());
        }
        (0..count).map(|_| self.string()).collect()
    }

    fn column_data(&mut self, rows: usize) -> Result<ColumnData, Error> {
        match self.u8()? {
            0 => {
                let bytes = self.take(rows.checked_mul(8).ok_or_else(too_long)?)?;
                Ok(ColumnData::Numeric(
                    bytes
                        .chunks_exact(8)
                        .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
                        .collect(),
                ))
            }
            1 => {
                let categories = self.strings()?;
                let bytes = self.take(rows.checked_mul(4).ok_or_else(too_long)?)?;
                let codes: Vec<u32> = bytes
                    .chunks_exact(4)
                    .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
                    .collect();
                if codes
                    .iter()
                    .any(|&c| c != MISSING_CODE && c as usize >= categories.len())
                {
                    return Err(Error::Corrupt("record batch code out of range".into()));
                }
                Ok(ColumnData::Categorical { categories, codes })
            }
            tag => Err(Error::Corrupt(format!("record batch column tag {tag}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(offset: usize) -> RecordBatch {
        RecordBatch {
            ids: (0..3).map(|i| format!("r{}", offset + i)).collect(),
            timestamps: vec![1, 2, 3],
            model_versions: vec![Some("v1".into()), None, Some("v2".into())],
            features: vec![
                Column {
                    name: "x".into(),
                    data: ColumnData::Numeric(vec![1.5, f64::NAN, -0.0]),
                },
                Column {
                    name: "c".into(),
                    data: ColumnData::Categorical {
                        categories: vec!["a".into(), "b".into()],
                        codes: vec![1, MISSING_CODE, 0],
                    },
                },
            ],
            prediction: Some(ColumnData::Numeric(vec![0.0, 1.0, 1.0])),
            probabilities: vec![Column {
                name: "1".into(),
                data: ColumnData::Numeric(vec![0.2, 0.9, 0.7]),
            }],
        }
    }

    fn same(a: &RecordBatch, b: &RecordBatch) -> bool {
        // NaN != NaN, so compare encodings.
        a.encode() == b.encode()
    }

    #[test]
    fn round_trips() {
        let batch = sample(0);
        assert!(same(&RecordBatch::decode(&batch.encode()).unwrap(), &batch));
    }

    #[test]
    fn truncated_or_garbled_input_is_an_error() {
        let bytes = sample(0).encode();
        for cut in 0..bytes.len() {
            assert!(RecordBatch::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut wrong = bytes.clone();
        wrong[0] = b'X';
        assert!(RecordBatch::decode(&wrong).is_err());
    }

    #[test]
    fn append_merges_dictionaries_and_fills_missing_columns() {
        let mut a = sample(0);
        let mut b = sample(3);
        b.features[1].data = ColumnData::Categorical {
            categories: vec!["b".into(), "z".into()],
            codes: vec![0, 1, 1],
        };
        b.features.push(Column {
            name: "new".into(),
            data: ColumnData::Numeric(vec![7.0; 3]),
        });
        a.append(&b);
        assert_eq!(a.len(), 6);
        let ColumnData::Categorical { categories, codes } = &a.feature("c").unwrap().data else {
            panic!("categorical")
        };
        let text: Vec<Option<&str>> = codes
            .iter()
            .map(|&c| (c != MISSING_CODE).then(|| categories[c as usize].as_str()))
            .collect();
        assert_eq!(
            text,
            [Some("b"), None, Some("a"), Some("b"), Some("z"), Some("z")]
        );
        let ColumnData::Numeric(new) = &a.feature("new").unwrap().data else {
            panic!("numeric")
        };
        assert!(new[..3].iter().all(|v| v.is_nan()));
        assert_eq!(&new[3..], &[7.0; 3]);
        assert!(same(&a.slice(3..6).select(&[0, 1, 2]), &a.slice(3..6)));
    }
}
