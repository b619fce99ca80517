//! The multivariate drift tests (`drift-mmd`, `drift-pca`) built from source and run in the
//! real runtime: their values match the reference scripts' (`tests/reference/generate_mmd.py`,
//! `generate_pca.py`), hostile inputs get clear errors or stay within the call's limits, and
//! components of the `multivariate-drift-test` world with the wrong shape are refused at load.

use std::time::Instant;

use serde_json::Value;
use vigil_runtime::{
    Batch, CategoricalColumn, Column, ColumnData, Error, MISSING_CODE, PluginError, PluginKind,
    ScoreKind,
};
use vigil_tests::{load, reference_cases, runtime, workspace};
use wit_component::{ComponentEncoder, StringEncoding, dummy_module, embed_component_metadata};
use wit_parser::{ManglingAndAbi, Resolve};

/// A batch of the reference files: a list of `{"name", "values"}`; a column holding a string
/// other than "inf"/"-inf" is categorical; `null` is missing.
fn batch(columns: &Value) -> Batch {
    let columns = columns
        .as_array()
        .unwrap()
        .iter()
        .map(|column| {
            let values = column["values"].as_array().unwrap();
            let categorical = values
                .iter()
                .any(|v| v.as_str().is_some_and(|s| s != "inf" && s != "-inf"));
            let data = if categorical {
                let mut categories: Vec<String> = Vec::new();
                let codes = values
                    .iter()
                    .map(|v| match v.as_str() {
                        None => MISSING_CODE,
                        Some(label) => {
                            if !categories.iter().any(|c| c == label) {
                                categories.push(label.into());
                            }
                            categories.iter().position(|c| c == label).unwrap() as u32
                        }
                    })
                    .collect();
                ColumnData::Categorical(CategoricalColumn { categories, codes })
            } else {
                ColumnData::Numeric(
                    values
                        .iter()
                        .map(|v| match v.as_str() {
                            Some("inf") => f64::INFINITY,
                            Some(_) => f64::NEG_INFINITY,
                            None => v.as_f64().unwrap_or(f64::NAN),
                        })
                        .collect(),
                )
            };
            Column {
                name: column["name"].as_str().unwrap().into(),
                data,
            }
        })
        .collect();
    Batch { columns }
}

/// Runs every case of `file` through `package`: statistic and threshold within 1e-9 relative
/// (1e-12 absolute for values of rounding size), the p-value and the verdict exactly.
fn check_cases(file: &str, package: &str) {
    let runtime = runtime();
    let plugin = load(&runtime, package);
    let cases = reference_cases(file);
    let mut failures = Vec::new();
    let mut run = 0;
    for case in cases["cases"].as_array().unwrap() {
        let Some(expected) = case.get("expected") else {
            continue;
        };
        run += 1;
        let name = case["name"].as_str().unwrap();
        let outcome = plugin
            .multivariate_test(
                runtime.shared(),
                &batch(&case["reference"]),
                &case["config"].to_string(),
            )
            .and_then(|mut session| session.evaluate(&batch(&case["current"])));
        if let Some(kind) = expected.get("error").and_then(Value::as_str) {
            let matches = match &outcome {
                Err(Error::Plugin { error, .. }) => matches!(
                    (error, kind),
                    (PluginError::InvalidInput(_), "invalid-input")
                        | (PluginError::InvalidConfig(_), "invalid-config")
                ),
                _ => false,
            };
            if !matches {
                failures.push(format!("{name}: expected {kind}, got {outcome:?}"));
            }
            continue;
        }
        let result = match outcome {
            Ok(result) => result,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let close = |got: f64, want: f64| {
            got == want || (got - want).abs() <= 1e-12 || (got - want).abs() <= 1e-9 * want.abs()
        };
        let statistic = expected["statistic"].as_f64().unwrap();
        if !close(result.statistic, statistic) {
            failures.push(format!(
                "{name}: statistic {} vs {statistic}",
                result.statistic
            ));
        }
        if let Some(threshold) = expected.get("threshold").and_then(Value::as_f64)
            && !close(result.threshold, threshold)
        {
            failures.push(format!(
                "{name}: threshold {} vs {threshold}",
                result.threshold
            ));
        }
        if result.p_value != expected["p_value"].as_f64() {
            failures.push(format!(
                "{name}: p-value {:?} vs {}",
                result.p_value, expected["p_value"]
            ));
        }
        if result.drifted != expected["drifted"].as_bool().unwrap() {
            failures.push(format!("{name}: drifted {}", result.drifted));
        }
    }
    assert!(run >= 30, "{file} has only {run} cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn mmd_matches_numpy() {
    check_cases("mmd", "drift-mmd");
}

#[test]
fn pca_matches_scikit_learn() {
    check_cases("pca", "drift-pca");
}

#[test]
fn the_plugins_describe_themselves_as_multivariate() {
    let runtime = runtime();
    for (package, score) in [
        ("drift-mmd", ScoreKind::PValue),
        ("drift-pca", ScoreKind::Distance),
    ] {
        let plugin = load(&runtime, package);
        let info = plugin.info();
        assert_eq!(info.name, package);
        assert_eq!(info.kind, PluginKind::MultivariateDriftTest);
        assert_eq!(info.kind.to_string(), "multivariate-drift-test");
        assert_eq!(info.score, score);
        let schema: Value = serde_json::from_str(&info.config_schema).unwrap();
        assert_eq!(schema["additionalProperties"], false, "{package}");
    }
}

#[test]
fn a_plugin_of_another_kind_is_not_a_multivariate_test_nor_the_reverse() {
    let runtime = runtime();
    let reference = numeric_batch(&[("a", vec![1.0, 2.0, 3.0])]);
    let ks = load(&runtime, "drift-ks");
    let error = ks
        .multivariate_test(runtime.shared(), &reference, "{}")
        .err()
        .unwrap();
    assert!(
        error.to_string().contains("not a multivariate drift test"),
        "{error}"
    );
    let mmd = load(&runtime, "drift-mmd");
    let error = mmd
        .drift_test(runtime.shared(), &ColumnData::Numeric(vec![1.0]), "{}")
        .err()
        .unwrap();
    assert!(error.to_string().contains("not a drift test"), "{error}");
}

fn numeric_batch(columns: &[(&str, Vec<f64>)]) -> Batch {
    Batch {
        columns: columns
            .iter()
            .map(|(name, values)| Column {
                name: (*name).into(),
                data: ColumnData::Numeric(values.clone()),
            })
            .collect(),
    }
}

/// Deterministic values spread over [-1, 1), with a trend so that columns differ.
fn wave(rows: usize, phase: f64) -> Vec<f64> {
    (0..rows)
        .map(|i| ((i as f64 * 0.618_033_988_7 + phase) % 1.0) * 2.0 - 1.0)
        .collect()
}

/// A window of half a million rows costs MMD its subsample, not its size: the call stays well within
/// the deadline, and large windows of PCA too.
#[test]
fn large_windows_stay_within_the_limits() {
    let runtime = runtime();
    let reference = numeric_batch(&[("a", wave(5_000, 0.1)), ("b", wave(5_000, 0.7))]);
    let window = numeric_batch(&[("a", wave(500_000, 0.3)), ("b", wave(500_000, 0.9))]);
    for package in ["drift-mmd", "drift-pca"] {
        let plugin = load(&runtime, package);
        let mut session = plugin
            .multivariate_test(runtime.shared(), &reference, "{}")
            .unwrap_or_else(|e| panic!("{package}: {e}"));
        let started = Instant::now();
        let result = session
            .evaluate(&window)
            .unwrap_or_else(|e| panic!("{package}: {e}"));
        assert!(result.statistic.is_finite(), "{package}: {result:?}");
        let took = started.elapsed();
        assert!(took < runtime.config().deadline, "{package} took {took:?}");
    }
}

/// Settings that ask for more work than a call may take run into the deadline: a typed
/// timeout, the session refusing further calls, and the runtime still usable.
#[test]
fn an_mmd_past_its_deadline_is_a_timeout_not_a_hang() {
    let runtime = runtime();
    let plugin = load(&runtime, "drift-mmd");
    let reference = numeric_batch(&[("a", wave(2_000, 0.1)), ("b", wave(2_000, 0.2))]);
    let mut session = plugin
        .multivariate_test(
            runtime.shared(),
            &reference,
            r#"{"max_samples": 1000, "permutations": 10000}"#,
        )
        .unwrap();
    let started = Instant::now();
    let error = session.evaluate(&reference).err().unwrap();
    assert_eq!(error.kind(), "timeout", "{error}");
    assert!(started.elapsed() < runtime.config().deadline * 3);
    assert_eq!(
        session.evaluate(&reference).err().unwrap().kind(),
        "poisoned"
    );
    let mut fresh = plugin
        .multivariate_test(runtime.shared(), &reference, "{}")
        .unwrap();
    assert!(fresh.evaluate(&reference).is_ok());
}

/// A component for `world` in `wit` (a package that may use `vigil:plugin@0.2.0`), with
/// bodies that only trap.
fn component(wit: &str, world: &str) -> Vec<u8> {
    let mut resolve = Resolve::default();
    resolve.push_dir(workspace().join("wit")).unwrap();
    let package = resolve.push_str("case.wit", wit).unwrap();
    let world = resolve.select_world(&[package], Some(world)).unwrap();
    let mut module = dummy_module(&resolve, world, ManglingAndAbi::Standard32);
    embed_component_metadata(&mut module, &resolve, world, StringEncoding::UTF8).unwrap();
    ComponentEncoder::default()
        .module(&module)
        .unwrap()
        .validate(true)
        .encode()
        .unwrap()
}

fn refused(wit: &str, world: &str) -> String {
    match runtime().load(&component(wit, world)) {
        Err(Error::InvalidComponent(message)) => message,
        Err(other) => panic!("expected InvalidComponent, got {other}"),
        Ok(plugin) => panic!("accepted {:?}", plugin.info()),
    }
}

#[test]
fn multivariate_components_of_the_wrong_shape_are_refused() {
    let message = refused(
        "package acme:noinfo; world w { export vigil:plugin/multivariate-drift-test@0.2.0; }",
        "w",
    );
    assert!(message.contains("`info`"), "{message}");
    let message = refused(
        "package acme:shape; world w { export info: func() -> string;
         export vigil:plugin/multivariate-drift-test@0.2.0; }",
        "w",
    );
    assert!(
        message.contains("`multivariate-drift-test-plugin` world"),
        "{message}"
    );
    let message = refused(
        "package acme:both; world w { use vigil:plugin/types@0.2.0.{plugin-info};
         export info: func() -> plugin-info; export vigil:plugin/multivariate-drift-test@0.2.0;
         export vigil:plugin/drift-test@0.2.0; }",
        "w",
    );
    assert!(message.contains("several plugin interfaces"), "{message}");
    let message = refused(
        "package vigil:plugin@0.1.0; interface multivariate-drift-test { go: func() -> f64; }
         world w { export info: func() -> string; export multivariate-drift-test; }",
        "w",
    );
    assert!(
        message.contains("vigil:plugin/multivariate-drift-test@0.1.0"),
        "{message}"
    );
}

/// The whole world as the SDK builds it, bodies trapping: the shape itself loads as far as
/// its `info` call, which traps (so nothing but the shape was checked before it ran).
#[test]
fn the_world_itself_passes_the_shape_checks() {
    let bytes = component(
        "package acme:mv; world w { include vigil:plugin/multivariate-drift-test-plugin@0.2.0; }",
        "w",
    );
    match runtime().load(&bytes) {
        Err(Error::Trap { .. }) => {}
        Err(other) => panic!("expected the info call to trap, got {other}"),
        Ok(plugin) => panic!("accepted {:?}", plugin.info()),
    }
}

/// Every way a multivariate plugin can fail in `evaluate` costs a typed error, nothing else:
/// the runtime serves the next call, and a malformed result is refused like a drift test's.
#[test]
fn a_hostile_multivariate_plugin_is_contained() {
    let runtime = runtime();
    let plugin = load(&runtime, "hostile-multivariate");
    assert_eq!(plugin.info().kind, PluginKind::MultivariateDriftTest);
    let batch = numeric_batch(&[("a", vec![1.0, 2.0]), ("b", vec![3.0, 4.0])]);
    for (mode, kind) in [
        ("loop", "timeout"),
        ("memory-bomb", "out_of_memory"),
        ("recursion", "stack_overflow"),
        ("panic", "trap"),
        ("refuse", "plugin_error"),
        ("nan-statistic", "invalid_output"),
        ("contradiction", "invalid_output"),
        ("p-value-two", "invalid_output"),
    ] {
        let config = format!(r#"{{"mode": "{mode}"}}"#);
        let mut session = plugin
            .multivariate_test(runtime.shared(), &batch, &config)
            .unwrap();
        let error = session.evaluate(&batch).err().unwrap();
        assert_eq!(error.kind(), kind, "{mode}: {error}");
        let mut fresh = plugin
            .multivariate_test(runtime.shared(), &batch, r#"{"mode": "behave"}"#)
            .unwrap();
        assert_eq!(
            fresh.evaluate(&batch).unwrap().statistic,
            2.0,
            "after {mode}"
        );
    }
}
