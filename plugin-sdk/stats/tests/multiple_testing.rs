//! The corrections against SciPy (`tests/reference/multiple_testing.json`, written by
//! `generate_multiple_testing.py`): computed in the same order of operations, so they must
//! agree to the last bit, ties and values clipped at 1 included.

use std::path::PathBuf;

use serde::Deserialize;
use vigil_plugin_stats::multiple_testing::Correction;

#[derive(Deserialize)]
struct File {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    p_values: Vec<f64>,
    benjamini_hochberg: Vec<f64>,
    bonferroni: Vec<f64>,
}

fn cases() -> Vec<Case> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/reference/multiple_testing.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str::<File>(&text).unwrap().cases
}

#[test]
fn corrections_match_scipy_exactly() {
    let cases = cases();
    assert!(cases.len() >= 9);
    for case in cases {
        for (correction, expected) in [
            (Correction::BenjaminiHochberg, &case.benjamini_hochberg),
            (Correction::Bonferroni, &case.bonferroni),
            (Correction::None, &case.p_values),
        ] {
            assert_eq!(
                &correction.adjust(&case.p_values),
                expected,
                "{} with {}",
                case.name,
                correction.name()
            );
        }
    }
}
