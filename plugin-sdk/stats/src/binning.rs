//! The binning every binned distance shares (PSI, Jensen–Shannon, Kullback–Leibler, Hellinger,
//! total variation), as docs/statistics.md describes it.
//!
//! Numeric columns: inner edges at the reference's deciles (`np.quantile`, default `linear`
//! method), exact duplicate edges removed (`np.unique`), bins right-closed
//! `(-inf, e1], (e1, e2], …, (e_last, +inf)`. Categorical columns: one bin per category over
//! the union of both sides, matched by label ([`Categories::align`]). Missing values are
//! dropped on both sides.

use vigil_plugin_sdk::{ColumnData, Error, Result};

use crate::keysort::select;
use crate::labels::{Categories, no_values};
use crate::order::{key, value};

/// The quantiles whose values become the inner bin edges.
pub const DECILES: [f64; 9] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/// The `q`-quantile of a non-empty sorted sample by linear interpolation between order
/// statistics, as `np.quantile(sorted, q)` (method `linear`) computes it.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    debug_assert!(!sorted.is_empty());
    quantile_by(sorted.len(), q, |rank| sorted[rank])
}

/// The 0-based ranks [`quantile`] reads for `q` in a sample of `len` values.
pub fn quantile_ranks(len: usize, q: f64) -> [usize; 2] {
    let last = len - 1;
    let virtual_index = last as f64 * q;
    if virtual_index >= last as f64 {
        return [last, last];
    }
    let previous = virtual_index.floor() as usize;
    [previous, previous + 1]
}

/// [`quantile`] of a sample of `len` values of which `at(rank)` gives the order statistics.
pub fn quantile_by(len: usize, q: f64, at: impl Fn(usize) -> f64) -> f64 {
    let last = len - 1;
    let virtual_index = last as f64 * q;
    if virtual_index >= last as f64 {
        return at(last);
    }
    let previous = virtual_index.floor();
    let gamma = virtual_index - previous;
    let below = at(previous as usize);
    let above = at(previous as usize + 1);
    // NumPy interpolates from the nearer end, which keeps the result monotone in q.
    let difference = above - below;
    if gamma >= 0.5 {
        above - difference * (1.0 - gamma)
    } else {
        below + difference * gamma
    }
}

/// [`quantile`] of the pooled sample of two sorted samples (not both empty), without pooling
/// them: the two order statistics it interpolates are found by binary search.
pub fn merged_quantile(first: &[f64], second: &[f64], q: f64) -> f64 {
    quantile_by(first.len() + second.len(), q, |k| {
        kth_of_two(first, second, k)
    })
}

/// The `k`-th smallest (0-based) value of the pooled sample of two ascending samples.
pub fn kth_of_two(first: &[f64], second: &[f64], k: usize) -> f64 {
    // Take `i` values from `first` and `k + 1 - i` from `second`: the smallest `i` with
    // first[i] >= second[k - i] (or out of range) splits the `k + 1` smallest values.
    let take = k + 1;
    let (mut lo, mut hi) = (take.saturating_sub(second.len()), take.min(first.len()));
    while lo < hi {
        let i = lo + (hi - lo) / 2;
        // `i < take` and `take - i - 1 < second.len()` hold inside the range.
        if first[i] < second[take - i - 1] {
            lo = i + 1;
        } else {
            hi = i;
        }
    }
    let i = lo;
    let from_first = if i > 0 { Some(first[i - 1]) } else { None };
    let from_second = if take - i > 0 {
        Some(second[take - i - 1])
    } else {
        None
    };
    match (from_first, from_second) {
        (Some(a), Some(b)) => a.max(b),
        (Some(a), None) => a,
        (None, Some(b)) => b,
        (None, None) => unreachable!("k is below the pooled size"),
    }
}

/// The distinct decile values of a non-empty sorted sample, ascending (`np.unique` of
/// `np.quantile(sorted, DECILES)`).
pub fn decile_edges(sorted: &[f64]) -> Vec<f64> {
    quantile_edges(sorted, &DECILES)
}

/// The distinct values of the `quantiles` of a non-empty sorted sample, ascending
/// (`np.unique(np.quantile(sorted, quantiles))`): the inner edges of quantile bins.
pub fn quantile_edges(sorted: &[f64], quantiles: &[f64]) -> Vec<f64> {
    let mut edges: Vec<f64> = quantiles.iter().map(|&q| quantile(sorted, q)).collect();
    edges.sort_by(f64::total_cmp);
    edges.dedup_by(|a, b| a == b);
    edges
}

/// The bin of `value` among the right-closed bins (-inf, e1], (e1, e2], …, (ek, +inf): the
/// number of edges strictly below it (`np.searchsorted(edges, value, side="left")`).
pub fn bin_of(edges: &[f64], value: f64) -> usize {
    edges.partition_point(|&edge| edge < value)
}

/// Counts per bin of a sorted sample, by binary search for each edge.
pub fn sorted_bin_counts(edges: &[f64], sorted: &[f64]) -> Vec<u64> {
    let mut counts = Vec::with_capacity(edges.len() + 1);
    let mut below = 0;
    for &edge in edges {
        let up_to_edge = sorted.partition_point(|&v| v <= edge);
        counts.push((up_to_edge - below) as u64);
        below = up_to_edge;
    }
    counts.push((sorted.len() - below) as u64);
    counts
}

/// Counts per bin of unsorted values, NaNs dropped: one binary search per value.
pub fn bin_counts(edges: &[f64], values: &[f64]) -> Vec<u64> {
    let mut counts = vec![0u64; edges.len() + 1];
    if edges.len() <= 16 {
        // Counting the edges below a value, without a branch, beats a binary search's
        // mispredicted branches for the few edges of the decile bins.
        for &value in values.iter().filter(|v| !v.is_nan()) {
            counts[edges.iter().filter(|&&edge| edge < value).count()] += 1;
        }
    } else {
        for &value in values.iter().filter(|v| !v.is_nan()) {
            counts[bin_of(edges, value)] += 1;
        }
    }
    counts
}

/// Each count over the total (`counts / counts.sum()`).
pub fn proportions(counts: &[u64]) -> Vec<f64> {
    let total: u64 = counts.iter().sum();
    counts
        .iter()
        .map(|&count| count as f64 / total as f64)
        .collect()
}

/// The reference's bins, fixed when a test is built; windows are counted into the same bins.
#[derive(Debug, Clone)]
pub enum Histogram {
    /// Decile bins of a numeric reference.
    Numeric {
        /// Distinct inner bin edges, ascending.
        edges: Vec<f64>,
        /// Reference count per bin; one more than there are edges.
        counts: Vec<u64>,
    },
    /// One bin per category.
    Categorical(Categories),
}

impl Histogram {
    /// Bins the reference column. An error if nothing is left once missing values are dropped,
    /// or if the deciles are not finite (a reference mostly made of infinities).
    pub fn new(reference: ColumnData) -> Result<Self> {
        const WHAT: &str = "reference";
        match reference {
            ColumnData::Numeric(values) => {
                // The deciles by selection rather than a sort: the reference is read three
                // times (keys, selection, counts) instead of sorted.
                let mut keys: Vec<u64> = values
                    .into_iter()
                    .filter(|x| !x.is_nan())
                    .map(|x| key(x + 0.0))
                    .collect();
                if keys.is_empty() {
                    return Err(no_values(WHAT));
                }
                let n = keys.len();
                let mut ranks: Vec<usize> =
                    DECILES.iter().flat_map(|&q| quantile_ranks(n, q)).collect();
                ranks.sort_unstable();
                ranks.dedup();
                let picked = select(&mut keys, &ranks);
                let at = |rank: usize| value(picked[ranks.binary_search(&rank).unwrap()]);
                let mut edges: Vec<f64> = DECILES
                    .iter()
                    .map(|&q| quantile_by(n, q, at) + 0.0)
                    .collect();
                edges.sort_by(f64::total_cmp);
                edges.dedup_by(|a, b| a == b);
                if edges.iter().any(|e| !e.is_finite()) {
                    return Err(Error::InvalidInput(
                        "the reference's deciles are not finite numbers (too many infinite \
                         values); binned distances need finite bin edges"
                            .to_string(),
                    ));
                }
                let edge_keys: Vec<u64> = edges.iter().map(|&e| key(e)).collect();
                let mut counts = vec![0u64; edges.len() + 1];
                for &k in &keys {
                    counts[edge_keys.iter().filter(|&&e| e < k).count()] += 1;
                }
                Ok(Histogram::Numeric { edges, counts })
            }
            categorical => Ok(Histogram::Categorical(Categories::new(categorical, WHAT)?)),
        }
    }

    /// The reference's and the window's counts over the same bins (for categories, the union
    /// of both sides'). An error if the window is of the other kind or has no values.
    pub fn compare(&self, window: ColumnData) -> Result<(Vec<u64>, Vec<u64>)> {
        const WHAT: &str = "current window";
        match (self, window) {
            (Histogram::Numeric { edges, counts }, ColumnData::Numeric(values)) => {
                let window = bin_counts(edges, &values);
                if window.iter().all(|&c| c == 0) {
                    return Err(no_values(WHAT));
                }
                Ok((counts.clone(), window))
            }
            (Histogram::Categorical(categories), window @ ColumnData::Categorical(_)) => {
                categories.align(window, WHAT)
            }
            (Histogram::Numeric { .. }, ColumnData::Categorical(_)) => Err(Error::InvalidInput(
                "the reference is numeric but the current window is categorical".into(),
            )),
            (Histogram::Categorical(_), ColumnData::Numeric(_)) => Err(Error::InvalidInput(
                "the reference is categorical but the current window is numeric".into(),
            )),
        }
    }
}

#[cfg(test)]
mod merged_tests {
    use super::*;
    use crate::test_rng::Rng;

    #[test]
    fn merged_quantiles_equal_those_of_the_pooled_sample() {
        let mut rng = Rng(11);
        for (n, m) in [
            (1, 0),
            (0, 1),
            (1, 1),
            (3, 5),
            (10, 1),
            (100, 37),
            (1000, 999),
        ] {
            for ties in [false, true] {
                let mut draw = |len: usize| {
                    let mut v: Vec<f64> = (0..len)
                        .map(|_| {
                            let x = rng.normal();
                            if ties { x.round() } else { x }
                        })
                        .collect();
                    v.sort_by(f64::total_cmp);
                    v
                };
                let (a, b) = (draw(n), draw(m));
                let mut pooled = [a.clone(), b.clone()].concat();
                pooled.sort_by(f64::total_cmp);
                for (k, &expected) in pooled.iter().enumerate() {
                    assert_eq!(kth_of_two(&a, &b, k), expected, "{n} {m} {k}");
                }
                for q in [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0] {
                    let expected = quantile(&pooled, q);
                    assert_eq!(merged_quantile(&a, &b, q), expected);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_interpolates_like_numpy() {
        let sorted = [1.0, 2.0, 4.0, 8.0];
        assert_eq!(quantile(&sorted, 0.0), 1.0);
        assert_eq!(quantile(&sorted, 0.5), 3.0);
        assert_eq!(quantile(&sorted, 1.0), 8.0);
        // (n - 1) q = 0.3 · 3 = 0.8999999999999999: interpolated from above.
        assert_eq!(
            quantile(&sorted, 0.3),
            2.0 - 1.0 * (1.0 - 0.8999999999999999)
        );
        assert_eq!(quantile(&[5.0], 0.9), 5.0);
    }

    #[test]
    fn constant_sample_has_one_edge() {
        assert_eq!(decile_edges(&[7.0; 10]), vec![7.0]);
    }

    #[test]
    fn bins_are_right_closed() {
        let edges = [1.0, 2.0];
        assert_eq!(bin_of(&edges, 0.5), 0);
        assert_eq!(bin_of(&edges, 1.0), 0);
        assert_eq!(bin_of(&edges, 1.5), 1);
        assert_eq!(bin_of(&edges, 2.0), 1);
        assert_eq!(bin_of(&edges, 2.5), 2);
        assert_eq!(bin_of(&edges, f64::INFINITY), 2);
        assert_eq!(bin_of(&edges, f64::NEG_INFINITY), 0);
        let sorted = [0.5, 1.0, 1.0, 1.5, 2.0, 3.0];
        assert_eq!(sorted_bin_counts(&edges, &sorted), vec![3, 2, 1]);
        assert_eq!(
            bin_counts(&edges, &[3.0, f64::NAN, 1.0, 0.5]),
            vec![2, 0, 1]
        );
    }

    #[test]
    fn histogram_rejects_empty_sides_and_mixed_kinds() {
        let numeric = Histogram::new(ColumnData::numeric(vec![1.0, 2.0])).unwrap();
        for window in [
            ColumnData::numeric(vec![f64::NAN]),
            ColumnData::numeric(Vec::<f64>::new()),
            ColumnData::categorical([Some("a")]),
        ] {
            assert!(matches!(
                numeric.compare(window),
                Err(Error::InvalidInput(_))
            ));
        }
        assert!(matches!(
            Histogram::new(ColumnData::numeric(vec![f64::NAN])),
            Err(Error::InvalidInput(_))
        ));
        let categorical = Histogram::new(ColumnData::categorical([Some("a")])).unwrap();
        assert!(matches!(
            categorical.compare(ColumnData::numeric(vec![1.0])),
            Err(Error::InvalidInput(_))
        ));
    }
}
