//! The metrics against scikit-learn's reference values, and their edge cases.

use super::*;
use serde_json::Value;

const REFERENCE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/reference/metrics.json"
));

const CLASSIFICATION_ORDER: [&str; 5] = ["accuracy", "precision", "recall", "f1", "roc_auc"];
const REGRESSION_ORDER: [&str; 3] = ["mae", "rmse", "r2"];

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
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

/// Names in the documented order, no name twice.
fn assert_canonical_order(got: &[Metric], order: &[&str], case: &str) {
    let positions: Vec<usize> = got
        .iter()
        .map(|m| order.iter().position(|&o| o == m.name).unwrap())
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "{case}: metrics out of order: {got:?}"
    );
}

#[test]
fn matches_scikit_learn() {
    let file: Value = serde_json::from_str(REFERENCE).unwrap();
    assert_eq!(file["generated_by"], "tests/reference/generate_metrics.py");
    let cases = file["cases"].as_array().unwrap();
    assert!(cases.len() >= 25, "only {} cases", cases.len());
    let mut worst: (f64, String) = (0.0, String::new());
    let mut compared = 0;
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let got = match case["kind"].as_str().unwrap() {
            "classification" => {
                let predicted = strings(&case["predicted"]);
                let actual = strings(&case["actual"]);
                let score_values;
                let scores = match &case["scores"] {
                    Value::Null => None,
                    scores => {
                        score_values = floats(&scores["values"]);
                        Some((scores["positive"].as_str().unwrap(), &score_values[..]))
                    }
                };
                let got = classification(&predicted, &actual, scores);
                assert_canonical_order(&got, &CLASSIFICATION_ORDER, name);
                got
            }
            "regression" => {
                let got = regression(&floats(&case["predicted"]), &floats(&case["actual"]));
                assert_canonical_order(&got, &REGRESSION_ORDER, name);
                got
            }
            kind => panic!("{name}: unknown kind {kind}"),
        };
        let expected = case["expected"].as_object().unwrap();
        let mut got_names: Vec<&str> = got.iter().map(|m| m.name).collect();
        let mut expected_names: Vec<&str> = expected.keys().map(String::as_str).collect();
        got_names.sort_unstable();
        expected_names.sort_unstable();
        assert_eq!(got_names, expected_names, "{name}: metric names");
        for metric in &got {
            // Without serde_json's float_roundtrip feature a 17-digit expected value may be
            // read an ulp off; with it, all but two roc_auc values (1 ulp) match bit for bit.
            let want = expected[metric.name].as_f64().unwrap();
            let error = (metric.value - want).abs() / want.abs().max(1.0);
            assert!(
                error <= 1e-12,
                "{name}: {} = {} but scikit-learn says {want}",
                metric.name,
                metric.value
            );
            if error > worst.0 {
                worst = (error, format!("{name}/{}", metric.name));
            }
            compared += 1;
        }
    }
    println!(
        "{} cases, {compared} metrics, worst error {:e} ({})",
        cases.len(),
        worst.0,
        worst.1
    );
}

fn value(metrics: &[Metric], name: &str) -> Option<f64> {
    metrics.iter().find(|m| m.name == name).map(|m| m.value)
}

#[test]
fn empty_windows_have_no_metrics() {
    assert!(classification(&[], &[], None).is_empty());
    assert!(classification(&[], &[], Some(("1", &[]))).is_empty());
    assert!(regression(&[], &[]).is_empty());
    // A zero-length side empties the window.
    assert!(classification(&["1"], &[], None).is_empty());
    assert!(classification(&["1"], &["1"], Some(("1", &[]))).is_empty());
    assert!(regression(&[1.0], &[]).is_empty());
}

#[test]
fn mismatched_lengths_use_the_shorter() {
    let got = classification(&["1", "0", "1"], &["1", "0"], None);
    assert_eq!(value(&got, "accuracy"), Some(1.0));
    let got = classification(&["1", "0", "1"], &["1", "0", "0"], Some(("1", &[0.9, 0.1])));
    assert_eq!(value(&got, "accuracy"), Some(1.0));
    assert_eq!(value(&got, "roc_auc"), Some(1.0));
    let got = regression(&[1.0, 2.0, 100.0], &[1.0, 3.0]);
    assert_eq!(value(&got, "mae"), Some(0.5));
}

#[test]
fn positive_class_choice() {
    // "1" wins over "true" when both are seen; the scores' class wins over both.
    let got = classification(&["1", "1", "true"], &["1", "true", "true"], None);
    assert_eq!(value(&got, "precision"), Some(0.5));
    assert_eq!(value(&got, "recall"), Some(1.0));
    let got = classification(&["TRUE", "FALSE"], &["TRUE", "TRUE"], None);
    assert_eq!(value(&got, "recall"), Some(0.5));
    assert_eq!(value(&got, "precision"), Some(1.0));
    // Positive "FALSE" through the scores: precision 0/1, recall 0/0.
    let got = classification(
        &["TRUE", "FALSE"],
        &["TRUE", "TRUE"],
        Some(("FALSE", &[0.2, 0.7])),
    );
    assert_eq!(value(&got, "precision"), Some(0.0));
    assert_eq!(value(&got, "recall"), Some(0.0));
    assert_eq!(value(&got, "roc_auc"), None);
    // No positive among two classes: macro average.
    let got = classification(&["a", "a"], &["a", "b"], None);
    assert_eq!(value(&got, "precision"), Some(0.25));
    assert_eq!(value(&got, "recall"), Some(0.5));
}

#[test]
fn roc_auc_ties_and_signed_zeros() {
    let actual = ["1", "0", "1", "0"];
    let got = classification(&actual, &actual, Some(("1", &[0.5, 0.5, 0.5, 0.5])));
    assert_eq!(value(&got, "roc_auc"), Some(0.5));
    let got = classification(&actual, &actual, Some(("1", &[0.0, -0.0, 0.0, -0.0])));
    assert_eq!(value(&got, "roc_auc"), Some(0.5));
    let got = classification(&actual, &actual, Some(("1", &[0.7, 0.7, 0.9, 0.1])));
    assert_eq!(value(&got, "roc_auc"), Some(0.875));
    // One class in actual: no roc_auc.
    let got = classification(&["1", "0"], &["1", "1"], Some(("1", &[0.2, 0.3])));
    assert_eq!(value(&got, "roc_auc"), None);
    assert_eq!(got.len(), 4);
}

#[test]
fn regression_edge_cases() {
    let got = regression(&[1.0, 2.0], &[5.0, 5.0]);
    assert_eq!(
        got,
        vec![
            Metric {
                name: "mae",
                value: 3.5
            },
            Metric {
                name: "rmse",
                value: 12.5f64.sqrt()
            },
        ]
    );
    let got = regression(&[1.0, 2.0], &[1.0, 2.0]);
    assert_eq!(value(&got, "r2"), Some(1.0));
    assert_eq!(value(&got, "rmse"), Some(0.0));
}

#[test]
fn many_classes_with_long_shared_prefixes() {
    // Labels longer than 8 bytes, alike in their first 8, in separate allocations; enough
    // classes to grow the class table several times.
    let labels: Vec<String> = (0..100).map(|i| format!("category_{i:03}")).collect();
    let copies: Vec<String> = labels.clone();
    let actual: Vec<&str> = labels.iter().map(String::as_str).collect();
    let predicted: Vec<&str> = copies.iter().map(String::as_str).collect();
    let got = classification(&predicted, &actual, None);
    assert!(got.iter().all(|m| m.value == 1.0), "{got:?}");
    // Each class predicted as the next one: everything wrong.
    let mut shifted = predicted.clone();
    shifted.rotate_left(1);
    let got = classification(&shifted, &actual, None);
    assert!(got.iter().all(|m| m.value == 0.0), "{got:?}");
    // Half right: 50 classes with precision = recall = 1, 50 with 0.
    let mut half = predicted.clone();
    half[50..].rotate_left(1);
    let scores: Vec<f64> = (0..100).map(|i| f64::from(i) / 100.0).collect();
    let got = classification(&half, &actual, Some(("category_099", &scores)));
    assert_eq!(value(&got, "accuracy"), Some(0.5));
    assert_eq!(value(&got, "precision"), Some(0.5));
    assert_eq!(value(&got, "recall"), Some(0.5));
    assert_eq!(value(&got, "roc_auc"), Some(1.0));
}

/// A window of 100,000 rows gets every metric. How fast is a benchmark's business: a wall-clock
/// bound here would fail on a busy machine, not on slow code.
#[test]
fn a_large_window_gets_every_metric() {
    let n = 100_000;
    let names = ["0", "1"];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let actual: Vec<&str> = (0..n).map(|_| names[(next() % 2) as usize]).collect();
    let predicted: Vec<&str> = (0..n).map(|_| names[(next() % 2) as usize]).collect();
    let scores: Vec<f64> = (0..n).map(|_| (next() % 1000) as f64 / 1000.0).collect();
    let values: Vec<f64> = scores.iter().map(|s| s * 10.0).collect();
    let got = classification(&predicted, &actual, Some(("1", &scores)));
    let reg = regression(&values, &scores);
    assert_eq!(got.len(), 5);
    assert_eq!(reg.len(), 3);
}
