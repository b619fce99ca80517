//! Isotonic calibration as scikit-learn's `IsotonicRegression(out_of_bounds="clip",
//! increasing=True)`, the calibrator NannyML's CBPE fits on the reference.

/// A non-decreasing map from a score to a calibrated probability: the pool-adjacent-violators
/// fit of the labels on the sorted scores, read between its points by linear interpolation.
#[derive(Clone, Debug, PartialEq)]
pub struct Isotonic {
    /// Distinct scores, ascending (scores closer than `EPS` to the previous one merged).
    x: Vec<f64>,
    /// The fitted value at each.
    y: Vec<f64>,
}

/// scikit-learn merges scores closer than float64's resolution (`_make_unique`).
const EPS: f64 = 1e-15;

impl Isotonic {
    /// Fits `scores` (finite) to the 0/1 `labels`; `None` without a row.
    pub fn fit(scores: &[f64], labels: &[bool]) -> Option<Isotonic> {
        let mut rows: Vec<(f64, f64)> = scores
            .iter()
            .zip(labels)
            .map(|(&s, &l)| (s, f64::from(u8::from(l))))
            .collect();
        if rows.is_empty() {
            return None;
        }
        // By score, then label, as `np.lexsort((y, X))`.
        rows.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        // Equal scores become one point with the mean label and their count as its weight.
        let (mut x, mut y, mut w) = (Vec::new(), Vec::new(), Vec::new());
        let (mut current_x, mut sum_y, mut weight) = (rows[0].0, 0.0, 0.0);
        for &(score, label) in &rows {
            if score - current_x >= EPS {
                x.push(current_x);
                y.push(sum_y / weight);
                w.push(weight);
                (current_x, sum_y, weight) = (score, label, 1.0);
            } else {
                sum_y += label;
                weight += 1.0;
            }
        }
        x.push(current_x);
        y.push(sum_y / weight);
        w.push(weight);
        pool_adjacent_violators(&mut y, &mut w);
        Some(Isotonic { x, y })
    }

    /// The calibrated probability of `score`: clipped to the fitted range, then interpolated
    /// as `scipy.interpolate.interp1d(kind="linear")`.
    pub fn calibrate(&self, score: f64) -> f64 {
        let n = self.x.len();
        if n == 1 {
            return self.y[0];
        }
        let t = score.clamp(self.x[0], self.x[n - 1]);
        // `searchsorted` (left), kept within 1..n-1.
        let hi = self.x.partition_point(|&v| v < t).clamp(1, n - 1);
        let lo = hi - 1;
        let slope = (self.y[hi] - self.y[lo]) / (self.x[hi] - self.x[lo]);
        slope * (t - self.x[lo]) + self.y[lo]
    }
}

/// Weighted isotonic (non-decreasing) regression in place: adjacent blocks that violate the
/// order are pooled into their weighted mean, as scikit-learn's PAVA does.
fn pool_adjacent_violators(y: &mut [f64], w: &mut [f64]) {
    let n = y.len();
    // Blocks [i..=target[i]], with target[end] = start.
    let mut target: Vec<usize> = (0..n).collect();
    let mut i = 0;
    while i < n {
        let mut k = target[i] + 1;
        if k == n {
            break;
        }
        if y[i] < y[k] {
            i = k;
            continue;
        }
        let mut sum_wy = w[i] * y[i];
        let mut sum_w = w[i];
        loop {
            let prev_y = y[k];
            sum_wy += w[k] * y[k];
            sum_w += w[k];
            k = target[k] + 1;
            if k == n || prev_y < y[k] {
                y[i] = sum_wy / sum_w;
                w[i] = sum_w;
                target[i] = k - 1;
                target[k - 1] = i;
                if i > 0 {
                    i = target[i - 1];
                }
                break;
            }
        }
    }
    let mut i = 0;
    while i < n {
        let k = target[i] + 1;
        let value = y[i];
        y[i + 1..k].fill(value);
        i = k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_violators_and_interpolates_between_points() {
        // Labels 1, 0 at scores 0.2, 0.4 violate the order: pooled to 0.5 each.
        let fit = Isotonic::fit(&[0.1, 0.2, 0.4, 0.9], &[false, true, false, true]).unwrap();
        assert_eq!(fit.calibrate(0.1), 0.0);
        assert_eq!(fit.calibrate(0.3), 0.5);
        assert_eq!(fit.calibrate(0.9), 1.0);
        // Clipped outside the fitted range.
        assert_eq!(fit.calibrate(-3.0), 0.0);
        assert_eq!(fit.calibrate(7.0), 1.0);
        assert!((fit.calibrate(0.65) - 0.75).abs() < 1e-15);
    }

    #[test]
    fn one_distinct_score_is_its_mean_label() {
        let fit = Isotonic::fit(&[0.5, 0.5, 0.5, 0.5], &[true, false, false, false]).unwrap();
        assert_eq!(fit.calibrate(0.1), 0.25);
        assert!(Isotonic::fit(&[], &[]).is_none());
    }
}
