//! The slice of double-double arithmetic (and of the C math library) that the one-sided
//! Smirnov distribution needs, following the `double_double` type of SciPy's `xsf` (itself
//! from the `qd` package by Hida, Li and Bailey). Every operation keeps the operation order of
//! that code, so results agree with SciPy's to the last bit where the inputs do.

use std::ops::{Add, Div, Mul, Neg, Sub};

/// An unevaluated sum `hi + lo` with `|lo| <= ulp(hi) / 2`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct DoubleDouble {
    pub(crate) hi: f64,
    pub(crate) lo: f64,
}

/// `fl(a + b)` and its rounding error; requires `|a| >= |b|`.
fn quick_two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let c = s - a;
    (s, b - c)
}

/// `fl(a + b)` and its rounding error.
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let c = s - a;
    let d = b - c;
    let e = s - c;
    (s, (a - e) + d)
}

/// `a` as `hi + lo`, each with at most 26 significant bits, so their products are exact
/// (Veltkamp's split, with the scaling `dd_real` uses near overflow).
fn split(a: f64) -> (f64, f64) {
    const SPLITTER: f64 = 134_217_729.0; // 2^27 + 1
    const THRESHOLD: f64 = 6.696_928_794_914_17e299; // 2^996
    if a.abs() > THRESHOLD {
        let scaled = a * 3.725_290_298_461_914e-9; // 2^-28
        let t = SPLITTER * scaled;
        let hi = t - (t - scaled);
        let lo = scaled - hi;
        (hi * 268_435_456.0, lo * 268_435_456.0) // 2^28
    } else {
        let t = SPLITTER * a;
        let hi = t - (t - a);
        (hi, a - hi)
    }
}

/// `fl(a * b)` and its rounding error, by Dekker's product. A fused multiply-add would give
/// the same error term, but WebAssembly has no fma instruction: `f64::mul_add` becomes a
/// software routine there, which made the KS p-value three times slower than native.
fn two_prod(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    let (a_hi, a_lo) = split(a);
    let (b_hi, b_lo) = split(b);
    let error = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo;
    (p, error)
}

impl DoubleDouble {
    pub(crate) const fn new(hi: f64) -> Self {
        DoubleDouble { hi, lo: 0.0 }
    }

    /// `a * b` exactly.
    pub(crate) fn product(a: f64, b: f64) -> Self {
        let (hi, lo) = two_prod(a, b);
        DoubleDouble { hi, lo }
    }

    /// `a / b` to double-double precision: the quotient plus the remainder's share.
    pub(crate) fn quotient(a: f64, b: f64) -> Self {
        let q1 = a / b;
        let (p, e) = two_prod(q1, b);
        let q2 = ((a - p) - e) / b;
        let (hi, lo) = quick_two_sum(q1, q2);
        DoubleDouble { hi, lo }
    }

    pub(crate) fn is_zero(self) -> bool {
        self.hi == 0.0 && self.lo == 0.0
    }

    pub(crate) fn is_finite(self) -> bool {
        self.hi.is_finite()
    }

    pub(crate) fn floor(self) -> Self {
        let hi = self.hi.floor();
        if hi == self.hi {
            // Only the low word can still carry a fraction.
            let (hi, lo) = quick_two_sum(hi, self.lo.floor());
            DoubleDouble { hi, lo }
        } else {
            DoubleDouble { hi, lo: 0.0 }
        }
    }

    pub(crate) fn ldexp(self, exponent: i32) -> Self {
        DoubleDouble {
            hi: ldexp(self.hi, exponent),
            lo: ldexp(self.lo, exponent),
        }
    }

    /// `(m, e)` with `self = m * 2^e` and `0.5 <= |m.hi| < 1`, or `|m.hi| == 1` when the low
    /// word has the opposite sign.
    pub(crate) fn frexp(self) -> (Self, i32) {
        let (mut hi, mut exponent) = frexp(self.hi);
        let mut lo = ldexp(self.lo, -exponent);
        if hi.abs() == 0.5 && hi * lo < 0.0 {
            hi *= 2.0;
            lo *= 2.0;
            exponent -= 1;
        }
        (DoubleDouble { hi, lo }, exponent)
    }
}

impl Neg for DoubleDouble {
    type Output = Self;
    fn neg(self) -> Self {
        DoubleDouble {
            hi: -self.hi,
            lo: -self.lo,
        }
    }
}

impl Add for DoubleDouble {
    type Output = Self;
    fn add(self, rhs: Self) -> Self {
        // The IEEE-style bound of Briggs and Kahan.
        let (s1, s2) = two_sum(self.hi, rhs.hi);
        let (t1, t2) = two_sum(self.lo, rhs.lo);
        let s2 = s2 + t1;
        let (s1, s2) = quick_two_sum(s1, s2);
        let s2 = s2 + t2;
        let (hi, lo) = quick_two_sum(s1, s2);
        DoubleDouble { hi, lo }
    }
}

impl Add<f64> for DoubleDouble {
    type Output = Self;
    fn add(self, rhs: f64) -> Self {
        let (s1, s2) = two_sum(self.hi, rhs);
        let (hi, lo) = quick_two_sum(s1, s2 + self.lo);
        DoubleDouble { hi, lo }
    }
}

impl Sub for DoubleDouble {
    type Output = Self;
    fn sub(self, rhs: Self) -> Self {
        self + (-rhs)
    }
}

impl Sub<f64> for DoubleDouble {
    type Output = Self;
    fn sub(self, rhs: f64) -> Self {
        let (s1, s2) = two_sum(self.hi, -rhs);
        let (hi, lo) = quick_two_sum(s1, s2 + self.lo);
        DoubleDouble { hi, lo }
    }
}

impl Sub<DoubleDouble> for f64 {
    type Output = DoubleDouble;
    fn sub(self, rhs: DoubleDouble) -> DoubleDouble {
        let (s1, s2) = two_sum(self, -rhs.hi);
        let (hi, lo) = quick_two_sum(s1, s2 - rhs.lo);
        DoubleDouble { hi, lo }
    }
}

impl Mul for DoubleDouble {
    type Output = Self;
    fn mul(self, rhs: Self) -> Self {
        let (p1, p2) = two_prod(self.hi, rhs.hi);
        let p2 = p2 + (self.hi * rhs.lo + self.lo * rhs.hi);
        let (hi, lo) = quick_two_sum(p1, p2);
        DoubleDouble { hi, lo }
    }
}

impl Mul<f64> for DoubleDouble {
    type Output = Self;
    fn mul(self, rhs: f64) -> Self {
        let (p1, e1) = two_prod(self.hi, rhs);
        let (p2, e2) = two_prod(self.lo, rhs);
        let (hi, lo) = quick_two_sum(p1, e2 + p2 + e1);
        DoubleDouble { hi, lo }
    }
}

impl Mul<DoubleDouble> for f64 {
    type Output = DoubleDouble;
    fn mul(self, rhs: DoubleDouble) -> DoubleDouble {
        let (p1, e1) = two_prod(self, rhs.hi);
        let (p2, e2) = two_prod(self, rhs.lo);
        let (hi, lo) = quick_two_sum(p1, e2 + p2 + e1);
        DoubleDouble { hi, lo }
    }
}

impl Div for DoubleDouble {
    type Output = Self;
    fn div(self, rhs: Self) -> Self {
        let q1 = self.hi / rhs.hi;
        let r = self - rhs * q1;
        let q2 = r.hi / rhs.hi;
        let r = r - rhs * q2;
        let q3 = r.hi / rhs.hi;
        let (q1, q2) = quick_two_sum(q1, q2);
        DoubleDouble { hi: q1, lo: q2 } + q3
    }
}

impl Div<f64> for DoubleDouble {
    type Output = Self;
    fn div(self, rhs: f64) -> Self {
        self / DoubleDouble::new(rhs)
    }
}

impl Div<DoubleDouble> for f64 {
    type Output = DoubleDouble;
    fn div(self, rhs: DoubleDouble) -> DoubleDouble {
        DoubleDouble::new(self) / rhs
    }
}

/// `x * 2^n` with a single rounding, as C's `ldexp` (the musl `scalbn` scheme).
pub(crate) fn ldexp(x: f64, n: i32) -> f64 {
    const TWO_1023: f64 = f64::from_bits((0x3ff + 1023) << 52);
    // 2^-1022 * 2^53: stepping down by this keeps intermediate results normal, so only the
    // final multiplication rounds.
    const TWO_M969: f64 = f64::from_bits((0x3ff - 969) << 52);
    let mut y = x;
    let mut n = n;
    if n > 1023 {
        y *= TWO_1023;
        n -= 1023;
        if n > 1023 {
            y *= TWO_1023;
            n -= 1023;
            n = n.min(1023);
        }
    } else if n < -1022 {
        y *= TWO_M969;
        n += 1022 - 53;
        if n < -1022 {
            y *= TWO_M969;
            n += 1022 - 53;
            n = n.max(-1022);
        }
    }
    y * f64::from_bits(((0x3ff + n) as u64) << 52)
}

/// `(m, e)` with `x = m * 2^e` and `0.5 <= |m| < 1`; zero, infinities and NaN come back
/// unchanged with `e = 0`, as C's `frexp`.
pub(crate) fn frexp(x: f64) -> (f64, i32) {
    if x == 0.0 || !x.is_finite() {
        return (x, 0);
    }
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    if biased == 0 {
        // Subnormal: normalise first.
        let (m, e) = frexp(x * 18446744073709551616.0); // 2^64
        return (m, e - 64);
    }
    let mantissa = f64::from_bits((bits & !(0x7ff << 52)) | (0x3fe << 52));
    (mantissa, biased - 0x3fe)
}

/// `exp(x) - 1` as the Cephes `expm1` that SciPy's C code calls.
pub(crate) fn cephes_expm1(x: f64) -> f64 {
    // The coefficients as Cephes writes them, more digits than a double holds.
    #[allow(clippy::excessive_precision)]
    const EP: [f64; 3] = [
        1.2617719307481059087798E-4,
        3.0299440770744196129956E-2,
        9.9999999999999999991025E-1,
    ];
    #[allow(clippy::excessive_precision)]
    const EQ: [f64; 4] = [
        3.0019850513866445504159E-6,
        2.5244834034968410419224E-3,
        2.2726554820815502876593E-1,
        2.0000000000000000000897E0,
    ];
    if !x.is_finite() {
        return if x.is_nan() || x > 0.0 { x } else { -1.0 };
    }
    if !(-0.5..=0.5).contains(&x) {
        return x.exp() - 1.0;
    }
    let xx = x * x;
    let r = x * polevl(xx, &EP);
    let r = r / (polevl(xx, &EQ) - r);
    r + r
}

/// Horner evaluation, highest coefficient first.
fn polevl(x: f64, coefficients: &[f64]) -> f64 {
    coefficients[1..]
        .iter()
        .fold(coefficients[0], |acc, &c| acc * x + c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldexp_and_frexp_round_trip_across_the_range() {
        for &x in &[
            1.0,
            -3.5,
            0.1,
            1e-310,
            5e-324,
            1.7e308,
            -2.2250738585072014e-308,
        ] {
            let (m, e) = frexp(x);
            assert!((0.5..1.0).contains(&m.abs()), "{x}: {m}");
            assert_eq!(ldexp(m, e), x);
        }
        assert_eq!(ldexp(1.0, -1074), 5e-324);
        assert_eq!(ldexp(1.0, -1075), 0.0);
        assert_eq!(ldexp(0.75, -1074), 5e-324);
        assert_eq!(ldexp(1.0, 1024), f64::INFINITY);
        assert_eq!(ldexp(5e-324, 2000), ldexp(1.0, 926));
        assert_eq!(frexp(0.0), (0.0, 0));
    }

    #[test]
    fn division_is_accurate_to_double_double_precision() {
        let third = DoubleDouble::new(1.0) / 3.0;
        let back = third * 3.0;
        assert_eq!(back.hi, 1.0);
        assert!(back.lo.abs() < 1e-31);
    }

    #[test]
    fn expm1_matches_the_library_function() {
        for &x in &[-0.7, -0.5, -1e-3, 1e-12, 0.3, 0.5, 2.0] {
            let expected: f64 = f64::exp_m1(x);
            assert!((cephes_expm1(x) - expected).abs() <= 1e-15 * expected.abs());
        }
    }
}
