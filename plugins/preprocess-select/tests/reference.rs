//! The selection against `tests/reference/select.json` (written by `generate_select.py`).

use preprocess_select::Select;
use vigil_plugin_stats::preprocess_harness::{RELATIVE, check_preprocessor_file};

#[test]
fn matches_the_reference() {
    let cases = check_preprocessor_file::<Select>("select.json", "generate_select.py", RELATIVE);
    assert!(cases >= 4, "the reference holds every scenario");
}
