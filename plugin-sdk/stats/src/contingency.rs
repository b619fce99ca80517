//! The 2×K contingency table of two rows of category counts, as SciPy's `chi2_contingency`
//! builds it: expected counts `row_total · column_total / grand_total`, cells row-major (the
//! reference's row first) so that pairwise sums group the terms as SciPy's do.

/// Each cell's observed and expected count, row-major. Every column must have a positive
/// total (a category neither side has has no expected count).
pub fn observed_and_expected(reference: &[u64], current: &[u64]) -> Vec<(f64, f64)> {
    assert_eq!(reference.len(), current.len(), "rows of different lengths");
    let reference_total: u64 = reference.iter().sum();
    let current_total: u64 = current.iter().sum();
    let grand_total = (reference_total + current_total) as f64;
    let mut cells = Vec::with_capacity(2 * reference.len());
    for (row, row_total) in [(reference, reference_total), (current, current_total)] {
        let row_total = row_total as f64;
        for (j, &observed) in row.iter().enumerate() {
            let column_total = (reference[j] + current[j]) as f64;
            cells.push((observed as f64, row_total * column_total / grand_total));
        }
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_counts_follow_the_margins() {
        let cells = observed_and_expected(&[10, 30], &[30, 30]);
        assert_eq!(
            cells,
            vec![(10.0, 16.0), (30.0, 24.0), (30.0, 24.0), (30.0, 36.0)]
        );
    }
}
