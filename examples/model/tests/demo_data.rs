//! The demo's data (examples/demo/generate.py) has a concept drift at record 5,000 that this
//! model feels and recovers from: trained on the reference, it is right before the drift and
//! clearly wrong after it; retrained on the first 1,000 drifted records, it is right again.

use vigil_model::dataset::Dataset;
use vigil_model::model::Model;
use vigil_model::training;

const DRIFT_AT: usize = 5_000;
const RETRAIN_ON: std::ops::Range<usize> = 5_000..6_000;

fn demo_csv(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../demo")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The CSV's header and the rows in `rows`.
fn rows_of(csv: &str, rows: std::ops::Range<usize>) -> Dataset {
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    let body: Vec<&str> = lines.skip(rows.start).take(rows.len()).collect();
    Dataset::from_csv(format!("{header}\n{}\n", body.join("\n")).as_bytes()).unwrap()
}

/// Accuracy of `model` on records it was not fitted on, scored as requests would be.
fn accuracy(model: &Model, data: &Dataset) -> f64 {
    let right = (0..data.len())
        .filter(|&row| {
            let prediction = model.predict_json(&data.row_features(row)).unwrap();
            model.classes[prediction.class] == data.labels[row]
        })
        .count();
    right as f64 / data.len() as f64
}

#[test]
fn a_model_trained_on_the_reference_loses_at_the_drift_and_a_retrained_one_recovers() {
    let stream = demo_csv("stream.csv");
    let total = stream.lines().count() - 1;
    let reference =
        training::train(&Dataset::from_csv(demo_csv("reference.csv").as_bytes()).unwrap()).unwrap();
    let before = accuracy(&reference.model, &rows_of(&stream, 0..DRIFT_AT));
    let after = accuracy(&reference.model, &rows_of(&stream, DRIFT_AT..total));
    let retrained = training::train(&rows_of(&stream, RETRAIN_ON)).unwrap();
    let recovered = accuracy(&retrained.model, &rows_of(&stream, RETRAIN_ON.end..total));
    let old_on_same = accuracy(&reference.model, &rows_of(&stream, RETRAIN_ON.end..total));
    println!(
        "reference model: holdout {:.4}, stream 0..{DRIFT_AT} {before:.4}, {DRIFT_AT}..{total} \
         {after:.4}, {}..{total} {old_on_same:.4}; retrained on {RETRAIN_ON:?}: holdout {:.4}, \
         {}..{total} {recovered:.4}",
        reference.metrics.accuracy, RETRAIN_ON.end, retrained.metrics.accuracy, RETRAIN_ON.end
    );
    assert!(before >= 0.82, "before the drift: {before}");
    assert!(after <= 0.6, "after the drift: {after}");
    assert!(recovered >= 0.8, "retrained: {recovered}");
    // The retrained model's own holdout says so too: what the promotion gate can read.
    assert!(
        retrained.metrics.accuracy >= 0.78,
        "{:?}",
        retrained.metrics
    );
}
