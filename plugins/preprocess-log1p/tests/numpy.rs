//! The transform against `np.log1p`, on `tests/reference/log1p.json` (written by
//! `generate_log1p.py`), within 1e-9 relative.

use preprocess_log1p::Log1p;
use vigil_plugin_stats::preprocess_harness::{RELATIVE, check_preprocessor_file};

#[test]
fn matches_numpy() {
    let cases = check_preprocessor_file::<Log1p>("log1p.json", "generate_log1p.py", RELATIVE);
    assert!(cases >= 5, "the reference holds every scenario");
}
