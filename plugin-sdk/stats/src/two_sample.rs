//! The three shapes of the standard drift tests, so that a plugin supplies only its statistic:
//! [`NumericTest`] (two sorted numeric samples), [`BinnedTest`] (counts over the shared bins of
//! [`crate::binning`], numeric or categorical) and [`CategoricalTest`] (counts per category over
//! the union of both sides). Each checks its threshold, drops missing values, refuses empty
//! sides with an error a person can act on, and reads the statistic against the threshold as its
//! [`ScoreKind`] says. A plugin exports one of them, e.g.
//! `pub type Welch = NumericTest<WelchT>; export_drift_test!(Welch);`.

use std::marker::PhantomData;

use schemars::JsonSchema;
use serde::Deserialize;
use vigil_plugin_sdk::{ColumnData, ColumnKind, DriftResult, DriftTest, Error, Result, ScoreKind};

use crate::binning::Histogram;
use crate::labels::Categories;
use crate::outcome::{
    distance_result, distance_threshold, numeric_column, numeric_sample, p_value_result,
    p_value_threshold,
};
use crate::sketch::{Sketch, quantile_count};

/// What every standard drift test is configured with.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThresholdConfig {
    /// Hypothesis tests: drift when the p-value is below this (strictly between 0 and 1).
    /// Distances: drift when the statistic is at or above this (positive). The test's own
    /// default (docs/statistics.md) when absent.
    #[serde(default)]
    pub threshold: Option<f64>,
}

/// What the numeric tests are configured with: the threshold and, for the tests that have one,
/// the quantile-sketch mode (docs/statistics.md).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NumericConfig {
    /// Hypothesis tests: drift when the p-value is below this (strictly between 0 and 1).
    /// Distances: drift when the statistic is at or above this (positive). The test's own
    /// default (docs/statistics.md) when absent.
    #[serde(default)]
    pub threshold: Option<f64>,
    /// Keep only this many quantiles of a reference larger than that (16 to 1048576), so that
    /// memory and evaluation time no longer grow with the reference; the statistic then moves
    /// by at most the bound docs/statistics.md states for the test. Off when absent; a
    /// reference of at most this many values is kept whole, and results are exact.
    #[serde(default)]
    pub sketch: Option<usize>,
}

/// A statistic and, for hypothesis tests, its p-value.
pub type Outcome = (f64, Option<f64>);

/// A test on two numeric samples.
pub trait NumericStatistic: 'static {
    /// One line describing the test.
    const DESCRIPTION: &'static str;
    /// How the statistic is read against the threshold.
    const SCORE: ScoreKind;
    /// The threshold when the configuration sets none.
    const DEFAULT_THRESHOLD: f64;
    /// Whether [`NumericStatistic::compare`] needs the samples sorted. A statistic of sums
    /// (the t-test) takes them in column order, which is also the order NumPy sums them in,
    /// with missing values (NaN) kept: a NaN shows in its sums, so it removes them
    /// ([`crate::outcome::without_nan`]) only when a sum is NaN.
    const SORTED: bool = true;
    /// Whether the test has the quantile-sketch mode ([`NumericStatistic::compare_sketch`]).
    const SKETCH: bool = false;
    /// Compares two non-empty samples without NaN, each ascending with `-0.0` made `0.0`
    /// (in column order and NaN kept if not [`NumericStatistic::SORTED`]).
    fn compare(reference: &[f64], current: &[f64]) -> Result<Outcome>;
    /// Compares a sketch of the reference with a sorted sample: the statistic on the sketch's
    /// quantiles, any p-value with the reference's real size. Only called when
    /// [`NumericStatistic::SKETCH`] is set.
    fn compare_sketch(sketch: &Sketch, current: &[f64]) -> Result<Outcome> {
        Self::compare(&sketch.quantiles, current)
    }
}

/// Counts over the same bins on both sides.
pub trait BinnedDistance: 'static {
    /// One line describing the distance.
    const DESCRIPTION: &'static str;
    /// The threshold when the configuration sets none.
    const DEFAULT_THRESHOLD: f64;
    /// The distance between the reference's and the window's counts (both non-empty, the
    /// same length, every bin non-empty on at least one side).
    fn distance(reference: &[u64], current: &[u64]) -> f64;
}

/// A test on two rows of category counts.
pub trait CategoricalStatistic: 'static {
    /// One line describing the test.
    const DESCRIPTION: &'static str;
    /// How the statistic is read against the threshold.
    const SCORE: ScoreKind;
    /// The threshold when the configuration sets none.
    const DEFAULT_THRESHOLD: f64;
    /// Compares the reference's and the window's counts over the union of their categories
    /// (the reference's first; each side has a positive total, each category a positive sum).
    fn compare(reference: &[u64], current: &[u64]) -> Result<Outcome>;
}

/// The threshold checked as `score` requires.
fn threshold(score: ScoreKind, configured: Option<f64>, default: f64) -> Result<f64> {
    let threshold = configured.unwrap_or(default);
    match score {
        ScoreKind::PValue => p_value_threshold(threshold),
        ScoreKind::Distance => distance_threshold(threshold),
    }
}

fn result(score: ScoreKind, (statistic, p_value): Outcome, threshold: f64) -> DriftResult {
    match (score, p_value) {
        (ScoreKind::PValue, Some(p)) => p_value_result(statistic, p, threshold),
        _ => distance_result(statistic, threshold),
    }
}

/// The reference a numeric test keeps: all of it, or its sketch.
enum Reference {
    Whole(Vec<f64>),
    Sketched(Sketch),
}

/// A drift test on numeric columns, holding the sorted reference (or its sketch).
pub struct NumericTest<S> {
    reference: Reference,
    threshold: f64,
    statistic: PhantomData<S>,
}

impl<S: NumericStatistic> NumericTest<S> {
    fn sample(column: ColumnData, what: &str) -> Result<Vec<f64>> {
        if S::SORTED {
            numeric_sample(column, what)
        } else {
            numeric_column(column, what)
        }
    }
}

impl<S: NumericStatistic> DriftTest for NumericTest<S> {
    type Config = NumericConfig;
    const DESCRIPTION: &'static str = S::DESCRIPTION;
    const COLUMN_KINDS: &'static [ColumnKind] = &[ColumnKind::Numeric];
    const SCORE: ScoreKind = S::SCORE;

    fn new(reference: ColumnData, config: NumericConfig) -> Result<Self> {
        let threshold = threshold(S::SCORE, config.threshold, S::DEFAULT_THRESHOLD)?;
        let sketch = match config.sketch {
            Some(_) if !S::SKETCH => {
                return Err(Error::InvalidConfig(
                    "this test has no sketch mode; it is offered by ks, kuiper, wasserstein, \
                     wasserstein_norm and energy (docs/statistics.md)"
                        .into(),
                ));
            }
            Some(k) => Some(quantile_count(k)?),
            None => None,
        };
        let reference = Self::sample(reference, "reference")?;
        let reference = match sketch {
            Some(k) if reference.len() > k => Reference::Sketched(Sketch::new(&reference, k)),
            _ => Reference::Whole(reference),
        };
        Ok(NumericTest {
            threshold,
            reference,
            statistic: PhantomData,
        })
    }

    fn evaluate(&self, current: ColumnData) -> Result<DriftResult> {
        let current = Self::sample(current, "current window")?;
        let outcome = match &self.reference {
            Reference::Whole(reference) => S::compare(reference, &current)?,
            Reference::Sketched(sketch) => S::compare_sketch(sketch, &current)?,
        };
        Ok(result(S::SCORE, outcome, self.threshold))
    }
}

/// A binned distance on numeric or categorical columns, holding the reference's bins.
pub struct BinnedTest<D> {
    histogram: Histogram,
    threshold: f64,
    distance: PhantomData<D>,
}

impl<D: BinnedDistance> DriftTest for BinnedTest<D> {
    type Config = ThresholdConfig;
    const DESCRIPTION: &'static str = D::DESCRIPTION;
    const COLUMN_KINDS: &'static [ColumnKind] = &[ColumnKind::Numeric, ColumnKind::Categorical];
    const SCORE: ScoreKind = ScoreKind::Distance;

    fn new(reference: ColumnData, config: ThresholdConfig) -> Result<Self> {
        Ok(BinnedTest {
            threshold: threshold(ScoreKind::Distance, config.threshold, D::DEFAULT_THRESHOLD)?,
            histogram: Histogram::new(reference)?,
            distance: PhantomData,
        })
    }

    fn evaluate(&self, current: ColumnData) -> Result<DriftResult> {
        let (reference, current) = self.histogram.compare(current)?;
        let statistic = D::distance(&reference, &current);
        Ok(distance_result(statistic, self.threshold))
    }
}

/// A test on categorical columns, holding the reference's counts.
pub struct CategoricalTest<S> {
    categories: Categories,
    threshold: f64,
    statistic: PhantomData<S>,
}

impl<S: CategoricalStatistic> DriftTest for CategoricalTest<S> {
    type Config = ThresholdConfig;
    const DESCRIPTION: &'static str = S::DESCRIPTION;
    const COLUMN_KINDS: &'static [ColumnKind] = &[ColumnKind::Categorical];
    const SCORE: ScoreKind = S::SCORE;

    fn new(reference: ColumnData, config: ThresholdConfig) -> Result<Self> {
        Ok(CategoricalTest {
            threshold: threshold(S::SCORE, config.threshold, S::DEFAULT_THRESHOLD)?,
            categories: Categories::new(reference, "reference")?,
            statistic: PhantomData,
        })
    }

    fn evaluate(&self, current: ColumnData) -> Result<DriftResult> {
        let (reference, current) = self.categories.align(current, "current window")?;
        let outcome = S::compare(&reference, &current)?;
        Ok(result(S::SCORE, outcome, self.threshold))
    }
}
