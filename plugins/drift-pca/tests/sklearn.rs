//! `drift-pca` against scikit-learn (`tests/reference/generate_pca.py`, `pca.json`): the
//! statistic and the derived threshold within 1e-9 relative, or 1e-12 absolute for errors of
//! rounding size (exactly collinear columns). The components come from an eigendecomposition
//! of the covariance matrix where scikit-learn takes an SVD of the data; both give the same
//! projection up to rounding.

use drift_pca::Pca;
use vigil_plugin_stats::harness::Bound;
use vigil_plugin_stats::multivariate_harness::check_multivariate_file;

#[test]
fn matches_scikit_learn() {
    let run = check_multivariate_file::<Pca>(
        "pca.json",
        "generate_pca.py",
        Bound {
            relative: 1e-9,
            absolute: 1e-12,
        },
    );
    assert!(run >= 30, "only {run} cases");
}
