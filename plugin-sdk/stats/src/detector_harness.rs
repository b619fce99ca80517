//! The reference test every streaming detector runs: the cases of one detector from
//! `tests/reference/detectors.json`, fed whole, in chunks of varying sizes, and with a snapshot
//! and restore at every split, must give exactly the reference's detections each time.

use serde::Deserialize;
use std::collections::BTreeMap;
use vigil_plugin_sdk::{Detector, parse_config, testing};

#[derive(Deserialize)]
struct Reference {
    versions: BTreeMap<String, String>,
    cases: Vec<Case>,
    /// `null` is a missing value.
    streams: BTreeMap<String, Vec<Option<f64>>>,
}

#[derive(Deserialize)]
struct Case {
    detector: String,
    stream: String,
    config: serde_json::Value,
    detections: Vec<u64>,
}

/// Chunk sizes cycle through 1, small primes and larger blocks so that chunk edges fall
/// everywhere, including right at detections.
const SIZES: [usize; 9] = [1, 2, 3, 7, 64, 13, 250, 1, 997];

/// Checks every case of `detector`; there must be at least `min_cases`.
pub fn check<D: Detector>(detector: &str, min_cases: usize) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/reference/detectors.json"
    );
    let text = std::fs::read_to_string(path).expect("reference file is readable");
    let reference: Reference = serde_json::from_str(&text).expect("reference file parses");
    assert!(reference.versions.contains_key("river"));
    let cases: Vec<&Case> = reference
        .cases
        .iter()
        .filter(|c| c.detector == detector)
        .collect();
    assert!(cases.len() >= min_cases, "{} cases", cases.len());
    for case in cases {
        let config = case.config.to_string();
        let label = format!("{} {} {config}", case.detector, case.stream);
        let values: Vec<f64> = reference.streams[&case.stream]
            .iter()
            .map(|v| v.unwrap_or(f64::NAN))
            .collect();

        let mut whole = testing::detector::<D>(&config).unwrap();
        assert_eq!(
            whole.update(&values).unwrap(),
            case.detections,
            "{label}: whole"
        );

        for offset in [0, 4] {
            let mut chunked = testing::detector::<D>(&config).unwrap();
            let mut found = Vec::new();
            let mut sizes = SIZES.iter().cycle().skip(offset);
            let mut start = 0;
            while start < values.len() {
                let end = (start + sizes.next().unwrap()).min(values.len());
                found.extend(chunked.update(&values[start..end]).unwrap());
                start = end;
            }
            assert_eq!(
                found, case.detections,
                "{label}: chunks from offset {offset}"
            );
            assert_eq!(chunked.snapshot(), whole.snapshot(), "{label}: final state");
        }

        // Splits at fixed fractions and right at and after each detection (in the numbering of
        // present values, close enough to slice indices to land near each detection).
        let n = values.len();
        let mut splits: Vec<usize> = [1, 7, 10, 3, 2].iter().map(|d| n / d).collect();
        for &d in &case.detections {
            splits.extend([d as usize, d as usize + 1]);
        }
        splits.retain(|&s| s > 0 && s < n);
        splits.sort_unstable();
        splits.dedup();
        let mut restored = testing::detector::<D>(&config).unwrap();
        let mut found = Vec::new();
        let mut start = 0;
        for &split in splits.iter().chain(std::iter::once(&n)) {
            found.extend(restored.update(&values[start..split]).unwrap());
            start = split;
            let bytes = restored.snapshot();
            restored = D::restore(&bytes, parse_config(&config).unwrap()).unwrap();
            assert_eq!(restored.snapshot(), bytes, "{label}: restore is exact");
        }
        assert_eq!(found, case.detections, "{label}: snapshot at every split");
        assert_eq!(
            restored.snapshot(),
            whole.snapshot(),
            "{label}: final state"
        );
    }
}
