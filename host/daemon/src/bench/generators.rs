//! The synthetic concept-drift generators of `vigil bench detectors`: SEA, STAGGER, rotating
//! hyperplane, sine and Agrawal, with the feature distributions and label functions of River
//! 0.26.1's `river.datasets.synth` (docs/detectors.md, "Benchmark"). The random numbers are
//! Vigil's own; the streams are written to disk, so River reads exactly these examples.

use rand::Rng;

/// One of the five standard generators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generator {
    Sea,
    Stagger,
    Hyperplane,
    Sine,
    Agrawal,
}

impl Generator {
    /// Every generator, in report order.
    pub const ALL: [Generator; 5] = [
        Generator::Sea,
        Generator::Stagger,
        Generator::Hyperplane,
        Generator::Sine,
        Generator::Agrawal,
    ];

    /// The name used in file names and reports.
    pub fn name(self) -> &'static str {
        match self {
            Generator::Sea => "sea",
            Generator::Stagger => "stagger",
            Generator::Hyperplane => "hyperplane",
            Generator::Sine => "sine",
            Generator::Agrawal => "agrawal",
        }
    }

    /// The feature columns, in River's order.
    pub fn features(self) -> &'static [&'static str] {
        match self {
            Generator::Sea => &["x0", "x1", "x2"],
            Generator::Stagger => &["size", "color", "shape"],
            Generator::Hyperplane => &["x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9"],
            Generator::Sine => &["x0", "x1"],
            Generator::Agrawal => &[
                "salary",
                "commission",
                "age",
                "elevel",
                "car",
                "zipcode",
                "hvalue",
                "hyears",
                "loan",
            ],
        }
    }

    /// Draws one example's features.
    pub fn draw(self, rng: &mut impl Rng) -> Vec<f64> {
        match self {
            Generator::Sea => (0..3).map(|_| rng.random_range(0.0..10.0)).collect(),
            Generator::Stagger => (0..3)
                .map(|_| f64::from(rng.random_range(0..=2u8)))
                .collect(),
            Generator::Hyperplane => (0..10).map(|_| rng.random::<f64>()).collect(),
            Generator::Sine => (0..2).map(|_| rng.random::<f64>()).collect(),
            Generator::Agrawal => {
                let salary = 20_000.0 + 130_000.0 * rng.random::<f64>();
                let commission = if salary >= 75_000.0 {
                    0.0
                } else {
                    10_000.0 + 75_000.0 * rng.random::<f64>()
                };
                let age = f64::from(rng.random_range(20..=80u8));
                let elevel = f64::from(rng.random_range(0..=4u8));
                let car = f64::from(rng.random_range(1..=20u8));
                let zipcode = f64::from(rng.random_range(0..=8u8));
                let hvalue = (8.0 - zipcode) * 100_000.0 * (0.5 + rng.random::<f64>());
                let hyears = f64::from(rng.random_range(1..=30u8));
                let loan = rng.random::<f64>() * 500_000.0;
                vec![
                    salary, commission, age, elevel, car, zipcode, hvalue, hyears, loan,
                ]
            }
        }
    }

    /// The label of `x` under the generator's concept `concept` (River's `variant` or
    /// `classification_function`). The hyperplane's concept is its weights: see [`Hyperplane`].
    pub fn label(self, concept: usize, x: &[f64]) -> bool {
        match self {
            Generator::Sea => sea(concept, x),
            Generator::Stagger => stagger(concept, x),
            Generator::Sine => sine(concept, x),
            Generator::Agrawal => agrawal(concept, x),
            Generator::Hyperplane => unreachable!("the hyperplane's concept is its weights"),
        }
    }
}

/// SEA (Street and Kim 2001): `x0 + x1 > threshold`, the threshold 8, 9, 7 or 9.5 by variant.
pub fn sea(variant: usize, x: &[f64]) -> bool {
    let threshold = [8.0, 9.0, 7.0, 9.5][variant];
    x[0] + x[1] > threshold
}

/// STAGGER (Schlimmer and Granger 1986), with size, colour and shape coded 0, 1, 2
/// (small/medium/large, red/blue/green, circle/square/triangle as River codes them).
pub fn stagger(function: usize, x: &[f64]) -> bool {
    let (size, color, shape) = (x[0], x[1], x[2]);
    match function {
        0 => size == 0.0 && color == 0.0,
        1 => color == 2.0 || shape == 0.0,
        2 => size == 1.0 || size == 2.0,
        _ => panic!("STAGGER has functions 0 to 2"),
    }
}

/// Sine (Gama et al. 2004): SINE1, reversed SINE1, SINE2, reversed SINE2, on `(x0, x1)` in
/// the unit square; class 1 below the curve (above it, reversed).
pub fn sine(function: usize, x: &[f64]) -> bool {
    let (a, b) = (x[0], x[1]);
    let sine1 = b.sin();
    let sine2 = 0.5 + 0.3 * (3.0 * std::f64::consts::PI * b).sin();
    match function {
        0 => a < sine1,
        1 => a >= sine1,
        2 => a < sine2,
        3 => a >= sine2,
        _ => panic!("Sine has functions 0 to 3"),
    }
}

/// Agrawal, Imielinski and Swami (1993): the ten loan-approval functions, as River writes them
/// (function 4's middle branch compares the salary with loan bounds, as River does).
pub fn agrawal(function: usize, x: &[f64]) -> bool {
    let [
        salary,
        commission,
        age,
        elevel,
        _car,
        _zipcode,
        hvalue,
        hyears,
        loan,
    ] = x.try_into().expect("Agrawal has nine features");
    let within = |v: f64, lo: f64, hi: f64| lo <= v && v <= hi;
    let by_age = |young: bool, middle: bool, old: bool| {
        if age < 40.0 {
            young
        } else if age < 60.0 {
            middle
        } else {
            old
        }
    };
    match function {
        0 => !(40.0..60.0).contains(&age),
        1 => by_age(
            within(salary, 50_000.0, 100_000.0),
            within(salary, 75_000.0, 125_000.0),
            within(salary, 25_000.0, 75_000.0),
        ),
        2 => by_age(
            elevel == 0.0 || elevel == 1.0,
            (1.0..=3.0).contains(&elevel),
            (2.0..=4.0).contains(&elevel),
        ),
        3 => by_age(
            if elevel == 0.0 || elevel == 1.0 {
                within(salary, 25_000.0, 75_000.0)
            } else {
                within(salary, 50_000.0, 100_000.0)
            },
            if (1.0..=3.0).contains(&elevel) {
                within(salary, 50_000.0, 100_000.0)
            } else {
                within(salary, 75_000.0, 125_000.0)
            },
            if (2.0..=4.0).contains(&elevel) {
                within(salary, 50_000.0, 100_000.0)
            } else {
                within(salary, 25_000.0, 75_000.0)
            },
        ),
        4 => by_age(
            if within(salary, 50_000.0, 100_000.0) {
                within(loan, 100_000.0, 300_000.0)
            } else {
                within(salary, 200_000.0, 400_000.0)
            },
            if within(salary, 75_000.0, 125_000.0) {
                200_000.0 <= salary && loan <= 400_000.0
            } else {
                within(salary, 300_000.0, 500_000.0)
            },
            if within(salary, 25_000.0, 75_000.0) {
                within(loan, 300_000.0, 500_000.0)
            } else {
                within(loan, 75_000.0, 300_000.0)
            },
        ),
        5 => {
            let total = salary + commission;
            by_age(
                within(total, 50_000.0, 100_000.0),
                within(total, 75_000.0, 125_000.0),
                within(total, 25_000.0, 75_000.0),
            )
        }
        6..=9 => {
            let income = 2.0 * (salary + commission) / 3.0;
            let disposable = match function {
                6 => income - loan / 5.0 - 20_000.0,
                7 => income - 5_000.0 * elevel - 20_000.0,
                8 => income - 5_000.0 * elevel - loan / 5.0 - 10_000.0,
                _ => {
                    let equity = if hyears >= 20.0 {
                        hvalue * (hyears - 20.0) / 10.0
                    } else {
                        0.0
                    };
                    income - 5_000.0 * elevel + equity / 5.0 - 10_000.0
                }
            };
            disposable <= 1.0
        }
        _ => panic!("Agrawal has functions 0 to 9"),
    }
}

/// The rotating hyperplane (Hulten et al. 2001) as River's `Hyperplane`: class 1 when
/// `Σ w_i x_i ≥ Σ w_i / 2`; while rotating, each of the first `DRIFT_FEATURES` weights moves by
/// `mag_change` per example and reverses direction with probability `sigma` (River's
/// `0.01 + u ≤ sigma`).
#[derive(Debug, Clone)]
pub struct Hyperplane {
    pub weights: Vec<f64>,
    directions: Vec<f64>,
}

impl Hyperplane {
    /// River's `n_features` default.
    pub const FEATURES: usize = 10;
    /// River's `n_drift_features` default.
    pub const DRIFT_FEATURES: usize = 2;
    /// River's `sigma` default.
    pub const SIGMA: f64 = 0.1;
    /// River's `noise_percentage` default: a label flips when `0.01 + u ≤ 0.05`.
    pub const NOISE: f64 = 0.05;

    /// Weights drawn uniformly from [0, 1), every drifting direction +1, as River starts.
    pub fn new(rng: &mut impl Rng) -> Self {
        Hyperplane {
            weights: (0..Self::FEATURES).map(|_| rng.random::<f64>()).collect(),
            directions: vec![1.0; Self::DRIFT_FEATURES],
        }
    }

    /// The noiseless label of `x` under weights `weights`.
    pub fn label(weights: &[f64], x: &[f64]) -> bool {
        let total: f64 = weights.iter().sum();
        let score: f64 = weights.iter().zip(x).map(|(w, v)| w * v).sum();
        score >= total * 0.5
    }

    /// One step of rotation, after an example (River's `_generate_drift`).
    pub fn rotate(&mut self, mag_change: f64, rng: &mut impl Rng) {
        for (weight, direction) in self.weights.iter_mut().zip(&mut self.directions) {
            *weight += *direction * mag_change;
            if 0.01 + rng.random::<f64>() <= Self::SIGMA {
                *direction = -*direction;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sea_labels_by_the_variant_threshold_on_the_first_two_features() {
        assert!(sea(0, &[4.0, 4.5, 9.0]));
        assert!(!sea(0, &[4.0, 4.0, 9.0]), "8 is not above 8");
        assert!(!sea(1, &[4.0, 4.5, 0.0]));
        assert!(sea(2, &[3.0, 4.5, 0.0]));
        assert!(!sea(3, &[5.0, 4.5, 9.9]));
        assert!(sea(3, &[5.0, 4.6, 0.0]));
    }

    #[test]
    fn stagger_concepts_are_the_published_three() {
        // small red circle: concept 0 and 1 (circle), not 2 (small).
        assert!(stagger(0, &[0.0, 0.0, 0.0]));
        assert!(stagger(1, &[0.0, 0.0, 0.0]));
        assert!(!stagger(2, &[0.0, 0.0, 0.0]));
        // large green square: not 0, 1 (green), 2 (large).
        assert!(!stagger(0, &[2.0, 2.0, 1.0]));
        assert!(stagger(1, &[2.0, 2.0, 1.0]));
        assert!(stagger(2, &[2.0, 2.0, 1.0]));
        // Over all 27 objects: 1, 15 and 18 are positive.
        let count = |f: usize| {
            let mut n = 0;
            for size in 0..3 {
                for color in 0..3 {
                    for shape in 0..3 {
                        n += usize::from(stagger(f, &[size as f64, color as f64, shape as f64]));
                    }
                }
            }
            n
        };
        assert_eq!([count(0), count(1), count(2)], [3, 15, 18]);
    }

    #[test]
    fn sine_reversed_functions_are_complements() {
        for x in [[0.1, 0.9], [0.7, 0.2], [0.5, 0.5], [0.0, 0.0]] {
            assert_ne!(sine(0, &x), sine(1, &x));
            assert_ne!(sine(2, &x), sine(3, &x));
        }
        // sin(1) ≈ 0.841: (0.8, 1.0) lies below SINE1, (0.9, 1.0) above.
        assert!(sine(0, &[0.8, 1.0]));
        assert!(!sine(0, &[0.9, 1.0]));
        // SINE2 at x1 = 1/6 peaks at 0.8.
        assert!(sine(2, &[0.79, 1.0 / 6.0]));
        assert!(!sine(2, &[0.81, 1.0 / 6.0]));
    }

    #[test]
    fn agrawal_functions_follow_the_published_rules() {
        // salary, commission, age, elevel, car, zipcode, hvalue, hyears, loan
        let young_rich = [
            90_000.0, 0.0, 30.0, 0.0, 1.0, 0.0, 400_000.0, 5.0, 200_000.0,
        ];
        assert!(agrawal(0, &young_rich), "under 40");
        assert!(agrawal(1, &young_rich), "50k..100k when under 40");
        assert!(agrawal(2, &young_rich), "elevel 0 when under 40");
        assert!(!agrawal(3, &young_rich), "elevel 0 needs 25k..75k");
        assert!(agrawal(4, &young_rich), "loan 100k..300k");
        // disposable for function 6: 60000 - 40000 - 20000 = 0 <= 1: class 1.
        assert!(agrawal(6, &young_rich));
        let middle = [30_000.0, 50_000.0, 45.0, 4.0, 1.0, 0.0, 0.0, 25.0, 0.0];
        assert!(!agrawal(0, &middle));
        assert!(agrawal(5, &middle), "total 80k within 75k..125k");
        // function 7: 2*80000/3 - 20000 - 20000 = 13333 > 1: class 0.
        assert!(!agrawal(7, &middle));
    }

    #[test]
    fn the_hyperplane_labels_by_half_the_weight_sum() {
        assert!(Hyperplane::label(&[1.0, 1.0], &[0.5, 0.5]));
        assert!(!Hyperplane::label(&[1.0, 3.0], &[0.9, 0.3]));
    }
}
