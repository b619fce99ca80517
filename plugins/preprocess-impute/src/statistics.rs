//! The fill values the strategies compute from a reference column, as scikit-learn's
//! `SimpleImputer` does (docs/preprocessors.md).

use vigil_plugin_sdk::CategoricalColumn;
use vigil_plugin_stats::order::sorted_values;
use vigil_plugin_stats::sum;

/// The non-missing values' mean (`np.ma.mean`); `None` when there are none.
pub fn mean(values: &[f64]) -> Option<f64> {
    let present: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    (!present.is_empty()).then(|| sum::mean(&present))
}

/// The non-missing values' median (`np.ma.median`: the mean of the two middle values of an
/// even count); `None` when there are none.
pub fn median(values: &[f64]) -> Option<f64> {
    let sorted = sorted_values(values.to_vec());
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// The most frequent non-missing value, the smallest of those tied (scikit-learn's
/// `_most_frequent`); `None` when there are none.
pub fn most_frequent_number(values: &[f64]) -> Option<f64> {
    let sorted = sorted_values(values.to_vec());
    let mut best: Option<(f64, usize)> = None;
    let mut start = 0;
    while start < sorted.len() {
        let value = sorted[start];
        let end = start + sorted[start..].partition_point(|&x| x == value);
        // Ascending order: a later run must be strictly longer to win a tie.
        if best.is_none_or(|(_, count)| end - start > count) {
            best = Some((value, end - start));
        }
        start = end;
    }
    best.map(|(value, _)| value)
}

/// The most frequent label, the smallest of those tied (Python's string order, which is the
/// byte order of UTF-8); `None` when every value is missing.
pub fn most_frequent_label(column: &CategoricalColumn) -> Option<String> {
    column
        .counts()
        .into_iter()
        .zip(&column.categories)
        .filter(|&(count, _)| count > 0)
        .max_by(|(a, label_a), (b, label_b)| a.cmp(b).then_with(|| label_b.cmp(label_a)))
        .map(|(_, label)| label.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_plugin_sdk::ColumnData;

    #[test]
    fn numeric_statistics_skip_missing_values() {
        let values = [3.0, f64::NAN, 1.0, 2.0, 2.0];
        assert_eq!(mean(&values), Some(2.0));
        assert_eq!(median(&values), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, f64::NAN, 2.0, 3.0]), Some(2.5));
        assert_eq!(most_frequent_number(&values), Some(2.0));
        assert_eq!(mean(&[f64::NAN]), None);
        assert_eq!(median(&[]), None);
        assert_eq!(most_frequent_number(&[f64::NAN]), None);
    }

    #[test]
    fn ties_go_to_the_smallest() {
        assert_eq!(
            most_frequent_number(&[5.0, 5.0, -1.0, -1.0, 7.0]),
            Some(-1.0)
        );
        assert_eq!(most_frequent_number(&[0.0, -0.0, 1.0]), Some(0.0));
        let ColumnData::Categorical(column) =
            ColumnData::categorical([Some("b"), Some("a"), None, Some("b"), Some("a")])
        else {
            unreachable!()
        };
        assert_eq!(most_frequent_label(&column).as_deref(), Some("a"));
        let ColumnData::Categorical(column) = ColumnData::categorical([None, None]) else {
            unreachable!()
        };
        assert_eq!(most_frequent_label(&column), None);
    }
}
