//! The training procedure: hold out the most recent 20% of the records, fit on the rest and
//! measure on the holdout, then refit on every record for the artifact.
//!
//! The refit uses the most recent records too, which matter most after a drift; the metrics
//! describe the procedure (a model fitted on 80% and tested on the newest 20%), a fair and
//! slightly pessimistic estimate for the model that ships.

use anyhow::{Context as _, bail};
use serde::Serialize;

use crate::dataset::Dataset;
use crate::metrics;
use crate::model::Model;

/// Fewer labeled records than this cannot be split into a fit and a holdout worth measuring.
pub const MIN_RECORDS: usize = 10;

/// What a run reports with its version (`metrics` of `POST /v1/models/{model}/versions`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Metrics {
    /// Holdout accuracy.
    pub accuracy: f64,
    /// Holdout ROC AUC of the positive class; binary models only, and only when the holdout
    /// holds both classes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roc_auc: Option<f64>,
    /// The labeled records the shipped model was fitted on (all of them).
    pub training_records: usize,
    pub holdout_records: usize,
}

/// A model to ship and what its training measured.
#[derive(Debug)]
pub struct Trained {
    pub model: Model,
    pub metrics: Metrics,
}

/// Where the holdout starts: the last 20% of `n` records, by order.
pub fn holdout_start(n: usize) -> usize {
    n - n / 5
}

/// Trains on labeled records in their order (oldest first).
pub fn train(dataset: &Dataset) -> anyhow::Result<Trained> {
    let n = dataset.len();
    if n == 0 {
        bail!("no labeled records to train on");
    }
    if n < MIN_RECORDS {
        bail!("only {n} labeled records: training needs {MIN_RECORDS} at least");
    }
    let split = holdout_start(n);
    let candidate = Model::fit(dataset, 0..split)
        .with_context(|| format!("fitting on the first {split} of {n} records"))?;
    let (accuracy, roc_auc) = evaluate(&candidate, dataset, split..n);
    let model = Model::fit(dataset, 0..n).context("fitting on every record")?;
    Ok(Trained {
        model,
        metrics: Metrics {
            accuracy: accuracy.expect("a holdout of one record at least"),
            roc_auc,
            training_records: n,
            holdout_records: n - split,
        },
    })
}

/// Accuracy and (binary) ROC AUC of `model` on `rows`. A label the model never saw counts as a
/// wrong prediction.
pub fn evaluate(
    model: &Model,
    dataset: &Dataset,
    rows: std::ops::Range<usize>,
) -> (Option<f64>, Option<f64>) {
    let predictions = model.predict_rows(dataset, rows.clone());
    let truth: Vec<usize> = dataset.labels[rows]
        .iter()
        .map(|label| {
            model
                .classes
                .iter()
                .position(|c| c == label)
                .unwrap_or(usize::MAX)
        })
        .collect();
    let predicted: Vec<usize> = predictions.iter().map(|p| p.class).collect();
    let accuracy = metrics::accuracy(&predicted, &truth);
    let roc_auc = model.positive().and_then(|positive| {
        let scores: Vec<f64> = predictions
            .iter()
            .map(|p| p.probabilities[positive])
            .collect();
        let is_positive: Vec<bool> = truth.iter().map(|&t| t == positive).collect();
        metrics::roc_auc(&scores, &is_positive)
    });
    (accuracy, roc_auc)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two clusters a line separates, with a categorical feature that says the same.
    fn separable(n: usize) -> Dataset {
        let mut csv = String::from("id,x,side,label\n");
        for i in 0..n {
            let label = i % 2;
            let x = if label == 1 { 2.0 } else { -2.0 } + (i % 7) as f64 * 0.1;
            let side = if label == 1 { "right" } else { "left" };
            csv.push_str(&format!("r{i},{x},{side},{label}\n"));
        }
        Dataset::from_csv(csv.as_bytes()).unwrap()
    }

    #[test]
    fn a_separable_problem_is_learned() {
        let trained = train(&separable(100)).unwrap();
        assert_eq!(trained.metrics.accuracy, 1.0);
        assert_eq!(trained.metrics.roc_auc, Some(1.0));
        assert_eq!(trained.metrics.training_records, 100);
        assert_eq!(trained.metrics.holdout_records, 20);
        assert_eq!(trained.model.classes, ["0", "1"]);
    }

    #[test]
    fn one_class_only_is_refused_with_the_reason() {
        let csv = "x,label\n".to_string() + &"1,yes\n".repeat(20);
        let error = train(&Dataset::from_csv(csv.as_bytes()).unwrap()).unwrap_err();
        assert!(
            format!("{error:#}").contains("all have the label `yes`"),
            "{error:#}"
        );
    }

    #[test]
    fn too_few_records_are_refused() {
        let csv = "x,label\n1,0\n2,1\n";
        let error = train(&Dataset::from_csv(csv.as_bytes()).unwrap()).unwrap_err();
        assert!(
            error.to_string().contains("only 2 labeled records"),
            "{error}"
        );
    }

    #[test]
    fn the_positive_class_is_one_when_there_is_one() {
        let mut csv = String::from("x,label\n");
        for i in 0..40 {
            csv.push_str(&format!("{i},{}\n", if i < 20 { 1 } else { 2 }));
        }
        let model = train(&Dataset::from_csv(csv.as_bytes()).unwrap())
            .unwrap()
            .model;
        assert_eq!(model.classes, ["2", "1"]);
        let low = model.predict_json(serde_json::json!({"x": 0}).as_object().unwrap());
        assert_eq!(low.unwrap().class, 1, "small x is class `1`");
    }

    #[test]
    fn three_classes_fit_a_softmax() {
        let mut csv = String::from("x,label\n");
        for i in 0..90 {
            let class = ["a", "b", "c"][i % 3];
            let x = (i % 3) as f64 * 5.0 + (i % 4) as f64 * 0.1;
            csv.push_str(&format!("{x},{class}\n"));
        }
        let trained = train(&Dataset::from_csv(csv.as_bytes()).unwrap()).unwrap();
        assert_eq!(trained.model.classes, ["a", "b", "c"]);
        assert_eq!(trained.model.weights.len(), 3);
        assert!(trained.metrics.accuracy >= 0.95, "{:?}", trained.metrics);
        assert_eq!(trained.metrics.roc_auc, None);
        let p = trained
            .model
            .predict_json(serde_json::json!({"x": 10.0}).as_object().unwrap())
            .unwrap();
        assert_eq!(p.class, 2);
        assert!((p.probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
}
