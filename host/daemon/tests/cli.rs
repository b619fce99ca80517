//! `vigil drift` end to end: the real binary on files, against scipy's values.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(name: &str) -> PathBuf {
    workspace().join("tests/reference/cli").join(name)
}

fn vigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .output()
        .expect("vigil runs")
}

/// `vigil drift --format json` on two files, with `extra` arguments.
fn drift_files(reference: &Path, current: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "drift",
        "--reference",
        reference.to_str().unwrap(),
        "--current",
        current.to_str().unwrap(),
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    vigil(&args)
}

/// The fixture's report: what tests/reference/generate_cli.py computes with `ks` and `chi2`,
/// `vigil drift`'s default tests.
fn drift_json(extra: &[&str]) -> Value {
    let output = drift_files(&fixture("reference.csv"), &fixture("current.csv"), extra);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("stdout is exactly one JSON object")
}

/// `vigil drift --format json` on a reference and a current file with these contents.
fn drift_on(reference: &str, current: &str) -> Output {
    drift_on_with(reference, current, &[])
}

/// [`drift_on`] with more arguments.
fn drift_on_with(reference: &str, current: &str, extra: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let (reference_path, current_path) = (dir.path().join("r.csv"), dir.path().join("c.csv"));
    std::fs::write(&reference_path, reference).unwrap();
    std::fs::write(&current_path, current).unwrap();
    drift_files(&reference_path, &current_path, extra)
}

fn close(actual: f64, expected: f64, relative: f64) -> bool {
    (actual - expected).abs() <= relative * expected.abs().max(1e-300)
}

fn column<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no column {name}"))
}

#[test]
fn json_report_matches_scipy() {
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(workspace().join("tests/reference/cli.json")).unwrap(),
    )
    .unwrap();
    let report = drift_json(&[]);
    assert_eq!(report["reference_rows"], expected["reference_rows"]);
    assert_eq!(report["current_rows"], expected["current_rows"]);
    let columns = report["columns"].as_array().unwrap();
    let want = expected["columns"].as_array().unwrap();
    assert_eq!(columns.len(), want.len());
    for (got, want) in columns.iter().zip(want) {
        let name = want["name"].as_str().unwrap();
        assert_eq!(got["name"], want["name"], "columns keep file order");
        for key in [
            "kind",
            "test",
            "drifted",
            "missing_reference",
            "missing_current",
        ] {
            assert_eq!(got[key], want[key], "{name}.{key}");
        }
        assert_eq!(got["threshold"], 0.05, "{name}");
        let (s, es) = (
            got["statistic"].as_f64().unwrap(),
            want["statistic"].as_f64().unwrap(),
        );
        assert!(
            (s - es).abs() <= 1e-12 * es.abs().max(1.0),
            "{name}: statistic {s} vs {es}"
        );
        let (p, ep) = (
            got["p_value"].as_f64().unwrap(),
            want["p_value"].as_f64().unwrap(),
        );
        assert!(
            close(p, ep, 1e-6) || (ep < 1e-10 && (p - ep).abs() < 1e-12),
            "{name}: p {p} vs {ep}"
        );
    }
    let drifted = want.iter().filter(|c| c["drifted"] == true).count();
    assert_eq!(report["drifted_columns"], drifted);
    assert_eq!(report["dataset_drift"], drifted * 2 >= want.len());
}

#[test]
fn tests_can_be_chosen_per_type_and_per_column() {
    let report = drift_json(&["--column-test", "amount=psi", "--categorical", "id_like"]);
    let amount = column(&report, "amount");
    assert_eq!(amount["test"], "psi");
    assert!(amount["p_value"].is_null());
    assert_eq!(amount["threshold"], 0.1);
    let id_like = column(&report, "id_like");
    assert_eq!(id_like["kind"], "categorical");
    assert_eq!(id_like["test"], "chi2");
    let report = drift_json(&["--num-test", "psi", "--config", r#"psi={"threshold": 0.5}"#]);
    assert_eq!(column(&report, "score")["test"], "psi");
    assert_eq!(column(&report, "score")["threshold"], 0.5);
}

#[test]
fn threshold_and_drift_share_are_applied() {
    let report = drift_json(&["--threshold", "0.9", "--drift-share", "1.0"]);
    for c in report["columns"].as_array().unwrap() {
        let p = c["p_value"].as_f64().unwrap();
        assert_eq!(c["drifted"], p < 0.9, "{}", c["name"]);
    }
    let all = report["columns"].as_array().unwrap().len();
    assert_eq!(report["dataset_drift"], report["drifted_columns"] == all);
}

#[test]
fn plugins_from_a_directory_are_used() {
    let dir = tempfile::tempdir().unwrap();
    let standard = Path::new(env!("VIGIL_STANDARD_PLUGIN_DIR"));
    std::fs::copy(standard.join("drift-psi.wasm"), dir.path().join("psi.wasm")).unwrap();
    let report = drift_json(&[
        "--plugins",
        dir.path().to_str().unwrap(),
        "--num-test",
        "drift-psi",
    ]);
    assert_eq!(column(&report, "score")["plugin"], "drift-psi@0.1.0");
}

#[test]
fn inspect_describes_a_component_in_wit_terms() {
    let standard = Path::new(env!("VIGIL_STANDARD_PLUGIN_DIR"));
    for (file, kind, score) in [
        ("drift-psi.wasm", "drift-test", "distance"),
        ("drift-ks.wasm", "drift-test", "p-value"),
        ("policy-threshold.wasm", "policy", "p-value"),
    ] {
        let output = vigil(&["plugin", "inspect", standard.join(file).to_str().unwrap()]);
        assert!(output.status.success(), "{file}");
        let info: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(info["kind"], kind, "{file}");
        assert_eq!(info["score"], score, "{file}");
        assert_eq!(info["sha256"].as_str().unwrap().len(), 64, "{file}");
    }
}

#[test]
fn table_output_names_every_column() {
    let reference = fixture("reference.csv");
    let current = fixture("current.csv");
    let output = vigil(&[
        "drift",
        "--reference",
        reference.to_str().unwrap(),
        "--current",
        current.to_str().unwrap(),
    ]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    for name in [
        "id_like",
        "amount",
        "score",
        "color",
        "flag",
        "DRIFT",
        "dataset drift",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
}

/// A numeric column `x` and a categorical column `c` over `rows` rows, shifted by `shift`.
fn two_columns(rows: usize, shift: f64) -> String {
    let mut text = "x,c\n".to_string();
    for i in 0..rows {
        let category = ["red", "green", "blue"][i % 3];
        text.push_str(&format!("{},{category}\n", (i % 97) as f64 + shift));
    }
    text
}

/// `auto` follows the reference's size (docs/statistics.md, "Default tests"): up to 1000 rows
/// the hypothesis tests, above them the distances; without it the tests stay `ks` and `chi2`
/// whatever the size. The report names the test.
#[test]
fn auto_picks_the_test_by_reference_size_and_the_defaults_stay_ks_and_chi2() {
    let auto = ["--num-test", "auto", "--cat-test", "auto"];
    let cases = [
        (1000, &auto[..], "ks", "chi2"),
        (1001, &auto[..], "wasserstein_norm", "js"),
        (2000, &[][..], "ks", "chi2"),
    ];
    for (rows, extra, numeric, categorical) in cases {
        let output = drift_on_with(&two_columns(rows, 0.0), &two_columns(200, 1.0), extra);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(
            column(&report, "x")["test"],
            numeric,
            "{rows} rows {extra:?}"
        );
        assert_eq!(
            column(&report, "c")["test"],
            categorical,
            "{rows} rows {extra:?}"
        );
        let p_value = &column(&report, "x")["p_value"];
        assert_eq!(p_value.is_null(), numeric == "wasserstein_norm", "{report}");
    }
}

/// On a large reference the table shows the distance `auto` chose; `--column-test` wins over
/// `--num-test` and `--cat-test`.
#[test]
fn the_default_test_is_shown_and_can_be_overridden() {
    let dir = tempfile::tempdir().unwrap();
    let (reference, current) = (dir.path().join("r.csv"), dir.path().join("c.csv"));
    std::fs::write(&reference, two_columns(2000, 0.0)).unwrap();
    std::fs::write(&current, two_columns(300, 0.5)).unwrap();
    let table = vigil(&[
        "drift",
        "--reference",
        reference.to_str().unwrap(),
        "--current",
        current.to_str().unwrap(),
        "--num-test",
        "auto",
        "--cat-test",
        "auto",
    ]);
    assert!(table.status.success());
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(
        text.contains("wasserstein_norm") && text.contains("js"),
        "{text}"
    );

    let output = drift_files(
        &reference,
        &current,
        &["--num-test", "ks", "--cat-test", "auto"],
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(column(&report, "x")["test"], "ks");
    assert_eq!(column(&report, "c")["test"], "js");
    let output = drift_files(
        &reference,
        &current,
        &[
            "--num-test",
            "auto",
            "--cat-test",
            "auto",
            "--column-test",
            "c=chi2",
        ],
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(column(&report, "x")["test"], "wasserstein_norm");
    assert_eq!(column(&report, "c")["test"], "chi2");
}

/// Bad input: exit status 2 and a single line on stderr that says what is wrong.
fn assert_input_error(args: &[&str], needle: &str) {
    let output = vigil(args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn bad_input_exits_2_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let good = fixture("reference.csv");
    let good = good.to_str().unwrap();
    let other_columns = write("other.csv", b"a,b\n1,2\n");
    let ragged = write("ragged.csv", b"a,b\n1,2\n3\n");
    let header_only = write("empty.csv", b"id_like,amount,score,color,flag\n");
    let missing = dir.path().join("nope.csv");
    let missing = missing.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--current", missing], "nope.csv"),
        (vec!["--current", &other_columns], "different columns"),
        (vec!["--current", &ragged], "not a valid CSV"),
        (vec!["--current", &header_only], "no data rows"),
        (
            vec!["--current", good, "--num-test", "nosuch"],
            "no drift test named `nosuch`",
        ),
        (
            vec!["--current", good, "--column-test", "ghost=ks"],
            "ghost",
        ),
        (
            vec!["--current", good, "--column-test", "color=ks"],
            "does not accept categorical",
        ),
        (vec!["--current", good, "--threshold", "1.5"], "--threshold"),
        (vec!["--current", good, "--categorical", "ghost"], "ghost"),
        (
            vec!["--current", good, "--plugins", missing],
            "plugin directory",
        ),
    ];
    for (extra, needle) in cases {
        let mut args = vec!["drift", "--reference", good];
        args.extend(extra);
        assert_input_error(&args, needle);
    }
}

#[test]
fn an_all_missing_column_fails_alone_and_is_not_called_stable() {
    let output = drift_on("x,y\n1,a\n2,b\n3,a\n", "x,y\nNA,a\n,b\nnan,b\n");
    assert!(output.status.success());
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let x = column(&report, "x");
    assert!(x["drifted"].is_null());
    assert!(x["error"].as_str().unwrap().contains("no values"), "{x}");
    assert_eq!(x["missing_current"], 3);
    assert_eq!(report["failed_columns"], 1);
    assert!(column(&report, "y")["drifted"].is_boolean());
}

/// A component under a standard plugin's name that is not that plugin (here drift-ks with a
/// custom section appended) is refused: the names are reserved.
#[test]
fn a_plugin_taking_a_standard_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let standard = Path::new(env!("VIGIL_STANDARD_PLUGIN_DIR"));
    let mut bytes = std::fs::read(standard.join("drift-ks.wasm")).unwrap();
    bytes.extend_from_slice(&[0, 4, 3, b'v', b'g', b'l']);
    std::fs::write(dir.path().join("impostor.wasm"), bytes).unwrap();
    let good = fixture("reference.csv");
    let good = good.to_str().unwrap();
    assert_input_error(
        &[
            "drift",
            "--reference",
            good,
            "--current",
            good,
            "--plugins",
            dir.path().to_str().unwrap(),
        ],
        "`drift-ks` is the name of a standard plugin",
    );
}

/// When no column could be tested, the report is printed and the exit status says so.
#[test]
fn a_report_where_every_column_failed_exits_non_zero() {
    let output = drift_on("x,z\n1,4\n2,5\n3,6\n", "x,z\nNA,\n,NA\nnan,nan\n");
    assert_eq!(output.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["failed_columns"], 2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("every column"), "{stderr}");
}

/// The expected values of one case of a plugin's reference file (tests/reference/NAME.json).
fn reference_case(file: &str, case: &str) -> Value {
    let path = workspace().join("tests/reference").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let reference: Value = serde_json::from_str(&text).unwrap();
    reference["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == case)
        .unwrap_or_else(|| panic!("{file} has no case {case}"))
        .clone()
}

/// The standard library's newer tests are picked by their short names like the first three:
/// a hypothesis test (Mann–Whitney, against SciPy's value), a CDF distance (Wasserstein, per
/// column) and a binned distance on categories (total variation).
#[test]
fn standard_library_tests_run_by_name() {
    let case = reference_case("mwu.json", "ties_across_sides");
    let numbers = |key: &str| -> Vec<f64> {
        case[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let (x_reference, x_current) = (numbers("reference"), numbers("current"));
    let c_reference = ["a", "a", "a", "b", "b", "b", "b"];
    let c_current = ["a", "b", "b", "b", "c"];
    let csv = |x: &[f64], c: &[&str]| {
        let mut text = String::from("x,y,c\n");
        for (x, c) in x.iter().zip(c) {
            text.push_str(&format!("{x},{x},{c}\n"));
        }
        text
    };
    let dir = tempfile::tempdir().unwrap();
    let (reference, current) = (dir.path().join("r.csv"), dir.path().join("c.csv"));
    std::fs::write(&reference, csv(&x_reference, &c_reference)).unwrap();
    std::fs::write(&current, csv(&x_current, &c_current)).unwrap();
    let output = drift_files(
        &reference,
        &current,
        &[
            "--num-test",
            "mwu",
            "--cat-test",
            "tvd",
            "--column-test",
            "y=wasserstein",
            "--config",
            r#"wasserstein={"threshold": 5}"#,
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();

    let x = column(&report, "x");
    assert_eq!(x["test"], "mwu");
    let expected = &case["expected"];
    assert_eq!(x["statistic"], expected["statistic"]);
    let p = x["p_value"].as_f64().unwrap();
    let expected_p = expected["p_value"].as_f64().unwrap();
    assert!(close(p, expected_p, 1e-9), "p {p} vs {expected_p}");
    assert_eq!(x["drifted"], expected_p < 0.05);

    let y = column(&report, "y");
    assert_eq!(y["test"], "wasserstein");
    let wasserstein = reference_case("wasserstein.json", "ties_across_sides");
    let expected = wasserstein["expected"]["statistic"].as_f64().unwrap();
    assert!(close(y["statistic"].as_f64().unwrap(), expected, 1e-9));
    assert!(y["p_value"].is_null());
    assert_eq!(y["threshold"], 5.0);

    let c = column(&report, "c");
    assert_eq!(c["kind"], "categorical");
    assert_eq!(c["test"], "tvd");
    // Proportions a, b, c: 3/7, 4/7, 0 against 1/5, 3/5, 1/5.
    let tvd = 0.5 * ((3.0 / 7.0 - 0.2) + (0.6 - 4.0 / 7.0) + 0.2);
    assert!(close(c["statistic"].as_f64().unwrap(), tvd, 1e-12));
    assert_eq!(c["drifted"], true);
}
