//! The detector against River's `PageHinkley`, on the cases in
//! `tests/reference/page_hinkley.json` (written by `generate_page_hinkley.py`).
//!
//! Every case is fed three ways — whole, in chunks of varying sizes, and split with a snapshot
//! and restore at each split — and must report exactly River's detection indices each time and
//! end with River's internal statistics, bit for bit.

use detect_page_hinkley::PageHinkley;
use serde::Deserialize;
use vigil_plugin_sdk::{Detector, testing};

#[derive(Deserialize)]
struct Reference {
    versions: serde_json::Map<String, serde_json::Value>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    config: serde_json::Value,
    /// `null` is a missing value.
    stream: Vec<Option<f64>>,
    expected: Expected,
}

#[derive(Deserialize)]
struct Expected {
    detections: Vec<u64>,
    final_state: FinalState,
}

/// River's statistics after the last value; each f64 as the 16 hex digits of its bits.
#[derive(Deserialize)]
struct FinalState {
    n: String,
    mean: String,
    sum_increase: String,
    sum_decrease: String,
    min_increase: String,
    max_decrease: String,
    drift_detected: bool,
}

impl FinalState {
    /// The snapshot River's state corresponds to, in the plugin's documented layout.
    fn snapshot(&self, seen: u64) -> Vec<u8> {
        let mut out = vec![1u8];
        out.extend_from_slice(&seen.to_le_bytes());
        for hex in [
            &self.n,
            &self.mean,
            &self.sum_increase,
            &self.sum_decrease,
            &self.min_increase,
            &self.max_decrease,
        ] {
            let bits = u64::from_str_radix(hex, 16).expect("16 hex digits");
            out.extend_from_slice(&bits.to_le_bytes());
        }
        out.push(u8::from(self.drift_detected));
        out
    }
}

impl Case {
    fn config(&self) -> String {
        self.config.to_string()
    }

    fn values(&self) -> Vec<f64> {
        self.stream.iter().map(|v| v.unwrap_or(f64::NAN)).collect()
    }

    fn expected_snapshot(&self) -> Vec<u8> {
        let seen = self.stream.iter().filter(|v| v.is_some()).count() as u64;
        self.expected.final_state.snapshot(seen)
    }
}

fn reference() -> Reference {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/reference/page_hinkley.json"
    );
    let text = std::fs::read_to_string(path).expect("reference file is readable");
    let reference: Reference = serde_json::from_str(&text).expect("reference file parses");
    assert!(reference.versions.contains_key("river"));
    assert!(
        reference.cases.len() >= 8,
        "the reference holds every scenario"
    );
    reference
}

#[test]
fn whole_stream_matches_river() {
    for case in reference().cases {
        let mut detector = testing::detector::<PageHinkley>(&case.config()).unwrap();
        let found = detector.update(&case.values()).unwrap();
        assert_eq!(found, case.expected.detections, "case {}", case.name);
        assert_eq!(
            detector.snapshot(),
            case.expected_snapshot(),
            "case {}: final statistics differ from River's in some bit",
            case.name
        );
    }
}

#[test]
fn chunked_stream_matches_river() {
    // Sizes cycle through 1, small primes and larger blocks so chunk edges fall everywhere,
    // including right at detections.
    const SIZES: [usize; 9] = [1, 2, 3, 7, 64, 13, 250, 1, 997];
    for case in reference().cases {
        let values = case.values();
        for offset in 0..SIZES.len() {
            let mut detector = testing::detector::<PageHinkley>(&case.config()).unwrap();
            let mut found = Vec::new();
            let mut start = 0;
            let mut sizes = SIZES.iter().cycle().skip(offset);
            while start < values.len() {
                let end = (start + sizes.next().unwrap()).min(values.len());
                found.extend(detector.update(&values[start..end]).unwrap());
                start = end;
            }
            assert_eq!(
                found, case.expected.detections,
                "case {} (offset {offset})",
                case.name
            );
            assert_eq!(
                detector.snapshot(),
                case.expected_snapshot(),
                "case {}",
                case.name
            );
        }
    }
}

#[test]
fn snapshot_restore_between_splits_matches_river() {
    for case in reference().cases {
        let values = case.values();
        let config = case.config();
        let n = values.len();
        // Fixed fractions plus the positions right at and after each detection (in the
        // non-missing numbering, which equals the slice index when there are no NaNs).
        let mut splits: Vec<usize> = [1, 7, 10, 3, 2].iter().map(|d| n / d).collect();
        for &d in &case.expected.detections {
            splits.push(d as usize);
            splits.push(d as usize + 1);
        }
        splits.retain(|&s| s > 0 && s < n);
        splits.sort_unstable();
        splits.dedup();

        let mut detector = testing::detector::<PageHinkley>(&config).unwrap();
        let mut found = Vec::new();
        let mut start = 0;
        for &split in splits.iter().chain(std::iter::once(&n)) {
            found.extend(detector.update(&values[start..split]).unwrap());
            start = split;
            let bytes = detector.snapshot();
            detector =
                PageHinkley::restore(&bytes, vigil_plugin_sdk::parse_config(&config).unwrap())
                    .unwrap();
            assert_eq!(
                detector.snapshot(),
                bytes,
                "case {}: restore is exact",
                case.name
            );
        }
        assert_eq!(found, case.expected.detections, "case {}", case.name);
        assert_eq!(
            detector.snapshot(),
            case.expected_snapshot(),
            "case {}",
            case.name
        );
    }
}
