//! The one-sided Kolmogorov–Smirnov survival function `scipy.special.smirnov(n, x)`, ported
//! from SciPy's C implementation (`xsf/cephes/kolmogorov.h`, after van Mulbregt, "Computing the
//! Cumulative Distribution Function and Quantiles of the One-sided Kolmogorov-Smirnov
//! Statistic", arXiv:1802.06966).
//!
//! Only the survival function is ported; the C code computes the CDF and the density alongside,
//! but neither influences the survival function or the loop's early exit. One departure: the
//! terms of the lower sum are computed in logarithms ([`lower_term`]), about ten times faster
//! and within 2e-13 of SciPy.
//!
//! `kstwo.sf` only calls this for `1 < n*x < n - 1`, so the branches for `x <= 1/n` and
//! `x >= 1 - 1/n` are not reached from the KS test, nor is the upper sum (it needs
//! `n*x^2 <= 1/4`, where `kstwo.sf` uses other methods). They are kept so the function is the
//! whole of SciPy's, and the unit tests below pin them against SciPy.

use crate::double_double::{DoubleDouble, cephes_expm1, ldexp};
use crate::math;

/// `log(2^-1075)`, `xsf`'s `MINLOG` with its digits (classic Cephes used `log(2^-1022)`).
#[allow(clippy::excessive_precision)]
const MINLOG: f64 = -7.451332191019412076235245305675398106812E2;
/// Above this `n` the sum takes too long and an asymptotic formula is used.
const SMIRNOV_MAX_COMPUTE_N: i64 = 1_000_000;
/// The upper sum alternates in sign; use it only for this many terms at most...
const SM_UPPER_MAX_TERMS: i64 = 3;
/// ... and only from this `n` on.
const SM_UPPERSUM_MIN_N: i64 = 10;
/// Keeps both words of a double-double normal while powers are taken piecewise.
const SM_MAX_EXPONENT: i64 = 960;

/// `Pr(D_n^+ >= x)`, the one-sided KS survival function, as `scipy.special.smirnov(n, x)`.
pub(crate) fn smirnov(n: i64, x: f64) -> f64 {
    if x.is_nan() || !(n > 0 && (0.0..=1.0).contains(&x)) {
        return f64::NAN;
    }
    if n == 1 {
        return 1.0 - x;
    }
    if x == 0.0 {
        return 1.0;
    }
    if x == 1.0 {
        return 0.0;
    }

    let (alpha, nxfl, _) = mod_nx(n, x);
    let mut n1mxfl = n - nxfl - if alpha == 0.0 { 0 } else { 1 };
    let mut n1mxceil = n - nxfl;
    // When n*x is an integer, the last term belongs to neither sum.
    if alpha == 0.0 {
        n1mxfl -= 1;
        n1mxceil += 1;
    }

    if nxfl == 0 || (nxfl == 1 && alpha == 0.0) {
        // x <= 1/n
        let t = pow2(1.0, x, n - 1);
        return 1.0 - x * t;
    }
    if (-2 * n) as f64 * x * x < MINLOG {
        return 0.0;
    }
    if nxfl >= n - 1 {
        // x >= 1 - 1/n
        return pow2(1.0, -x, n);
    }
    if n > SMIRNOV_MAX_COMPUTE_N {
        // p ~ e^(-(6nx+1)^2 / 18n)
        let logp = -(6.0 * n as f64 * x + 1.0).powf(2.0) / 18.0 / n as f64;
        // Whichever of sf and cdf is smaller is computed directly.
        return if logp < -std::f64::consts::LN_2 {
            logp.exp()
        } else {
            1.0 - -cephes_expm1(logp)
        };
    }

    // The upper sum loses about 1.6 bits per term, so only when it has very few.
    let n_upper_terms = n - n1mxceil + 1;
    let use_upper_sum = (n_upper_terms <= 1 && x < 0.5)
        || (n >= SM_UPPERSUM_MIN_N
            && n_upper_terms <= SM_UPPER_MAX_TERMS
            && x <= 0.5 / (n as f64).sqrt());

    let (start, step, n_terms, first) = if use_upper_sum {
        let t1 = pow4_d(1.0, x, 1.0, 0.0, n - 1);
        (n, -1, n - n1mxceil + 1, t1)
    } else {
        let t2 = pow4_d(1.0, -x, 1.0, 0.0, n);
        (0, 1, n1mxfl + 1, t2 / x)
    };
    let vmid = n / 2;
    let inv_n = DoubleDouble::quotient(1.0, n as f64);
    // x + v/n for the lower sum, advanced by 1/n a term; the rounding of 5e5 double-double
    // additions stays below 1e-25.
    let mut t1x = DoubleDouble::new(x);
    let mut c_man = DoubleDouble::new(1.0);
    let mut c_expt = 0i64;
    let mut aj_sum = DoubleDouble::new(0.0) + first;
    update_binomial(&mut c_man, &mut c_expt, n, 0);

    for j in 1..n_terms {
        let v = start + j * step;
        let aj = if use_upper_sum {
            compute_av(n, x, v, c_man, c_expt)
        } else {
            t1x = t1x + inv_n;
            lower_term(n, v, t1x, c_man, c_expt)
        };
        if aj.is_finite() && !aj.is_zero() {
            aj_sum = aj_sum + aj;
        }
        // Safe to stop once the remaining terms cannot move the sum.
        if !aj.is_zero() {
            if ((4 * (n_terms - j)) as f64 * aj.hi.abs()) < (f64::EPSILON * aj_sum.hi)
                && j != n_terms - 1
            {
                break;
            }
        } else if j > vmid {
            break;
        }
        update_binomial(&mut c_man, &mut c_expt, n, j);
    }

    let prob = (x * aj_sum).hi;
    let sf = if step < 0 { 1.0 - prob } else { prob };
    sf.clamp(0.0, 1.0)
}

/// `n*x = nxfl + alpha` computed exactly: `(alpha, nxfl, fl(n*x))`.
fn mod_nx(n: i64, x: f64) -> (f64, i64, f64) {
    let nx = n as f64 * DoubleDouble::new(x);
    let floor = nx.floor();
    let mut alpha = (nx - floor).hi;
    let mut nxfl = floor.hi as i64;
    if alpha == 1.0 {
        nxfl += 1;
        alpha = 0.0;
    }
    (alpha, nxfl, nx.hi)
}

/// Advances `C(n, j)` to `C(n, j + 1)`, kept as a mantissa in `[0.5, 1)` and an exponent
/// because the coefficient overflows a double long before `n` gets large.
fn update_binomial(c_man: &mut DoubleDouble, c_expt: &mut i64, n: i64, j: i64) {
    let rat = DoubleDouble::quotient((n - j) as f64, j as f64 + 1.0);
    let (man, expt) = (*c_man * rat).frexp();
    *c_expt += i64::from(expt);
    *c_man = man;
}

/// `a^m`: `pow` of the high word, corrected for the low word to first order or via logs.
fn pow_d(a: DoubleDouble, m: i64) -> DoubleDouble {
    if m <= 0 {
        if m == 0 {
            return DoubleDouble::new(1.0);
        }
        return 1.0 / pow_d(a, -m);
    }
    if a.is_zero() {
        return DoubleDouble::new(0.0);
    }
    let ans = a.hi.powf(m as f64);
    let r = a.lo / a.hi;
    let mut adj = m as f64 * r;
    if adj.abs() > 1e-8 {
        if adj.abs() < 1e-4 {
            // The first two terms of the Taylor series of (1+r)^m.
            adj += (m as f64 * r) * ((m - 1) as f64 / 2.0 * r);
        } else {
            adj = cephes_expm1(m as f64 * r.ln_1p());
        }
    }
    DoubleDouble::new(ans) + ans * adj
}

/// `(a + b)^m` rounded to a double.
fn pow2(a: f64, b: f64, m: i64) -> f64 {
    pow_d(DoubleDouble::new(a) + b, m).hi
}

/// SciPy's `nextPowerOf2`, reproduced as written since it decides how powers are split.
fn next_power_of_2(x: f64) -> f64 {
    let q = ldexp(x, 1 - f64::MANTISSA_DIGITS as i32);
    let l = (q + x).abs();
    if l == 0.0 {
        x.abs()
    } else {
        let truncated = l as i32;
        if f64::from(truncated) == l {
            f64::from(truncated)
        } else {
            l
        }
    }
}

/// `a^m = significand * 2^exponent`, splitting the power so nothing underflows.
fn pow2_scaled_d(a: DoubleDouble, m: i64) -> (DoubleDouble, i64) {
    if m <= 0 {
        if m == 0 {
            return (DoubleDouble::new(1.0), 0);
        }
        let (ans, e1) = pow2_scaled_d(a, -m);
        let (ans, e2) = (1.0 / ans).frexp();
        return (ans, -e1 + i64::from(e2));
    }
    let (y, y_e) = a.frexp();
    let y_e = i64::from(y_e);
    if m == 1 {
        return (y, y_e);
    }
    let mut max_expt = SM_MAX_EXPONENT;
    // A cheap bound first; only if it trips is the logarithm worth computing.
    if m as f64 * (y.hi - 1.0) / y.hi < -SM_MAX_EXPONENT as f64 * std::f64::consts::LN_2 {
        let lg2y = y.hi.ln() / std::f64::consts::LN_2;
        let lg_ans = m as f64 * lg2y;
        if lg_ans <= -SM_MAX_EXPONENT as f64 {
            max_expt = (next_power_of_2(-SM_MAX_EXPONENT as f64 / lg2y + 1.0) / 2.0) as i32 as i64;
        }
    }
    if m <= max_expt {
        let (ans, ans_e) = pow_d(y, m).frexp();
        return (ans, i64::from(ans_e) + m * y_e);
    }
    let q = m / max_expt;
    let r = m % max_expt;
    // y^m = (y^max_expt)^q * y^r
    let (y2r, y2r_e) = pow2_scaled_d(y, r);
    let (y2m, y2m_e) = pow2_scaled_d(y, max_expt);
    let (y2mq, y2mq_e) = pow2_scaled_d(y2m, q);
    let (ans, ans_e) = (y2r * y2mq).frexp();
    let y2mq_e = y2mq_e + y2m_e * q;
    (ans, i64::from(ans_e) + y2mq_e + y2r_e + m * y_e)
}

/// `((a + b) / (c + d))^m`.
fn pow4_d(a: f64, b: f64, c: f64, d: f64, m: i64) -> DoubleDouble {
    if m <= 0 {
        if m == 0 {
            return DoubleDouble::new(1.0);
        }
        return pow4_d(c, d, a, b, -m);
    }
    let numerator = DoubleDouble::new(a) + b;
    let denominator = DoubleDouble::new(c) + d;
    if numerator.is_zero() {
        return if denominator.is_zero() {
            DoubleDouble::new(f64::NAN)
        } else {
            DoubleDouble::new(0.0)
        };
    }
    if denominator.is_zero() {
        let inf = if numerator.hi < 0.0 || (numerator.hi == 0.0 && numerator.lo < 0.0) {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
        return DoubleDouble { hi: inf, lo: inf };
    }
    pow_d(numerator / denominator, m)
}

/// One term of the sum, `C(n, v) * (1 - x - v/n)^(n - v) * (x + v/n)^(v - 1)`, with the
/// binomial coefficient given as mantissa and exponent.
fn compute_av(n: i64, x: f64, v: i64, c_man: DoubleDouble, c_expt: i64) -> DoubleDouble {
    let t2x = DoubleDouble::new((n - v) as f64) / n as f64 - x;
    let (t2, t2_e) = pow2_scaled_d(t2x, n - v);
    let t1x = DoubleDouble::new(v as f64) / n as f64 + x;
    let (t1, t1_e) = pow2_scaled_d(t1x, v - 1);
    let ans = t1 * t2 * c_man;
    let exponent = c_expt + t1_e + t2_e;
    ans.ldexp(exponent.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32)
}

/// The lower sum's term, as [`compute_av`] computes it, with the two powers taken through
/// double-precision logarithms: `t^m = exp(m ln t)`. `t1x` is `x + v/n` in double-double.
///
/// The logarithms are within an ulp and their products with the exponents are exact, so a
/// term is off by about `m * ulp(ln t)` relative: SciPy's values are matched to 2e-13 over
/// `tests/reference/smirnov.json`, five orders inside what the KS test promises (1e-6). A term
/// costs two `ln` and one `exp` instead of a dozen `pow`, `log1p` and `expm1` in
/// double-double, which made this loop most of the time of a large KS test. The lower sum's
/// terms are all positive, so the sum keeps their relative error; the upper sum alternates in
/// sign and keeps [`compute_av`].
fn lower_term(n: i64, v: i64, t1x: DoubleDouble, c_man: DoubleDouble, c_expt: i64) -> DoubleDouble {
    /// ln 2 to double-double precision.
    const LN_2: DoubleDouble = DoubleDouble {
        hi: std::f64::consts::LN_2,
        lo: 2.319_046_813_846_299_6e-17,
    };
    // 1 - x - v/n: exact, as the two add up to 1.
    let t2x = 1.0 - t1x;
    let ln_t2 = math::ln_sum(t2x.hi, t2x.lo);
    let ln_t1 = math::ln_sum(t1x.hi, t1x.lo);
    let ln_powers =
        DoubleDouble::product((n - v) as f64, ln_t2) + DoubleDouble::product((v - 1) as f64, ln_t1);
    // ln_powers = k ln 2 + r with |r| < ln 2, so exp(r) cannot under- or overflow however
    // small the term.
    let k = (ln_powers.hi / LN_2.hi) as i64;
    let r = (ln_powers - LN_2 * k as f64).hi;
    let exponent = (c_expt + k).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
    (c_man * math::exp(r)).ldexp(exponent)
}

#[cfg(test)]
mod tests {
    use super::smirnov;

    /// `scipy.special.smirnov(n, x)` from SciPy 1.17.1, one case per branch.
    const SCIPY: &[(i64, f64, f64, &str)] = &[
        (1, 0.3, 0.7, "n = 1"),
        (5, 0.0, 1.0, "x = 0"),
        (5, 1.0, 0.0, "x = 1"),
        (10, 0.05, 0.9224335892010742, "x < 1/n"),
        (10, 0.1, 0.7642052309, "x = 1/n"),
        (10, 0.95, 9.765625000000086e-14, "x >= 1 - 1/n"),
        (100, 0.025, 0.8681674982884928, "upper sum"),
        (12, 0.12, 0.6582616933954086, "lower sum, n*x just above 1"),
        (50, 0.3, 8.676630101359369e-05, "lower sum"),
        (150, 0.2, 4.902683022946278e-06, "lower sum, larger n"),
        (2000, 0.03, 0.026773982498367117, "lower sum, many terms"),
        (3000, 0.3, 3.0139683805753146e-240, "lower sum, tiny p"),
        (2000, 0.5, 0.0, "sf underflows"),
        (1_500_000, 0.001, 0.04975388620755022, "asymptotic, large p"),
        (
            1_500_000,
            0.002,
            6.136025302025789e-06,
            "asymptotic, small p",
        ),
    ];

    #[test]
    fn matches_scipy_on_every_branch() {
        for &(n, x, expected, branch) in SCIPY {
            let got = smirnov(n, x);
            let error = if got == expected {
                0.0
            } else {
                ((got - expected) / expected).abs()
            };
            assert!(
                error <= 1e-13 || (got - expected).abs() < 1e-300,
                "{branch}: smirnov({n}, {x}) = {got:e}, SciPy {expected:e}"
            );
        }
    }

    /// The lower sum across the sizes and distances `kstwo.sf` gives it, against
    /// `tests/reference/smirnov.json` (`generate_smirnov.py`). The terms are taken through
    /// double-precision logarithms, so the agreement is 1e-9 here rather than 1e-13.
    #[test]
    fn lower_sum_matches_scipy_for_large_samples() {
        let reference: serde_json::Value =
            serde_json::from_str(include_str!("../../../tests/reference/smirnov.json")).unwrap();
        let mut worst = 0.0f64;
        for case in reference["cases"].as_array().unwrap() {
            let n = case["n"].as_i64().unwrap();
            let x = case["x"].as_f64().unwrap();
            let expected = case["sf"].as_f64().unwrap();
            let got = smirnov(n, x);
            let error = if expected == 0.0 {
                got / f64::MIN_POSITIVE
            } else {
                ((got - expected) / expected).abs()
            };
            assert!(
                error <= 1e-9,
                "smirnov({n}, {x}) = {got:e}, SciPy {expected:e}"
            );
            worst = worst.max(error);
        }
        eprintln!("worst relative error {worst:e}");
    }
}
