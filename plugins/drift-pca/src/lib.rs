//! `drift-pca`: data reconstruction drift, as NannyML's `DataReconstructionDriftCalculator`
//! computes it. The exact definitions are in docs/statistics.md ("Multivariate");
//! `tests/reference/generate_pca.py` is the same pipeline in scikit-learn.
//!
//! Fitted on the reference: missing values imputed with each column's reference mean
//! (`SimpleImputer(strategy="mean")`), columns standardized (`StandardScaler`), and a PCA
//! keeping the fewest leading components whose explained variance reaches `n_components` of
//! the total (`PCA(n_components=0.65)`). A window is imputed and standardized the same way,
//! projected onto the components and back, and its statistic is the mean Euclidean distance
//! between its rows and their reconstructions: rows the reference's structure explains
//! reconstruct well, and drift in how the columns relate raises the error even when each
//! column alone looks unchanged.
//!
//! The threshold is `threshold` when set; otherwise, as NannyML's default, the reference's own
//! spread: the reference split into `chunks` consecutive chunks (`np.array_split`), each
//! chunk's error computed, and the threshold their mean plus `std_multiplier` (3) population
//! standard deviations.

mod fit;

use schemars::JsonSchema;
use serde::Deserialize;
use vigil_plugin_sdk::{Batch, DriftResult, Error, MultivariateDriftTest, Result, ScoreKind};
use vigil_plugin_stats::columns::{reference_rows, window_rows};
use vigil_plugin_stats::outcome::{distance_result, distance_threshold};

pub use fit::Reconstruction;

/// The name the errors use.
const TEST: &str = "pca";
/// A derived threshold is at least this: when the reference reconstructs exactly (its columns
/// are exactly collinear), errors of rounding size must not count as drift.
pub const THRESHOLD_FLOOR: f64 = 1e-9;

/// The settings.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The share of the reference's variance the kept components explain, strictly between 0
    /// and 1. Default 0.65 (NannyML's).
    #[serde(default)]
    pub n_components: Option<f64>,
    /// A fixed threshold on the mean reconstruction error (positive). When absent, the
    /// threshold is derived from the reference's chunks.
    #[serde(default)]
    pub threshold: Option<f64>,
    /// Chunks the reference is split into to derive the threshold, 2 to 1000. Default 10.
    #[serde(default)]
    pub chunks: Option<usize>,
    /// Standard deviations of the chunks' errors above their mean the derived threshold lies,
    /// at least 0. Default 3 (NannyML's).
    #[serde(default)]
    pub std_multiplier: Option<f64>,
}

/// The reconstruction drift test, fitted on the reference.
pub struct Pca {
    fitted: Reconstruction,
    threshold: f64,
}

impl MultivariateDriftTest for Pca {
    type Config = Config;
    const DESCRIPTION: &'static str =
        "PCA reconstruction error of the rows (NannyML's data reconstruction drift)";
    const SCORE: ScoreKind = ScoreKind::Distance;

    fn new(reference: Batch, config: Config) -> Result<Self> {
        let share = config.n_components.unwrap_or(0.65);
        if !(share > 0.0 && share < 1.0) {
            return Err(Error::InvalidConfig(format!(
                "n_components must lie strictly between 0 and 1 (a share of the variance), got \
                 {share}"
            )));
        }
        let threshold = config.threshold.map(distance_threshold).transpose()?;
        let chunks = config.chunks.unwrap_or(10);
        if !(2..=1000).contains(&chunks) {
            return Err(Error::InvalidConfig(format!(
                "chunks must lie between 2 and 1000, got {chunks}"
            )));
        }
        let multiplier = config.std_multiplier.unwrap_or(3.0);
        if !(multiplier.is_finite() && multiplier >= 0.0) {
            return Err(Error::InvalidConfig(format!(
                "std_multiplier must be a number of at least 0, got {multiplier}"
            )));
        }
        let rows = reference_rows(reference, TEST)?;
        let fitted = Reconstruction::fit(&rows, share)?;
        let threshold = match threshold {
            Some(threshold) => threshold,
            None => fitted.derived_threshold(&rows, chunks, multiplier)?,
        };
        Ok(Pca { fitted, threshold })
    }

    fn evaluate(&self, current: Batch) -> Result<DriftResult> {
        let window = window_rows(current, self.fitted.names(), TEST)?;
        if window.is_empty() {
            return Err(Error::InvalidInput(
                "the window has no rows; `pca` needs at least one".into(),
            ));
        }
        Ok(distance_result(
            self.fitted.mean_error(&window),
            self.threshold,
        ))
    }
}

vigil_plugin_sdk::export_multivariate_drift_test!(Pca);
