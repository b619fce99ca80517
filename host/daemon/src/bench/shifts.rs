//! Distribution-shift pairs of known effect size for the drift tests (docs/detectors.md,
//! "Benchmark"): a reference and a window drawn from fixed distributions, many times per
//! effect, so that each test's detection rate per effect (and its false-positive rate at no
//! effect) can be counted.

use std::time::Instant;

use anyhow::Context as _;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::Serialize;
use vigil_runtime::{CategoricalColumn, ColumnData};

use crate::plugins::Registry;

/// Rows in each reference and each window.
pub const SAMPLE_ROWS: usize = 1000;

/// The numeric drift tests, as `vigil drift --num-test` names them.
pub const NUMERIC_TESTS: &[&str] = &[
    "ks",
    "ad",
    "cvm",
    "es",
    "mwu",
    "t",
    "kuiper",
    "wasserstein",
    "wasserstein_norm",
    "energy",
    "psi",
    "js",
    "kl",
    "hellinger",
    "tvd",
];
/// The categorical tests for columns of several categories.
pub const CATEGORICAL_TESTS: &[&str] = &["chi2", "g", "psi", "js", "kl", "hellinger", "tvd"];
/// The tests for two categories only.
pub const BINARY_TESTS: &[&str] = &["fisher", "z"];

/// The reference's category shares for the categorical pairs (labels `a` to `e`).
const CATEGORY_SHARES: [f64; 5] = [0.4, 0.25, 0.15, 0.12, 0.08];
/// The reference's share of `yes` for the binary pairs.
const YES_SHARE: f64 = 0.3;

/// The kind of pair a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PairKind {
    /// Reference N(0, 1); the window shifted in mean or scaled.
    Numeric,
    /// Five categories; the window moves probability from the commonest to the rarest.
    Categorical,
    /// Two categories; the window's share of `yes` rises.
    Binary,
}

/// One effect: how the window's distribution differs from the reference's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Effect {
    /// E.g. `mean+0.2sd`, `scale×1.5`, `shift 0.05`.
    pub name: &'static str,
    /// The size: the mean shift in standard deviations, the scale factor, or the probability
    /// moved. 0 (or scale 1) is no effect.
    pub size: f64,
    #[serde(skip)]
    kind: EffectKind,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum EffectKind {
    Mean,
    Scale,
    Moved,
}

impl Effect {
    /// Whether the window comes from the reference's own distribution.
    pub fn is_null(&self) -> bool {
        match self.kind {
            EffectKind::Scale => self.size == 1.0,
            EffectKind::Mean | EffectKind::Moved => self.size == 0.0,
        }
    }
}

/// The effects of each pair kind, the null first.
pub fn effects(kind: PairKind) -> Vec<Effect> {
    let effect = |name, size, kind| Effect { name, size, kind };
    match kind {
        PairKind::Numeric => vec![
            effect("none", 0.0, EffectKind::Mean),
            effect("mean+0.1sd", 0.1, EffectKind::Mean),
            effect("mean+0.2sd", 0.2, EffectKind::Mean),
            effect("mean+0.5sd", 0.5, EffectKind::Mean),
            effect("scale×1.5", 1.5, EffectKind::Scale),
        ],
        PairKind::Categorical | PairKind::Binary => vec![
            effect("none", 0.0, EffectKind::Moved),
            effect("moved 0.02", 0.02, EffectKind::Moved),
            effect("moved 0.05", 0.05, EffectKind::Moved),
            effect("moved 0.10", 0.1, EffectKind::Moved),
        ],
    }
}

fn shares(kind: PairKind, moved: f64) -> Vec<f64> {
    match kind {
        PairKind::Categorical => {
            let mut shares = CATEGORY_SHARES.to_vec();
            shares[0] -= moved;
            shares[4] += moved;
            shares
        }
        _ => vec![YES_SHARE + moved, 1.0 - YES_SHARE - moved],
    }
}

/// Draws `n` values of `kind` under `effect` (the reference: under the null effect).
fn draw(kind: PairKind, effect: &Effect, n: usize, rng: &mut impl Rng) -> ColumnData {
    match kind {
        PairKind::Numeric => {
            let (shift, scale) = match effect.kind {
                EffectKind::Mean => (effect.size, 1.0),
                EffectKind::Scale => (0.0, effect.size),
                EffectKind::Moved => unreachable!("numeric effects move the mean or the scale"),
            };
            ColumnData::Numeric(
                (0..n)
                    .map(|_| shift + scale * rng.sample::<f64, _>(StandardNormal))
                    .collect(),
            )
        }
        PairKind::Categorical | PairKind::Binary => {
            let shares = shares(kind, effect.size);
            let codes = (0..n)
                .map(|_| {
                    let u = rng.random::<f64>();
                    let mut cumulative = 0.0;
                    let index = shares
                        .iter()
                        .position(|share| {
                            cumulative += share;
                            u < cumulative
                        })
                        .unwrap_or(shares.len() - 1);
                    index as u32
                })
                .collect();
            let categories = match kind {
                PairKind::Binary => vec!["yes".into(), "no".into()],
                _ => ["a", "b", "c", "d", "e"].map(String::from).to_vec(),
            };
            ColumnData::Categorical(CategoricalColumn { categories, codes })
        }
    }
}

/// One test's results on its pairs.
#[derive(Debug, Clone, Serialize)]
pub struct TestScore {
    pub test: String,
    /// `name@version` of the plugin that ran.
    pub plugin: String,
    pub pair: PairKind,
    pub effects: Vec<EffectRate>,
    /// The detection rate at no effect.
    pub false_positive_rate: f64,
    /// Reference plus window values per second, building the test and evaluating the window.
    pub values_per_second: f64,
}

/// How often a test reported drift under one effect.
#[derive(Debug, Clone, Serialize)]
pub struct EffectRate {
    pub effect: &'static str,
    pub size: f64,
    pub windows: usize,
    pub detected: usize,
    pub rate: f64,
}

/// Runs every test of `kind` on `windows` pairs per effect, the same pairs for every test.
pub fn run(
    registry: &Registry,
    kind: PairKind,
    tests: &[&str],
    seed: u64,
    windows: usize,
) -> anyhow::Result<Vec<TestScore>> {
    let stream = match kind {
        PairKind::Numeric => 1,
        PairKind::Categorical => 2,
        PairKind::Binary => 3,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Streams 1 to 3: apart from the concept-drift streams, which use 0 and above 2^40.
    rng.set_stream(stream);
    let null = effects(kind)[0];
    let pairs: Vec<(Effect, Vec<(ColumnData, ColumnData)>)> = effects(kind)
        .into_iter()
        .map(|effect| {
            let pairs = (0..windows)
                .map(|_| {
                    let reference = draw(kind, &null, SAMPLE_ROWS, &mut rng);
                    (reference, draw(kind, &effect, SAMPLE_ROWS, &mut rng))
                })
                .collect();
            (effect, pairs)
        })
        .collect();
    let mut scores = Vec::new();
    for &test in tests {
        let plugin = registry.drift_test(test)?;
        let mut seconds = 0.0;
        let mut values = 0usize;
        let mut rates = Vec::new();
        for (effect, pairs) in &pairs {
            let mut detected = 0;
            for (reference, window) in pairs {
                let started = Instant::now();
                let result = plugin
                    .drift_test(registry.runtime().shared(), reference, "{}")
                    .and_then(|mut session| session.evaluate(window))
                    .with_context(|| format!("drift test `{test}` failed on a {kind:?} pair"))?;
                seconds += started.elapsed().as_secs_f64();
                values += 2 * SAMPLE_ROWS;
                detected += usize::from(result.drifted);
            }
            rates.push(EffectRate {
                effect: effect.name,
                size: effect.size,
                windows: pairs.len(),
                detected,
                rate: detected as f64 / pairs.len() as f64,
            });
        }
        let info = plugin.info();
        scores.push(TestScore {
            test: test.to_string(),
            plugin: format!("{}@{}", info.name, info.version),
            pair: kind,
            false_positive_rate: rates[0].rate,
            effects: rates,
            values_per_second: values as f64 / seconds.max(f64::MIN_POSITIVE),
        });
    }
    Ok(scores)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_sum_to_one_and_move_what_the_effect_says() {
        for effect in effects(PairKind::Categorical) {
            let moved = shares(PairKind::Categorical, effect.size);
            assert!((moved.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            assert!((moved[0] - (CATEGORY_SHARES[0] - effect.size)).abs() < 1e-12);
            assert!((moved[4] - (CATEGORY_SHARES[4] + effect.size)).abs() < 1e-12);
        }
        for effect in effects(PairKind::Binary) {
            let moved = shares(PairKind::Binary, effect.size);
            assert_eq!(moved.len(), 2);
            assert!((moved[0] - (YES_SHARE + effect.size)).abs() < 1e-12);
            assert!((moved.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        assert_eq!(
            effects(PairKind::Numeric)
                .iter()
                .filter(|e| e.is_null())
                .count(),
            1
        );
    }

    #[test]
    fn a_numeric_window_has_the_effect_mean() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let effect = effects(PairKind::Numeric)[3];
        let ColumnData::Numeric(values) = draw(PairKind::Numeric, &effect, 100_000, &mut rng)
        else {
            panic!("numeric")
        };
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
    }
}
