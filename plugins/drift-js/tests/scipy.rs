//! Every case of `tests/reference/js.json` (written by `generate_js.py`: jensenshannon(base=2) on the
//! shared bins) run through the plugin as the host runs it; the distance within 1e-9 relative.

use drift_js::Js;
use vigil_plugin_stats::harness::{Bound, Expectations, check_reference_file};

#[test]
fn matches_reference_values() {
    check_reference_file::<Js>(
        "js.json",
        "tests/reference/generate_js.py",
        Expectations {
            statistic: Bound::TIGHT,
            p_value: Bound::TIGHT,
            default_threshold: 0.1,
        },
    );
}
