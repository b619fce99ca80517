//! `drift-mmd`: the maximum mean discrepancy between the reference's and a window's rows over
//! several numeric columns, with a Gaussian (RBF) kernel and a permutation p-value, as Alibi
//! Detect's `MMDDrift` computes it. The exact definitions are in docs/statistics.md
//! ("Multivariate"); `tests/reference/generate_mmd.py` is the same computation in NumPy.
//!
//! 1. Rows with a missing value are dropped (on both sides); each side needs two rows left.
//! 2. Columns are standardized with the reference's mean and standard deviation (population;
//!    a constant column is only centred, as scikit-learn's `StandardScaler` does), so that no
//!    column outweighs the others by its units.
//! 3. A side of more than `max_samples` rows is subsampled: the rows
//!    `np.sort(RandomState(seed).permutation(n)[:max_samples])`.
//! 4. The bandwidth σ is the median of the Euclidean distances between all pairs of distinct
//!    rows of the pooled sample (1 if that median is 0); `k(x, y) = exp(-|x - y|² / (2σ²))`.
//! 5. The statistic is the unbiased estimate of MMD² (diagonal terms left out).
//! 6. The p-value is the share of `permutations` relabellings of the pooled rows, drawn with
//!    `RandomState(seed).permutation(n + m)` one after another, whose MMD² is at least the
//!    observed one (Alibi Detect's convention, so it can be 0).

mod kernel;

use schemars::JsonSchema;
use serde::Deserialize;
use vigil_plugin_sdk::{Batch, DriftResult, Error, MultivariateDriftTest, Result, ScoreKind};
use vigil_plugin_stats::columns::{Rows, reference_rows, standard_scale, window_rows};
use vigil_plugin_stats::numpy_random::RandomState;
use vigil_plugin_stats::outcome::{p_value_result, p_value_threshold};

pub use kernel::{Pooled, mmd2};

/// The name the errors use.
const TEST: &str = "mmd";
/// The cap on `max_samples`: the kernel matrix of `2 · max_samples` rows must fit the plugin's
/// memory (its upper triangle, 8 bytes a pair: 16 MB at 1000) and its permutations the call's
/// deadline.
const MAX_SAMPLES_CAP: usize = 1000;

/// The settings.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Drift when the p-value is below this; strictly between 0 and 1. Default 0.05.
    #[serde(default)]
    pub threshold: Option<f64>,
    /// Relabellings of the pooled rows for the p-value, 1 to 10000. Default 100 (Alibi
    /// Detect's `n_permutations`).
    #[serde(default)]
    pub permutations: Option<u32>,
    /// Seed of the permutations and subsamples (NumPy's `RandomState(seed)`). Default 0.
    #[serde(default)]
    pub seed: Option<u32>,
    /// Rows kept of each side, 2 to 1000; a larger side is subsampled. Default 500.
    #[serde(default)]
    pub max_samples: Option<usize>,
}

/// The MMD drift test, built from the reference.
pub struct Mmd {
    /// The reference's complete rows, standardized and subsampled.
    reference: Rows,
    /// Per column: the reference's mean and scale ([`standard_scale`]).
    scale: Vec<(f64, f64)>,
    threshold: f64,
    permutations: u32,
    seed: u32,
    max_samples: usize,
}

impl MultivariateDriftTest for Mmd {
    type Config = Config;
    const DESCRIPTION: &'static str = "Maximum mean discrepancy (RBF kernel, median-heuristic bandwidth) with a permutation p-value";
    const SCORE: ScoreKind = ScoreKind::PValue;

    fn new(reference: Batch, config: Config) -> Result<Self> {
        let threshold = p_value_threshold(config.threshold.unwrap_or(0.05))?;
        let permutations = config.permutations.unwrap_or(100);
        if !(1..=10_000).contains(&permutations) {
            return Err(Error::InvalidConfig(format!(
                "permutations must lie between 1 and 10000, got {permutations}"
            )));
        }
        let max_samples = config.max_samples.unwrap_or(500);
        if !(2..=MAX_SAMPLES_CAP).contains(&max_samples) {
            return Err(Error::InvalidConfig(format!(
                "max_samples must lie between 2 and {MAX_SAMPLES_CAP}, got {max_samples}"
            )));
        }
        let seed = config.seed.unwrap_or(0);
        let rows = complete_rows(reference_rows(reference, TEST)?, "reference")?;
        let scale = (0..rows.width())
            .map(|j| standard_scale(&rows.column(j)))
            .collect();
        let mut test = Mmd {
            reference: subsample(rows, max_samples, seed),
            scale,
            threshold,
            permutations,
            seed,
            max_samples,
        };
        test.reference = test.standardize(test.reference.clone());
        Ok(test)
    }

    fn evaluate(&self, current: Batch) -> Result<DriftResult> {
        let window = window_rows(current, &self.reference.names, TEST)?;
        let window = complete_rows(window, "window")?;
        let window = self.standardize(subsample(window, self.max_samples, self.seed));
        let pooled = Pooled::new(&self.reference, &window);
        let n = self.reference.len();
        let observed = pooled.mmd2(&identity_labels(n, pooled.len()));
        let mut rng = RandomState::new(self.seed);
        let mut at_least = 0u32;
        let mut labels = vec![false; pooled.len()];
        for _ in 0..self.permutations {
            let order = rng.permutation(pooled.len());
            labels.iter_mut().for_each(|l| *l = false);
            for &i in &order[..n] {
                labels[i] = true;
            }
            if pooled.mmd2(&labels) >= observed {
                at_least += 1;
            }
        }
        let p_value = f64::from(at_least) / f64::from(self.permutations);
        Ok(p_value_result(observed, p_value, self.threshold))
    }
}

impl Mmd {
    fn standardize(&self, mut rows: Rows) -> Rows {
        let width = rows.width();
        for (k, v) in rows.values.iter_mut().enumerate() {
            let (mean, sd) = self.scale[k % width];
            *v = (*v - mean) / sd;
        }
        rows
    }
}

/// The rows with no missing value; the unbiased estimate needs two on each side.
fn complete_rows(rows: Rows, what: &str) -> Result<Rows> {
    let all = rows.len();
    let complete = rows.complete();
    if complete.len() < 2 {
        return Err(Error::InvalidInput(format!(
            "the {what} has {} rows without a missing value (of {all}); `{TEST}` needs at \
             least 2 on each side",
            complete.len()
        )));
    }
    Ok(complete)
}

/// The rows `np.sort(RandomState(seed).permutation(n)[:max_samples])` when there are more.
fn subsample(rows: Rows, max_samples: usize, seed: u32) -> Rows {
    if rows.len() <= max_samples {
        return rows;
    }
    rows.pick(&RandomState::new(seed).subsample(rows.len(), max_samples))
}

/// The first `n` pooled rows are the reference's.
fn identity_labels(n: usize, total: usize) -> Vec<bool> {
    (0..total).map(|i| i < n).collect()
}

vigil_plugin_sdk::export_multivariate_drift_test!(Mmd);
