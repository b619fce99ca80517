//! The standardizer against numpy, on the cases in `tests/reference/standardize.json` (written
//! by `generate_standardize.py`). Every output value must lie within 1e-12 (relative) of
//! numpy's, missing values must stay missing, and categorical columns must pass through.

use preprocess_standardize::Standardize;
use vigil_plugin_stats::preprocess_harness::check_preprocessor_file;

#[test]
fn matches_numpy() {
    let cases = check_preprocessor_file::<Standardize>(
        "standardize.json",
        "generate_standardize.py",
        1e-12,
    );
    assert!(cases >= 5, "the reference holds every scenario");
}
