//! Every standard plugin, built from source and run in the real runtime, reproduces the
//! reference implementations' values (scipy, numpy, River) committed in `tests/reference/`.

use serde_json::Value;
use vigil_runtime::{
    Batch, CategoricalColumn, Column, ColumnData, Error, MISSING_CODE, PluginError,
};
use vigil_tests::{load, reference_cases, runtime};

fn column(kind: &str, values: &Value) -> ColumnData {
    let values = values.as_array().expect("a list of values");
    if kind == "numeric" {
        return ColumnData::Numeric(
            values
                .iter()
                .map(|v| v.as_f64().unwrap_or(f64::NAN))
                .collect(),
        );
    }
    let mut categories: Vec<String> = Vec::new();
    let codes = values
        .iter()
        .map(|v| match v.as_str() {
            None => MISSING_CODE,
            Some(label) => match categories.iter().position(|c| c == label) {
                Some(i) => i as u32,
                None => {
                    categories.push(label.to_string());
                    (categories.len() - 1) as u32
                }
            },
        })
        .collect();
    ColumnData::Categorical(CategoricalColumn { categories, codes })
}

fn close(actual: f64, expected: f64, relative: f64, absolute: f64) -> bool {
    actual == expected
        || (actual - expected).abs() <= absolute
        || (actual - expected).abs() <= relative * expected.abs()
}

/// Statistic within 1e-12 (absolute, or relative for large statistics); p-value within 1e-6
/// relative, or 1e-12 absolute when it is below 1e-10.
fn check_drift_cases(file: &str, package: &str) {
    check_drift_cases_within(file, package, 0.0);
}

/// As [`check_drift_cases`], the p-value also passing within `p_absolute` (for p-values computed
/// as `1 − cdf`, where one ulp of the cdf is more than 1e-6 of a small p-value).
fn check_drift_cases_within(file: &str, package: &str, p_absolute: f64) {
    let runtime = runtime();
    let plugin = load(&runtime, package);
    let cases = reference_cases(file);
    let cases = cases["cases"].as_array().unwrap();
    assert!(cases.len() >= 10, "{file} has only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let kind = case["kind"].as_str().unwrap();
        let reference = column(kind, &case["reference"]);
        let current = column(kind, &case["current"]);
        let config = case["config"].to_string();
        let outcome = plugin
            .drift_test(runtime.shared(), &reference, &config)
            .and_then(|mut session| session.evaluate(&current));
        let expected = &case["expected"];
        if expected.get("error").is_some() {
            if !matches!(
                outcome,
                Err(Error::Plugin {
                    error: PluginError::InvalidInput(_),
                    ..
                })
            ) {
                failures.push(format!("{name}: expected invalid-input, got {outcome:?}"));
            }
            continue;
        }
        let result = match outcome {
            Ok(result) => result,
            Err(error) => {
                failures.push(format!("{name}: {error}"));
                continue;
            }
        };
        let statistic = expected["statistic"].as_f64().unwrap();
        if !close(result.statistic, statistic, 1e-12, 1e-12) {
            failures.push(format!(
                "{name}: statistic {} != {statistic}",
                result.statistic
            ));
        }
        match (result.p_value, expected["p_value"].as_f64()) {
            (Some(p), Some(e)) => {
                let absolute = if e < 1e-10 { 1e-12 } else { p_absolute };
                if !close(p, e, 1e-6, absolute) {
                    failures.push(format!("{name}: p-value {p} != {e}"));
                }
            }
            (None, None) => {}
            (p, e) => failures.push(format!("{name}: p-value {p:?}, expected {e:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn ks_matches_scipy() {
    check_drift_cases("ks", "drift-ks");
}

#[test]
fn chi2_matches_scipy() {
    check_drift_cases("chi2", "drift-chi2");
}

#[test]
fn psi_matches_numpy() {
    check_drift_cases("psi", "drift-psi");
}

#[test]
fn js_matches_scipy() {
    check_drift_cases("js", "drift-js");
}

#[test]
fn kl_matches_scipy() {
    check_drift_cases("kl", "drift-kl");
}

#[test]
fn hellinger_matches_numpy() {
    check_drift_cases("hellinger", "drift-hellinger");
}

#[test]
fn tvd_matches_numpy() {
    check_drift_cases("tvd", "drift-tvd");
}

#[test]
fn wasserstein_matches_scipy() {
    check_drift_cases("wasserstein", "drift-wasserstein");
}

#[test]
fn wasserstein_norm_matches_scipy() {
    check_drift_cases("wasserstein_norm", "drift-wasserstein_norm");
}

#[test]
fn energy_matches_scipy() {
    check_drift_cases("energy", "drift-energy");
}

#[test]
fn kuiper_matches_numpy() {
    check_drift_cases("kuiper", "drift-kuiper");
}

#[test]
fn mwu_matches_scipy() {
    check_drift_cases("mwu", "drift-mwu");
}

#[test]
fn t_matches_scipy() {
    check_drift_cases("t", "drift-t");
}

#[test]
fn g_matches_scipy() {
    check_drift_cases("g", "drift-g");
}

#[test]
fn z_matches_scipy() {
    check_drift_cases("z", "drift-z");
}

#[test]
fn fisher_matches_scipy() {
    check_drift_cases("fisher", "drift-fisher");
}

#[test]
fn ad_matches_scipy() {
    check_drift_cases("ad", "drift-ad");
}

#[test]
fn cvm_matches_scipy() {
    check_drift_cases_within("cvm", "drift-cvm", 1e-14);
}

#[test]
fn es_matches_scipy() {
    check_drift_cases("es", "drift-es");
}

#[test]
fn page_hinkley_matches_river_across_snapshots() {
    let runtime = runtime();
    let plugin = load(&runtime, "detect-page-hinkley");
    let cases = reference_cases("page_hinkley");
    for case in cases["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let config = case["config"].to_string();
        let stream: Vec<f64> = case["stream"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap_or(f64::NAN))
            .collect();
        let expected: Vec<u64> = case["expected"]["detections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        // Whole stream in one call.
        let mut session = plugin.detector(runtime.shared(), &config, None).unwrap();
        assert_eq!(
            session.update(&stream).unwrap(),
            expected,
            "{name}: one call"
        );
        // In windows, with the state taken out and put into a fresh instance between them,
        // as the host does across restarts.
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
            "{name}: windows with snapshot and restore"
        );
    }
}

/// A case's table as a batch: a column is categorical when it holds a label, when the case
/// lists it under `categorical`, or when the case's reference column of that name holds one.
fn batch(case: &Value, table: &str) -> Batch {
    let labelled = |name: &str| {
        case["reference"][name]
            .as_array()
            .is_some_and(|values| values.iter().any(Value::is_string))
            || case["categorical"]
                .as_array()
                .is_some_and(|names| names.iter().any(|n| n == name))
    };
    Batch {
        columns: case[table]
            .as_object()
            .unwrap()
            .iter()
            .map(|(name, values)| {
                let text = values.as_array().unwrap().iter().any(Value::is_string);
                Column {
                    name: name.clone(),
                    data: column(
                        if text || labelled(name) {
                            "categorical"
                        } else {
                            "numeric"
                        },
                        values,
                    ),
                }
            })
            .collect(),
    }
}

fn labels(column: &CategoricalColumn) -> Vec<Option<&str>> {
    column
        .codes
        .iter()
        .map(|&code| (code != MISSING_CODE).then(|| column.categories[code as usize].as_str()))
        .collect()
}

/// Every case of a preprocessor's reference file through the plugin in the runtime: the same
/// columns, numbers within `relative`, labels exactly, and the cases that must fail failing with
/// their message.
fn check_preprocessor_cases(file: &str, package: &str, relative: f64) {
    let runtime = runtime();
    let plugin = load(&runtime, package);
    let cases = reference_cases(file);
    for case in cases["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let result = plugin
            .preprocessor(
                runtime.shared(),
                &batch(case, "reference"),
                &case["config"].to_string(),
            )
            .and_then(|mut session| session.transform(&batch(case, "input")));
        if let Some(mentions) = case["expected"]["mentions"].as_str() {
            match result {
                Err(e) => assert!(
                    e.to_string().contains(mentions),
                    "{file} {name}: `{e}` does not mention `{mentions}`"
                ),
                Ok(_) => panic!("{file} {name}: expected an error mentioning `{mentions}`"),
            }
            continue;
        }
        let output = result.unwrap_or_else(|e| panic!("{file} {name}: {e}"));
        let expected = batch(case, "expected");
        // `Value` sorts an object's keys, so columns are matched by name here; the plugins' own
        // tests read the files in order and check the order too.
        let names = |b: &Batch| {
            let mut names: Vec<String> = b.columns.iter().map(|c| c.name.clone()).collect();
            names.sort_unstable();
            names
        };
        assert_eq!(names(&output), names(&expected), "{file} {name}: columns");
        for exp in &expected.columns {
            let out = output.columns.iter().find(|c| c.name == exp.name).unwrap();
            match (&out.data, &exp.data) {
                (ColumnData::Numeric(a), ColumnData::Numeric(e)) => {
                    assert_eq!(a.len(), e.len(), "{file} {name}: {} rows", out.name);
                    for (i, (a, e)) in a.iter().zip(e).enumerate() {
                        let same = (a.is_nan() && e.is_nan()) || close(*a, *e, relative, 0.0);
                        assert!(same, "{file} {name}: {}[{i}] = {a}, expected {e}", out.name);
                    }
                }
                (ColumnData::Categorical(a), ColumnData::Categorical(e)) => {
                    assert_eq!(labels(a), labels(e), "{file} {name}: {}", out.name)
                }
                // An empty or all-missing expected column reads as numeric.
                (ColumnData::Categorical(a), ColumnData::Numeric(e)) => {
                    assert!(
                        labels(a).iter().all(Option::is_none) && a.codes.len() == e.len(),
                        "{file} {name}: {}",
                        out.name
                    )
                }
                _ => panic!("{file} {name}: {} changed kind", out.name),
            }
        }
    }
}

#[test]
fn standardize_matches_numpy() {
    check_preprocessor_cases("standardize", "preprocess-standardize", 1e-12);
}

#[test]
fn impute_matches_scikit_learn() {
    check_preprocessor_cases("impute", "preprocess-impute", 1e-9);
}

#[test]
fn clip_matches_numpy() {
    check_preprocessor_cases("clip", "preprocess-clip", 1e-9);
}

#[test]
fn log1p_matches_numpy() {
    check_preprocessor_cases("log1p", "preprocess-log1p", 1e-9);
}

#[test]
fn bin_matches_numpy() {
    check_preprocessor_cases("bin", "preprocess-bin", 1e-9);
}

#[test]
fn onehot_matches_scikit_learn() {
    check_preprocessor_cases("onehot", "preprocess-onehot", 1e-9);
}

#[test]
fn hash_matches_scikit_learn() {
    check_preprocessor_cases("hash", "preprocess-hash", 1e-9);
}

#[test]
fn select_matches_its_reference() {
    check_preprocessor_cases("select", "preprocess-select", 1e-9);
}

#[test]
fn derive_matches_numpy() {
    check_preprocessor_cases("derive", "preprocess-derive", 1e-9);
}
