//! Every case of `tests/reference/psi.json` (written by `generate_psi.py` from a NumPy
//! implementation of the definition) run through the plugin.
//!
//! Tolerance: the index within 1e-12 absolute (PSI values here stay below 20, so this is also
//! within a few ulps relative); the p-value must be absent.

use std::path::PathBuf;

use drift_psi::Psi;
use serde::Deserialize;
use serde_json::Value;
use vigil_plugin_sdk::testing::drift_test;
use vigil_plugin_sdk::{ColumnData, Error};

const STATISTIC_TOLERANCE: f64 = 1e-12;
const DEFAULT_THRESHOLD: f64 = 0.1;

#[derive(Deserialize)]
struct ReferenceFile {
    generated_by: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    kind: String,
    reference: Vec<Value>,
    current: Vec<Value>,
    config: Value,
    expected: Expected,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Expected {
    Error {
        error: String,
    },
    Value {
        statistic: f64,
        p_value: Option<f64>,
    },
}

fn load() -> ReferenceFile {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/reference/psi.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn column(kind: &str, values: &[Value]) -> ColumnData {
    match kind {
        "numeric" => ColumnData::numeric(
            values
                .iter()
                .map(|v| v.as_f64().unwrap_or(f64::NAN))
                .collect::<Vec<_>>(),
        ),
        "categorical" => ColumnData::categorical(values.iter().map(Value::as_str)),
        other => panic!("unknown column kind {other:?}"),
    }
}

/// Checks one case; `Ok` carries the absolute error of the index, `Err` the mismatch.
fn check(case: &Case) -> Result<f64, String> {
    let config = case.config.to_string();
    let result = drift_test::<Psi>(
        column(&case.kind, &case.reference),
        column(&case.kind, &case.current),
        &config,
    );
    let (got, expected) = match (&case.expected, result) {
        (Expected::Error { error }, Err(Error::InvalidInput(_))) if error == "invalid-input" => {
            return Ok(0.0);
        }
        (Expected::Error { error }, other) => {
            return Err(format!("expected error {error}, got {other:?}"));
        }
        (Expected::Value { .. }, Err(e)) => return Err(format!("unexpected error {e:?}")),
        (Expected::Value { statistic, p_value }, Ok(result)) => {
            if p_value.is_some() || result.p_value.is_some() {
                return Err(format!(
                    "PSI has no p-value (reference file {p_value:?}, plugin {:?})",
                    result.p_value
                ));
            }
            let threshold = case.config["threshold"]
                .as_f64()
                .unwrap_or(DEFAULT_THRESHOLD);
            if result.threshold != threshold || result.drifted != (result.statistic >= threshold) {
                return Err(format!(
                    "threshold {} / drifted {} inconsistent with psi = {} and threshold \
                     {threshold}",
                    result.threshold, result.drifted, result.statistic
                ));
            }
            (result.statistic, *statistic)
        }
    };
    let error = (got - expected).abs();
    if error > STATISTIC_TOLERANCE {
        return Err(format!("psi {got:e}, expected {expected:e}"));
    }
    Ok(error)
}

#[test]
fn matches_numpy_definition() {
    let file = load();
    assert_eq!(file.generated_by, "tests/reference/generate_psi.py");
    assert!(!file.cases.is_empty());

    let mut worst = (0.0, String::new());
    let mut failures = Vec::new();
    for case in &file.cases {
        match check(case) {
            Ok(error) if error > worst.0 => worst = (error, case.name.clone()),
            Ok(_) => {}
            Err(e) => failures.push(format!("{}: {e}", case.name)),
        }
    }

    println!("{} cases", file.cases.len());
    println!(
        "worst absolute error of the index: {:e} ({})",
        worst.0, worst.1
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        file.cases.len(),
        failures.join("\n")
    );
}
