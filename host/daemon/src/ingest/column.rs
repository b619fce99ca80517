//! One column of a batch being filled row by row: numbers, or text kept as a dictionary of
//! categories and a code per row.

use std::collections::HashMap;

use vigil_store::{ColumnData, MISSING_CODE};

use crate::vocab::{FeatureKind, number_text};

/// A column being filled row by row.
pub(super) enum Builder {
    Numeric(Vec<f64>),
    Text {
        categories: Vec<String>,
        index: HashMap<String, u32>,
        codes: Vec<u32>,
    },
}

impl Builder {
    pub(super) fn new(kind: FeatureKind, rows: usize) -> Builder {
        match kind {
            FeatureKind::Numeric => Builder::Numeric(Vec::with_capacity(rows)),
            FeatureKind::Categorical => Builder::Text {
                categories: Vec::new(),
                index: HashMap::new(),
                codes: Vec::with_capacity(rows),
            },
        }
    }

    pub(super) fn len(&self) -> usize {
        match self {
            Builder::Numeric(values) => values.len(),
            Builder::Text { codes, .. } => codes.len(),
        }
    }

    pub(super) fn push_missing(&mut self) {
        match self {
            Builder::Numeric(values) => values.push(f64::NAN),
            Builder::Text { codes, .. } => codes.push(MISSING_CODE),
        }
    }

    pub(super) fn push_text(&mut self, text: &str) {
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

    pub(super) fn push_number(&mut self, value: f64) {
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

    pub(super) fn finish(self) -> ColumnData {
        match self {
            Builder::Numeric(values) => ColumnData::Numeric(values),
            Builder::Text {
                categories, codes, ..
            } => ColumnData::Categorical { categories, codes },
        }
    }
}
