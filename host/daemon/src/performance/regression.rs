//! Regression metrics: mae, rmse and r2.

use super::Metric;
use super::pairwise::pairwise_sum;

/// Regression metrics: mae, rmse (and r2 when actual has nonzero variance). Empty → empty Vec.
pub fn regression(predicted: &[f64], actual: &[f64]) -> Vec<Metric> {
    let n = predicted.len().min(actual.len());
    if n == 0 {
        return Vec::new();
    }
    let (predicted, actual) = (&predicted[..n], &actual[..n]);
    let count = n as f64;

    let abs_sum = pairwise_sum(n, &|i| (predicted[i] - actual[i]).abs());
    let sq_sum = pairwise_sum(n, &|i| {
        let d = actual[i] - predicted[i];
        d * d
    });
    let mut out = vec![
        Metric {
            name: "mae",
            value: abs_sum / count,
        },
        Metric {
            name: "rmse",
            value: (sq_sum / count).sqrt(),
        },
    ];

    let mean = pairwise_sum(n, &|i| actual[i]) / count;
    let total = pairwise_sum(n, &|i| {
        let d = actual[i] - mean;
        d * d
    });
    if total > 0.0 {
        // sklearn (force_finite): a perfect fit is exactly 1.
        let r2 = if sq_sum == 0.0 {
            1.0
        } else {
            1.0 - sq_sum / total
        };
        out.push(Metric {
            name: "r2",
            value: r2,
        });
    }
    out
}
