//! `drift-cvm`: the two-sample Cramér–von Mises test, as
//! `scipy.stats.cramervonmises_2samp(reference, current, method="auto")`: the statistic T of
//! Anderson (1962) from midranks; the p-value from the exact null distribution when neither
//! sample has more than 20 values ([`exact`]), otherwise from the limiting distribution
//! ([`asymptotic`]).
//!
//! One departure from SciPy: when both sides hold one and the same constant, SciPy's midrank
//! formula yields a large statistic and a tiny p-value; here the statistic is 0 and the
//! p-value 1. A side with fewer than two values is refused (SciPy raises).

pub mod asymptotic;
pub mod exact;

use vigil_plugin_sdk::{Error, Result, ScoreKind};
use vigil_plugin_stats::ecdf::TieGroups;
use vigil_plugin_stats::sum::pairwise_sum_iter;
use vigil_plugin_stats::two_sample::{NumericStatistic, NumericTest, Outcome};

/// Samples up to this size on both sides get the exact p-value.
const EXACT_MAX: usize = 20;

/// Anderson's U: `nx Σ (rank(x_i) − i)² + ny Σ (rank(y_j) − j)²` over each sorted sample, ranks
/// being midranks in the pooled sample.
fn u_statistic(groups: TieGroups, nx: usize, ny: usize) -> f64 {
    let side = |first: bool, size: usize| {
        let mut terms = SideTerms {
            groups: groups.clone(),
            first,
            below: 0,
            position: 0,
            rank: 0.0,
            left: 0,
        };
        pairwise_sum_iter(size, &mut terms)
    };
    nx as f64 * side(true, nx) + ny as f64 * side(false, ny)
}

/// `(rank(v_i) − i)²` for each value of one side in ascending order, streamed from the tie
/// groups: `below` values precede the current group, whose midrank is `rank`, and `left` of
/// the side's copies in it are still to come.
struct SideTerms<'a> {
    groups: TieGroups<'a>,
    first: bool,
    below: usize,
    position: usize,
    rank: f64,
    left: usize,
}

impl Iterator for SideTerms<'_> {
    type Item = f64;

    #[inline]
    fn next(&mut self) -> Option<f64> {
        while self.left == 0 {
            let (in_x, in_y) = self.groups.next()?;
            let t = in_x + in_y;
            self.rank = self.below as f64 + (t as f64 + 1.0) / 2.0;
            self.below += t;
            self.left = if self.first { in_x } else { in_y };
        }
        self.left -= 1;
        self.position += 1;
        let gap = self.rank - self.position as f64;
        Some(gap * gap)
    }
}

/// The Cramér–von Mises test.
pub struct CramerVonMises;

impl NumericStatistic for CramerVonMises {
    const DESCRIPTION: &'static str =
        "Two-sample Cramer-von Mises test (exact up to 20 values a side, else asymptotic)";
    const SCORE: ScoreKind = ScoreKind::PValue;
    const DEFAULT_THRESHOLD: f64 = 0.05;

    fn compare(reference: &[f64], current: &[f64]) -> Result<Outcome> {
        let (nx, ny) = (reference.len(), current.len());
        if nx < 2 || ny < 2 {
            return Err(Error::InvalidInput(
                "the Cramer-von Mises test needs at least two values on each side".into(),
            ));
        }
        let groups = TieGroups::new(reference, current);
        if groups.clone().nth(1).is_none() {
            return Ok((0.0, Some(1.0)));
        }
        let u = u_statistic(groups, nx, ny);
        let (k, n) = ((nx * ny) as f64, (nx + ny) as f64);
        let t = u / (k * n) - (4.0 * k - 1.0) / (6.0 * n);
        let p = if nx.max(ny) > EXACT_MAX {
            asymptotic::p_value(t, nx, ny)
        } else {
            exact::p_value(u, nx, ny)
        };
        Ok((t, Some(p)))
    }
}

/// The Cramér–von Mises drift test.
pub type Cvm = NumericTest<CramerVonMises>;

vigil_plugin_sdk::export_drift_test!(Cvm);
