//! `vigil detect` end to end: the real binary on CSV files, against River's detections in
//! `tests/reference/detectors.json` and `tests/reference/page_hinkley.json`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn reference(name: &str) -> Value {
    let path = workspace().join("tests/reference").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Runs `vigil` with a compile cache of its own, shared by the calls of one test.
fn vigil(cache: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .env("VIGIL_CACHE_DIR", cache)
        .output()
        .expect("vigil runs")
}

/// Writes `stream` as the column `x` of a CSV file, `NA` for a missing value.
fn write_stream(dir: &Path, name: &str, stream: &[Value]) -> PathBuf {
    let mut text = String::from("row,x\n");
    for (i, value) in stream.iter().enumerate() {
        // f64's Display is the shortest text that parses back to the same number.
        let cell = value
            .as_f64()
            .map_or_else(|| "NA".to_string(), |v| v.to_string());
        text.push_str(&format!("{i},{cell}\n"));
    }
    let path = dir.join(format!("{name}.csv"));
    std::fs::write(&path, text).unwrap();
    path
}

/// The reference's positions (counted over present values) as row indices.
fn as_rows(stream: &[Value], positions: &[Value]) -> Vec<u64> {
    let rows: Vec<u64> = (0..stream.len() as u64)
        .filter(|&i| !stream[i as usize].is_null())
        .collect();
    positions
        .iter()
        .map(|p| rows[p.as_u64().unwrap() as usize])
        .collect()
}

fn detect_json(cache: &Path, args: &[&str]) -> Value {
    let mut all = vec!["detect", "--format", "json", "--column", "x"];
    all.extend_from_slice(args);
    let output = vigil(cache, &all);
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("stdout is exactly one JSON object")
}

#[test]
fn every_detector_matches_its_reference_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let detectors = reference("detectors.json");
    let streams = detectors["streams"].as_object().unwrap();
    // Per detector: its cases on these streams, with the defaults and with each configuration
    // the reference tries on them.
    let chosen = [
        "several_shifts",
        "missing",
        "river_docstring",
        "bits_several",
        "bits_missing",
        "bits_river_docstring",
    ];
    let mut checked = std::collections::BTreeSet::new();
    for case in detectors["cases"].as_array().unwrap() {
        let stream_name = case["stream"].as_str().unwrap();
        if !chosen.contains(&stream_name) {
            continue;
        }
        let detector = case["detector"].as_str().unwrap();
        let stream = streams[stream_name].as_array().unwrap();
        let input = write_stream(dir.path(), stream_name, stream);
        let config = case["config"].to_string();
        let report = detect_json(
            &cache,
            &[
                "--input",
                input.to_str().unwrap(),
                "--detector",
                detector,
                "--config",
                &config,
            ],
        );
        let label = format!("{detector} on {stream_name} with {config}");
        assert_eq!(report["detector"], detector, "{label}");
        assert_eq!(&report["values"], &case_stream(stream), "{label}");
        let expected = as_rows(stream, case["detections"].as_array().unwrap());
        let found: Vec<u64> = report["detections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap())
            .collect();
        assert_eq!(found, expected, "{label}");
        checked.insert(detector.to_string());
    }

    // Page-Hinkley from its own reference file, by its full plugin name.
    let page_hinkley = reference("page_hinkley.json");
    for case in page_hinkley["cases"].as_array().unwrap().iter().take(4) {
        let stream = case["stream"].as_array().unwrap();
        let name = case["name"].as_str().unwrap();
        let input = write_stream(dir.path(), name, stream);
        let config = case["config"].to_string();
        let report = detect_json(
            &cache,
            &[
                "--input",
                input.to_str().unwrap(),
                "--detector",
                "detect-page-hinkley",
                "--config",
                &config,
            ],
        );
        assert_eq!(report["detector"], "page-hinkley");
        let expected = as_rows(stream, case["expected"]["detections"].as_array().unwrap());
        let found: Vec<u64> = serde_json::from_value(report["detections"].clone()).unwrap();
        assert_eq!(found, expected, "page-hinkley on {name}");
        checked.insert("page-hinkley".to_string());
    }
    assert_eq!(
        checked.into_iter().collect::<Vec<_>>(),
        [
            "adwin",
            "cusum",
            "ddm",
            "eddm",
            "hddm-a",
            "hddm-w",
            "kswin",
            "page-hinkley"
        ]
    );
}

/// The stream as `vigil detect` reports its values: numbers, `null` where missing.
fn case_stream(stream: &[Value]) -> Value {
    Value::Array(stream.to_vec())
}

#[test]
fn table_output_lists_the_changes() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("data.csv");
    let mut text = String::from("x\n");
    for i in 0..400 {
        text.push_str(if i < 200 { "0\n" } else { "1\n" });
    }
    std::fs::write(&input, text).unwrap();
    let output = vigil(
        &dir.path().join("cache"),
        &[
            "detect",
            "--input",
            input.to_str().unwrap(),
            "--column",
            "x",
            "--detector",
            "ddm",
        ],
    );
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.starts_with(
            "ddm (detect-ddm@0.1.0) on column `x`: 400 values (0 missing), 1 change detected"
        ),
        "{text}"
    );
    assert!(text.contains("index  value\n"), "{text}");
}

/// Bad input: exit status 2 and one line on stderr that says what to change.
#[test]
fn bad_input_exits_2_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let good = write("good.csv", "x,label\n0.5,a\n1,b\nNA,c\n");
    let text = write("text.csv", "x\n1\n2\nthree\n");
    let fractions = write("fractions.csv", "x\n0\n1\n0.5\n");
    let header_only = write("header.csv", "x\n");
    let nope = dir.path().join("nope.csv");
    let nope = nope.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--input", &good, "--column", "y", "--detector", "adwin"],
            "no column `y`; its columns are `x`, `label`",
        ),
        (
            vec!["--input", &good, "--column", "label", "--detector", "adwin"],
            "data row 0 (line 2) holds `a`",
        ),
        (
            vec!["--input", &text, "--column", "x", "--detector", "adwin"],
            "data row 2 (line 4) holds `three`",
        ),
        (
            vec!["--input", &good, "--column", "x", "--detector", "nosuch"],
            "no detector named `nosuch`; the standard ones are adwin, cusum, ddm",
        ),
        (
            vec!["--input", &good, "--column", "x", "--detector", "drift-ks"],
            "`drift-ks` is a drift-test plugin, not a detector",
        ),
        (
            vec![
                "--input",
                &good,
                "--column",
                "x",
                "--detector",
                "adwin",
                "--config",
                "{delta: 1",
            ],
            "--config is not valid JSON",
        ),
        (
            vec![
                "--input",
                &good,
                "--column",
                "x",
                "--detector",
                "adwin",
                "--config",
                r#"{"delta": 2}"#,
            ],
            "delta must lie strictly between 0 and 1",
        ),
        (
            vec![
                "--input",
                &good,
                "--column",
                "x",
                "--detector",
                "kswin",
                "--config",
                r#"{"windw": 2}"#,
            ],
            "windw",
        ),
        (
            vec!["--input", &fractions, "--column", "x", "--detector", "ddm"],
            "0 (correct) and 1 (error)",
        ),
        (
            vec![
                "--input",
                &header_only,
                "--column",
                "x",
                "--detector",
                "adwin",
            ],
            "no data rows",
        ),
        (
            vec!["--input", nope, "--column", "x", "--detector", "adwin"],
            "nope.csv",
        ),
    ];
    for (args, needle) in cases {
        let mut all = vec!["detect"];
        all.extend(args);
        let output = vigil(&cache, &all);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{all:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
        assert!(output.stdout.is_empty());
    }
}
