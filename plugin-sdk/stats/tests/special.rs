//! Measures the distribution functions against SciPy (`tests/reference/special.json`, written
//! by `generate_special.py`): what [`vigil_plugin_stats::special`] provides must be within 1e-9
//! relative everywhere on the grid; statrs's own distributions are measured alongside and the
//! worst errors printed (`cargo test -p vigil-plugin-stats --test special -- --nocapture`).
//!
//! Measured (statrs 0.19, SciPy 1.17.1): `ChiSquared::sf` within 5e-12 and `Normal::sf` within
//! 1e-10, so both are used as they are; `Hypergeometric::pmf` is NaN for populations in the
//! thousands, so the pmf is built from statrs's `ln_gamma` instead (within 3e-12);
//! `StudentsT::sf` is off by up to 8e-7 relative for large degrees of freedom (it returns
//! exactly 0.5 for small arguments), so the t survival function is hand-written: within 1e-9
//! up to 1e7 degrees of freedom (the grid's end; at 1e8 it measured 1.7e-9, at 3e9 6e-8, where
//! `df / (df + x²)` sits within 1e-8 of 1 and the continued fraction loses digits).

use std::path::PathBuf;

use serde::Deserialize;
use statrs::distribution::{
    ChiSquared, ContinuousCDF, Discrete, Hypergeometric, Normal, StudentsT,
};
use vigil_plugin_stats::special;

const TOLERANCE: f64 = 1e-9;

#[derive(Deserialize)]
struct File {
    generated_by: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    function: String,
    args: Vec<f64>,
    value: f64,
}

fn relative(got: f64, expected: f64) -> f64 {
    if got == expected {
        0.0
    } else {
        ((got - expected) / expected).abs()
    }
}

fn statrs_chi2_sf(df: f64, x: f64) -> f64 {
    ChiSquared::new(df).unwrap().sf(x)
}

#[test]
fn distribution_functions_match_scipy() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/reference/special.json");
    let file: File = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(file.generated_by, "tests/reference/generate_special.py");

    // (function, used or statrs) -> (worst relative error, its arguments)
    let mut worst: std::collections::BTreeMap<String, (f64, Vec<f64>)> = Default::default();
    let mut failures = Vec::new();
    for case in &file.cases {
        let a = &case.args;
        let (used, statrs) = match case.function.as_str() {
            "chi2_sf" => (special::chi2_sf(a[0], a[1]), statrs_chi2_sf(a[0], a[1])),
            "normal_sf" => (special::normal_sf(a[0]), Normal::standard().sf(a[0])),
            "t_sf" => (
                special::t_sf(a[0], a[1]),
                StudentsT::new(0.0, 1.0, a[0]).unwrap().sf(a[1]),
            ),
            "hypergeom_pmf" => {
                let [k, n, s, d] = [a[0], a[1], a[2], a[3]].map(|v| v as u64);
                (
                    special::hypergeom_pmf(k, n, s, d),
                    Hypergeometric::new(n, s, d).unwrap().pmf(k),
                )
            }
            other => panic!("unknown function {other}"),
        };
        for (which, got) in [("used", used), ("statrs", statrs)] {
            let error = relative(got, case.value);
            let slot = worst
                .entry(format!("{} ({which})", case.function))
                .or_insert((0.0, Vec::new()));
            if error > slot.0 || error.is_nan() {
                *slot = (error, a.clone());
            }
        }
        let error = relative(used, case.value);
        if error.is_nan() || error > TOLERANCE {
            failures.push(format!(
                "{}{:?}: {used:e}, SciPy {:e} (relative error {error:e})",
                case.function, a, case.value
            ));
        }
    }
    for (name, (error, args)) in &worst {
        println!("worst relative error of {name}: {error:e} at {args:?}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
