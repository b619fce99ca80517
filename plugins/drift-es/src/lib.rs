//! `drift-es`: the Epps–Singleton test, as `scipy.stats.epps_singleton_2samp(reference,
//! current)` with SciPy's points t = (0.4, 0.8): it compares the two samples' empirical
//! characteristic functions at t / σ (σ half the pooled interquartile range), so it works for
//! discrete data too, where KS-type tests lose power.
//!
//! W = n · gᵀ C⁺ g for the difference g of the mean (cos, sin) vectors and the pseudo-inverse of
//! their pooled covariance C (eigenvalues below 1e-15 of the largest dropped, as `np.linalg.pinv`
//! does), with SciPy's small-sample correction below 25 values a side; the p-value is the
//! chi-square tail with as many degrees of freedom as C has rank. Refused: fewer than five
//! values on a side, a zero interquartile range (a mostly constant column: σ = 0), both sides
//! constant, infinite values.

mod eigen;

use vigil_plugin_sdk::{Error, Result, ScoreKind};
use vigil_plugin_stats::binning::merged_quantile;
use vigil_plugin_stats::special::chi2_sf;
use vigil_plugin_stats::sum::pairwise_sum_lanes;
use vigil_plugin_stats::two_sample::{NumericStatistic, NumericTest, Outcome};

/// SciPy's default points of the characteristic function.
const POINTS: [f64; 2] = [0.4, 0.8];
/// `np.linalg.pinv`'s default relative cutoff for singular values.
const PINV_RCOND: f64 = 1e-15;

/// The four features (cos at each point, then sin at each point) of a value from the sine and
/// cosine of its first point: the second point is exactly twice the first (0.8 = 2 · 0.4 in
/// binary, and doubling commutes with rounding), so the double-angle formulas give the second
/// pair from the first, within a few ulps of `cos` and `sin` of it. Half the trigonometry:
/// in the guest `sin` and `cos` are software and were most of the test's time.
#[inline]
fn features((sin, cos): (f64, f64)) -> [f64; 4] {
    [cos, (cos - sin) * (cos + sin), sin, 2.0 * sin * cos]
}

/// The pairs `(i, j)`, `i <= j`, of the covariance's upper triangle.
const PAIRS: [(usize, usize); 10] = [
    (0, 0),
    (0, 1),
    (0, 2),
    (0, 3),
    (1, 1),
    (1, 2),
    (1, 3),
    (2, 2),
    (2, 3),
    (3, 3),
];

/// The features' means and their biased covariance (`np.cov(rows) · (n − 1) / n`), in two
/// passes over each value's sine and cosine rather than four rows of the sample's size.
fn moments(values: &[f64], first_point: f64) -> ([f64; 4], [[f64; 4]; 4]) {
    let n = values.len() as f64;
    // The sine and cosine of each value's first point, computed once for both passes.
    let angles: Vec<(f64, f64)> = values
        .iter()
        .map(|&x| (first_point * x).sin_cos())
        .collect();
    let mut rows = angles.iter().map(|&a| features(a));
    let means = pairwise_sum_lanes(values.len(), &mut rows).map(|sum| sum / n);
    let mut products = angles.iter().map(|&a| {
        let f = features(a);
        let centred: [f64; 4] = std::array::from_fn(|k| f[k] - means[k]);
        PAIRS.map(|(i, j)| centred[i] * centred[j])
    });
    let sums = pairwise_sum_lanes(values.len(), &mut products);
    let mut cov = [[0.0; 4]; 4];
    for ((i, j), sum) in PAIRS.into_iter().zip(sums) {
        cov[i][j] = sum / (n - 1.0) * (n - 1.0) / n;
        cov[j][i] = cov[i][j];
    }
    (means, cov)
}

/// The Epps–Singleton test.
pub struct EppsSingleton;

impl NumericStatistic for EppsSingleton {
    const DESCRIPTION: &'static str =
        "Epps-Singleton test on the empirical characteristic functions";
    const SCORE: ScoreKind = ScoreKind::PValue;
    const DEFAULT_THRESHOLD: f64 = 0.05;

    fn compare(reference: &[f64], current: &[f64]) -> Result<Outcome> {
        let (nx, ny) = (reference.len(), current.len());
        if nx < 5 || ny < 5 {
            return Err(Error::InvalidInput(
                "the Epps-Singleton test needs at least five values on each side".into(),
            ));
        }
        if reference.iter().chain(current).any(|v| v.is_infinite()) {
            return Err(Error::InvalidInput(
                "the Epps-Singleton test cannot use infinite values".into(),
            ));
        }
        let constant = |s: &[f64]| s.first() == s.last();
        let sigma = (merged_quantile(reference, current, 0.75)
            - merged_quantile(reference, current, 0.25))
            / 2.0;
        if sigma == 0.0 || (constant(reference) && constant(current)) {
            return Err(Error::InvalidInput(
                "the Epps-Singleton test needs spread: the pooled interquartile range is zero \
                 or both sides are constant; choose another test for this column"
                    .into(),
            ));
        }
        let scaled = POINTS.map(|t| t / sigma);
        let (mean_x, cov_x) = moments(reference, scaled[0]);
        let (mean_y, cov_y) = moments(current, scaled[0]);
        let (n, fx, fy) = ((nx + ny) as f64, nx as f64, ny as f64);
        let mut cov = [[0.0; 4]; 4];
        for i in 0..4 {
            for j in 0..4 {
                cov[i][j] = (n / fx) * cov_x[i][j] + (n / fy) * cov_y[i][j];
            }
        }
        let difference: [f64; 4] = std::array::from_fn(|i| mean_x[i] - mean_y[i]);
        let (values, vectors) = eigen::symmetric(cov);
        let largest = values.iter().fold(0.0f64, |m, &v| m.max(v.abs()));
        let mut w = 0.0;
        let mut rank = 0;
        for (k, &value) in values.iter().enumerate() {
            if value.abs() > PINV_RCOND * largest {
                rank += 1;
                let projection: f64 = (0..4).map(|i| vectors[i][k] * difference[i]).sum();
                w += projection * projection / value;
            }
        }
        w *= n;
        if nx.max(ny) < 25 {
            w *= 1.0 / (1.0 + n.powf(-0.45) + 10.1 * (fx.powf(-1.7) + fy.powf(-1.7)));
        }
        Ok((w, Some(chi2_sf(rank as f64, w))))
    }
}

/// The Epps–Singleton drift test.
pub type Es = NumericTest<EppsSingleton>;

vigil_plugin_sdk::export_drift_test!(Es);
