//! Every streaming detector plugin, built from source and run in the real runtime, reports the
//! detections in `tests/reference/detectors.json` (River's, and for CUSUM its definition's):
//! in one call, and in windows with the state moved into a fresh instance between them, as
//! the host does across restarts.

use vigil_tests::{load, reference_cases, runtime};

#[test]
fn every_detector_matches_its_reference_across_snapshots() {
    let runtime = runtime();
    let reference = reference_cases("detectors");
    let streams = reference["streams"].as_object().unwrap();
    let mut checked = std::collections::BTreeMap::<String, usize>::new();
    for case in reference["cases"].as_array().unwrap() {
        let detector = case["detector"].as_str().unwrap();
        let plugin = load(&runtime, &format!("detect-{detector}"));
        let config = case["config"].to_string();
        let label = format!("{detector} on {} with {config}", case["stream"]);
        let stream: Vec<f64> = streams[case["stream"].as_str().unwrap()]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap_or(f64::NAN))
            .collect();
        let expected: Vec<u64> = serde_json::from_value(case["detections"].clone()).unwrap();

        let mut session = plugin.detector(runtime.shared(), &config, None).unwrap();
        assert_eq!(
            session.update(&stream).unwrap(),
            expected,
            "{label}: one call"
        );

        let mut detections = Vec::new();
        let mut snapshot: Option<Vec<u8>> = None;
        for window in stream.chunks(stream.len() / 7 + 1) {
            let mut session = plugin
                .detector(runtime.shared(), &config, snapshot.as_deref())
                .unwrap();
            detections.extend(session.update(window).unwrap());
            snapshot = Some(session.snapshot().unwrap());
        }
        assert_eq!(
            detections, expected,
            "{label}: windows with snapshot and restore"
        );
        *checked.entry(detector.to_string()).or_default() += 1;
    }
    assert_eq!(
        checked.keys().collect::<Vec<_>>(),
        ["adwin", "cusum", "ddm", "eddm", "hddm-a", "hddm-w", "kswin"]
    );
}
