//! The binning against `np.quantile` and `np.searchsorted`, on `tests/reference/bin.json`
//! (written by `generate_bin.py`): every label must match.

use preprocess_bin::Bin;
use vigil_plugin_stats::preprocess_harness::{RELATIVE, check_preprocessor_file};

#[test]
fn matches_numpy() {
    let cases = check_preprocessor_file::<Bin>("bin.json", "generate_bin.py", RELATIVE);
    assert!(cases >= 5, "the reference holds every scenario");
}
