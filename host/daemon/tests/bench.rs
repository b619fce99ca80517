//! `vigil bench detectors --quick` end to end: the real binary, its files and the properties
//! the benchmark must show on its own streams (docs/detectors.md, "Benchmark").

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const DETECTORS: [&str; 8] = [
    "adwin",
    "page-hinkley",
    "kswin",
    "ddm",
    "eddm",
    "hddm-a",
    "hddm-w",
    "cusum",
];

/// Runs a quick benchmark into `out` with `seed`; returns its stdout.
fn bench(cache: &Path, out: &Path, seed: u64) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["bench", "detectors", "--quick", "--seed", &seed.to_string()])
        .arg("--out")
        .arg(out)
        .env("VIGIL_CACHE_DIR", cache)
        .output()
        .expect("vigil runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn stream_files(out: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(out.join("streams"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

fn csv_rows(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

#[test]
fn a_quick_run_writes_its_report_and_shows_what_each_detector_does() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let out = dir.path().join("run");
    let stdout = bench(&cache, &out, 1);
    assert!(
        stdout.contains("detector      detected  missed  mean delay"),
        "{stdout}"
    );
    for name in DETECTORS {
        assert!(stdout.contains(&format!("\n{name} ")), "{name} in {stdout}");
    }

    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("bench.json")).unwrap()).unwrap();
    assert_eq!(report["seed"], 1);
    assert_eq!(report["quick"], true);
    let segment = report["sizes"]["segment"].as_u64().unwrap() as usize;

    // Two streams (drift, drift-free) per generator, each file as long as the entry says, its
    // error column the label against the prediction.
    let streams = report["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 10);
    for stream in streams {
        let (header, rows) = csv_rows(&out.join(stream["file"].as_str().unwrap()));
        assert_eq!(header[header.len() - 3..], ["label", "prediction", "error"]);
        assert_eq!(rows.len() as u64, stream["length"].as_u64().unwrap());
        for row in &rows {
            let n = row.len();
            let error = (row[n - 3] != row[n - 2]) as u8;
            assert_eq!(row[n - 1], error.to_string());
        }
        let drifting = stream["drifting"].as_bool().unwrap();
        assert_eq!(stream["drifts"].as_array().unwrap().is_empty(), !drifting);
        for name in DETECTORS {
            assert!(stream["detections"][name].is_array(), "{name} on {stream}");
        }
    }

    // Every detector detects STAGGER's first drift (errors from 10% to about 57%) within the
    // horizon.
    let stagger = streams
        .iter()
        .find(|s| s["generator"] == "stagger" && s["drifting"] == true)
        .unwrap();
    let drift = stagger["drifts"][0].as_u64().unwrap();
    assert_eq!(drift as usize, segment);
    for name in DETECTORS {
        let detections = stagger["detections"][name].as_array().unwrap();
        assert!(
            detections.iter().any(|d| {
                let d = d.as_u64().unwrap();
                d >= drift && d < drift + segment as u64
            }),
            "{name} missed STAGGER's drift at {drift}: {detections:?}"
        );
    }

    let detectors = report["detectors"].as_array().unwrap();
    let names: Vec<&str> = detectors
        .iter()
        .map(|d| d["detector"].as_str().unwrap())
        .collect();
    assert_eq!(names, DETECTORS);
    for detector in detectors {
        let drifts = detector["drifts"].as_u64().unwrap();
        assert_eq!(drifts, 10, "{detector}");
        assert_eq!(
            detector["detected"].as_u64().unwrap() + detector["missed"].as_u64().unwrap(),
            drifts
        );
        let false_alarms = detector["false_alarms_per_10k"].as_f64().unwrap();
        assert!(
            false_alarms.is_finite() && false_alarms >= 0.0,
            "{detector}"
        );
        assert!(detector["values_per_second"].as_f64().unwrap() > 0.0);
        let delay = detector["mean_delay"].as_f64().unwrap();
        assert!(delay >= 0.0 && delay < segment as f64, "{detector}");
        assert_eq!(detector["generators"].as_object().unwrap().len(), 5);
    }

    // Drift tests: a half-sd mean shift and a tenth of the probability moved are found in every
    // window by the classic tests, and no test calls most null windows drifted.
    let tests = report["drift_tests"].as_array().unwrap();
    assert_eq!(tests.len(), 15 + 7 + 2);
    let rate = |test: &str, pair: &str, effect: &str| {
        let test = tests
            .iter()
            .find(|t| t["test"] == test && t["pair"] == pair)
            .unwrap_or_else(|| panic!("{test} on {pair}"));
        test["effects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["effect"] == effect)
            .unwrap()["rate"]
            .as_f64()
            .unwrap()
    };
    for test in ["ks", "t", "mwu", "cvm", "ad"] {
        assert_eq!(rate(test, "numeric", "mean+0.5sd"), 1.0, "{test}");
    }
    assert_eq!(rate("ks", "numeric", "scale×1.5"), 1.0);
    assert_eq!(rate("chi2", "categorical", "moved 0.10"), 1.0);
    assert_eq!(rate("z", "binary", "moved 0.10"), 1.0);
    for test in tests {
        assert!(
            test["false_positive_rate"].as_f64().unwrap() <= 0.4,
            "{test}"
        );
    }

    // The CSV files: one row per detector and generator plus `all`, one per test and effect.
    let (header, rows) = csv_rows(&out.join("detectors.csv"));
    assert_eq!(
        header,
        [
            "detector",
            "generator",
            "drifts",
            "detected",
            "missed",
            "mean_delay",
            "median_delay",
            "false_alarms",
            "stable_values",
            "false_alarms_per_10k",
            "values_per_second"
        ]
    );
    assert_eq!(rows.len(), DETECTORS.len() * 6);
    let all: Vec<&Vec<String>> = rows.iter().filter(|r| r[1] == "all").collect();
    assert_eq!(all.len(), DETECTORS.len());
    for row in all {
        let json = detectors.iter().find(|d| d["detector"] == row[0]).unwrap();
        assert_eq!(row[4], json["missed"].to_string());
    }
    let (header, rows) = csv_rows(&out.join("drift_tests.csv"));
    assert_eq!(
        header,
        [
            "test",
            "pair",
            "effect",
            "size",
            "windows",
            "detected",
            "rate",
            "values_per_second"
        ]
    );
    assert_eq!(rows.len(), 15 * 5 + 7 * 4 + 2 * 4);
}

#[test]
fn the_streams_depend_on_the_seed_alone() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let runs: Vec<PathBuf> = ["a", "b", "c"].iter().map(|n| dir.path().join(n)).collect();
    bench(&cache, &runs[0], 7);
    bench(&cache, &runs[1], 7);
    bench(&cache, &runs[2], 8);
    let (first, second, other) = (
        stream_files(&runs[0]),
        stream_files(&runs[1]),
        stream_files(&runs[2]),
    );
    assert_eq!(first.len(), 10);
    for ((a, b), c) in first.iter().zip(&second).zip(&other) {
        assert_eq!(a.file_name(), b.file_name());
        let bytes = std::fs::read(a).unwrap();
        assert_eq!(bytes, std::fs::read(b).unwrap(), "{}", a.display());
        assert_ne!(bytes, std::fs::read(c).unwrap(), "{}", a.display());
    }
}
