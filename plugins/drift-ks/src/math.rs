//! `ln` and `exp` for the terms of the Smirnov sum, the same code natively and in the guest.
//!
//! On `wasm32` the standard library's `f64::ln` and `f64::exp` are the portable `libm` code,
//! which inside wasmtime took about three times as long as glibc's natively and was a seventh
//! of a large KS test's time. These follow the table-driven method of glibc's own functions
//! (Szabolcs Nagy's, from Arm's optimized-routines) without fused multiply-adds, which core
//! WebAssembly lacks: reduce the argument against a table entry, evaluate a short
//! polynomial, and add the pieces with their rounding errors carried. Both stay within about
//! one ulp of the exact result (the tests compare them with the standard library over
//! millions of arguments); the tables come from `gen_math_tables.py`.

#[rustfmt::skip]
#[path = "math_tables.rs"]
mod tables;

use tables::{
    EXP_BITS, EXP2, LN, LN_BITS, LN_OFFSET, LN2_HI, LN2_LO, LN2_OVER_N_HI, LN2_OVER_N_LO,
    N_OVER_LN2,
};

/// The natural logarithm of a double-double `hi + lo` (`lo` no larger than an ulp of `hi`;
/// 0 for a plain double).
///
/// `hi = 2^k z` with `z` in [0.6875, 1.375); the table's centre `c` of `z`'s interval gives
/// `ln hi = k ln 2 + ln c + ln(1 + r)`, `r = (z - c) / c`, `|r| < 0.004`. `z - c` is exact,
/// so the only rounding in `r` is relative, and next to 1 (where `c = 1`) none at all. The
/// low part adds `ε = lo / (2^k c)` to `r`, and `ln(1 + r + ε) = ln(1 + r) + ε (1 - r)` to
/// far below an ulp, so it costs no division.
pub(crate) fn ln_sum(hi: f64, lo: f64) -> f64 {
    // Zero, negative, subnormal, infinite and NaN arguments are left to the standard library,
    // as are the very largest: from 1.375 * 2^1022 on, 2^-k below would not be a normal
    // double.
    if !(hi.is_normal() && hi > 0.0 && hi < 1e300) {
        return if lo == 0.0 {
            hi.ln()
        } else {
            hi.ln() + lo / hi
        };
    }
    let bits = hi.to_bits();
    let offset = bits.wrapping_sub(LN_OFFSET);
    let index = ((offset >> (52 - LN_BITS)) & ((1 << LN_BITS) - 1)) as usize;
    let k = (offset as i64) >> 52;
    let z = f64::from_bits(bits.wrapping_sub(offset & (0xFFF << 52)));
    let lo_scaled = lo * f64::from_bits(((1023 - k) as u64) << 52);
    let [c, inv_c, ln_c, ln_c_lo] = LN[index];
    let r = (z - c) * inv_c;
    let epsilon = lo_scaled * inv_c;
    let k = k as f64;

    // k ln 2 + ln c, with the rounding error of the sum kept (|k ln 2| > |ln c| unless k = 0).
    let t = k * LN2_HI;
    let w = t + ln_c;
    let w_lo = (t - w) + ln_c;
    // ... + r, the same way (|w| > |r| unless w = 0, and then the error is 0).
    let head = w + r;
    let rest = (w - head) + r + w_lo + k * LN2_LO + ln_c_lo + (epsilon - epsilon * r);
    // ln(1 + r) - r, by its Taylor series: the first term left out is below 2^-58.9 of r.
    let r2 = r * r;
    let series = r2
        * ((-1.0 / 2.0 + r * (1.0 / 3.0))
            + r2 * ((-1.0 / 4.0 + r * (1.0 / 5.0)) + r2 * (-1.0 / 6.0 + r * (1.0 / 7.0))));
    head + (rest + series)
}

/// The exponential.
///
/// `x = (k + j/128) ln 2 + r` with `|r| <= ln 2 / 256`, so `e^x = 2^k 2^(j/128) e^r`; the
/// table holds `2^(j/128)` and a polynomial gives `e^r - 1`.
pub(crate) fn exp(x: f64) -> f64 {
    // The result overflows past 709.78 and is subnormal below -708.40; inside 700, the scale
    // 2^(k >> 7) and the result are normal doubles.
    if x.is_nan() || x.abs() >= 700.0 {
        return x.exp();
    }
    // Adding 1.5 * 2^52 rounds to an integer, ties to even, without a call to `rint`.
    const SHIFT: f64 = 6_755_399_441_055_744.0;
    let kd = (x * N_OVER_LN2 + SHIFT) - SHIFT;
    // |kd| < 2^17, so kd * LN2_OVER_N_HI is exact and so is the subtraction.
    let r = (x - kd * LN2_OVER_N_HI) - kd * LN2_OVER_N_LO;
    let k = kd as i64;
    let [t, t_lo] = EXP2[(k & ((1 << EXP_BITS) - 1)) as usize];
    let scale = f64::from_bits(((k >> EXP_BITS) + 1023) as u64 * (1 << 52));
    // e^r - 1 by its Taylor series: the first term left out is below 2^-60 of the result.
    let r2 = r * r;
    let expm1 = r + r2 * ((1.0 / 2.0 + r * (1.0 / 6.0)) + r2 * (1.0 / 24.0 + r * (1.0 / 120.0)));
    (t + (t_lo + t * expm1)) * scale
}

#[cfg(test)]
mod tests {
    use super::{exp, ln_sum};
    use vigil_plugin_stats::test_rng::Rng;

    fn ln(x: f64) -> f64 {
        ln_sum(x, 0.0)
    }

    /// How many doubles lie between `a` and `b` (both finite, same sign or zero).
    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    /// Ours is within about 0.75 ulp of the exact value and glibc's within about 0.52, so
    /// they may differ by one ulp, never by more.
    fn check(name: &str, ours: fn(f64) -> f64, std: fn(f64) -> f64, x: f64) {
        let (a, b) = (ours(x), std(x));
        assert!(
            ulps(a, b) <= 1,
            "{name}({x:e}) = {a:e}, the standard library says {b:e}"
        );
    }

    #[test]
    fn ln_agrees_with_the_standard_library() {
        let mut rng = Rng(1);
        for _ in 0..1_000_000 {
            // Every normal positive double, by its bits.
            let x = f64::from_bits(rng.next() % 0x7FE0_0000_0000_0000 + 0x0010_0000_0000_0000);
            check("ln", ln, f64::ln, x);
        }
        for _ in 0..1_000_000 {
            // The KS terms' range, and next to 1 where the result is small.
            check("ln", ln, f64::ln, rng.uniform(0.0, 1.0));
            check("ln", ln, f64::ln, rng.uniform(0.99, 1.01));
        }
    }

    /// Against `ln(hi) + lo / hi`, the first-order formula it replaces.
    #[test]
    fn ln_sum_takes_in_the_low_part() {
        let mut rng = Rng(3);
        for _ in 0..1_000_000 {
            for hi in [
                rng.uniform(0.0, 1.0),
                rng.uniform(0.999, 1.001),
                rng.uniform(1.0, 1e6),
            ] {
                let ulp = f64::from_bits(hi.to_bits() + 1) - hi;
                let lo = rng.uniform(-0.5, 0.5) * ulp;
                let (ours, first_order) = (ln_sum(hi, lo), hi.ln() + lo / hi);
                assert!(
                    ulps(ours, first_order) <= 1,
                    "ln({hi:e} + {lo:e}) = {ours:e}, ln(hi) + lo/hi = {first_order:e}"
                );
            }
        }
        // The extremes of the table path, and past it.
        for hi in [
            f64::MIN_POSITIVE,
            1.1 * f64::MIN_POSITIVE,
            9.99e299,
            1.3 * 2f64.powi(1022),
        ] {
            for lo in [0.5, -0.5, 0.25] {
                let lo = lo * (f64::from_bits(hi.to_bits() + 1) - hi);
                let (ours, first_order) = (ln_sum(hi, lo), hi.ln() + lo / hi);
                assert!(ulps(ours, first_order) <= 1, "ln({hi:e} + {lo:e})");
            }
        }
        assert_eq!(ln_sum(1.0, 0.0), 0.0);
        assert_eq!(ln_sum(1e308, 1e291), 1e308f64.ln() + 1e291 / 1e308);
    }

    #[test]
    fn exp_agrees_with_the_standard_library() {
        let mut rng = Rng(2);
        for _ in 0..1_000_000 {
            check("exp", exp, f64::exp, rng.uniform(-700.0, 700.0));
            check("exp", exp, f64::exp, rng.uniform(-1.0, 1.0));
            check("exp", exp, f64::exp, rng.uniform(-1e-6, 1e-6));
        }
    }

    /// The tables as `ln_sum` and `exp` rely on them (and as `gen_math_tables.py` writes them):
    /// each centre is its interval's midpoint, or 1 next to 1; `1 / c` is the correctly rounded
    /// quotient; the high words agree with the standard library and the low words are below
    /// half an ulp of them.
    #[test]
    fn tables_hold_what_the_code_assumes() {
        use super::tables::{EXP_BITS, EXP2, LN, LN_BITS, LN_OFFSET};
        let half_ulp = |x: f64| (f64::from_bits(x.abs().to_bits() + 1) - x.abs()) / 2.0;
        let step = 1u64 << (52 - LN_BITS);
        for (i, &[c, inv_c, ln_c, ln_c_lo]) in LN.iter().enumerate() {
            let start = LN_OFFSET + i as u64 * step;
            let next_to_one = start == 1f64.to_bits() || start + step == 1f64.to_bits();
            let centre = if next_to_one {
                1.0
            } else {
                f64::from_bits(start + step / 2)
            };
            assert_eq!(c, centre, "interval {i}");
            assert_eq!(inv_c, 1.0 / c, "interval {i}");
            assert!(ulps(ln_c, c.ln()) <= 1, "interval {i}");
            assert!(ln_c_lo.abs() <= half_ulp(ln_c), "interval {i}");
        }
        for (j, &[t, t_lo]) in EXP2.iter().enumerate() {
            let exact = (j as f64 / f64::from(1u32 << EXP_BITS)).exp2();
            assert!(
                ulps(t, exact) <= 1 && t_lo.abs() <= half_ulp(t),
                "2^({j}/128)"
            );
        }
    }

    #[test]
    fn special_arguments() {
        assert_eq!(ln(1.0), 0.0);
        assert_eq!(ln(0.0), f64::NEG_INFINITY);
        assert!(ln(-1.0).is_nan() && ln(f64::NAN).is_nan());
        assert_eq!(ln(f64::INFINITY), f64::INFINITY);
        assert_eq!(ln(5e-324), 5e-324f64.ln());
        for k in -1022..1024 {
            let x = 2f64.powi(k);
            assert!(
                ulps(ln(x), f64::from(k) * std::f64::consts::LN_2) <= 1,
                "ln 2^{k}"
            );
        }
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(-0.0), 1.0);
        assert_eq!(exp(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp(f64::INFINITY), f64::INFINITY);
        assert_eq!(exp(710.0), f64::INFINITY);
        assert_eq!(exp(-746.0), 0.0);
        assert!(exp(f64::NAN).is_nan());
        assert_eq!(exp(-720.0), (-720f64).exp());
    }
}
