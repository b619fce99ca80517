//! The reference test of the multivariate drift tests: each case of a file in
//! `tests/reference/` (written by `generate_mmd.py` or `generate_pca.py`) run through the plugin
//! the way the host runs it, statistic and p-value compared within stated bounds, the worst
//! error printed.
//!
//! A case is `{"name", "reference": [{"name", "values"}], "current": [...], "config": {...},
//! "expected": {"statistic", "p_value", "threshold"?} | {"error": "invalid-input" |
//! "invalid-config"}}`. A column holding a string other than `"inf"`/`"-inf"` is categorical;
//! `null` is a missing value.

use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;
use vigil_plugin_sdk::testing::multivariate_drift_test;
use vigil_plugin_sdk::{Batch, Column, ColumnData, Error, MultivariateDriftTest};

use crate::harness::Bound;

#[derive(Deserialize)]
struct ReferenceFile {
    generated_by: String,
    cases: Vec<Value>,
}

/// A JSON batch of the reference files.
pub fn batch(columns: &Value) -> Batch {
    let columns = columns
        .as_array()
        .expect("a batch is a list of columns")
        .iter()
        .map(|column| {
            let name = column["name"]
                .as_str()
                .expect("a column's name")
                .to_string();
            let values = column["values"].as_array().expect("a column's values");
            let categorical = values
                .iter()
                .any(|v| v.as_str().is_some_and(|s| s != "inf" && s != "-inf"));
            let data = if categorical {
                ColumnData::categorical(values.iter().map(Value::as_str))
            } else {
                ColumnData::numeric(
                    values
                        .iter()
                        .map(|v| match v.as_str() {
                            Some("inf") => f64::INFINITY,
                            Some(_) => f64::NEG_INFINITY,
                            None => v.as_f64().unwrap_or(f64::NAN),
                        })
                        .collect::<Vec<_>>(),
                )
            };
            Column { name, data }
        })
        .collect();
    Batch { columns }
}

/// The cases of `tests/reference/{file}`, checked to come from `generator`.
pub fn cases(file: &str, generator: &str) -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/reference")
        .join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let parsed: ReferenceFile = serde_json::from_str(&text).expect("a reference file");
    assert!(
        parsed.generated_by.ends_with(generator),
        "{file} was written by {}",
        parsed.generated_by
    );
    parsed.cases
}

/// Runs every case with an `expected` outcome through `P`; the statistic (and the threshold
/// when the file gives one) must hold within `statistic`, the p-value exactly. Panics with the
/// mismatches; returns the number of cases run.
pub fn check_multivariate_file<P: MultivariateDriftTest>(
    file: &str,
    generator: &str,
    statistic: Bound,
) -> usize {
    let mut failures = Vec::new();
    let mut worst = (0.0f64, String::new());
    let mut run = 0;
    for case in cases(file, generator) {
        let Some(expected) = case.get("expected") else {
            continue;
        };
        run += 1;
        let name = case["name"].as_str().unwrap_or("?");
        let outcome = multivariate_drift_test::<P>(
            batch(&case["reference"]),
            batch(&case["current"]),
            &case["config"].to_string(),
        );
        if let Some(kind) = expected.get("error").and_then(Value::as_str) {
            let matches = matches!(
                (&outcome, kind),
                (Err(Error::InvalidInput(_)), "invalid-input")
                    | (Err(Error::InvalidConfig(_)), "invalid-config")
            );
            if !matches {
                failures.push(format!("{name}: expected {kind}, got {outcome:?}"));
            }
            continue;
        }
        let result = match outcome {
            Ok(result) => result,
            Err(e) => {
                failures.push(format!("{name}: {e:?}"));
                continue;
            }
        };
        let mut compare = |what: &str, got: f64, want: f64| {
            if !statistic.holds(got, want) {
                failures.push(format!("{name}: {what} {got:e}, expected {want:e}"));
            }
            // Values of rounding size pass on the absolute bound; their relative error says
            // nothing.
            let error = if got == want || want.abs() <= statistic.absolute {
                0.0
            } else {
                ((got - want) / want).abs()
            };
            if error > worst.0 {
                worst = (error, format!("{name} ({what})"));
            }
        };
        compare(
            "statistic",
            result.statistic,
            expected["statistic"].as_f64().unwrap(),
        );
        if let Some(threshold) = expected.get("threshold").and_then(Value::as_f64) {
            compare("threshold", result.threshold, threshold);
        }
        let p_value = expected.get("p_value").and_then(Value::as_f64);
        if result.p_value != p_value {
            failures.push(format!(
                "{name}: p-value {:?}, expected {p_value:?}",
                result.p_value
            ));
        }
        if let Some(drifted) = expected.get("drifted").and_then(Value::as_bool)
            && result.drifted != drifted
        {
            failures.push(format!(
                "{name}: drifted {}, expected {drifted}",
                result.drifted
            ));
        }
    }
    eprintln!("{file}: worst relative error {:e} at {}", worst.0, worst.1);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    run
}
