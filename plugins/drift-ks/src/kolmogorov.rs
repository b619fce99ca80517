//! The survival function of the two-sided one-sample KS statistic `D_n`, as
//! `scipy.stats.kstwo.sf(x, n)` (SciPy's `_ksstats._kolmogn` with `cdf=False`), which
//! `ks_2samp` uses for its asymptotic p-value.
//!
//! The method is chosen as Simard and L'Ecuyer (2011) recommend: the Ruben–Gambino closed
//! forms near the ends of the support, twice the one-sided Smirnov tail for large `x`, the
//! Durbin matrix (Marsaglia–Tsang–Wang) or Pomeranz recursion for small `n`, and the Pelz–Good
//! expansion for large `n`.

use std::f64::consts::PI;

use crate::double_double::ldexp;
use crate::smirnov::smirnov;

const SQRT2PI: f64 = 2.5066282746310002;
const LOG_2PI: f64 = 1.8378770664093453;
const SQRT3: f64 = 1.7320508075688772;
// SciPy computes these as `np.pi ** k`; written out so the values are exactly those.
const PI_SQUARED: f64 = 9.869604401089358;
const PI_FOUR: f64 = 97.40909103400242;
const PI_SIX: f64 = 961.3891935753043;
/// `exp` of anything below this is treated as zero.
const MIN_LOG: f64 = -708.0;
/// Intermediate results are rescaled by `2^±128` to stay clear of overflow and underflow.
const E128: i32 = 128;
const EP128: f64 = f64::from_bits((0x3ff + 128) << 52);
const EM128: f64 = f64::from_bits((0x3ff - 128) << 52);

/// Bernoulli-number coefficients of Stirling's series, `B_{2j} / (2j) / (2j - 1)` for
/// `j = 8, ..., 1`, with SciPy's digits.
#[allow(clippy::excessive_precision)]
const STIRLING_COEFFS: [f64; 8] = [
    -2.955065359477124183e-2,
    6.4102564102564102564e-3,
    -1.9175269175269175269e-3,
    8.4175084175084175084e-4,
    -5.952380952380952381e-4,
    7.9365079365079365079e-4,
    -2.7777777777777777778e-3,
    8.3333333333333333333e-2,
];

/// `Pr(D_n >= x)` for `n >= 1`, as `scipy.stats.kstwo.sf(x, n)`.
pub(crate) fn kstwo_sf(n: u64, x: f64) -> f64 {
    // The distribution's own support check, before `_kolmogn` sees `x`.
    if x.is_nan() {
        return f64::NAN;
    }
    if x <= 0.5 / n as f64 {
        return 1.0;
    }
    if x >= 1.0 {
        return 0.0;
    }
    kolmogn_sf(n as i64, x)
}

/// `_kolmogn(n, x, cdf=False)`.
fn kolmogn_sf(n: i64, x: f64) -> f64 {
    let nf = n as f64;
    if x >= 1.0 {
        return 0.0;
    }
    if x <= 0.0 {
        return 1.0;
    }
    let t = nf * x;
    if t <= 1.0 {
        // Ruben–Gambino: 1/2n <= x <= 1/n.
        if t <= 0.5 {
            return 1.0;
        }
        let prob = if n <= 140 {
            (1..=n).fold(1.0, |acc, i| {
                acc * (i as f64 * (1.0 / nf) * (2.0 * t - 1.0))
            })
        } else {
            (log_nfactorial_div_n_pow_n(nf) + nf * (2.0 * t - 1.0).ln()).exp()
        };
        return clip(1.0 - prob);
    }
    if t >= nf - 1.0 {
        // Ruben–Gambino at the other end.
        return clip(2.0 * (1.0 - x).powf(nf));
    }
    if x >= 0.5 {
        // D_n^+ >= x and D_n^- >= x cannot both hold, so the two tails add exactly.
        return clip(2.0 * smirnov(n, x));
    }

    let nxsquared = t * x;
    if n <= 140 {
        if nxsquared <= 0.754693 {
            return clip(1.0 - durbin_matrix_cdf(n, x));
        }
        if nxsquared <= 4.0 {
            return clip(1.0 - pomeranz_cdf(n, x));
        }
        // Miller's approximation.
        return clip(2.0 * smirnov(n, x));
    }

    if nxsquared >= 370.0 {
        return 0.0;
    }
    if nxsquared >= 2.2 {
        return clip(2.0 * smirnov(n, x));
    }
    // Below 2.2 the survival function is computed as 1 - CDF (and n*x^2 < 18 holds).
    let cdf = if n <= 100_000 && nf * x.powf(1.5) <= 1.4 {
        durbin_matrix_cdf(n, x)
    } else {
        pelz_good_cdf(n, x)
    };
    clip(1.0 - cdf)
}

fn clip(p: f64) -> f64 {
    p.clamp(0.0, 1.0)
}

/// `log(n! / n^n)` by Stirling's series with `n log n` removed up front, which would
/// otherwise cancel.
fn log_nfactorial_div_n_pow_n(n: f64) -> f64 {
    let rn = 1.0 / n;
    let x = rn / n;
    let poly = STIRLING_COEFFS.iter().fold(0.0, |acc: f64, &c| acc * x + c);
    n.ln() / 2.0 - n + LOG_2PI / 2.0 + rn * poly
}

/// `Pr(D_n <= d)` by Durbin's matrix algorithm as Marsaglia, Tsang and Wang (2003) evaluate
/// it: with `d = (k - h)/n`, the `(k, k)` entry of `H^n` scaled by `n!/n^n`.
fn durbin_matrix_cdf(n: i64, d: f64) -> f64 {
    if d >= 1.0 {
        return 1.0;
    }
    let nd = n as f64 * d;
    if nd <= 0.5 {
        return 0.0;
    }
    let k = nd.ceil() as usize;
    let h = k as f64 - nd;
    let m = 2 * k - 1;

    // v[j] = (1 - h^(j+1)) / (j+1)!, w[j] = 1/j!
    let mut v: Vec<f64> = (1..=m).map(|j| 1.0 - h.powf(j as f64)).collect();
    let mut w = vec![0.0; m];
    let mut fac = 1.0;
    for j in 1..=m {
        w[j - 1] = fac;
        // Underflow here is harmless.
        fac /= j as f64;
        v[j - 1] *= fac;
    }
    let low = 2.0 * h - 1.0;
    let tt = if low > 0.0 { low.powf(m as f64) } else { 0.0 } - 2.0 * h.powf(m as f64);
    v[m - 1] = (1.0 + tt) * fac;

    let mut matrix = Matrix::zeros(m);
    for i in 1..m {
        for r in (i - 1)..m {
            matrix.set(r, i, w[r - (i - 1)]);
        }
    }
    for (r, &value) in v.iter().enumerate() {
        matrix.set(r, 0, value);
    }
    for (c, &value) in v.iter().rev().enumerate() {
        matrix.set(m - 1, c, value);
    }

    // Square-and-multiply, rescaling the square by 2^-128 whenever its (k, k) entry grows
    // past 2^128 and carrying the exponent separately.
    let mut power = Matrix::identity(m);
    let mut nn = n;
    let mut expnt: i32 = 0;
    let mut matrix_expnt: i32 = 0;
    while nn > 0 {
        if nn % 2 == 1 {
            power = power.mul(&matrix);
            expnt += matrix_expnt;
        }
        nn /= 2;
        if nn == 0 {
            // SciPy squares once more here, but the result is never used.
            break;
        }
        matrix = matrix.mul(&matrix);
        matrix_expnt *= 2;
        if matrix.get(k - 1, k - 1).abs() > EP128 {
            matrix.scale(1.0 / EP128);
            matrix_expnt += E128;
        }
    }

    let mut p = power.get(k - 1, k - 1);
    let nf = n as f64;
    for i in 1..=n {
        p = i as f64 * p / nf;
        if p.abs() < EM128 {
            p *= EP128;
            expnt -= E128;
        }
    }
    if expnt != 0 {
        p = ldexp(p, expnt);
    }
    clip(p)
}

/// A small dense square matrix, row-major.
struct Matrix {
    size: usize,
    data: Vec<f64>,
}

impl Matrix {
    fn zeros(size: usize) -> Self {
        Matrix {
            size,
            data: vec![0.0; size * size],
        }
    }

    fn identity(size: usize) -> Self {
        let mut matrix = Matrix::zeros(size);
        for i in 0..size {
            matrix.set(i, i, 1.0);
        }
        matrix
    }

    fn get(&self, row: usize, col: usize) -> f64 {
        self.data[row * self.size + col]
    }

    fn set(&mut self, row: usize, col: usize, value: f64) {
        self.data[row * self.size + col] = value;
    }

    fn scale(&mut self, factor: f64) {
        for value in &mut self.data {
            *value *= factor;
        }
    }

    fn mul(&self, other: &Matrix) -> Matrix {
        let size = self.size;
        let mut out = Matrix::zeros(size);
        for i in 0..size {
            let row = &self.data[i * size..(i + 1) * size];
            let out_row = &mut out.data[i * size..(i + 1) * size];
            for (l, &a) in row.iter().enumerate() {
                if a == 0.0 {
                    continue;
                }
                let other_row = &other.data[l * size..(l + 1) * size];
                for (o, &b) in out_row.iter_mut().zip(other_row) {
                    *o += a * b;
                }
            }
        }
        out
    }
}

/// The window `[j1, j2]` of non-zero entries of row `i` in the Pomeranz recursion.
fn pomeranz_j1j2(i: i64, n: i64, ll: i64, ceilf: i64, roundf: i64) -> (i64, i64) {
    let (j1, j2) = if i == 0 {
        (-ll - ceilf - 1, ll + ceilf - 1)
    } else {
        let (ip1div2, ip1mod2) = ((i + 1) / 2, (i + 1) % 2);
        if ip1mod2 == 0 {
            if ip1div2 == n + 1 {
                (n - ll - ceilf - 1, n + ll + ceilf - 1)
            } else {
                (ip1div2 - 1 - ll - roundf - 1, ip1div2 + ll - 1 + ceilf - 1)
            }
        } else {
            (ip1div2 - 1 - ll - 1, ip1div2 + ll + roundf - 1)
        }
    };
    ((j1 + 2).max(0), j2.min(n))
}

/// `Pr(D_n <= x)` by the recursion of Pomeranz (1974): each row is the previous one
/// convolved with (unnormalised) Poisson probabilities; the answer is `n!` times the last
/// entry of the last row.
fn pomeranz_cdf(n: i64, x: f64) -> f64 {
    let nf = n as f64;
    let t = nf * x;
    let ll = t.floor() as i64;
    let f = t - ll as f64;
    let g = f.min(1.0 - f);
    let ceilf = i64::from(f > 0.0);
    let roundf = i64::from(f > 0.5);
    let npwrs = (2 * (ll + 1)) as usize;

    // (g/n)^m/m!, (2g/n)^m/m!, ((1-2g)/n)^m/m!
    let mut gpower = vec![0.0; npwrs];
    let mut twogpower = vec![0.0; npwrs];
    let mut onem2gpower = vec![0.0; npwrs];
    gpower[0] = 1.0;
    twogpower[0] = 1.0;
    onem2gpower[0] = 1.0;
    let g_over_n = g / nf;
    let two_g_over_n = 2.0 * g / nf;
    let one_minus_two_g_over_n = (1.0 - 2.0 * g) / nf;
    for m in 1..npwrs {
        let mf = m as f64;
        gpower[m] = gpower[m - 1] * g_over_n / mf;
        twogpower[m] = twogpower[m - 1] * two_g_over_n / mf;
        onem2gpower[m] = onem2gpower[m - 1] * one_minus_two_g_over_n / mf;
    }

    let mut v0 = vec![0.0; npwrs];
    let mut v1 = vec![0.0; npwrs];
    v1[0] = 1.0;
    let (mut v0s, mut v1s) = (0i64, 0i64);
    let mut expnt: i32 = 0;
    let mut conv = Vec::with_capacity(2 * npwrs);

    let (mut j1, _) = pomeranz_j1j2(0, n, ll, ceilf, roundf);
    for i in 1..(2 * n + 2) {
        let k1 = j1;
        std::mem::swap(&mut v0, &mut v1);
        std::mem::swap(&mut v0s, &mut v1s);
        v1.fill(0.0);
        let j2;
        (j1, j2) = pomeranz_j1j2(i, n, ll, ceilf, roundf);
        let pwrs = if i == 1 || i == 2 * n + 1 {
            &gpower
        } else if i % 2 == 1 {
            &twogpower
        } else {
            &onem2gpower
        };
        let ln2 = j2 - k1 + 1;
        if ln2 > 0 {
            let start = usize::try_from(k1 - v0s).expect("row window starts inside the row");
            let a = slice(&v0, start, start + ln2 as usize);
            let b = slice(pwrs, 0, ln2 as usize);
            convolve_full(a, b, &mut conv);
            let conv_start = usize::try_from(j1 - k1).expect("window only moves right");
            let conv_len = (j2 - j1 + 1) as usize;
            v1[..conv_len].copy_from_slice(&conv[conv_start..conv_start + conv_len]);
            let max = v1.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if 0.0 < max && max < EM128 {
                for value in &mut v1 {
                    *value *= EP128;
                }
                expnt -= E128;
            }
            v1s = v0s + j1 - k1;
        }
    }

    let mut ans = v1[usize::try_from(n - v1s).expect("last entry lies in the row")];
    for m in 1..=n {
        if ans.abs() > EP128 {
            ans *= EM128;
            expnt += E128;
        }
        ans *= m as f64;
    }
    if expnt != 0 {
        ans = ldexp(ans, expnt);
    }
    clip(ans)
}

/// `values[start..end]` with NumPy's clamping of out-of-range bounds.
fn slice(values: &[f64], start: usize, end: usize) -> &[f64] {
    let end = end.min(values.len());
    &values[start.min(end)..end]
}

/// The full discrete convolution of `a` and `b` (as `np.convolve`), into `out`.
fn convolve_full(a: &[f64], b: &[f64], out: &mut Vec<f64>) {
    out.clear();
    if a.is_empty() || b.is_empty() {
        return;
    }
    out.resize(a.len() + b.len() - 1, 0.0);
    for (i, &x) in a.iter().enumerate() {
        for (j, &y) in b.iter().enumerate() {
            out[i + j] += x * y;
        }
    }
}

/// `Pr(D_n <= x)` by the Pelz–Good (1976) expansion of the Li-Chien/Korolyuk series,
/// `K0(z) + K1(z)/sqrt(n) + K2(z)/n + K3(z)/n^1.5` with `z = x sqrt(n)`, rewritten with Jacobi
/// theta identities into sums that converge fast for small `z`.
fn pelz_good_cdf(n: i64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let nf = n as f64;
    let z = nf.sqrt() * x;
    let zsquared = z.powf(2.0);
    let zthree = z.powf(3.0);
    let zfour = z.powf(4.0);
    let zsix = z.powf(6.0);

    let qlog = -PI_SQUARED / 8.0 / zsquared;
    if qlog < MIN_LOG {
        // z below about 0.0417
        return 0.0;
    }
    let q = qlog.exp();

    let k1a = -zsquared;
    let k1b = PI_SQUARED / 4.0;
    let k2a = 6.0 * zsix + 2.0 * zfour;
    let k2b = (2.0 * zfour - 5.0 * zsquared) * PI_SQUARED / 4.0;
    let k2c = PI_FOUR * (1.0 - 2.0 * zsquared) / 16.0;
    let k3d = PI_SIX * (5.0 - 30.0 * zsquared) / 64.0;
    let k3c = PI_FOUR * (-60.0 * zsquared + 212.0 * zfour) / 16.0;
    let k3b = PI_SQUARED * (135.0 * zfour - 96.0 * zsix) / 4.0;
    let k3a = -30.0 * zsix - 90.0 * z.powf(8.0);

    // Horner in q^8 over the odd integers m = 2k - 1: sum c_m q^(m^2).
    let mut k0to3 = [0.0f64; 4];
    let maxk = (16.0 * z / PI).ceil() as i64;
    for k in (1..=maxk).rev() {
        let m = (2 * k - 1) as f64;
        let (msquared, mfour, msix) = (m * m, m * m * m * m, m * m * m * m * m * m);
        let qpower = q.powf((8 * k) as f64);
        let coeffs = [
            1.0,
            k1a + k1b * msquared,
            k2a + k2b * msquared + k2c * mfour,
            k3a + k3b * msquared + k3c * mfour + k3d * msix,
        ];
        for (term, coeff) in k0to3.iter_mut().zip(coeffs) {
            *term *= qpower;
            *term += coeff;
        }
    }
    let divisors = [z, 6.0 * zfour, 72.0 * z.powf(7.0), 6480.0 * z.powf(10.0)];
    for (term, divisor) in k0to3.iter_mut().zip(divisors) {
        *term *= q;
        *term *= SQRT2PI;
        // z^10 > 0 as z > 0.04
        *term /= divisor;
    }

    // The sums over all integers k that K2 and K3 also carry; no cancellation to speak of.
    let q = (-PI_SQUARED / 2.0 / zsquared).exp();
    let sqrt3z = SQRT3 * z;
    let mut k2extra = 0.0;
    let mut k3extra = 0.0;
    for k in (1..=maxk).rev() {
        let ksquared = (k * k) as f64;
        let kspi = PI * k as f64;
        let qpwer = q.powf(ksquared);
        k2extra += ksquared * qpwer;
        k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ksquared * qpwer;
    }
    k2extra *= PI_SQUARED * SQRT2PI / (-36.0 * zthree);
    k0to3[2] += k2extra;
    k3extra *= PI_SQUARED * SQRT2PI / (216.0 * zsix);
    k0to3[3] += k3extra;

    let powers_of_n = [1.0, nf.powf(0.5), nf, nf.powf(1.5)];
    k0to3
        .iter()
        .zip(powers_of_n)
        .fold(0.0, |sum, (term, power)| sum + term / power)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `scipy.stats.kstwo.sf(x, n)` from SciPy 1.17.1, one case per branch of `_kolmogn`.
    const SCIPY: &[(u64, f64, f64, &str)] = &[
        (1, 0.8, 0.3999999999999999, "n = 1, t <= 1"),
        (200, 0.004, 1.0, "t <= 1, n > 140"),
        (30, 0.015, 1.0, "t <= 1/2"),
        (10, 0.95, 1.9531250000000172e-13, "t >= n - 1"),
        (10, 0.6, 0.0005681672000000003, "x >= 1/2"),
        (50, 0.1, 0.6623112704658186, "n <= 140, Durbin matrix"),
        (50, 0.2, 0.03143877776953241, "n <= 140, Pomeranz"),
        (50, 0.4, 9.86356336441006e-08, "n <= 140, smirnov"),
        (5000, 0.3, 0.0, "n x^2 >= 370"),
        (5000, 0.03, 0.00024159234422666817, "smirnov"),
        (5000, 0.005, 0.9995858441477996, "Pelz-Good"),
        (5000, 0.004, 0.9999977369528622, "Durbin matrix"),
        (99000, 0.0005, 1.0, "Durbin matrix, large"),
        (500000, 0.0015, 0.21034190155828947, "Pelz-Good, n > 100000"),
        (
            2000001,
            0.002,
            2.2476865121289032e-07,
            "smirnov, asymptotic",
        ),
        (2000001, 0.0005, 0.699176814496995, "Pelz-Good, n > 1e6"),
    ];

    #[test]
    fn matches_scipy_on_every_branch() {
        for &(n, x, expected, branch) in SCIPY {
            let got = kstwo_sf(n, x);
            let error = if got == expected {
                0.0
            } else {
                ((got - expected) / expected).abs()
            };
            assert!(
                error <= 1e-12 || (got - expected).abs() < 1e-300,
                "{branch}: kstwo.sf({x}, {n}) = {got:e}, SciPy {expected:e}"
            );
        }
    }
}
