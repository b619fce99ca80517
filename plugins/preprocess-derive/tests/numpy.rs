//! The derived columns against numpy's arithmetic, on `tests/reference/derive.json` (written by
//! `generate_derive.py`), within 1e-9 relative.

use preprocess_derive::Derive;
use vigil_plugin_stats::preprocess_harness::{RELATIVE, check_preprocessor_file};

#[test]
fn matches_numpy() {
    let cases = check_preprocessor_file::<Derive>("derive.json", "generate_derive.py", RELATIVE);
    assert!(cases >= 4, "the reference holds every scenario");
}
