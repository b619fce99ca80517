//! Reading a CSV file into typed columns.
//!
//! A column is numeric when every non-missing value parses as a number, categorical otherwise
//! (or when forced). Files without quotes take the parallel fast path in `fast_csv`; files
//! with quoted fields are read with the `csv` crate. On either path, a column whose first
//! text value comes after numbers makes the reader start again with that column forced to
//! text, so every value of a categorical column keeps its original spelling.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use vigil_runtime::{CategoricalColumn, ColumnData, MISSING_CODE};

use super::fast_csv::{Outcome, parse_number};

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The CSV is malformed.
    #[error("{path}: {message}")]
    Csv { path: PathBuf, message: String },
}

/// A column read from a file.
#[derive(Debug)]
pub struct TableColumn {
    pub name: String,
    pub data: ColumnData,
    pub missing: usize,
}

/// A whole file, columns in file order.
#[derive(Debug)]
pub struct Table {
    pub path: PathBuf,
    pub rows: usize,
    pub columns: Vec<TableColumn>,
}

/// Values that count as missing (see `crate::vocab::MISSING`), in either kind of column.
pub(super) fn is_missing(field: &[u8]) -> bool {
    crate::vocab::MISSING.iter().any(|m| m.as_bytes() == field)
}

enum Builder {
    Numeric(Vec<f64>),
    Text {
        index: HashMap<Box<[u8]>, u32>,
        categories: Vec<String>,
        codes: Vec<u32>,
    },
}

impl Builder {
    fn text() -> Self {
        Builder::Text {
            index: HashMap::new(),
            categories: Vec::new(),
            codes: Vec::new(),
        }
    }

    /// Appends a field; `false` when a numeric column meets text after its first row.
    fn push(&mut self, field: &[u8]) -> bool {
        let field = field.trim_ascii();
        match self {
            Builder::Numeric(values) if is_missing(field) => values.push(f64::NAN),
            Builder::Numeric(values) => match parse_number(field) {
                Some(value) => values.push(value),
                None if values.is_empty() => {
                    *self = Builder::text();
                    return self.push(field);
                }
                None => return false,
            },
            Builder::Text {
                index,
                categories,
                codes,
            } => {
                let code = if is_missing(field) {
                    MISSING_CODE
                } else {
                    *index.entry(field.into()).or_insert_with(|| {
                        categories.push(String::from_utf8_lossy(field).into_owned());
                        (categories.len() - 1) as u32
                    })
                };
                codes.push(code);
            }
        }
        true
    }

    fn finish(self) -> (ColumnData, usize) {
        match self {
            Builder::Numeric(values) => {
                let missing = values.iter().filter(|v| v.is_nan()).count();
                (ColumnData::Numeric(values), missing)
            }
            Builder::Text {
                categories, codes, ..
            } => {
                let missing = codes.iter().filter(|&&c| c == MISSING_CODE).count();
                (
                    ColumnData::Categorical(CategoricalColumn { categories, codes }),
                    missing,
                )
            }
        }
    }
}

fn open(path: &Path) -> Result<csv::Reader<std::fs::File>, TableError> {
    let file = std::fs::File::open(path).map_err(|source| TableError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(csv::ReaderBuilder::new()
        .has_headers(true)
        .buffer_capacity(1 << 20)
        .from_reader(file))
}

fn csv_error(path: &Path, error: csv::Error) -> TableError {
    match error.kind() {
        csv::ErrorKind::Io(_) => TableError::Csv {
            path: path.to_path_buf(),
            message: format!("read failed: {error}"),
        },
        _ => TableError::Csv {
            path: path.to_path_buf(),
            message: format!("not a valid CSV file: {error}"),
        },
    }
}

/// Reads `path`; columns named in `categorical` are read as text whatever they hold.
pub fn read(path: &Path, categorical: &HashSet<String>) -> Result<Table, TableError> {
    let mut forced = categorical.clone();
    loop {
        let outcome = match super::fast_csv::read(path, &forced)? {
            Outcome::Quoted => read_quoted(path, &forced)?,
            outcome => outcome,
        };
        let (rows, columns) = match outcome {
            Outcome::Read(rows, columns) => (rows, columns),
            Outcome::TextAfterNumbers(column) => {
                forced.insert(column);
                continue;
            }
            Outcome::Quoted => unreachable!("the csv crate reads quoted files"),
        };
        return Ok(Table {
            path: path.to_path_buf(),
            rows,
            columns,
        });
    }
}

/// Refuses an empty header and duplicate column names.
pub(super) fn check_header(path: &Path, header: &[String]) -> Result<(), TableError> {
    if header.is_empty() || header.iter().all(String::is_empty) {
        return Err(TableError::Csv {
            path: path.to_path_buf(),
            message: "the file has no header row".into(),
        });
    }
    let mut seen = HashSet::new();
    if let Some(duplicate) = header.iter().find(|h| !seen.insert(h.as_str())) {
        return Err(TableError::Csv {
            path: path.to_path_buf(),
            message: format!("column `{duplicate}` appears twice in the header"),
        });
    }
    Ok(())
}

/// Reads the file once to check that its quotes are closed (see `crate::csv_quotes`).
fn check_quotes(path: &Path) -> Result<(), TableError> {
    use std::io::Read;
    let io_error = |source| TableError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io_error)?;
    let mut check = crate::csv_quotes::QuoteCheck::default();
    let mut buffer = vec![0u8; 1 << 20];
    let malformed = |error: crate::csv_quotes::QuoteError| TableError::Csv {
        path: path.to_path_buf(),
        message: format!("not a valid CSV file: {error}"),
    };
    loop {
        let read = file.read(&mut buffer).map_err(io_error)?;
        if read == 0 {
            return check.finish().map_err(malformed);
        }
        check.feed(&buffer[..read]).map_err(malformed)?;
    }
}

/// The `csv` crate's path, for files with quoted fields.
fn read_quoted(path: &Path, categorical: &HashSet<String>) -> Result<Outcome, TableError> {
    check_quotes(path)?;
    let mut reader = open(path)?;
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(path, e))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    check_header(path, &header)?;
    let mut builders: Vec<Builder> = header
        .iter()
        .map(|name| {
            if categorical.contains(name) {
                Builder::text()
            } else {
                Builder::Numeric(Vec::new())
            }
        })
        .collect();
    let mut record = csv::ByteRecord::new();
    let mut rows = 0usize;
    while reader
        .read_byte_record(&mut record)
        .map_err(|e| csv_error(path, e))?
    {
        // The csv reader already refuses rows whose length differs from the header's.
        for (column, (builder, field)) in builders.iter_mut().zip(record.iter()).enumerate() {
            if !builder.push(field) {
                return Ok(Outcome::TextAfterNumbers(header[column].clone()));
            }
        }
        rows += 1;
    }
    let columns = header
        .into_iter()
        .zip(builders)
        .map(|(name, builder)| {
            let (data, missing) = builder.finish();
            TableColumn {
                name,
                data,
                missing,
            }
        })
        .collect();
    Ok(Outcome::Read(rows, columns))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    fn categories(data: &ColumnData) -> Vec<Option<String>> {
        let ColumnData::Categorical(c) = data else {
            panic!("expected a categorical column")
        };
        c.codes
            .iter()
            .map(|&code| (code != MISSING_CODE).then(|| c.categories[code as usize].clone()))
            .collect()
    }

    #[test]
    fn infers_kinds_and_counts_missing() {
        let file = write("a,b,c\n1,x,2.5\nNA,y,\n3, x ,nan\n");
        let table = read(file.path(), &HashSet::new()).unwrap();
        assert_eq!(table.rows, 3);
        let ColumnData::Numeric(a) = &table.columns[0].data else {
            panic!()
        };
        assert_eq!(a[0], 1.0);
        assert!(a[1].is_nan());
        assert_eq!(table.columns[0].missing, 1);
        assert_eq!(
            categories(&table.columns[1].data),
            vec![Some("x".into()), Some("y".into()), Some("x".into())]
        );
        assert_eq!(table.columns[2].missing, 2);
    }

    #[test]
    fn a_late_text_value_makes_the_column_categorical_with_original_text() {
        for text in [
            "v\n1.50\n2\nNA\nabc\n1.50\n",
            "v\n1.50\n2\nNA\n\"abc\"\n1.50\n",
        ] {
            let file = write(text);
            let table = read(file.path(), &HashSet::new()).unwrap();
            assert_eq!(
                categories(&table.columns[0].data),
                vec![
                    Some("1.50".into()),
                    Some("2".into()),
                    None,
                    Some("abc".into()),
                    Some("1.50".into())
                ],
                "{text:?}"
            );
            assert_eq!(table.columns[0].missing, 1);
        }
    }

    #[test]
    fn forced_categorical_keeps_numbers_as_labels() {
        let file = write("zip,n\n02134,1\n2134,2\n");
        let forced = HashSet::from(["zip".to_string()]);
        let table = read(file.path(), &forced).unwrap();
        assert_eq!(
            categories(&table.columns[0].data),
            vec![Some("02134".into()), Some("2134".into())]
        );
    }

    #[test]
    fn a_quote_left_open_is_refused_naming_its_line() {
        let file = write("a,b\n1,x\n2,\"y\n3,z\n");
        let error = read(file.path(), &HashSet::new()).expect_err("refused");
        assert!(
            error
                .to_string()
                .contains("line 3: a quoted field opened here is never closed"),
            "{error}"
        );
    }

    #[test]
    fn quoted_files_take_the_csv_crate_path_with_the_same_result() {
        let plain = write("a,b\n1,x\n2,y\nNA,x\n");
        let quoted = write("a,b\n1,\"x\"\n2,y\nNA,\"x\"\n");
        let plain = read(plain.path(), &HashSet::new()).unwrap();
        let quoted = read(quoted.path(), &HashSet::new()).unwrap();
        assert_eq!(plain.rows, quoted.rows);
        for (p, q) in plain.columns.iter().zip(&quoted.columns) {
            assert_eq!(p.missing, q.missing);
            match (&p.data, &q.data) {
                (ColumnData::Numeric(a), ColumnData::Numeric(b)) => {
                    assert_eq!(format!("{a:?}"), format!("{b:?}"))
                }
                (a, b) => assert_eq!(a, b),
            }
        }
    }

    #[test]
    fn many_chunks_give_the_same_columns_as_one() {
        let mut text = String::from("n,c,late\n");
        for i in 0..20_000 {
            let late = if i == 15_000 {
                "word".to_string()
            } else {
                i.to_string()
            };
            text.push_str(&format!(
                "{},{},{late}\r\n",
                i % 97,
                ["a", "b", "NA", "c"][i % 4]
            ));
        }
        let file = write(&text);
        let table = read(file.path(), &HashSet::new()).unwrap();
        assert_eq!(table.rows, 20_000);
        let ColumnData::Numeric(n) = &table.columns[0].data else {
            panic!()
        };
        assert!(n.iter().enumerate().all(|(i, &v)| v == (i % 97) as f64));
        let c = categories(&table.columns[1].data);
        assert_eq!(table.columns[1].missing, 5_000);
        assert!(
            c.iter()
                .enumerate()
                .all(|(i, v)| v.as_deref() == [Some("a"), Some("b"), None, Some("c")][i % 4])
        );
        let late = categories(&table.columns[2].data);
        assert_eq!(late[15_000].as_deref(), Some("word"));
        assert_eq!(late[14_999].as_deref(), Some("14999"));
    }

    #[test]
    fn text_after_numbers_in_a_later_block_rereads_the_column_as_text() {
        let mut text = String::from("i,code\n");
        for i in 0..1_200_000 {
            text.push_str(&format!("{i},{}\n", i % 1000));
        }
        text.push_str("1200000,A7\n");
        assert!(text.len() > 8 << 20, "the file must span several blocks");
        let file = write(&text);
        let table = read(file.path(), &HashSet::new()).unwrap();
        assert_eq!(table.rows, 1_200_001);
        assert!(matches!(table.columns[0].data, ColumnData::Numeric(_)));
        let codes = categories(&table.columns[1].data);
        assert_eq!(codes[1234].as_deref(), Some("234"));
        assert_eq!(codes[1_200_000].as_deref(), Some("A7"));
    }

    #[test]
    fn ragged_rows_and_duplicate_headers_are_errors() {
        let ragged = write("a,b\n1,2\n3\n");
        let error = read(ragged.path(), &HashSet::new()).unwrap_err();
        assert!(error.to_string().contains("not a valid CSV"), "{error}");
        let duplicate = write("a,a\n1,2\n");
        let error = read(duplicate.path(), &HashSet::new()).unwrap_err();
        assert!(error.to_string().contains("appears twice"), "{error}");
    }
}
