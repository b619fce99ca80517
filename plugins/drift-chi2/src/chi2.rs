//! Pearson's chi-square test of homogeneity on a 2×K contingency table, computed as
//! `scipy.stats.chi2_contingency(table, correction=False)` computes it.

use vigil_plugin_stats::contingency::observed_and_expected;
use vigil_plugin_stats::special::chi2_sf;
use vigil_plugin_stats::sum::pairwise_sum;

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

    let terms: Vec<f64> = observed_and_expected(reference, current)
        .into_iter()
        .map(|(observed, expected)| {
            let deviation = observed - expected;
            deviation * deviation / expected
        })
        .collect();
    let statistic = 0.0 + pairwise_sum(&terms);
    let dof = categories - 1;
    Chi2Outcome {
        statistic,
        dof,
        p_value: chi2_sf(dof as f64, statistic),
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
}
