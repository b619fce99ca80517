//! `drift-mmd` against the NumPy computation of `tests/reference/generate_mmd.py`
//! (`mmd.json`): the statistic within 1e-9 relative (or 1e-12 absolute, for an MMD² near 0,
//! where the sums it is the difference of carry the rounding of `exp`), the p-value exactly,
//! since both draw the same permutations; and NumPy's permutations themselves.

use drift_mmd::Mmd;
use vigil_plugin_stats::harness::Bound;
use vigil_plugin_stats::multivariate_harness::{cases, check_multivariate_file};
use vigil_plugin_stats::numpy_random::RandomState;

#[test]
fn matches_numpy() {
    let run = check_multivariate_file::<Mmd>(
        "mmd.json",
        "generate_mmd.py",
        Bound {
            relative: 1e-9,
            absolute: 1e-12,
        },
    );
    assert!(run >= 30, "only {run} cases");
}

#[test]
fn permutations_are_numpys() {
    let cases = cases("mmd.json", "generate_mmd.py");
    let case = cases
        .iter()
        .find(|c| c["name"] == "numpy_permutations")
        .expect("the permutations case");
    let permutations = case["permutations"].as_object().unwrap();
    assert_eq!(permutations.len(), 4);
    for (seed, expected) in permutations {
        let expected: Vec<usize> = serde_json::from_value(expected.clone()).unwrap();
        let got = RandomState::new(seed.parse().unwrap()).permutation(expected.len());
        assert_eq!(got, expected, "seed {seed}");
    }
}
