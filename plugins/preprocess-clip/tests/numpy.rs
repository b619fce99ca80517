//! The clipper against `np.clip` and `np.nanquantile`, on `tests/reference/clip.json` (written
//! by `generate_clip.py`), within 1e-9 relative.

use preprocess_clip::Clip;
use vigil_plugin_stats::preprocess_harness::{RELATIVE, check_preprocessor_file};

#[test]
fn matches_numpy() {
    let cases = check_preprocessor_file::<Clip>("clip.json", "generate_clip.py", RELATIVE);
    assert!(cases >= 5, "the reference holds every scenario");
}
