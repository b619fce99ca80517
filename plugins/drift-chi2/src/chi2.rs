//! Pearson's chi-square test of homogeneity on a 2×K contingency table, computed as
//! `scipy.stats.chi2_contingency(table, correction=False)` computes it.

use crate::igam::chi2_sf;

/// A statistic, its degrees of freedom and its p-value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Chi2Outcome {
    /// Pearson's chi-square statistic.
    pub statistic: f64,
    /// Degrees of freedom: the number of categories minus one.
    pub dof: usize,
    /// The upper-tail probability of the statistic.
    pub p_value: f64,
}

/// Tests whether two rows of category counts come from the same distribution.
///
/// `reference[j]` and `current[j]` count category `j`; both rows have the same length, each row
/// has a positive total and every category a positive total (zero columns have no expected
/// count). With a single category there are no degrees of freedom and, like SciPy, the result
/// is a statistic of 0 with a p-value of 1.
pub fn chi2_homogeneity(reference: &[u64], current: &[u64]) -> Chi2Outcome {
    assert_eq!(reference.len(), current.len(), "rows of different lengths");
    let categories = reference.len();
    if categories <= 1 {
        return Chi2Outcome {
            statistic: 0.0,
            dof: 0,
            p_value: 1.0,
        };
    }

    let reference_total: u64 = reference.iter().sum();
    let current_total: u64 = current.iter().sum();
    let grand_total = (reference_total + current_total) as f64;

    // Row-major like SciPy's flattened table, so that the pairwise sum groups the same terms.
    let mut terms = Vec::with_capacity(2 * categories);
    for (row, row_total) in [(reference, reference_total), (current, current_total)] {
        let row_total = row_total as f64;
        for (j, &observed) in row.iter().enumerate() {
            let column_total = (reference[j] + current[j]) as f64;
            let expected = row_total * column_total / grand_total;
            let deviation = observed as f64 - expected;
            terms.push(deviation * deviation / expected);
        }
    }
    let statistic = 0.0 + pairwise_sum(&terms);
    let dof = categories - 1;
    Chi2Outcome {
        statistic,
        dof,
        p_value: chi2_sf(dof as f64, statistic),
    }
}

/// Sums like NumPy's `add.reduce` on a contiguous float64 array (blocks of 128 summed with
/// eight accumulators, larger arrays split in halves), so that the statistic agrees with
/// SciPy's to the last bit rather than to the rounding error of a different summation order.
fn pairwise_sum(values: &[f64]) -> f64 {
    let n = values.len();
    if n < 8 {
        values.iter().fold(0.0, |sum, &v| sum + v)
    } else if n <= 128 {
        let mut acc = [0.0; 8];
        acc.copy_from_slice(&values[..8]);
        let whole = n - n % 8;
        for block in values[8..whole].chunks_exact(8) {
            for (a, &v) in acc.iter_mut().zip(block) {
                *a += v;
            }
        }
        let sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        values[whole..].iter().fold(sum, |sum, &v| sum + v)
    } else {
        let half = n / 2;
        let half = half - half % 8;
        pairwise_sum(&values[..half]) + pairwise_sum(&values[half..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_category_has_no_degrees_of_freedom() {
        let outcome = chi2_homogeneity(&[5], &[7]);
        assert_eq!(outcome.statistic, 0.0);
        assert_eq!(outcome.dof, 0);
        assert_eq!(outcome.p_value, 1.0);
    }

    #[test]
    fn proportional_rows_give_zero() {
        let outcome = chi2_homogeneity(&[10, 20, 30], &[20, 40, 60]);
        assert_eq!(outcome.statistic, 0.0);
        assert_eq!(outcome.dof, 2);
        assert_eq!(outcome.p_value, 1.0);
    }

    #[test]
    fn pairwise_sum_matches_plain_sum_on_exact_values() {
        for n in [0u64, 1, 7, 8, 9, 127, 128, 129, 1000, 4097] {
            let values: Vec<f64> = (0..n).map(|i| i as f64).collect();
            let expected = (n * n.saturating_sub(1) / 2) as f64;
            assert_eq!(pairwise_sum(&values), expected, "n = {n}");
        }
    }
}
