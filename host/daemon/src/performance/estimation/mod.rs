//! Label-free performance estimation for binary classifiers: NannyML's confidence-based
//! performance estimation (CBPE), from the predicted probability of the positive class.
//!
//! Fitted on the reference ([`Estimator::fit`]): when its rows have labels of both classes and
//! its ROC AUC is at most 0.999, an isotonic calibration of the probabilities on them
//! (`isotonic.rs`). NannyML calibrates only when its cross-validated check (random splits)
//! finds the calibration lowers the expected calibration error; Vigil keeps that check's
//! deterministic part (labels of both classes, ROC AUC at most 0.999) and calibrates whenever
//! it passes (docs/monitors.md, "estimated_performance").
//!
//! On a window ([`Estimator::estimate`]), with `p` the calibrated probability of each row and
//! the row predicted positive when its raw probability is at least the threshold, the expected
//! confusion matrix is `TP = Σ p` and `FP = Σ 1 − p` over the predicted positives, `FN = Σ p`
//! and `TN = Σ 1 − p` over the predicted negatives (sums in NumPy's pairwise order), and
//! - `estimated_accuracy = (TP + TN) / n`,
//! - `estimated_precision = TP / (TP + FP)`, `estimated_recall = TP / (TP + FN)`,
//!   `estimated_f1 = TP / (TP + (FP + FN) / 2)`, each 0 when its denominator is,
//! - `estimated_roc_auc` as NannyML 0.13's `estimate_roc_auc`: rows by raw probability,
//!   highest first; expected true and false positives above each row (cumulative sums, rounded
//!   to 5 decimals), their rates, and the trapezoidal area under them.
//!
//! Rows whose probability is missing or not finite are left out, as NannyML drops them. The
//! reference value of each is the realized metric on the reference's labeled rows, from the
//! same thresholded predictions (and the raw probabilities for ROC AUC).
//! Checked against NannyML itself: `tests/reference/generate_cbpe.py`, `cbpe.json`.

mod isotonic;
#[cfg(test)]
mod tests;

pub use self::isotonic::Isotonic;
use super::Metric;
use super::pairwise::pairwise_sum;

/// Above this reference ROC AUC the probabilities are not calibrated (NannyML's rule).
const CALIBRATION_MAX_ROC_AUC: f64 = 0.999;

/// The estimated metrics, in the order they are given.
pub const ESTIMATED: [&str; 5] = [
    "estimated_accuracy",
    "estimated_precision",
    "estimated_recall",
    "estimated_f1",
    "estimated_roc_auc",
];

/// What CBPE learned from the reference.
#[derive(Clone, Debug)]
pub struct Estimator {
    threshold: f64,
    calibration: Option<Isotonic>,
    /// The realized metrics of the reference's labeled rows, under their estimated names.
    realized: Vec<Metric>,
}

impl Estimator {
    /// Fits on the reference: each row's probability of the positive class and, when it has a
    /// label, whether it is positive. A row is predicted positive when its probability is at
    /// least `threshold`.
    pub fn fit(scores: &[f64], positive: &[Option<bool>], threshold: f64) -> Estimator {
        let (mut s, mut labels) = (Vec::new(), Vec::new());
        for (&score, &label) in scores.iter().zip(positive) {
            if let Some(label) = label
                && score.is_finite()
            {
                s.push(score);
                labels.push(label);
            }
        }
        let predicted: Vec<&str> = s
            .iter()
            .map(|&p| if p >= threshold { "1" } else { "0" })
            .collect();
        let actual: Vec<&str> = labels.iter().map(|&l| if l { "1" } else { "0" }).collect();
        let realized: Vec<Metric> = super::classification(&predicted, &actual, Some(("1", &s)))
            .into_iter()
            .filter_map(|m| {
                let name = ESTIMATED
                    .iter()
                    .find(|e| e.strip_prefix("estimated_") == Some(m.name))?;
                Some(Metric {
                    name,
                    value: m.value,
                })
            })
            .collect();
        // With one class, NannyML realizes accuracy only.
        let both_classes = labels.iter().any(|&l| l) && labels.iter().any(|&l| !l);
        let realized: Vec<Metric> = realized
            .into_iter()
            .filter(|m| both_classes || m.name == "estimated_accuracy")
            .collect();
        let auc = realized
            .iter()
            .find(|m| m.name == "estimated_roc_auc")
            .map(|m| m.value);
        // ROC AUC exists only with labels of both classes.
        let calibration = auc
            .filter(|&auc| auc <= CALIBRATION_MAX_ROC_AUC)
            .and_then(|_| Isotonic::fit(&s, &labels));
        Estimator {
            threshold,
            calibration,
            realized,
        }
    }

    /// Whether the probabilities are calibrated before estimating.
    pub fn calibrated(&self) -> bool {
        self.calibration.is_some()
    }

    /// The realized value on the reference of an estimated metric, when its rows had labels.
    pub fn reference_value(&self, name: &str) -> Option<f64> {
        self.realized
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.value)
    }

    /// The estimated metrics of a window from its rows' probabilities of the positive class;
    /// none when no row has one. ROC AUC is left out when its rates are undefined (every row
    /// certainly positive or certainly negative).
    pub fn estimate(&self, scores: &[f64]) -> Vec<Metric> {
        let raw: Vec<f64> = scores.iter().copied().filter(|s| s.is_finite()).collect();
        let n = raw.len();
        if n == 0 {
            return Vec::new();
        }
        let p: Vec<f64> = match &self.calibration {
            Some(c) => raw.iter().map(|&s| c.calibrate(s)).collect(),
            None => raw.clone(),
        };
        let predicted: Vec<bool> = raw.iter().map(|&s| s >= self.threshold).collect();
        let sum = |f: &dyn Fn(usize) -> f64| pairwise_sum(n, &|i| f(i));
        let tp = sum(&|i| if predicted[i] { p[i] } else { 0.0 });
        let fp = sum(&|i| if predicted[i] { 1.0 - p[i] } else { 0.0 });
        let fn_ = sum(&|i| if predicted[i] { 0.0 } else { p[i] });
        let tn = sum(&|i| if predicted[i] { 0.0 } else { 1.0 - p[i] });
        let ratio = |num: f64, den: f64| if den != 0.0 { num / den } else { 0.0 };
        let mut out = vec![
            Metric {
                name: ESTIMATED[0],
                value: (tp + tn) / n as f64,
            },
            Metric {
                name: ESTIMATED[1],
                value: ratio(tp, tp + fp),
            },
            Metric {
                name: ESTIMATED[2],
                value: ratio(tp, tp + fn_),
            },
            Metric {
                name: ESTIMATED[3],
                value: ratio(tp, tp + 0.5 * (fp + fn_)),
            },
        ];
        if let Some(auc) = estimated_roc_auc(&raw, &p).filter(|v| v.is_finite()) {
            out.push(Metric {
                name: ESTIMATED[4],
                value: auc,
            });
        }
        out
    }
}

/// NannyML's `estimate_roc_auc(calibrated, raw)`.
fn estimated_roc_auc(raw: &[f64], calibrated: &[f64]) -> Option<f64> {
    let n = raw.len();
    let mut order: Vec<usize> = (0..n).collect();
    // Highest raw probability first. Rows of equal raw probability have equal calibrated
    // ones, so their order does not change the sums.
    order.sort_unstable_by(|&a, &b| raw[b].total_cmp(&raw[a]));
    let round5 = |x: f64| (x * 1e5).round_ties_even() / 1e5;
    let (mut tps, mut fps) = (Vec::with_capacity(n + 1), Vec::with_capacity(n + 1));
    tps.push(0.0);
    fps.push(0.0);
    let mut cumulative = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        cumulative += calibrated[i];
        tps.push(round5(cumulative));
        fps.push(round5((rank + 1) as f64 - cumulative));
    }
    let (tp_all, fp_all) = (tps[n], fps[n]);
    if tp_all == 0.0 || fp_all == 0.0 {
        return None;
    }
    let tpr: Vec<f64> = tps.iter().map(|t| t / tp_all).collect();
    let fpr: Vec<f64> = fps.iter().map(|f| f / fp_all).collect();
    // sklearn's `auc`: the trapezoidal rule, `Σ dx · (y[i+1] + y[i]) / 2` in pairwise order.
    Some(pairwise_sum(n, &|i| {
        (fpr[i + 1] - fpr[i]) * (tpr[i + 1] + tpr[i]) / 2.0
    }))
}
