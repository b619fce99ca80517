//! The detector against River on the cases in `tests/reference/detectors.json` (written by
//! `generate_detectors.py`): fed whole, in chunks of varying sizes, and with a snapshot and
//! restore at every split, it must report exactly River's detection indices each time.

use vigil_plugin_stats::detector_harness as reference;

#[test]
fn matches_river() {
    reference::check::<detect_ddm::Ddm>("ddm", 12);
}
