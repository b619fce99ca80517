//! `drift-ad`: the Anderson–Darling k-sample test for two samples, as
//! `scipy.stats.anderson_ksamp([reference, current], variant="midrank")`: the statistic is the
//! standardized A2 of Scholz and Stephens (1987), with midranks for ties; it weighs the tails
//! more than KS does.
//!
//! The p-value is SciPy's: interpolated (a quadratic in A2 fitted to log significance levels)
//! from Scholz and Stephens' table of critical values, and so **capped**: it is 0.25 wherever
//! the true value is larger and 0.001 wherever it is smaller. A threshold of 0.001 or below
//! therefore never reports drift. Fewer than four values in all, or a single distinct value,
//! make the test undefined (SciPy fails), and such windows are refused.

use vigil_plugin_sdk::{Error, Result, ScoreKind};
use vigil_plugin_stats::ecdf::TieGroups;
use vigil_plugin_stats::sum::pairwise_sum_iter;
use vigil_plugin_stats::two_sample::{NumericStatistic, NumericTest, Outcome};

/// Scholz and Stephens' critical values for k = 2 (`b0 + b1 / sqrt(1) + b2 / 1`, as SciPy
/// computes them), at the significance levels of [`LEVELS`]. 2.718 is a table entry, not e.
#[allow(clippy::approx_constant)]
const CRITICAL: [f64; 7] = [
    0.32500000000000007,
    1.226,
    1.9609999999999999,
    2.718,
    3.752,
    4.592,
    6.546,
];
/// The significance levels of the table.
const LEVELS: [f64; 7] = [0.25, 0.1, 0.05, 0.025, 0.01, 0.005, 0.001];
/// `np.polyfit(CRITICAL, np.log(LEVELS), 2)`, highest power first: SciPy fits these on every
/// call; for k = 2 they are constants.
const FIT: [f64; 3] = [
    0.018198094574111343,
    -1.0082265644652515,
    -1.077770279820486,
];

/// SciPy's `_anderson_ksamp_midrank` for two samples: A2akN from the tie groups of the pooled
/// sample (each distinct value, with how many copies each sample holds), walked once per
/// sample rather than kept: two million groups would not fit a plugin's memory.
fn a2akn(groups: TieGroups, group_count: usize, sizes: [usize; 2]) -> f64 {
    let n = (sizes[0] + sizes[1]) as f64;
    let all_distinct = group_count == sizes[0] + sizes[1];
    let mut statistic = 0.0;
    for (sample, &size) in sizes.iter().enumerate() {
        let mut below = 0usize;
        let mut at_most_in_sample = 0usize;
        let mut inner = groups.clone().map(|(first, second)| {
            let lj = if all_distinct {
                1.0
            } else {
                (first + second) as f64
            };
            let bj = below as f64 + lj / 2.0;
            let in_sample = if sample == 0 { first } else { second };
            at_most_in_sample += in_sample;
            let mij = at_most_in_sample as f64 - in_sample as f64 / 2.0;
            let deviation = n * mij - bj * size as f64;
            below += first + second;
            lj / n * deviation * deviation / (bj * (n - bj) - n * lj / 4.0)
        });
        statistic += pairwise_sum_iter(group_count, &mut inner) / size as f64;
    }
    statistic * (n - 1.0) / n
}

/// The standardization of Scholz and Stephens (their equation 4), as SciPy computes it.
fn standardize(a2akn: f64, sizes: [usize; 2]) -> f64 {
    let big_n = sizes[0] + sizes[1];
    let n = big_n as f64;
    let k = 2.0;
    let h_sum = 1.0 / sizes[0] as f64 + 1.0 / sizes[1] as f64;
    // hs_cs = cumsum(1 / [N-1, N-2, …, 2]); h = hs_cs[-1] + 1; g = sum(hs_cs / [2, …, N-1]).
    let mut cumulative = 0.0;
    let mut ratios = (2..big_n).rev().enumerate().map(|(position, divisor)| {
        cumulative += 1.0 / divisor as f64;
        cumulative / (position + 2) as f64
    });
    let g = pairwise_sum_iter(big_n - 2, &mut ratios);
    drop(ratios);
    let h = cumulative + 1.0;
    let a = (4.0 * g - 6.0) * (k - 1.0) + (10.0 - 6.0 * g) * h_sum;
    let b = (2.0 * g - 4.0) * k * k + 8.0 * h * k + (2.0 * g - 14.0 * h - 4.0) * h_sum - 8.0 * h
        + 4.0 * g
        - 6.0;
    let c = (6.0 * h + 2.0 * g - 2.0) * k * k
        + (4.0 * h - 4.0 * g + 6.0) * k
        + (2.0 * h - 6.0) * h_sum
        + 4.0 * h;
    let d = (2.0 * h + 6.0) * k * k - 4.0 * h * k;
    let sigma_squared =
        (a * n.powi(3) + b * n.powi(2) + c * n + d) / ((n - 1.0) * (n - 2.0) * (n - 3.0));
    (a2akn - 1.0) / sigma_squared.sqrt()
}

/// SciPy's capped p-value for the standardized statistic.
pub fn capped_p_value(a2: f64) -> f64 {
    if a2 < CRITICAL[0] {
        LEVELS[0]
    } else if a2 > CRITICAL[6] {
        LEVELS[6]
    } else {
        // np.polyval: Horner's rule from zero.
        let log_p = FIT.iter().fold(0.0, |y, &c| y * a2 + c);
        log_p.exp()
    }
}

/// The Anderson–Darling test.
pub struct AndersonDarling;

impl NumericStatistic for AndersonDarling {
    const DESCRIPTION: &'static str =
        "Anderson-Darling k-sample test (p-value capped to [0.001, 0.25] as SciPy's)";
    const SCORE: ScoreKind = ScoreKind::PValue;
    const DEFAULT_THRESHOLD: f64 = 0.05;

    fn compare(reference: &[f64], current: &[f64]) -> Result<Outcome> {
        let sizes = [reference.len(), current.len()];
        let groups = TieGroups::new(reference, current);
        let group_count = groups.clone().count();
        if sizes[0] + sizes[1] < 4 || group_count < 2 {
            return Err(Error::InvalidInput(
                "the Anderson-Darling test needs at least four values in all and two distinct \
                 ones; choose another test for this column"
                    .into(),
            ));
        }
        let a2 = standardize(a2akn(groups, group_count, sizes), sizes);
        Ok((a2, Some(capped_p_value(a2))))
    }
}

/// The Anderson–Darling drift test.
pub type Ad = NumericTest<AndersonDarling>;

vigil_plugin_sdk::export_drift_test!(Ad);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p_value_is_capped_at_both_ends() {
        assert_eq!(capped_p_value(-1.0), 0.25);
        assert_eq!(capped_p_value(100.0), 0.001);
        let inside = capped_p_value(2.0);
        assert!(inside > 0.025 && inside < 0.05, "{inside}");
    }
}
