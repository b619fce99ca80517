//! The drift test a column gets when none is named (`ks` or `chi2`, by its type), and the test
//! `auto` picks by the column's type and the size of the reference, as docs/statistics.md
//! ("Default tests") states the rule.
//!
//! On a large reference a hypothesis test's p-value falls below any threshold for shifts too
//! small to matter, so every column looks drifted; a distance measures how far the
//! distributions moved, whatever the sample size.

use vigil_runtime::ColumnKind;

/// The test of numeric columns when none is named: `vigil drift`'s default since its first
/// release, which scripts comparing its p-values with SciPy's `ks_2samp` rely on.
pub const NUMERIC: &str = "ks";
/// The test of categorical columns when none is named.
pub const CATEGORICAL: &str = "chi2";
/// The test name that asks for the choice by reference size.
pub const AUTO: &str = "auto";

/// With `auto`, references with at most this many rows get a hypothesis test, larger ones a
/// distance.
pub const MAX_ROWS_FOR_HYPOTHESIS_TEST: usize = 1000;

/// The test `auto` picks for a column of `kind` when the reference has `reference_rows` rows.
pub fn default_test(kind: ColumnKind, reference_rows: usize) -> &'static str {
    let small = reference_rows <= MAX_ROWS_FOR_HYPOTHESIS_TEST;
    match (kind, small) {
        (ColumnKind::Numeric, true) => "ks",
        (ColumnKind::Numeric, false) => "wasserstein_norm",
        (ColumnKind::Categorical, true) => "chi2",
        (ColumnKind::Categorical, false) => "js",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_boundary_row_count_still_gets_a_hypothesis_test() {
        let n = MAX_ROWS_FOR_HYPOTHESIS_TEST;
        assert_eq!(default_test(ColumnKind::Numeric, n), "ks");
        assert_eq!(default_test(ColumnKind::Numeric, n + 1), "wasserstein_norm");
        assert_eq!(default_test(ColumnKind::Categorical, n), "chi2");
        assert_eq!(default_test(ColumnKind::Categorical, n + 1), "js");
    }
}
