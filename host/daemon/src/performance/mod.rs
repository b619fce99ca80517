//! Model-quality metrics for one window of predictions joined with their true labels, matching
//! scikit-learn (checked against `tests/reference/metrics.json`, written by
//! `tests/reference/generate_metrics.py`).
//!
//! Classification ([`classification`](fn@classification)), labels compared as text:
//! - `accuracy`: the fraction of rows where the predicted label equals the actual one.
//! - `precision`, `recall`, `f1`: if the classes seen in `actual ∪ predicted` are at most two and
//!   one of them is the positive class — the scores' positive class when scores are given,
//!   otherwise `"1"`, else a case-insensitive `"true"` (the first in byte order if several
//!   spellings occur) — sklearn's `average="binary"` with that `pos_label`. Otherwise
//!   `average="macro"`: the unweighted mean over the sorted union of classes, so a class seen only
//!   in the predictions counts with recall 0, and one seen only in the actual labels with
//!   precision 0. A 0/0 ratio is 0.0 (`zero_division=0`).
//! - `roc_auc`: only with scores and only when `actual` holds both the positive class and some
//!   other class (positive against everything else); it is
//!   `roc_auc_score(actual == positive, scores)`, computed exactly as the Mann–Whitney U statistic
//!   with tied scores counting one half (−0.0 and 0.0 are tied), over `n_pos · n_neg`: the
//!   correctly rounded value, which sklearn's trapezoidal sum can miss by an ulp.
//!
//! Regression ([`regression`](fn@regression)): `mae`, `rmse`, and `r2` (`1 − SS_res / SS_tot`)
//! only when the actual values are not all equal (SS_tot > 0). Sums use NumPy's pairwise
//! summation, so these agree with scikit-learn to the last bit.
//!
//! An empty window gives no metrics. Inputs are expected finite (the caller drops other rows);
//! non-finite ones give meaningless figures but no panic. Slices of different lengths are cut to
//! the shortest. Metrics come in the order accuracy, precision, recall, f1, roc_auc, and mae,
//! rmse, r2. Time is O(n) for all but `roc_auc`, which sorts the scores (O(n log n)); 100k rows
//! take a few milliseconds.

mod classes;
mod classification;
pub mod estimation;
mod pairwise;
mod regression;
mod roc_auc;
#[cfg(test)]
mod tests;

pub use self::classification::classification;
pub use self::regression::regression;

/// One quality figure for a window.
#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    pub name: &'static str,
    pub value: f64,
}
