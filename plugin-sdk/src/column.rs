//! Helpers for building and reading columns.

use std::collections::HashMap;

use crate::{CategoricalColumn, ColumnData};

/// The code of a missing categorical value.
pub const MISSING_CODE: u32 = u32::MAX;

impl ColumnData {
    /// A numeric column.
    pub fn numeric(values: impl Into<Vec<f64>>) -> Self {
        ColumnData::Numeric(values.into())
    }

    /// A categorical column from labels; `None` is a missing value.
    pub fn categorical<'a>(values: impl IntoIterator<Item = Option<&'a str>>) -> Self {
        let mut builder = CategoricalBuilder::default();
        for value in values {
            builder.push(value);
        }
        ColumnData::Categorical(builder.finish())
    }

    /// Number of rows, missing values included.
    pub fn len(&self) -> usize {
        match self {
            ColumnData::Numeric(v) => v.len(),
            ColumnData::Categorical(c) => c.codes.len(),
        }
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl CategoricalColumn {
    /// Counts per category, in the order of `categories`; missing values are not counted.
    pub fn counts(&self) -> Vec<u64> {
        let mut counts = vec![0u64; self.categories.len()];
        for &code in &self.codes {
            if let Some(count) = counts.get_mut(code as usize) {
                *count += 1;
            }
        }
        counts
    }
}

/// Dictionary-encodes labels into a [`CategoricalColumn`].
#[derive(Default)]
pub struct CategoricalBuilder {
    index: HashMap<String, u32>,
    column: CategoricalColumn,
}

// The type is generated from WIT, so it cannot carry a derive.
#[allow(clippy::derivable_impls)]
impl Default for CategoricalColumn {
    fn default() -> Self {
        CategoricalColumn {
            categories: Vec::new(),
            codes: Vec::new(),
        }
    }
}

impl CategoricalBuilder {
    /// Appends a label, or a missing value for `None`.
    pub fn push(&mut self, value: Option<&str>) {
        let code = match value {
            None => MISSING_CODE,
            Some(label) => match self.index.get(label) {
                Some(&code) => code,
                None => {
                    let code = self.column.categories.len() as u32;
                    self.column.categories.push(label.to_string());
                    self.index.insert(label.to_string(), code);
                    code
                }
            },
        };
        self.column.codes.push(code);
    }

    /// The encoded column.
    pub fn finish(self) -> CategoricalColumn {
        self.column
    }
}
