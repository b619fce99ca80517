//! The test of a drift test's quantile-sketch mode (docs/statistics.md): on many random cases
//! from a fixed seed, the statistic with `{"sketch": k}` is within the test's stated bound of
//! the exact one, and equal to it, bit for bit, when the reference has at most `k` values.

use vigil_plugin_sdk::testing::drift_test;
use vigil_plugin_sdk::{ColumnData, DriftTest};

use crate::order::sorted_values;
use crate::sketch::Sketch;
use crate::test_rng::Rng;

/// How far the sketched statistic may be from the exact one: given the sketch the plugin
/// built (recomputed here from the same reference) and `k`.
pub type SketchBound = fn(&Sketch, usize) -> f64;

/// The bound of KS and Kuiper: 1/k.
pub fn one_over_k(_: &Sketch, k: usize) -> f64 {
    1.0 / k as f64
}

/// A random sample: normal, rounded (ties), heavy-tailed or two clusters, with a random shift
/// and scale.
fn sample(rng: &mut Rng, n: usize, shape: usize) -> Vec<f64> {
    let (shift, scale) = (rng.normal(), 0.1 + 10.0 * rng.unit());
    (0..n)
        .map(|_| {
            let x = match shape {
                0 => rng.normal(),
                1 => (rng.normal() * 3.0).round(),
                2 => rng.normal() / (rng.unit() + 0.01),
                _ => rng.normal() + if rng.below(2) == 0 { -4.0 } else { 4.0 },
            };
            shift + scale * x
        })
        .collect()
}

/// Checks the sketch mode of `P` on `cases` random cases.
pub fn check_sketch_bound<P: DriftTest>(cases: usize, bound: SketchBound) {
    let mut rng = Rng(0x5EED_5EED);
    let mut worst = 0.0f64;
    for case in 0..cases {
        let k = [16, 50, 256, 1000][case % 4];
        let n = if case % 5 == 0 {
            1 + rng.below(k) // at most k: kept whole, exact
        } else {
            k + 1 + rng.below(20 * k)
        };
        let m = 1 + rng.below(3000);
        let reference = sample(&mut rng, n, case % 4);
        let current = sample(&mut rng, m, (case / 4) % 4);
        let run = |config: &str| {
            drift_test::<P>(
                ColumnData::Numeric(reference.clone()),
                ColumnData::Numeric(current.clone()),
                config,
            )
            .unwrap_or_else(|e| panic!("case {case}: {e}"))
        };
        let exact = run("{}");
        let sketched = run(&format!(r#"{{"sketch": {k}}}"#));
        if n <= k {
            assert_eq!(
                sketched.statistic.to_bits(),
                exact.statistic.to_bits(),
                "case {case}: a reference of {n} <= {k} values must be kept whole"
            );
            assert_eq!(
                sketched.p_value.map(f64::to_bits),
                exact.p_value.map(f64::to_bits)
            );
            continue;
        }
        let sketch = Sketch::new(&sorted_values(reference.clone()), k);
        let allowed = bound(&sketch, k);
        let error = (sketched.statistic - exact.statistic).abs();
        assert!(
            error <= allowed * (1.0 + 1e-9) + 1e-12 * exact.statistic.abs(),
            "case {case}: n {n}, m {m}, k {k}: sketched {} vs exact {}, error {error:e} over \
             the bound {allowed:e}",
            sketched.statistic,
            exact.statistic
        );
        worst = worst.max(error / allowed);
    }
    println!("worst error: {worst:.3} of the bound");
}
