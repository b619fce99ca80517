//! The encoder against scikit-learn's `OneHotEncoder`, on `tests/reference/onehot.json`
//! (written by `generate_onehot.py`).

use preprocess_onehot::OneHot;
use vigil_plugin_stats::preprocess_harness::{RELATIVE, check_preprocessor_file};

#[test]
fn matches_scikit_learn() {
    let cases = check_preprocessor_file::<OneHot>("onehot.json", "generate_onehot.py", RELATIVE);
    assert!(cases >= 5, "the reference holds every scenario");
}
