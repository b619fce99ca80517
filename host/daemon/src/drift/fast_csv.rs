//! The fast path for CSV files without quoting (what most exports are). The file is read in
//! blocks of a few MiB, so memory holds one block and the columns, never the whole file; each
//! block is split at line boundaries and parsed on every core in one pass. Numbers are parsed
//! as they come; a column that holds text is dictionary-encoded per chunk, and the chunks'
//! dictionaries are merged into the column's. A column whose first text value comes after
//! numbers in an earlier block is reported back, and the caller reads the file again with that
//! column forced to text (rare: categorical columns usually show text on their first row).

use std::collections::HashSet;
use std::io::Read;
use std::path::Path;

use rayon::prelude::*;
use rustc_hash::FxHashMap;
use vigil_runtime::{CategoricalColumn, ColumnData, MISSING_CODE};

use super::table::{TableColumn, TableError, check_header, is_missing};

const BLOCK_BYTES: usize = 8 << 20;

/// What reading with the fast path came to.
pub enum Outcome {
    /// The file's rows and columns.
    Read(usize, Vec<TableColumn>),
    /// The file has quoted fields: read it with the `csv` crate instead.
    Quoted,
    /// This column held numbers, then text: read again with it forced categorical.
    TextAfterNumbers(String),
}

/// A whole column being built.
enum Column {
    Numbers(Vec<f64>),
    Labels {
        index: FxHashMap<Box<[u8]>, u32>,
        categories: Vec<String>,
        codes: Vec<u32>,
    },
}

impl Column {
    fn labels(capacity: usize) -> Self {
        Column::Labels {
            index: FxHashMap::default(),
            categories: Vec::new(),
            codes: Vec::with_capacity(capacity),
        }
    }
}

/// Reads `path`; columns named in `forced` are categorical whatever they hold.
pub fn read(path: &Path, forced: &HashSet<String>) -> Result<Outcome, TableError> {
    let io = |source| TableError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let file_len = file.metadata().map_err(io)?.len() as usize;
    let mut buffer: Vec<u8> = Vec::with_capacity(BLOCK_BYTES + (1 << 16));
    let mut at_end = fill(&mut file, &mut buffer).map_err(io)?;
    if memchr::memchr(b'"', &buffer).is_some() {
        return Ok(Outcome::Quoted);
    }
    let header_end = memchr::memchr(b'\n', &buffer).map_or(buffer.len(), |i| i + 1);
    let header_line = buffer[..header_end].trim_ascii_end();
    let header: Vec<String> = String::from_utf8_lossy(header_line)
        .split(',')
        .map(|h| h.trim().to_string())
        .collect();
    check_header(path, &header)?;
    let width = header.len();
    buffer.drain(..header_end);
    // Sized from the first block so the columns never reallocate (and never double in size).
    let bytes_per_row = buffer.len() / memchr::memchr_iter(b'\n', &buffer).count().max(1);
    let capacity = file_len / bytes_per_row.max(1) + 1024;
    let mut columns: Vec<Column> = header
        .iter()
        .map(|name| {
            if forced.contains(name) {
                Column::labels(capacity)
            } else {
                Column::Numbers(Vec::with_capacity(capacity))
            }
        })
        .collect();
    let mut rows = 0;
    loop {
        let complete = if at_end {
            buffer.len()
        } else {
            memchr::memrchr(b'\n', &buffer).map_or(0, |i| i + 1)
        };
        if let Some(text_after_numbers) =
            parse_block(path, &buffer[..complete], &mut columns, &mut rows, width)?
        {
            return Ok(Outcome::TextAfterNumbers(
                header[text_after_numbers].clone(),
            ));
        }
        buffer.drain(..complete);
        if at_end {
            break;
        }
        at_end = fill(&mut file, &mut buffer).map_err(io)?;
        if memchr::memchr(b'"', &buffer).is_some() {
            return Ok(Outcome::Quoted);
        }
    }
    let columns = header
        .into_iter()
        .zip(columns)
        .map(|(name, column)| {
            let (data, missing) = match column {
                Column::Numbers(values) => {
                    let missing = values.iter().filter(|x| x.is_nan()).count();
                    (ColumnData::Numeric(values), missing)
                }
                Column::Labels {
                    categories, codes, ..
                } => {
                    let missing = codes.iter().filter(|&&x| x == MISSING_CODE).count();
                    (
                        ColumnData::Categorical(CategoricalColumn { categories, codes }),
                        missing,
                    )
                }
            };
            TableColumn {
                name,
                data,
                missing,
            }
        })
        .collect();
    Ok(Outcome::Read(rows, columns))
}

/// Appends up to one block to `buffer`; returns whether the file is exhausted.
fn fill(file: &mut std::fs::File, buffer: &mut Vec<u8>) -> std::io::Result<bool> {
    let start = buffer.len();
    buffer.resize(start + BLOCK_BYTES, 0);
    let mut filled = start;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let at_end = filled < buffer.len();
    buffer.truncate(filled);
    Ok(at_end)
}

/// Parses whole lines and appends them to `columns`. Returns the index of a column that held
/// numbers in earlier blocks and text in this one.
fn parse_block(
    path: &Path,
    block: &[u8],
    columns: &mut [Column],
    rows: &mut usize,
    width: usize,
) -> Result<Option<usize>, TableError> {
    let text: Vec<bool> = columns
        .iter()
        .map(|c| matches!(c, Column::Labels { .. }))
        .collect();
    let chunks = split_lines(block, rayon::current_num_threads() * 4);
    let mut parsed: Vec<Chunk> = chunks
        .par_iter()
        .map(|chunk| parse_chunk(chunk, width, &text))
        .collect();
    let mut rows_before = *rows;
    for result in &parsed {
        if let Some((row, fields)) = result.bad_line {
            return Err(TableError::Csv {
                path: path.to_path_buf(),
                message: format!(
                    "not a valid CSV file: record {} has {fields} fields, the header has {width}",
                    rows_before + row + 1
                ),
            });
        }
        rows_before += result.rows;
    }
    // A column is text if any chunk saw text in it; chunks that read it as numbers redo it.
    let became_text: Vec<bool> = (0..width)
        .map(|c| {
            !text[c]
                && parsed
                    .iter()
                    .any(|chunk| matches!(chunk.columns[c], Values::Labels(_)))
        })
        .collect();
    if *rows > 0
        && let Some(column) = became_text.iter().position(|&b| b)
    {
        return Ok(Some(column));
    }
    parsed
        .par_iter_mut()
        .zip(&chunks)
        .for_each(|(parsed, chunk)| {
            for (c, values) in parsed.columns.iter_mut().enumerate() {
                if became_text[c] && matches!(values, Values::Numbers(_)) {
                    *values = Values::Labels(labels_of(chunk, c, usize::MAX));
                }
            }
        });
    for (c, column) in columns.iter_mut().enumerate() {
        if became_text[c] {
            *column = Column::labels(0);
        }
    }
    for chunk in parsed {
        for (column, values) in columns.iter_mut().zip(chunk.columns) {
            append(column, values);
        }
    }
    *rows = rows_before;
    Ok(None)
}

/// Appends one chunk's values of a column, remapping label codes into the column's dictionary.
fn append(column: &mut Column, values: Values) {
    match (column, values) {
        (Column::Numbers(all), Values::Numbers(part)) => all.extend(part),
        (
            Column::Labels {
                index,
                categories,
                codes,
            },
            Values::Labels(part),
        ) => {
            let remap: Vec<u32> = part
                .labels
                .iter()
                .map(|label| {
                    *index.entry(Box::from(*label)).or_insert_with(|| {
                        categories.push(String::from_utf8_lossy(label).into_owned());
                        (categories.len() - 1) as u32
                    })
                })
                .collect();
            codes.extend(part.codes.iter().map(|&code| {
                if code == MISSING_CODE {
                    MISSING_CODE
                } else {
                    remap[code as usize]
                }
            }));
        }
        _ => unreachable!("chunks were made to agree with the column's kind"),
    }
}

/// Splits into about `parts` pieces, each ending just after a newline (or at the end).
fn split_lines(body: &[u8], parts: usize) -> Vec<&[u8]> {
    let target = body.len() / parts.max(1) + 1;
    let mut chunks = Vec::with_capacity(parts + 1);
    let mut start = 0;
    while start < body.len() {
        let end = (start + target).min(body.len());
        let end = match memchr::memchr(b'\n', &body[end..]) {
            Some(offset) if end < body.len() => end + offset + 1,
            _ => body.len(),
        };
        chunks.push(&body[start..end]);
        start = end;
    }
    chunks
}

/// Calls `field(column, bytes)` for every field of every non-empty line, and `end(fields)`
/// at the end of each line with its field count; stops early when `end` returns false.
/// Fields are found with one vectorized scan for separators and newlines.
fn scan<'a>(
    chunk: &'a [u8],
    mut field: impl FnMut(usize, &'a [u8]),
    mut end: impl FnMut(usize) -> bool,
) {
    let mut start = 0;
    let mut column = 0;
    let separators = memchr::memchr2_iter(b',', b'\n', chunk).chain(std::iter::once(chunk.len()));
    for at in separators {
        if at == chunk.len() && start == at && column == 0 {
            break; // no last line without a newline
        }
        let bytes = &chunk[start..at];
        start = at + 1;
        let line_ends = at == chunk.len() || chunk[at] == b'\n';
        if line_ends && column == 0 && bytes.trim_ascii().is_empty() {
            continue; // an empty line
        }
        field(column, bytes);
        column += 1;
        if line_ends {
            if !end(column) {
                return;
            }
            column = 0;
        }
    }
}

/// One chunk's values of one column.
enum Values<'a> {
    Numbers(Vec<f64>),
    Labels(Labels<'a>),
}

/// One chunk's dictionary encoding of one column; labels borrow the file's bytes.
#[derive(Default)]
struct Labels<'a> {
    index: FxHashMap<&'a [u8], u32>,
    labels: Vec<&'a [u8]>,
    codes: Vec<u32>,
}

impl<'a> Labels<'a> {
    fn push(&mut self, bytes: &'a [u8]) {
        let code = if is_missing(bytes) {
            MISSING_CODE
        } else {
            let next = self.labels.len() as u32;
            let code = *self.index.entry(bytes).or_insert(next);
            if code == next {
                self.labels.push(bytes);
            }
            code
        };
        self.codes.push(code);
    }
}

struct Chunk<'a> {
    rows: usize,
    columns: Vec<Values<'a>>,
    /// The first record whose field count is wrong: (records before it, fields).
    bad_line: Option<(usize, usize)>,
}

fn parse_chunk<'a>(chunk: &'a [u8], width: usize, text: &[bool]) -> Chunk<'a> {
    let estimate = chunk.len() / (width * 8).max(1);
    let mut columns: Vec<Values> = text
        .iter()
        .map(|&f| {
            if f {
                Values::Labels(Labels::default())
            } else {
                Values::Numbers(Vec::with_capacity(estimate))
            }
        })
        .collect();
    let mut rows = 0;
    let mut bad_line = None;
    scan(
        chunk,
        |column, bytes| {
            let Some(values) = columns.get_mut(column) else {
                return;
            };
            let bytes = bytes.trim_ascii();
            match values {
                Values::Labels(labels) => labels.push(bytes),
                Values::Numbers(numbers) if is_missing(bytes) => numbers.push(f64::NAN),
                Values::Numbers(numbers) => match parse_number(bytes) {
                    Some(value) => numbers.push(value),
                    None => {
                        // Text after numbers: the earlier rows of this chunk become labels too.
                        let mut labels = labels_of(chunk, column, numbers.len());
                        labels.push(bytes);
                        *values = Values::Labels(labels);
                    }
                },
            }
        },
        |fields| {
            if fields != width {
                bad_line = Some((rows, fields));
                return false;
            }
            rows += 1;
            true
        },
    );
    Chunk {
        rows,
        columns,
        bad_line,
    }
}

/// The first `rows` values of `column` in `chunk`, as labels.
fn labels_of(chunk: &[u8], column: usize, rows: usize) -> Labels<'_> {
    let mut labels = Labels::default();
    if rows == 0 {
        return labels;
    }
    let mut seen = 0;
    scan(
        chunk,
        |c, bytes| {
            if c == column {
                labels.push(bytes.trim_ascii());
            }
        },
        |_| {
            seen += 1;
            seen < rows
        },
    );
    labels
}

/// Parses a number. Plain decimals (`-12.375`, up to 19 digits) take Clinger's fast path: the
/// digits as an exact integer divided by an exact power of ten is one correctly rounded
/// operation, so the result is the same as the standard parser's. Everything else (exponents,
/// long mantissas, `inf`) goes to the standard parser.
pub(super) fn parse_number(field: &[u8]) -> Option<f64> {
    const POW10: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    let (negative, digits) = match field.first() {
        Some(b'-') => (true, &field[1..]),
        Some(b'+') => (false, &field[1..]),
        _ => (false, field),
    };
    let mut mantissa: u64 = 0;
    let mut count = 0;
    let mut fraction_digits = None;
    for (i, &b) in digits.iter().enumerate() {
        match b {
            b'0'..=b'9' if count < 19 => {
                mantissa = mantissa * 10 + u64::from(b - b'0');
                count += 1;
            }
            b'.' if fraction_digits.is_none() => fraction_digits = Some(digits.len() - i - 1),
            _ => return std::str::from_utf8(field).ok()?.parse().ok(),
        }
    }
    let scale = fraction_digits.unwrap_or(0);
    if count == 0 || mantissa > (1 << 53) || scale >= POW10.len() {
        return std::str::from_utf8(field).ok()?.parse().ok();
    }
    let value = mantissa as f64 / POW10[scale];
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::parse_number;

    #[test]
    fn the_fast_number_path_agrees_with_the_standard_parser() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut fields: Vec<String> = [
            "0",
            "-0",
            "0.1",
            "-0.0",
            "123.456",
            "1.",
            ".5",
            "9007199254740993",
            "1e5",
            "-1.5E-3",
            "inf",
            "-inf",
            "12345678901234567890",
            "0.30000000000000004",
            "+7.25",
            "1.2.3",
            "-",
            "",
            "abc",
            "١",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for _ in 0..200_000 {
            let digits = next() % 10_u64.pow((next() % 17) as u32 + 1);
            let scale = (next() % 12) as usize;
            let text = format!("{digits:0>width$}", width = scale + 1);
            let (int, frac) = text.split_at(text.len() - scale);
            let sign = if next() % 2 == 0 { "-" } else { "" };
            fields.push(format!("{sign}{int}.{frac}"));
        }
        for field in fields {
            let fast = parse_number(field.as_bytes()).map(f64::to_bits);
            let std = field.parse::<f64>().ok().map(f64::to_bits);
            assert_eq!(fast, std, "{field}");
        }
    }
}
