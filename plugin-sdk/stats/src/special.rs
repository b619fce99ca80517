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

/// Student's t survival function `scipy.stats.t.sf(x, df)`; NaN when `df` is not positive.
///
/// Hand-written on [`beta_inc`]: statrs's `StudentsT::sf` is off by up to 8e-7 relative for
/// large degrees of freedom (its beta argument `df / (df + x²)` rounds to 1 for small `x`, and
/// `ln B(df/2, 1/2)` from three log-gammas loses digits to cancellation), which Welch's t with
/// large samples reaches. Here `P(T > x) = I_{df/(df+x²)}(df/2, 1/2) / 2`, with both beta
/// arguments computed without subtraction.
pub fn t_sf(df: f64, x: f64) -> f64 {
    if df.is_nan() || df <= 0.0 || x.is_nan() {
        return f64::NAN;
    }
    if x < 0.0 {
        return 1.0 - t_sf(df, -x);
    }
    if x == f64::INFINITY {
        return 0.0;
    }
    let ratio = x * x / df;
    if ratio == f64::INFINITY {
        return 0.0;
    }
    // x = df / (df + x²) and y = 1 - x = x² / (df + x²).
    let ln_x = -ratio.ln_1p();
    let y = ratio / (1.0 + ratio);
    0.5 * beta_inc(df / 2.0, 0.5, ln_x, y.ln(), 1.0 / (1.0 + ratio), y)
}

/// The regularized incomplete beta function `I_x(a, b)`, given `ln x`, `ln(1 - x)`, `x` and
/// `1 - x` (the caller computes each without cancellation): the continued fraction of
/// Numerical Recipes' `betacf` (modified Lentz) on whichever side of the mean converges, with
/// the prefactor `x^a (1-x)^b / B(a, b)` taken in logarithms and `ln B` from [`ln_beta`].
pub fn beta_inc(a: f64, b: f64, ln_x: f64, ln_y: f64, x: f64, y: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if y <= 0.0 {
        return 1.0;
    }
    let front = |a: f64, b: f64, ln_x: f64, ln_y: f64| (a * ln_x + b * ln_y - ln_beta(a, b)).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front(a, b, ln_x, ln_y) * beta_continued_fraction(a, b, x) / a
    } else {
        1.0 - front(b, a, ln_y, ln_x) * beta_continued_fraction(b, a, y) / b
    }
}

/// The continued fraction of `I_x(a, b)` (Numerical Recipes' `betacf`), to full precision.
fn beta_continued_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    const EPS: f64 = 1e-16;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..1_000_000 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        for aa in [
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ] {
            d = 1.0 + aa * d;
            if d.abs() < TINY {
                d = TINY;
            }
            c = 1.0 + aa / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            h *= d * c;
        }
        if (d * c - 1.0).abs() < EPS {
            break;
        }
    }
    h
}

/// `ln B(a, b)`. For a large argument, `ln Γ(a) − ln Γ(a + b)` from Stirling's series written
/// as a difference (three log-gammas of size `a ln a` would leave errors of `a ln a` ulps);
/// otherwise from statrs's `ln_gamma`.
pub fn ln_beta(a: f64, b: f64) -> f64 {
    let (small, large) = if a < b { (a, b) } else { (b, a) };
    if large < 50.0 {
        return ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b);
    }
    let sum = large + small;
    // Stirling's series of ln Γ(z) without its leading terms: 1/(12z) − 1/(360z³) + …
    let series = |z: f64| {
        let z2 = z * z;
        (1.0 / 12.0 - (1.0 / 360.0 - (1.0 / 1260.0 - 1.0 / (1680.0 * z2)) / z2) / z2) / z
    };
    // (L − ½) ln L − (L + s − ½) ln(L + s) + s = −(L − ½) ln(1 + s/L) − s ln(L + s) + s.
    let leading = -(large - 0.5) * (small / large).ln_1p() - small * sum.ln() + small;
    ln_gamma(small) + leading + (series(large) - series(sum))
}

/// `ln C(n, k)`, from statrs's log-gamma; symmetric in `k` and `n − k` to the last bit, so that
/// mirror-image tables get identical probabilities (Fisher's test compares them for equality).
fn ln_binomial(n: u64, k: u64) -> f64 {
    let k = k.min(n - k);
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

/// `scipy.special.xlogy(x, y)`: `x ln y`, and 0 where `x` is 0.
pub fn xlogy(x: f64, y: f64) -> f64 {
    if x == 0.0 && !y.is_nan() {
        0.0
    } else {
        x * y.ln()
    }
}
