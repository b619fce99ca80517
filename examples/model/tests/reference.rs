//! The training math against scikit-learn: `reference/generate.py` fits the same data under
//! the same procedure with `LogisticRegression(C=1, solver="lbfgs")` and commits what it got
//! (`reference/expected.json`).
//!
//! Both minimize the same objective (summed log loss plus `|w|²/2`, intercept not penalized),
//! which is strictly convex, so both land on the same optimum up to where their optimizers stop:
//! linfa's L-BFGS (More–Thuente line search, gradient tolerance 1e-6 on the summed loss) and
//! scikit-learn's lbfgs (run here to tol 1e-12). The weights are not bit-for-bit equal (they
//! agree to within 1e-6 on this data), so the test allows 1e-4 on weights and 1e-5 on
//! probabilities: a hundred times the observed gap, so another platform's rounding or a
//! patch release of either optimizer does not fail it, and a thousand times below anything
//! that would change a prediction. Accuracy and ROC AUC must then match exactly (none of the
//! holdout's probabilities is within 1e-5 of 0.5, checked below).

use serde_json::Value;
use vigil_model::dataset::Dataset;
use vigil_model::encoding::FeatureEncoding;
use vigil_model::model::Model;
use vigil_model::training;

const WEIGHT_TOLERANCE: f64 = 1e-4;
const PROBABILITY_TOLERANCE: f64 = 1e-5;

fn reference() -> (Dataset, Value) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("reference");
    let data = Dataset::from_csv(std::fs::File::open(dir.join("data.csv")).unwrap()).unwrap();
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    (data, expected)
}

/// The inputs' names as generate.py writes them: `age`, `plan=basic`, …
fn input_names(model: &Model) -> Vec<String> {
    model
        .features
        .iter()
        .flat_map(|feature| match feature {
            FeatureEncoding::Numeric { name, .. } => vec![name.clone()],
            FeatureEncoding::Categorical { name, categories } => {
                categories.iter().map(|c| format!("{name}={c}")).collect()
            }
        })
        .collect()
}

fn floats(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

fn assert_same_fit(model: &Model, expected: &Value) {
    let names: Vec<String> = expected["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(input_names(model), names);
    let expected_weights = floats(&expected["weights"]);
    for ((name, ours), theirs) in names.iter().zip(&model.weights[0]).zip(&expected_weights) {
        assert!(
            (ours - theirs).abs() <= WEIGHT_TOLERANCE,
            "weight of {name}: {ours} here, {theirs} by scikit-learn"
        );
    }
    let intercept = expected["intercept"].as_f64().unwrap();
    assert!(
        (model.intercepts[0] - intercept).abs() <= WEIGHT_TOLERANCE,
        "intercept: {} here, {intercept} by scikit-learn",
        model.intercepts[0]
    );
}

#[test]
fn the_holdout_fit_matches_scikit_learn() {
    let (data, expected) = reference();
    let n = data.len();
    assert_eq!(n as u64, expected["rows"].as_u64().unwrap());
    let split = training::holdout_start(n);
    assert_eq!(split as u64, expected["holdout_start"].as_u64().unwrap());
    let holdout = &expected["holdout"];

    let model = Model::fit(&data, 0..split).unwrap();
    assert_eq!(model.classes, ["0", "1"]);
    assert_same_fit(&model, holdout);

    let theirs = floats(&holdout["probabilities"]);
    let ours: Vec<f64> = model
        .predict_rows(&data, split..n)
        .iter()
        .map(|p| p.probabilities[1])
        .collect();
    assert_eq!(ours.len(), theirs.len());
    for (i, (ours, theirs)) in ours.iter().zip(&theirs).enumerate() {
        assert!(
            (ours - theirs).abs() <= PROBABILITY_TOLERANCE,
            "holdout row {i}: P(1) = {ours} here, {theirs} by scikit-learn"
        );
        // So that the tolerance cannot flip a prediction, and accuracy must match exactly.
        assert!(
            (theirs - 0.5).abs() > PROBABILITY_TOLERANCE,
            "row {i} is on the edge"
        );
    }

    let (accuracy, roc_auc) = training::evaluate(&model, &data, split..n);
    assert_eq!(accuracy, holdout["accuracy"].as_f64());
    let roc_auc = roc_auc.unwrap();
    let expected_auc = holdout["roc_auc"].as_f64().unwrap();
    assert!(
        (roc_auc - expected_auc).abs() < 1e-12,
        "ROC AUC {roc_auc} here, {expected_auc} by scikit-learn"
    );
}

#[test]
fn the_shipped_model_is_refitted_on_every_record_and_reports_the_holdout() {
    let (data, expected) = reference();
    let trained = training::train(&data).unwrap();
    // Refitted on all 600 rows: it knows `central`, first seen in the holdout.
    assert_same_fit(&trained.model, &expected["final"]);
    assert_eq!(trained.model.training_records, data.len());
    let metrics = &trained.metrics;
    assert_eq!(metrics.training_records, 600);
    assert_eq!(metrics.holdout_records, 120);
    assert_eq!(
        Some(metrics.accuracy),
        expected["holdout"]["accuracy"].as_f64()
    );
    let expected_auc = expected["holdout"]["roc_auc"].as_f64().unwrap();
    assert!((metrics.roc_auc.unwrap() - expected_auc).abs() < 1e-12);
}
