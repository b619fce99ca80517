//! Every case of `tests/reference/chi2.json` (written by `generate_chi2.py` from
//! `scipy.stats.chi2_contingency(table, correction=False)`) run through the plugin.
//!
//! Tolerances: the statistic within 1e-12, absolute or relative to its size (statistics run
//! into the thousands, where 1e-12 absolute is below one ulp); the p-value within 1e-6
//! relative wherever SciPy's value is a normal double, however small, and within 1e-12
//! absolute where it underflowed to zero or a subnormal.

use std::path::PathBuf;

use drift_chi2::Chi2;
use serde::Deserialize;
use serde_json::Value;
use vigil_plugin_sdk::testing::drift_test;
use vigil_plugin_sdk::{ColumnData, Error};

const STATISTIC_TOLERANCE: f64 = 1e-12;
const P_VALUE_RELATIVE_TOLERANCE: f64 = 1e-6;
const P_VALUE_ABSOLUTE_TOLERANCE: f64 = 1e-12;
const DEFAULT_THRESHOLD: f64 = 0.05;

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
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/reference/chi2.json");
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

/// The largest deviations seen, for the report printed at the end.
#[derive(Default)]
struct Worst {
    statistic_abs: (f64, String),
    statistic_rel: (f64, String),
    p_rel: (f64, String),
    p_rel_below_1e10: (f64, String),
}

fn raise(slot: &mut (f64, String), error: f64, name: &str) {
    if error > slot.0 {
        *slot = (error, name.to_string());
    }
}

fn relative(got: f64, expected: f64) -> f64 {
    if got == expected {
        0.0
    } else {
        ((got - expected) / expected).abs()
    }
}

/// Checks one case; `Err` describes the mismatch.
fn check(case: &Case, worst: &mut Worst) -> Result<(), String> {
    let config = case.config.to_string();
    let result = drift_test::<Chi2>(
        column(&case.kind, &case.reference),
        column(&case.kind, &case.current),
        &config,
    );
    let (statistic, p_value) = match (&case.expected, result) {
        (Expected::Error { error }, Err(Error::InvalidInput(_))) if error == "invalid-input" => {
            return Ok(());
        }
        (Expected::Error { error }, other) => {
            return Err(format!("expected error {error}, got {other:?}"));
        }
        (Expected::Value { .. }, Err(e)) => return Err(format!("unexpected error {e:?}")),
        (Expected::Value { statistic, p_value }, Ok(result)) => {
            let threshold = case.config["threshold"]
                .as_f64()
                .unwrap_or(DEFAULT_THRESHOLD);
            let Some(expected_p) = *p_value else {
                return Err("the reference file lacks a p-value".into());
            };
            let Some(p) = result.p_value else {
                return Err("the plugin returned no p-value".into());
            };
            if result.threshold != threshold || result.drifted != (p < threshold) {
                return Err(format!(
                    "threshold {} / drifted {} inconsistent with p = {p:e} and threshold \
                     {threshold}",
                    result.threshold, result.drifted
                ));
            }
            ((result.statistic, *statistic), (p, expected_p))
        }
    };

    let (got, expected) = statistic;
    let abs_error = (got - expected).abs();
    raise(&mut worst.statistic_abs, abs_error, &case.name);
    raise(
        &mut worst.statistic_rel,
        relative(got, expected),
        &case.name,
    );
    if abs_error > STATISTIC_TOLERANCE.max(STATISTIC_TOLERANCE * expected.abs()) {
        return Err(format!("statistic {got:e}, expected {expected:e}"));
    }

    let (got, expected) = p_value;
    if expected.is_normal() {
        let error = relative(got, expected);
        raise(&mut worst.p_rel, error, &case.name);
        if expected < 1e-10 {
            raise(&mut worst.p_rel_below_1e10, error, &case.name);
        }
        if error > P_VALUE_RELATIVE_TOLERANCE {
            return Err(format!(
                "p-value {got:e}, expected {expected:e} (relative error {error:e})"
            ));
        }
    } else if (got - expected).abs() > P_VALUE_ABSOLUTE_TOLERANCE {
        return Err(format!("p-value {got:e}, expected {expected:e}"));
    }
    Ok(())
}

#[test]
fn matches_scipy_chi2_contingency() {
    let file = load();
    assert_eq!(file.generated_by, "tests/reference/generate_chi2.py");
    assert!(!file.cases.is_empty());

    let mut worst = Worst::default();
    let failures: Vec<String> = file
        .cases
        .iter()
        .filter_map(|case| {
            check(case, &mut worst)
                .err()
                .map(|e| format!("{}: {e}", case.name))
        })
        .collect();

    println!("{} cases", file.cases.len());
    for (what, (error, name)) in [
        ("statistic, absolute", &worst.statistic_abs),
        ("statistic, relative", &worst.statistic_rel),
        ("p-value, relative", &worst.p_rel),
        ("p-value < 1e-10, relative", &worst.p_rel_below_1e10),
    ] {
        println!("worst {what}: {error:e} ({name})");
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        file.cases.len(),
        failures.join("\n")
    );
}
