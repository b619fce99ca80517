//! `drift-fisher`: Fisher's exact test on the 2×2 table of a column with two categories, as
//! `scipy.stats.fisher_exact([[ref_a, ref_b], [cur_a, cur_b]])` (two-sided), with `a` the first
//! category of the union of both sides (the reference's first).
//!
//! The statistic is SciPy's sample odds ratio `ref_a · cur_b / (ref_b · cur_a)` where it is
//! finite; where it is infinite or undefined (a zero cell, or a single category) the
//! Haldane–Anscombe odds ratio `(a+½)(d+½) / ((b+½)(c+½))`, since a drift result carries finite
//! numbers. A column with more than two categories is refused (use `chi2` or `g`).

use vigil_plugin_sdk::{Error, Result, ScoreKind};
use vigil_plugin_stats::special::hypergeom_pmf;
use vigil_plugin_stats::two_sample::{CategoricalStatistic, CategoricalTest, Outcome};

/// SciPy's relative tolerance for tables as likely as the observed one.
const EPSILON: f64 = 1e-14;

/// The hypergeometric distribution of the table's first cell given its margins.
struct Margins {
    population: u64,
    successes: u64,
    draws: u64,
}

impl Margins {
    fn pmf(&self, k: u64) -> f64 {
        hypergeom_pmf(k, self.population, self.successes, self.draws)
    }

    fn lowest(&self) -> u64 {
        self.draws.saturating_sub(self.population - self.successes)
    }

    fn highest(&self) -> u64 {
        self.draws.min(self.successes)
    }

    /// `P(X <= k)`, for `k` at most the mode (the only tails the p-value sums).
    fn cdf(&self, k: u64) -> f64 {
        self.sum_outwards(k, self.lowest(), Direction::Down)
            .min(1.0)
    }

    /// `P(X > k)`, for `k` at least the mode.
    fn sf(&self, k: u64) -> f64 {
        if k >= self.highest() {
            return 0.0;
        }
        self.sum_outwards(k + 1, self.highest(), Direction::Up)
            .min(1.0)
    }

    /// `pmf(i + 1) / pmf(i)` going up, `pmf(i - 1) / pmf(i)` going down.
    fn ratio(&self, i: u64, direction: Direction) -> f64 {
        let (big_k, n) = (self.successes as f64, self.draws as f64);
        let rest = (self.population - self.successes) as f64 - n;
        let i = i as f64;
        match direction {
            Direction::Up => (big_k - i) * (n - i) / ((i + 1.0) * (rest + i + 1.0)),
            Direction::Down => i * (rest + i) / ((big_k - i + 1.0) * (n - i + 1.0)),
        }
    }

    /// `Σ pmf(i)` from `from` to `to` (inclusive, in `direction`), each term from the one
    /// before by their ratio, so one `ln_gamma` evaluation serves the whole tail; stops once the
    /// terms left cannot change the sum. The pmf is log-concave, so past the mode the ratio
    /// only falls and the rest of the tail is below `term · r / (1 − r)`. Summing a tail of a
    /// million terms one `hypergeom_pmf` at a time took half a second for a column of 1M rows.
    fn sum_outwards(&self, from: u64, to: u64, direction: Direction) -> f64 {
        let mut term = self.pmf(from);
        let mut sum = term;
        let mut i = from;
        while i != to && term > 0.0 {
            let r = self.ratio(i, direction);
            term *= r;
            i = match direction {
                Direction::Up => i + 1,
                Direction::Down => i - 1,
            };
            sum += term;
            if r < 1.0 && term * r / (1.0 - r) <= sum * 1e-17 {
                break;
            }
        }
        sum
    }
}

/// Which way a tail is summed.
#[derive(Debug, Clone, Copy)]
enum Direction {
    Up,
    Down,
}

/// SciPy's `_binary_search_for_binom_tst`: the `i` in `lo..=hi` with `f(i) <= d < f(i + 1)`,
/// for `f` ascending on that range.
fn binary_search(f: impl Fn(i64) -> f64, d: f64, mut lo: i64, mut hi: i64) -> i64 {
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let value = f(mid);
        if value < d {
            lo = mid + 1;
        } else if value > d {
            hi = mid - 1;
        } else {
            return mid;
        }
    }
    if f(lo) <= d { lo } else { lo - 1 }
}

/// The two-sided p-value of the 2×2 table `[[a, b], [c, d]]`, as SciPy computes it: the
/// probability of every table at most as likely as the observed one.
pub fn fisher_p_value([[a, b], [c, d]]: [[u64; 2]; 2]) -> f64 {
    let (n1, n2, n) = (a + b, c + d, a + c);
    if a + c == 0 || b + d == 0 || n1 == 0 || n2 == 0 {
        return 1.0;
    }
    let margins = Margins {
        population: n1 + n2,
        successes: n1,
        draws: n,
    };
    let mode = ((n + 1) as f64 * (n1 + 1) as f64 / (n1 + n2 + 2) as f64) as u64;
    let exact = margins.pmf(a);
    let at_mode = margins.pmf(mode);
    if (exact - at_mode).abs() / exact.max(at_mode) <= EPSILON {
        return 1.0;
    }
    let gamma = 1.0 + EPSILON;
    let pmf = |k: i64| if k < 0 { 0.0 } else { margins.pmf(k as u64) };
    let p = if a < mode {
        let lower = margins.cdf(a);
        if margins.pmf(n) > exact * gamma {
            return lower;
        }
        let guess = binary_search(|k| -pmf(k), -exact * gamma, mode as i64, n as i64);
        lower + margins.sf(guess.max(0) as u64)
    } else {
        let upper = if a == 0 { 1.0 } else { margins.sf(a - 1) };
        if margins.pmf(0) > exact * gamma {
            return upper;
        }
        let guess = binary_search(pmf, exact * gamma, 0, mode as i64);
        upper
            + if guess < 0 {
                0.0
            } else {
                margins.cdf(guess as u64)
            }
    };
    p.min(1.0)
}

/// The odds ratio reported as the statistic: SciPy's where finite, else Haldane–Anscombe's.
pub fn odds_ratio([[a, b], [c, d]]: [[u64; 2]; 2]) -> f64 {
    let empty_margin = a + c == 0 || b + d == 0 || a + b == 0 || c + d == 0;
    if empty_margin || b == 0 || c == 0 {
        let half = |x: u64| x as f64 + 0.5;
        return half(a) * half(d) / (half(b) * half(c));
    }
    (a as f64 * d as f64) / (c as f64 * b as f64)
}

/// Fisher's exact test.
pub struct FisherExact;

impl CategoricalStatistic for FisherExact {
    const DESCRIPTION: &'static str =
        "Fisher's exact test (two-sided) on a column with two categories";
    const SCORE: ScoreKind = ScoreKind::PValue;
    const DEFAULT_THRESHOLD: f64 = 0.05;

    fn compare(reference: &[u64], current: &[u64]) -> Result<Outcome> {
        if reference.len() > 2 {
            return Err(Error::InvalidInput(format!(
                "Fisher's exact test compares two categories, but the reference and the \
                 window hold {} between them; use chi2 or g for this column",
                reference.len()
            )));
        }
        let second = |row: &[u64]| row.get(1).copied().unwrap_or(0);
        let table = [
            [reference[0], second(reference)],
            [current[0], second(current)],
        ];
        Ok((odds_ratio(table), Some(fisher_p_value(table))))
    }
}

/// The Fisher drift test.
pub type Fisher = CategoricalTest<FisherExact>;

vigil_plugin_sdk::export_drift_test!(Fisher);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scipy_documented_example() {
        // scipy.stats.fisher_exact([[6, 2], [1, 4]]): odds ratio 12, p = 0.1025641…
        let table = [[6, 2], [1, 4]];
        assert_eq!(odds_ratio(table), 12.0);
        assert!((fisher_p_value(table) - 0.10256410256410256).abs() < 1e-14);
        assert_eq!(fisher_p_value([[5, 0], [3, 0]]), 1.0);
    }

    /// The tails summed by ratios agree with the pmf summed term by term, on the side of the
    /// mode each is used on.
    #[test]
    fn tails_agree_with_term_by_term_sums() {
        for (population, successes, draws) in [(20, 7, 9), (500, 300, 120), (3000, 900, 1500)] {
            let margins = Margins {
                population,
                successes,
                draws,
            };
            let mode =
                ((draws + 1) as f64 * (successes + 1) as f64 / (population + 2) as f64) as u64;
            for k in margins.lowest()..=margins.highest() {
                let cdf: f64 = (margins.lowest()..=k).map(|i| margins.pmf(i)).sum();
                let sf: f64 = (k + 1..=margins.highest()).map(|i| margins.pmf(i)).sum();
                let close = |a: f64, b: f64| (a - b).abs() <= 1e-11 * b.max(1e-300);
                if k <= mode {
                    assert!(close(margins.cdf(k), cdf.min(1.0)), "cdf {k}");
                }
                if k >= mode {
                    assert!(close(margins.sf(k), sf.min(1.0)), "sf {k}");
                }
            }
        }
    }
}
