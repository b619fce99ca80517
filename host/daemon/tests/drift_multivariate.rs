//! `vigil drift --multivariate`: the real binary on CSV files written from the reference cases
//! of `tests/reference/generate_mmd.py` and `generate_pca.py`, reporting the values those
//! scripts computed, and refusing what it cannot compare with a clear message.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The case `name` of `tests/reference/{file}`.
fn case(file: &str, name: &str) -> Value {
    let text = std::fs::read_to_string(workspace().join("tests/reference").join(file)).unwrap();
    let cases: Value = serde_json::from_str(&text).unwrap();
    cases["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no case {name} in {file}"))
        .clone()
}

/// A batch of a reference case as CSV, an empty cell for a missing value; `extra` adds a
/// categorical column.
fn csv(batch: &Value, extra: Option<&str>) -> String {
    let columns = batch.as_array().unwrap();
    let rows = columns[0]["values"].as_array().unwrap().len();
    let mut header: Vec<&str> = columns
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    header.extend(extra);
    let mut out = header.join(",") + "\n";
    for i in 0..rows {
        let mut cells: Vec<String> = columns
            .iter()
            .map(|c| {
                c["values"][i]
                    .as_f64()
                    .map_or(String::new(), |v| format!("{v}"))
            })
            .collect();
        if extra.is_some() {
            cells.push(if i % 2 == 0 { "red" } else { "blue" }.into());
        }
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

fn drift(reference: &str, current: &str, extra: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let (r, c) = (dir.path().join("r.csv"), dir.path().join("c.csv"));
    std::fs::write(&r, reference).unwrap();
    std::fs::write(&c, current).unwrap();
    let mut args = vec![
        "drift",
        "--reference",
        r.to_str().unwrap(),
        "--current",
        c.to_str().unwrap(),
    ];
    if !extra.contains(&"--format") {
        args.extend(["--format", "json"]);
    }
    args.extend_from_slice(extra);
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(&args)
        .output()
        .expect("vigil runs")
}

fn close(actual: f64, expected: f64) -> bool {
    actual == expected
        || (actual - expected).abs() <= 1e-12
        || (actual - expected).abs() <= 1e-9 * expected.abs()
}

#[test]
fn mmd_and_pca_report_the_reference_values_beside_the_columns() {
    let mmd = case("mmd.json", "missing_values_drop_rows");
    let output = drift(
        &csv(&mmd["reference"], Some("color")),
        &csv(&mmd["current"], Some("color")),
        &["--multivariate", "mmd", "--multivariate", "drift-pca"],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    // The per-column results are still there, the categorical column among them.
    assert_eq!(report["columns"].as_array().unwrap().len(), 3);
    let results = report["multivariate"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    let result = &results[0];
    assert_eq!(result["name"], "mmd(a,b)");
    assert_eq!(result["test"], "mmd");
    assert_eq!(result["plugin"], "drift-mmd@0.1.0");
    assert_eq!(result["columns"], serde_json::json!(["a", "b"]));
    let expected = &mmd["expected"];
    assert!(
        close(
            result["statistic"].as_f64().unwrap(),
            expected["statistic"].as_f64().unwrap()
        ),
        "{result} vs {expected}"
    );
    assert_eq!(result["p_value"], expected["p_value"]);
    assert_eq!(result["drifted"], expected["drifted"]);
    assert_eq!(results[1]["name"], "pca(a,b)");
    assert_eq!(results[1]["p_value"], Value::Null);

    let pca = case("pca.json", "missing_values_imputed_with_reference_means");
    let output = drift(
        &csv(&pca["reference"], None),
        &csv(&pca["current"], None),
        &["--multivariate", "pca", "--multivariate-columns", "c,a,b"],
    );
    assert!(output.status.success());
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let result = &report["multivariate"][0];
    assert_eq!(result["name"], "pca(c,a,b)");
    let expected = &pca["expected"];
    for field in ["statistic", "threshold"] {
        assert!(
            close(
                result[field].as_f64().unwrap(),
                expected[field].as_f64().unwrap()
            ),
            "{field}: {result} vs {expected}"
        );
    }
    assert_eq!(result["drifted"], expected["drifted"]);
}

#[test]
fn the_table_shows_the_multivariate_results_after_the_columns() {
    let mmd = case("mmd.json", "mean_shift_in_one_column");
    let (reference, current) = (csv(&mmd["reference"], None), csv(&mmd["current"], None));
    let output = drift(
        &reference,
        &current,
        &["--multivariate", "mmd", "--format", "table"],
    );
    assert!(output.status.success());
    let table = String::from_utf8(output.stdout).unwrap();
    let columns = table.find("kind").expect("the columns' table");
    let row = table.find("mmd(a,b)").expect("the multivariate row");
    assert!(columns < row, "{table}");
    assert!(
        table[row..].lines().next().unwrap().contains("DRIFT"),
        "{table}"
    );
}

#[test]
fn what_a_multivariate_test_cannot_compare_is_refused_clearly() {
    let mmd = case("mmd.json", "same_distribution");
    let (reference, current) = (
        csv(&mmd["reference"], Some("color")),
        csv(&mmd["current"], Some("color")),
    );
    let refused = |extra: &[&str], needle: &str| {
        let output = drift(&reference, &current, extra);
        assert_eq!(output.status.code(), Some(2), "{extra:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(needle), "{extra:?}: {stderr}");
    };
    refused(
        &["--multivariate", "mmd", "--multivariate-columns", "a,color"],
        "`color`, which is categorical",
    );
    refused(
        &["--multivariate", "mmd", "--multivariate-columns", "a,nope"],
        "`nope`, which is not a column",
    );
    refused(&["--multivariate", "ks"], "not a multivariate drift test");
    refused(
        &["--multivariate", "nope"],
        "no multivariate drift test named `nope`",
    );
    refused(&["--num-test", "mmd"], "run it with --multivariate mmd");
    refused(&["--multivariate-columns", "a,b"], "needs a test to run");
    // A test the plugin refuses fails its row, as a column's test would, naming why.
    let output = drift(
        &reference,
        &current,
        &["--multivariate", "pca", "--config", r#"pca={"chunks": 1}"#],
    );
    assert!(output.status.success());
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let result = &report["multivariate"][0];
    assert_eq!(result["drifted"], Value::Null);
    assert!(
        result["error"]
            .as_str()
            .unwrap()
            .contains("chunks must lie between 2 and 1000"),
        "{result}"
    );
}
