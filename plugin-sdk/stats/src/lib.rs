//! What Vigil's standard drift tests, detectors and preprocessors share, so that each plugin holds only what is
//! its own: sums in NumPy's order ([`sum`]), category counts matched by label ([`labels`]) and
//! their contingency table ([`contingency`]),
//! the shared binning of the binned distances ([`binning`]), the pooled sample of two sorted
//! samples ([`ecdf`]), order keys and a guest-friendly
//! sort ([`order`], [`keysort`]), distribution functions ([`special`]), thresholds and results
//! ([`outcome`]), the quantile sketch of a large reference ([`sketch`]), the shapes a standard test takes ([`two_sample`]), the input checks and
//! snapshot format of the streaming detectors ([`stream`]), the batch checks of the preprocessors
//! ([`batch`]), the multiple-testing corrections a policy applies across columns
//! ([`multiple_testing`]), the conditions, wording and actions of the standard policies
//! ([`policy`]), the rows and NumPy-reproducible draws of the multivariate tests
//! ([`columns`], [`numpy_random`]), and, behind the `harness` feature, the tests that compare a drift
//! test ([`harness`]), a detector ([`detector_harness`]) or a preprocessor
//! ([`preprocess_harness`]) with the reference values of `tests/reference/`.
//!
//! Distributions come from `statrs`, measured against SciPy by `tests/special.rs` on
//! `tests/reference/special.json` (tolerance 1e-9 relative): the chi-square survival function
//! (worst 5e-12, down to 1e-300 and 5 000 degrees of freedom) and the normal one (1e-10) are
//! statrs's as they are. Two fall short and are not used as they are: `Hypergeometric::pmf`
//! overflows to NaN for populations in the thousands, so [`special::hypergeom_pmf`] is built
//! from statrs's `ln_gamma` (3e-12); `StudentsT::sf` is off by up to 8e-7 for large degrees of
//! freedom, so [`special::t_sf`] is a continued fraction with its prefactor taken without
//! cancellation (within 1e-9 up to 1e7 degrees of freedom). Sorting is hand-written ([`keysort`]): the standard
//! library's sort is slow inside the WebAssembly guest. The KS plugin keeps its own exact
//! distribution code, which statrs does not have.

pub mod batch;
pub mod binning;
pub mod columns;
pub mod contingency;
pub mod ecdf;
pub mod keysort;
pub mod labels;
pub mod multiple_testing;
pub mod numpy_random;
pub mod order;
pub mod outcome;
pub mod policy;
pub mod sketch;
pub mod special;
pub mod stream;
pub mod sum;
pub mod test_rng;
pub mod two_sample;

#[cfg(feature = "harness")]
pub mod detector_harness;
#[cfg(feature = "harness")]
pub mod harness;
#[cfg(feature = "harness")]
pub mod multivariate_harness;
#[cfg(feature = "harness")]
pub mod preprocess_harness;
#[cfg(feature = "harness")]
pub mod sketch_harness;
