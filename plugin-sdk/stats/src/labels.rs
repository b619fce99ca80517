//! Category counts, matched by label: each side of a comparison carries its own dictionary.

use std::collections::HashMap;

use vigil_plugin_sdk::{CategoricalColumn, ColumnData, Error, MISSING_CODE, Result};

/// The count of each label present in the column, in dictionary order; labels listed twice in
/// the dictionary are merged and labels without values left out (a category neither side has
/// adds nothing to any test). An error if a code lies outside the dictionary or no value is
/// left; missing values are dropped.
pub fn label_counts(column: CategoricalColumn, what: &str) -> Result<Vec<(String, u64)>> {
    let per_code = count_codes(&column.codes, column.categories.len(), what)?;

    let mut counts: Vec<(String, u64)> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (label, count) in column.categories.into_iter().zip(per_code) {
        if count == 0 {
            continue;
        }
        match seen.get(&label) {
            Some(&position) => counts[position].1 += count,
            None => {
                seen.insert(label.clone(), counts.len());
                counts.push((label, count));
            }
        }
    }

    if counts.is_empty() {
        return Err(no_values(what));
    }
    Ok(counts)
}

/// How many times each code below `len` occurs, missing codes skipped; an error naming the
/// first code that is neither missing nor below `len`.
///
/// One pass without a branch on the data: every code at or above `len` (missing ones too) is
/// counted in an overflow slot, and only when that slot is not all missing values are the codes
/// read again to name the bad one. Four sets of counters take turns, so that runs of one code
/// do not wait on each other's increments.
fn count_codes(codes: &[u32], len: usize, what: &str) -> Result<Vec<u64>> {
    let mut counts = if len <= 4096 {
        let mut lanes = vec![[0u64; 4]; len + 1];
        let mut chunks = codes.chunks_exact(4);
        for chunk in &mut chunks {
            for (lane, &code) in chunk.iter().enumerate() {
                lanes[(code as usize).min(len)][lane] += 1;
            }
        }
        for &code in chunks.remainder() {
            lanes[(code as usize).min(len)][0] += 1;
        }
        lanes.iter().map(|l| l.iter().sum()).collect()
    } else {
        // Many categories: runs of one code are rare, and four sets would cost memory.
        let mut counts = vec![0u64; len + 1];
        for &code in codes {
            counts[(code as usize).min(len)] += 1;
        }
        counts
    };
    let overflow: u64 = counts.pop().unwrap_or(0);
    if overflow > 0 {
        let missing = codes.iter().filter(|&&c| c == MISSING_CODE).count() as u64;
        if missing != overflow {
            let code = codes
                .iter()
                .find(|&&c| c != MISSING_CODE && c as usize >= len)
                .expect("a code outside the dictionary was counted");
            return Err(Error::InvalidInput(format!(
                "the {what} holds code {code}, but its dictionary has only {len} categories"
            )));
        }
    }
    Ok(counts)
}

/// The error for a side with nothing left to compare once missing values are dropped.
pub fn no_values(what: &str) -> Error {
    Error::InvalidInput(format!("the {what} has no values to compare"))
}

/// The reference's categories and counts, ready to be matched with windows.
#[derive(Debug, Clone)]
pub struct Categories {
    /// Position of each reference category in `counts`.
    index: HashMap<String, usize>,
    /// Count per reference category, in the order of first appearance in its dictionary.
    counts: Vec<u64>,
}

impl Categories {
    /// Counts the reference column; an error if it is numeric or empty.
    pub fn new(column: ColumnData, what: &str) -> Result<Self> {
        let column = categorical(column, what)?;
        let mut index = HashMap::new();
        let mut counts = Vec::new();
        for (position, (label, count)) in label_counts(column, what)?.into_iter().enumerate() {
            index.insert(label, position);
            counts.push(count);
        }
        Ok(Categories { index, counts })
    }

    /// The reference's counts.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// The reference's and the window's counts over the union of their categories: the
    /// reference's categories first, in their order, then those only the window has (count 0
    /// in the reference's row), in the window's order. A reference category the window lacks
    /// counts 0 in the window's row.
    pub fn align(&self, window: ColumnData, what: &str) -> Result<(Vec<u64>, Vec<u64>)> {
        let window = categorical(window, what)?;
        let mut reference_row = self.counts.clone();
        let mut window_row = vec![0; reference_row.len()];
        for (label, count) in label_counts(window, what)? {
            match self.index.get(&label) {
                Some(&position) => window_row[position] = count,
                None => {
                    reference_row.push(0);
                    window_row.push(count);
                }
            }
        }
        Ok((reference_row, window_row))
    }
}

fn categorical(column: ColumnData, what: &str) -> Result<CategoricalColumn> {
    match column {
        ColumnData::Categorical(column) => Ok(column),
        ColumnData::Numeric(_) => Err(Error::InvalidInput(format!(
            "this test takes a categorical column; the {what} is numeric"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_by_label_across_dictionaries() {
        let reference = ColumnData::categorical([Some("a"), Some("b"), Some("b"), None, Some("c")]);
        let current = ColumnData::Categorical(CategoricalColumn {
            categories: vec!["b".into(), "unused".into(), "d".into(), "b".into()],
            codes: vec![3, 2, 0, MISSING_CODE, 2],
        });
        let categories = Categories::new(reference, "reference").unwrap();
        assert_eq!(categories.counts(), &[1, 2, 1]);
        let (r, c) = categories.align(current, "current window").unwrap();
        assert_eq!(r, vec![1, 2, 1, 0]);
        assert_eq!(c, vec![0, 2, 0, 2]);
    }

    #[test]
    fn rejects_empty_and_broken_columns() {
        let empty = ColumnData::categorical([None, None]);
        assert!(matches!(
            Categories::new(empty, "reference"),
            Err(Error::InvalidInput(_))
        ));
        let broken = ColumnData::Categorical(CategoricalColumn {
            categories: vec!["a".into()],
            codes: vec![0, 7],
        });
        assert!(matches!(
            Categories::new(broken, "reference"),
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            Categories::new(ColumnData::numeric(vec![1.0]), "reference"),
            Err(Error::InvalidInput(_))
        ));
    }
}
