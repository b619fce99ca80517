//! The detector against the plain Python CUSUM in `tests/reference/generate_detectors.py` (River
//! has none), on the cases in `tests/reference/detectors.json`: fed whole, in chunks of varying
//! sizes, and with a snapshot and restore at every split, it must report exactly the reference's
//! detection indices each time.

use vigil_plugin_stats::detector_harness as reference;

#[test]
fn matches_the_reference_definition() {
    reference::check::<detect_cusum::Cusum>("cusum", 16);
}
