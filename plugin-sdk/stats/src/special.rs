//! Distribution functions the drift tests need, each from the implementation that meets the
//! tolerances of docs/statistics.md when measured against SciPy (`tests/special.rs` measures
//! both candidates on `tests/reference/special.json` and prints the worst errors).

use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};
use statrs::function::gamma::ln_gamma;

/// The chi-square survival function `scipy.stats.chi2.sf(x, df)`, from statrs. NaN for
/// `x < 0`; 1 when `df` is not positive (no degrees of freedom: nothing can be rejected).
pub fn chi2_sf(df: f64, x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    match ChiSquared::new(df) {
        Ok(chi2) => chi2.sf(x),
        Err(_) => 1.0,
    }
}

/// The standard normal survival function `scipy.stats.norm.sf(z)`, from statrs.
pub fn normal_sf(z: f64) -> f64 {
    Normal::standard().sf(z)
}

/// `ln C(n, k)`, from statrs's log-gamma.
fn ln_binomial(n: u64, k: u64) -> f64 {
    ln_gamma(n as f64 + 1.0) - ln_gamma(k as f64 + 1.0) - ln_gamma((n - k) as f64 + 1.0)
}

/// The hypergeometric probability `scipy.stats.hypergeom.pmf(k, population, successes,
/// draws)`, through statrs's log-gamma; zero outside the support. statrs's own
/// `Hypergeometric::pmf` overflows to NaN for populations in the thousands.
pub fn hypergeom_pmf(k: u64, population: u64, successes: u64, draws: u64) -> f64 {
    let failures = population.saturating_sub(successes);
    if successes > population || draws > population || k > successes || k > draws {
        return 0.0;
    }
    if draws - k > failures {
        return 0.0;
    }
    (ln_binomial(successes, k) + ln_binomial(failures, draws - k) - ln_binomial(population, draws))
        .exp()
}

/// `scipy.special.rel_entr(x, y)`: `x ln(x / y)` for positive `x` and `y`, 0 for `x = 0` and
/// `y >= 0`, infinity otherwise.
pub fn rel_entr(x: f64, y: f64) -> f64 {
    if x > 0.0 && y > 0.0 {
        x * (x / y).ln()
    } else if x == 0.0 && y >= 0.0 {
        0.0
    } else {
        f64::INFINITY
    }
}
