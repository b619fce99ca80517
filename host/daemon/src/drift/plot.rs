//! Binned summaries of a column on both sides, for the HTML report's plots (docs/statistics.md,
//! "The HTML report"). They are computed in two passes over the values, without sorting, so a
//! report on a million rows costs a few milliseconds per column and its size does not grow
//! with the rows.

use std::collections::HashMap;

use vigil_runtime::ColumnData;

/// Bins of a numeric plot.
pub const NUMERIC_BINS: usize = 40;
/// Categories a categorical plot shows by name; the rest are summed into one bar.
pub const MAX_CATEGORIES: usize = 30;
/// The numeric plot's range is the pooled mean ± this many standard deviations (cut to the
/// values' range): a few extreme values would otherwise squeeze every other value into one bin.
const RANGE_IN_STANDARD_DEVIATIONS: f64 = 4.0;

/// What one column's plot shows; serialized for the dashboard's evaluation page.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Plot {
    /// Counts over shared equal-width bins. `edges` has one more entry than each count list.
    /// Values below the first edge are counted in the first bin and values above the last in
    /// the last; `clipped_low` and `clipped_high` say whether there were any.
    Numeric {
        edges: Vec<f64>,
        reference: Vec<u64>,
        current: Vec<u64>,
        clipped_low: bool,
        clipped_high: bool,
    },
    /// Counts per category over both sides, most frequent (pooled share) first, and the
    /// categories past [`MAX_CATEGORIES`] summed.
    Categorical {
        categories: Vec<CategoryBar>,
        other: Option<OtherBar>,
    },
    /// A side has no values: nothing to draw.
    Empty,
}

/// One category's counts.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct CategoryBar {
    pub label: String,
    pub reference: u64,
    pub current: u64,
}

/// The categories a plot does not name, summed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct OtherBar {
    pub categories: usize,
    pub reference: u64,
    pub current: u64,
}

impl Plot {
    /// The plot of one column; the two sides have the same kind.
    pub fn of(reference: &ColumnData, current: &ColumnData) -> Plot {
        match (reference, current) {
            (ColumnData::Numeric(r), ColumnData::Numeric(c)) => numeric(r, c),
            (ColumnData::Categorical(r), ColumnData::Categorical(c)) => categorical(
                counts(&r.categories, &r.codes),
                counts(&c.categories, &c.codes),
            ),
            _ => Plot::Empty,
        }
    }
}

/// Count, sum, sum of squares, least and greatest of one side's non-missing values.
fn moments(values: &[f64]) -> (usize, f64, f64, f64, f64) {
    let (mut n, mut sum, mut squares) = (0usize, 0.0f64, 0.0f64);
    let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
    for &x in values {
        if x.is_nan() {
            continue;
        }
        n += 1;
        sum += x;
        squares += x * x;
        min = min.min(x);
        max = max.max(x);
    }
    (n, sum, squares, min, max)
}

fn numeric(reference: &[f64], current: &[f64]) -> Plot {
    // Two passes with no division per value (moments, then bins): on a million rows this is a
    // few milliseconds, small beside the tests. The spread from the raw sum of squares is
    // rough, and needs to be no better: it only places the plot's range.
    let (n_r, sum_r, squares_r, min_r, max_r) = moments(reference);
    let (n_c, sum_c, squares_c, min_c, max_c) = moments(current);
    let (min, max) = (min_r.min(min_c), max_r.max(max_c));
    if n_r == 0 || n_c == 0 || !min.is_finite() || !max.is_finite() {
        return Plot::Empty;
    }
    let n = (n_r + n_c) as f64;
    let mean = (sum_r + sum_c) / n;
    let variance = ((squares_r + squares_c) / n - mean * mean).max(0.0);
    // Sums that overflowed (huge values) leave the range at the values' own.
    let spread = RANGE_IN_STANDARD_DEVIATIONS * variance.sqrt();
    let (mut low, mut high) = (min, max);
    if spread.is_finite() && mean.is_finite() && spread > 0.0 {
        low = low.max(mean - spread);
        high = high.min(mean + spread);
    }
    let bins = if high > low { NUMERIC_BINS } else { 1 };
    let width = (high - low) / bins as f64;
    let edges: Vec<f64> = (0..=bins)
        .map(|i| {
            if i == bins {
                high
            } else {
                low + width * i as f64
            }
        })
        .collect();
    let per_unit = if width > 0.0 && width.is_finite() {
        1.0 / width
    } else {
        0.0
    };
    let count = |side: &[f64]| {
        let mut counts = vec![0u64; bins];
        for &x in side {
            if !x.is_nan() {
                // `as usize` saturates: values below `low` land in bin 0.
                let bin = (((x - low) * per_unit) as usize).min(bins - 1);
                counts[bin] += 1;
            }
        }
        counts
    };
    Plot::Numeric {
        reference: count(reference),
        current: count(current),
        clipped_low: low > min,
        clipped_high: high < max,
        edges,
    }
}

/// Counts per label of one side (missing values left out).
fn counts(categories: &[String], codes: &[u32]) -> HashMap<String, u64> {
    let mut by_code = vec![0u64; categories.len()];
    for &code in codes {
        if let Some(count) = by_code.get_mut(code as usize) {
            *count += 1;
        }
    }
    categories
        .iter()
        .cloned()
        .zip(by_code)
        .filter(|(_, count)| *count > 0)
        .collect()
}

fn categorical(reference: HashMap<String, u64>, current: HashMap<String, u64>) -> Plot {
    let (total_reference, total_current) = (
        reference.values().sum::<u64>(),
        current.values().sum::<u64>(),
    );
    if total_reference == 0 || total_current == 0 {
        return Plot::Empty;
    }
    let mut labels: Vec<&String> = reference.keys().chain(current.keys()).collect();
    labels.sort();
    labels.dedup();
    let mut bars: Vec<CategoryBar> = labels
        .into_iter()
        .map(|label| CategoryBar {
            label: label.clone(),
            reference: reference.get(label).copied().unwrap_or(0),
            current: current.get(label).copied().unwrap_or(0),
        })
        .collect();
    // By pooled share, so that a category that fills the current window is shown even when the
    // reference never had it; ties by label, so the order does not depend on hashing.
    let share = |bar: &CategoryBar| {
        bar.reference as f64 / total_reference as f64 + bar.current as f64 / total_current as f64
    };
    bars.sort_by(|a, b| share(b).total_cmp(&share(a)).then(a.label.cmp(&b.label)));
    let other = (bars.len() > MAX_CATEGORIES).then(|| {
        let rest = bars.split_off(MAX_CATEGORIES);
        OtherBar {
            categories: rest.len(),
            reference: rest.iter().map(|b| b.reference).sum(),
            current: rest.iter().map(|b| b.current).sum(),
        }
    });
    Plot::Categorical {
        categories: bars,
        other,
    }
}

#[cfg(test)]
mod tests {
    use vigil_runtime::CategoricalColumn;

    use super::*;

    fn categorical_column(labels: &[&str]) -> ColumnData {
        let mut categories: Vec<String> = Vec::new();
        let codes = labels
            .iter()
            .map(|label| {
                if *label == "-" {
                    return u32::MAX;
                }
                let at = categories
                    .iter()
                    .position(|c| c == label)
                    .unwrap_or_else(|| {
                        categories.push(label.to_string());
                        categories.len() - 1
                    });
                at as u32
            })
            .collect();
        ColumnData::Categorical(CategoricalColumn { categories, codes })
    }

    #[test]
    fn numeric_bins_are_shared_and_hold_every_value() {
        let reference: Vec<f64> = (0..1000).map(|i| i as f64 / 100.0).collect();
        let current: Vec<f64> = (0..500).map(|i| 5.0 + i as f64 / 100.0).collect();
        let Plot::Numeric {
            edges,
            reference: r,
            current: c,
            ..
        } = Plot::of(
            &ColumnData::Numeric(reference),
            &ColumnData::Numeric(current),
        )
        else {
            panic!("a numeric plot")
        };
        assert_eq!(edges.len(), NUMERIC_BINS + 1);
        assert_eq!(r.iter().sum::<u64>(), 1000);
        assert_eq!(c.iter().sum::<u64>(), 500);
        // The current side sits in the upper half of the shared range.
        assert_eq!(c[..NUMERIC_BINS / 2].iter().sum::<u64>(), 0);
        assert!(edges.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn extreme_values_are_counted_in_the_edge_bins_and_flagged() {
        let mut reference: Vec<f64> = (0..10_000).map(|i| (i % 100) as f64).collect();
        reference.push(1e12);
        reference.push(f64::NAN);
        let current = vec![50.0, -1e12];
        let Plot::Numeric {
            edges,
            reference: r,
            current: c,
            clipped_low,
            clipped_high,
        } = Plot::of(
            &ColumnData::Numeric(reference),
            &ColumnData::Numeric(current),
        )
        else {
            panic!("a numeric plot")
        };
        assert!(clipped_low && clipped_high);
        assert!(edges[NUMERIC_BINS] < 1e12 && edges[0] > -1e12);
        assert_eq!(r.iter().sum::<u64>(), 10_001);
        assert!(r[NUMERIC_BINS - 1] >= 1);
        assert_eq!(c[0], 1);
    }

    #[test]
    fn a_constant_column_is_one_bin_and_an_empty_side_draws_nothing() {
        let plot = Plot::of(
            &ColumnData::Numeric(vec![3.0; 5]),
            &ColumnData::Numeric(vec![3.0; 2]),
        );
        let Plot::Numeric {
            edges, reference, ..
        } = plot
        else {
            panic!("a numeric plot")
        };
        assert_eq!((edges, reference), (vec![3.0, 3.0], vec![5]));
        let empty = Plot::of(
            &ColumnData::Numeric(vec![1.0]),
            &ColumnData::Numeric(vec![f64::NAN]),
        );
        assert_eq!(empty, Plot::Empty);
    }

    #[test]
    fn categories_from_both_sides_are_kept_with_new_and_vanished_ones() {
        let reference = categorical_column(&["a", "a", "b", "gone", "-"]);
        let current = categorical_column(&["new", "a", "new", "new"]);
        let Plot::Categorical { categories, other } = Plot::of(&reference, &current) else {
            panic!("a categorical plot")
        };
        assert_eq!(other, None);
        let bar = |label: &str| {
            let bar = categories.iter().find(|b| b.label == label).unwrap();
            (bar.reference, bar.current)
        };
        assert_eq!(bar("a"), (2, 1));
        assert_eq!(bar("gone"), (1, 0));
        assert_eq!(bar("new"), (0, 3));
        assert_eq!(categories[0].label, "a"); // 2/4 + 1/4 is the largest pooled share
    }

    #[test]
    fn past_the_cap_categories_are_summed() {
        let labels: Vec<String> = (0..50).map(|i| format!("c{i:02}")).collect();
        let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
        let Plot::Categorical { categories, other } =
            Plot::of(&categorical_column(&refs), &categorical_column(&refs))
        else {
            panic!("a categorical plot")
        };
        assert_eq!(categories.len(), MAX_CATEGORIES);
        let other = other.unwrap();
        assert_eq!(
            (other.categories, other.reference, other.current),
            (20, 20, 20)
        );
    }
}
