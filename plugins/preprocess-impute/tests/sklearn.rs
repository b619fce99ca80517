//! The imputer against scikit-learn's `SimpleImputer`, on `tests/reference/impute.json`
//! (written by `generate_impute.py`), within 1e-9 relative.

use preprocess_impute::Impute;
use vigil_plugin_stats::preprocess_harness::{RELATIVE, check_preprocessor_file};

#[test]
fn matches_scikit_learn() {
    let cases = check_preprocessor_file::<Impute>("impute.json", "generate_impute.py", RELATIVE);
    assert!(cases >= 8, "the reference holds every scenario");
}
