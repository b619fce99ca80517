//! The hasher against scikit-learn's `FeatureHasher`, on `tests/reference/hash.json` (written
//! by `generate_hash.py`).

use preprocess_hash::Hash;
use vigil_plugin_stats::preprocess_harness::{RELATIVE, check_preprocessor_file};

#[test]
fn matches_scikit_learn() {
    let cases = check_preprocessor_file::<Hash>("hash.json", "generate_hash.py", RELATIVE);
    assert!(cases >= 4, "the reference holds every scenario");
}
