//! CBPE against NannyML's own values (`tests/reference/cbpe.json`).

use serde_json::Value;

use super::*;

const REFERENCE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/reference/cbpe.json"
));

fn floats(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

fn assert_metrics(got: &[Metric], expected: &Value, case: &str) {
    let expected = expected.as_object().unwrap();
    let names: Vec<&str> = got.iter().map(|m| m.name).collect();
    let wanted: Vec<&str> = expected.keys().map(String::as_str).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    let mut wanted_sorted = wanted.clone();
    wanted_sorted.sort_unstable();
    assert_eq!(sorted, wanted_sorted, "{case}: which metrics");
    for metric in got {
        let want = expected[metric.name].as_f64().unwrap();
        let error = (metric.value - want).abs() / want.abs().max(f64::MIN_POSITIVE);
        assert!(
            error <= 1e-9,
            "{case}: {} is {} where NannyML has {want} (relative error {error:e})",
            metric.name,
            metric.value
        );
    }
}

#[test]
fn matches_nannyml() {
    let file: Value = serde_json::from_str(REFERENCE).unwrap();
    assert_eq!(file["generated_by"], "tests/reference/generate_cbpe.py");
    let cases = file["cases"].as_array().unwrap();
    assert!(cases.len() >= 6);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let scores = floats(&case["reference_scores"]);
        let labels: Vec<Option<bool>> = case["reference_labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| Some(v.as_i64().unwrap() == 1))
            .collect();
        let threshold = case["threshold"].as_f64().unwrap();
        let estimator = Estimator::fit(&scores, &labels, threshold);
        assert_eq!(
            estimator.calibrated(),
            case["calibrated"].as_bool().unwrap(),
            "{name}: calibrated"
        );
        let realized: Vec<Metric> = ESTIMATED
            .iter()
            .filter_map(|&n| {
                Some(Metric {
                    name: n,
                    value: estimator.reference_value(n)?,
                })
            })
            .collect();
        assert_metrics(&realized, &case["realized"], &format!("{name}, reference"));
        for (i, (window, expected)) in case["windows"]
            .as_array()
            .unwrap()
            .iter()
            .zip(case["expected"].as_array().unwrap())
            .enumerate()
        {
            let got = estimator.estimate(&floats(window));
            assert_metrics(&got, expected, &format!("{name}, window {i}"));
        }
    }
}

#[test]
fn rows_without_a_probability_are_left_out() {
    let estimator = Estimator::fit(&[0.2, 0.8], &[Some(false), Some(true)], 0.5);
    let with_gaps = estimator.estimate(&[0.3, f64::NAN, 0.9, f64::INFINITY]);
    assert_eq!(with_gaps, estimator.estimate(&[0.3, 0.9]));
    assert!(estimator.estimate(&[f64::NAN]).is_empty());
}

#[test]
fn without_labels_the_raw_probabilities_are_taken_as_calibrated() {
    let estimator = Estimator::fit(&[0.2, 0.8], &[None, None], 0.5);
    assert!(!estimator.calibrated());
    assert_eq!(estimator.reference_value("estimated_accuracy"), None);
    let got = estimator.estimate(&[0.25, 0.75]);
    assert_eq!(got[0].name, "estimated_accuracy");
    assert_eq!(got[0].value, 0.75);
    // Certain predictions leave the false-positive rate undefined: no ROC AUC.
    let certain = estimator.estimate(&[1.0, 1.0]);
    assert!(certain.iter().all(|m| m.name != "estimated_roc_auc"));
}
