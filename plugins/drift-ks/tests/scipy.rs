//! Every case of `tests/reference/ks.json` (written by `generate_ks.py` from
//! `scipy.stats.ks_2samp(a, b, method="auto")`) run through the plugin as the host runs it.
//!
//! Tolerances: the statistic within 1e-12 absolute; the p-value within 1e-6 relative, or
//! within 1e-12 absolute where SciPy's p-value is below 1e-10 (far in the tail, where the
//! relative error is printed but only the absolute one matters to a drift decision).
//! The statistic is not compared bit for bit because serde_json's default float parser can
//! land an ulp away from the nearest double.

use std::path::PathBuf;

use drift_ks::Ks;
use serde::Deserialize;
use serde_json::Value;
use vigil_plugin_sdk::testing::drift_test;
use vigil_plugin_sdk::{ColumnData, Error};

const STATISTIC_TOLERANCE: f64 = 1e-12;
const P_VALUE_RELATIVE_TOLERANCE: f64 = 1e-6;
const P_VALUE_ABSOLUTE_TOLERANCE: f64 = 1e-12;
const TINY_P_VALUE: f64 = 1e-10;
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
    Error { error: String },
    Value { statistic: f64, p_value: f64 },
}

fn load() -> ReferenceFile {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/reference/ks.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A numeric column, `null` (a missing value) as NaN.
fn column(values: &[Value]) -> ColumnData {
    ColumnData::numeric(
        values
            .iter()
            .map(|v| v.as_f64().unwrap_or(f64::NAN))
            .collect::<Vec<_>>(),
    )
}

/// The largest deviations seen, for the report printed at the end.
#[derive(Default)]
struct Worst {
    statistic_abs: (f64, String),
    p_rel: (f64, String),
    p_rel_tiny: (f64, String),
    p_abs_tiny: (f64, String),
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
    if case.kind != "numeric" {
        return Err(format!("unexpected column kind {:?}", case.kind));
    }
    let config = case.config.to_string();
    let result = drift_test::<Ks>(column(&case.reference), column(&case.current), &config);
    let (expected_statistic, expected_p, result) = match (&case.expected, result) {
        (Expected::Error { error }, Err(Error::InvalidInput(_))) if error == "invalid-input" => {
            return Ok(());
        }
        (Expected::Error { error }, other) => {
            return Err(format!("expected error {error}, got {other:?}"));
        }
        (Expected::Value { .. }, Err(e)) => return Err(format!("unexpected error {e:?}")),
        (Expected::Value { statistic, p_value }, Ok(result)) => (*statistic, *p_value, result),
    };

    let statistic = result.statistic;
    let Some(p) = result.p_value else {
        return Err("the plugin returned no p-value".into());
    };
    let threshold = case.config["threshold"]
        .as_f64()
        .unwrap_or(DEFAULT_THRESHOLD);
    if result.threshold != threshold || result.drifted != (p < threshold) {
        return Err(format!(
            "threshold {} / drifted {} inconsistent with p = {p:e} and threshold {threshold}",
            result.threshold, result.drifted
        ));
    }

    let statistic_error = (statistic - expected_statistic).abs();
    raise(&mut worst.statistic_abs, statistic_error, &case.name);
    if statistic_error > STATISTIC_TOLERANCE {
        return Err(format!(
            "statistic {statistic:e}, expected {expected_statistic:e} \
             (absolute error {statistic_error:e})"
        ));
    }

    let p_rel = relative(p, expected_p);
    let p_abs = (p - expected_p).abs();
    if expected_p < TINY_P_VALUE {
        if expected_p > 0.0 {
            raise(&mut worst.p_rel_tiny, p_rel, &case.name);
        }
        raise(&mut worst.p_abs_tiny, p_abs, &case.name);
        if p_abs > P_VALUE_ABSOLUTE_TOLERANCE {
            return Err(format!(
                "p-value {p:e}, expected {expected_p:e} (absolute error {p_abs:e})"
            ));
        }
    } else {
        raise(&mut worst.p_rel, p_rel, &case.name);
        if p_rel > P_VALUE_RELATIVE_TOLERANCE {
            return Err(format!(
                "p-value {p:e}, expected {expected_p:e} (relative error {p_rel:e})"
            ));
        }
    }
    Ok(())
}

#[test]
fn matches_scipy_ks_2samp() {
    let file = load();
    assert_eq!(file.generated_by, "tests/reference/generate_ks.py");
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
        ("p-value, relative", &worst.p_rel),
        ("p-value < 1e-10, relative", &worst.p_rel_tiny),
        ("p-value < 1e-10, absolute", &worst.p_abs_tiny),
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
