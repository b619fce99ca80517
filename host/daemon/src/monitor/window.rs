//! A window's records as the pipeline reads them: its features typed as the monitor's spec
//! declares them, its quality metrics from labels, and a digest that tells a replay whether a
//! reference changed.

use vigil_runtime::{Batch, CategoricalColumn};
use vigil_store::{ColumnData, LabelValue, MISSING_CODE, RecordBatch};

use super::evaluation::WindowSummary;
use super::spec::MonitorSpec;
use crate::performance;
use crate::vocab::{FeatureKind, Task, number_text};

/// The records of one window, with their labels.
pub struct Window<'a> {
    /// Stream offset of the first record.
    pub start: i64,
    pub records: &'a RecordBatch,
    /// (offset, label) for the records that have one.
    pub labels: &'a [(i64, LabelValue)],
    pub task: Task,
}

impl Window<'_> {
    /// What the evaluation records of the window.
    pub fn summary(&self) -> WindowSummary {
        WindowSummary {
            start: self.start,
            end: self.start + self.records.len() as i64,
            rows: self.records.len(),
            first_timestamp: self.records.timestamps.iter().min().copied(),
            last_timestamp: self.records.timestamps.iter().max().copied(),
            labels: self.labels.len(),
        }
    }
}

/// The spec's features from a record batch, typed as the spec says.
pub fn feature_batch(spec: &MonitorSpec, records: &RecordBatch) -> Batch {
    let columns = spec
        .features
        .iter()
        .map(|feature| {
            let data = match records.feature(&feature.name) {
                Some(column) => to_runtime(&column.data, feature.kind),
                None => missing_column(feature.kind, records.len()),
            };
            vigil_runtime::Column {
                name: feature.name.clone(),
                data,
            }
        })
        .collect();
    Batch { columns }
}

pub fn missing_column(kind: FeatureKind, rows: usize) -> vigil_runtime::ColumnData {
    match kind {
        FeatureKind::Numeric => vigil_runtime::ColumnData::Numeric(vec![f64::NAN; rows]),
        FeatureKind::Categorical => vigil_runtime::ColumnData::Categorical(CategoricalColumn {
            categories: Vec::new(),
            codes: vec![MISSING_CODE; rows],
        }),
    }
}

/// Converts a stored column to the runtime's, as `kind` (text that is not a number becomes
/// missing in a numeric column; numbers become text in a categorical one).
fn to_runtime(data: &ColumnData, kind: FeatureKind) -> vigil_runtime::ColumnData {
    match (data, kind) {
        (ColumnData::Numeric(values), FeatureKind::Numeric) => {
            vigil_runtime::ColumnData::Numeric(values.clone())
        }
        (ColumnData::Categorical { categories, codes }, FeatureKind::Categorical) => {
            vigil_runtime::ColumnData::Categorical(CategoricalColumn {
                categories: categories.clone(),
                codes: codes.clone(),
            })
        }
        (ColumnData::Categorical { categories, codes }, FeatureKind::Numeric) => {
            let parsed: Vec<f64> = categories
                .iter()
                .map(|c| c.parse().unwrap_or(f64::NAN))
                .collect();
            vigil_runtime::ColumnData::Numeric(
                codes
                    .iter()
                    .map(|&c| {
                        if c == MISSING_CODE {
                            f64::NAN
                        } else {
                            parsed[c as usize]
                        }
                    })
                    .collect(),
            )
        }
        (ColumnData::Numeric(_), FeatureKind::Categorical) => {
            let mut text = ColumnData::Categorical {
                categories: Vec::new(),
                codes: Vec::new(),
            };
            text.append(data);
            to_runtime(&text, kind)
        }
    }
}

/// sha256 of the reference rows and of their labels: either changing changes what a replay
/// computes (the labels give the reference's quality metrics).
pub fn reference_digest(reference: &Window<'_>) -> String {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    hasher.update(reference.records.encode());
    for (offset, label) in reference.labels {
        hasher.update(offset.to_le_bytes());
        match label {
            LabelValue::Number(n) => {
                hasher.update([0]);
                hasher.update(n.to_le_bytes());
            }
            LabelValue::Text(t) => {
                hasher.update([1]);
                hasher.update((t.len() as u64).to_le_bytes());
                hasher.update(t.as_bytes());
            }
        }
    }
    hex::encode(hasher.finalize())
}

/// Each record's probability of `class` (NaN where it has none); `None` when the records
/// carry no such numeric probability column.
pub fn class_probabilities(window: &Window<'_>, class: &str) -> Option<Vec<f64>> {
    let column = window
        .records
        .probabilities
        .iter()
        .find(|c| c.name == class)?;
    match &column.data {
        ColumnData::Numeric(values) => Some(values.clone()),
        ColumnData::Categorical { .. } => None,
    }
}

/// For each record, whether its label is `class` (numbers written as text), or `None`
/// without a label.
pub fn labelled_as(window: &Window<'_>, class: &str) -> Vec<Option<bool>> {
    let mut out = vec![None; window.records.len()];
    for (offset, label) in window.labels {
        let is_class = match label {
            LabelValue::Number(n) => number_text(*n) == class,
            LabelValue::Text(t) => t == class,
        };
        if let Some(slot) = usize::try_from(offset - window.start)
            .ok()
            .and_then(|row| out.get_mut(row))
        {
            *slot = Some(is_class);
        }
    }
    out
}

pub fn quality_metrics(window: &Window<'_>) -> Vec<performance::Metric> {
    let Some(prediction) = &window.records.prediction else {
        return Vec::new();
    };
    let row = |offset: i64| (offset - window.start) as usize;
    match (window.task, prediction) {
        (Task::Regression, ColumnData::Numeric(predicted)) => {
            let (mut p, mut a) = (Vec::new(), Vec::new());
            for (offset, label) in window.labels {
                if let (Some(&value), LabelValue::Number(actual)) =
                    (predicted.get(row(*offset)), label)
                    && value.is_finite()
                {
                    p.push(value);
                    a.push(*actual);
                }
            }
            performance::regression(&p, &a)
        }
        (Task::Classification, ColumnData::Categorical { categories, codes }) => {
            let positive = window
                .records
                .probabilities
                .iter()
                .find(|c| c.name == "1" || c.name.eq_ignore_ascii_case("true"))
                .and_then(|c| match &c.data {
                    ColumnData::Numeric(v) => Some((c.name.as_str(), v)),
                    ColumnData::Categorical { .. } => None,
                });
            let (mut p, mut a, mut s) = (Vec::new(), Vec::new(), Vec::new());
            let actual_text = |label: &LabelValue| match label {
                LabelValue::Number(n) => number_text(*n),
                LabelValue::Text(t) => t.clone(),
            };
            let texts: Vec<String> = window.labels.iter().map(|(_, l)| actual_text(l)).collect();
            let mut all_scored = positive.is_some();
            for ((offset, _), actual) in window.labels.iter().zip(&texts) {
                let Some(&code) = codes.get(row(*offset)) else {
                    continue;
                };
                if code == MISSING_CODE {
                    continue;
                }
                p.push(categories[code as usize].as_str());
                a.push(actual.as_str());
                if let Some((_, scores)) = positive {
                    let score = scores[row(*offset)];
                    all_scored &= score.is_finite();
                    s.push(score);
                }
            }
            let scores = match positive {
                Some((class, _)) if all_scored => Some((class, s.as_slice())),
                _ => None,
            };
            performance::classification(&p, &a, scores)
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_columns_convert_to_the_declared_kind() {
        let text = ColumnData::Categorical {
            categories: vec!["1.5".into(), "x".into()],
            codes: vec![0, 1, MISSING_CODE],
        };
        let vigil_runtime::ColumnData::Numeric(v) = to_runtime(&text, FeatureKind::Numeric) else {
            panic!()
        };
        assert_eq!(v[0], 1.5);
        assert!(v[1].is_nan() && v[2].is_nan());
        let numbers = ColumnData::Numeric(vec![2.0, f64::NAN, 2.0]);
        let vigil_runtime::ColumnData::Categorical(c) =
            to_runtime(&numbers, FeatureKind::Categorical)
        else {
            panic!()
        };
        assert_eq!(c.categories, ["2"]);
        assert_eq!(c.codes, [0, MISSING_CODE, 0]);
    }
}
