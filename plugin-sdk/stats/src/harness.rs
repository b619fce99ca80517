//! The reference test every drift-test plugin runs: each case of a file in `tests/reference/`
//! (written by a committed SciPy script) run through the plugin the way the host runs it, the
//! statistic and p-value compared within stated bounds, the worst errors printed.
//!
//! A case is `{"name", "kind": "numeric" | "categorical", "reference": [...], "current": [...],
//! "config": {...}, "expected": {"statistic", "p_value"} | {"error": "invalid-input"}}`, with
//! `null` for a missing value.

use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;
use vigil_plugin_sdk::testing::drift_test;
use vigil_plugin_sdk::{ColumnData, DriftResult, DriftTest, Error, ScoreKind};

/// How far a value may be from the reference: it passes when within either bound.
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    /// Relative to the reference value.
    pub relative: f64,
    /// Absolute, for values at or near zero (or underflowed).
    pub absolute: f64,
}

impl Bound {
    /// The bound the drift tests are held to: 1e-9 relative (1e-300 absolute, so that only an
    /// exact zero or a subnormal passes on the absolute bound).
    pub const TIGHT: Bound = Bound {
        relative: 1e-9,
        absolute: 1e-300,
    };

    /// Whether `got` is within the bound of `expected`.
    pub fn holds(self, got: f64, expected: f64) -> bool {
        got == expected
            || (got - expected).abs() <= self.absolute
            || relative(got, expected) <= self.relative
    }
}

/// The bounds for one plugin, and its threshold when a case's config sets none.
#[derive(Debug, Clone, Copy)]
pub struct Expectations {
    /// The statistic's bound.
    pub statistic: Bound,
    /// The p-value's bound (ignored for distances, which must have no p-value).
    pub p_value: Bound,
    /// The plugin's default threshold.
    pub default_threshold: f64,
}

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

/// A column from JSON values: numbers (`null` as NaN) or labels (`null` as missing).
pub fn column(kind: &str, values: &[Value]) -> ColumnData {
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

fn relative(got: f64, expected: f64) -> f64 {
    if got == expected {
        0.0
    } else {
        ((got - expected) / expected).abs()
    }
}

/// The worst relative error seen, and where.
#[derive(Default)]
struct Worst(f64, String);

impl Worst {
    fn raise(&mut self, got: f64, expected: f64, name: &str) {
        let error = relative(got, expected);
        if error > self.0 {
            *self = Worst(error, name.to_string());
        }
    }
}

/// Runs every case of `tests/reference/{file}` through `P` and panics with the list of
/// mismatches, if any; `generator` is the script the file must say wrote it.
pub fn check_reference_file<P: DriftTest>(file: &str, generator: &str, expect: Expectations) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/reference")
        .join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let reference: ReferenceFile =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(reference.generated_by, generator);
    assert!(!reference.cases.is_empty(), "{file} has no cases");

    let (mut statistic, mut p_value) = (Worst::default(), Worst::default());
    let mut failures = Vec::new();
    for case in &reference.cases {
        let result = drift_test::<P>(
            column(&case.kind, &case.reference),
            column(&case.kind, &case.current),
            &case.config.to_string(),
        );
        if let Err(e) = check::<P>(case, result, expect, &mut statistic, &mut p_value) {
            failures.push(format!("{}: {e}", case.name));
        }
    }
    println!("{}: {} cases", file, reference.cases.len());
    println!(
        "worst relative error of the statistic: {:e} ({})",
        statistic.0, statistic.1
    );
    println!(
        "worst relative error of the p-value: {:e} ({})",
        p_value.0, p_value.1
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        reference.cases.len(),
        failures.join("\n")
    );
}

fn check<P: DriftTest>(
    case: &Case,
    result: Result<DriftResult, Error>,
    expect: Expectations,
    worst_statistic: &mut Worst,
    worst_p_value: &mut Worst,
) -> Result<(), String> {
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

    let threshold = case.config["threshold"]
        .as_f64()
        .unwrap_or(expect.default_threshold);
    let drifted = match (P::SCORE, result.p_value) {
        (ScoreKind::PValue, Some(p)) => p < threshold,
        (ScoreKind::PValue, None) => return Err("the plugin returned no p-value".into()),
        (_, _) => result.statistic >= threshold,
    };
    if result.threshold != threshold || result.drifted != drifted {
        return Err(format!(
            "threshold {} / drifted {} inconsistent with statistic {:e}, p-value {:?} and \
             threshold {threshold}",
            result.threshold, result.drifted, result.statistic, result.p_value
        ));
    }

    let got = result.statistic;
    worst_statistic.raise(got, expected_statistic, &case.name);
    if !expect.statistic.holds(got, expected_statistic) {
        return Err(format!(
            "statistic {got:e}, expected {expected_statistic:e} (relative error {:e})",
            relative(got, expected_statistic)
        ));
    }
    match (result.p_value, expected_p) {
        (None, None) => Ok(()),
        (Some(got), Some(expected)) => {
            worst_p_value.raise(got, expected, &case.name);
            if expect.p_value.holds(got, expected) {
                Ok(())
            } else {
                Err(format!(
                    "p-value {got:e}, expected {expected:e} (relative error {:e})",
                    relative(got, expected)
                ))
            }
        }
        (got, expected) => Err(format!("p-value {got:?}, expected {expected:?}")),
    }
}
