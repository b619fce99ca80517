//! The benchmark's streams: for each generator, a stream whose concept changes at known
//! positions and a drift-free stream of its first concept, with the 0/1 error stream of a fixed
//! classifier that knows the first concept (docs/detectors.md, "Benchmark").

use std::fmt::Write as _;
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::generators::{Generator, Hyperplane};

/// Probability that a label is flipped, for SEA (River's `noise`, at the 10% of Street and
/// Kim's experiments) and, the same way, for STAGGER, sine and Agrawal, whose River versions
/// have no label noise: without it the classifier never errs on the first concept and every
/// error-rate detector would be judged on a constant stream.
pub const LABEL_NOISE: f64 = 0.1;

/// How far the hyperplane's drifting weights move per example while it rotates.
pub const HYPERPLANE_MAG_CHANGE: f64 = 0.001;

/// The concepts each stream runs through, one segment each, chosen so that every change raises
/// the fixed classifier's error rate (each later concept disagrees with the first on more
/// examples): a change a deployed model suffers from.
pub fn concepts(generator: Generator) -> &'static [usize] {
    match generator {
        Generator::Sea => &[0, 1, 3],
        Generator::Stagger => &[0, 1, 2],
        Generator::Sine => &[0, 2, 3, 1],
        Generator::Agrawal => &[0, 4, 7],
        // Segment 0 is still, segments 1 and 2 rotate: one incremental drift.
        Generator::Hyperplane => &[0, 1, 1],
    }
}

/// A drift stream, or the drift-free stream that goes with it.
#[derive(Debug, Clone)]
pub struct Stream {
    pub generator: Generator,
    pub repetition: usize,
    /// Whether the concept changes (`false`: the drift-free stream of the first concept).
    pub drifting: bool,
    /// One row of features per example.
    pub features: Vec<Vec<f64>>,
    pub labels: Vec<bool>,
    /// The fixed classifier's predictions: the first concept's label, without noise.
    pub predictions: Vec<bool>,
    /// 0-based positions of the first example of each new concept (each true drift).
    pub drifts: Vec<usize>,
}

impl Stream {
    /// The stream's file name, e.g. `sea-3.csv`, `sea-3-stable.csv`.
    pub fn file_name(&self) -> String {
        let suffix = if self.drifting { "" } else { "-stable" };
        format!("{}-{}{suffix}.csv", self.generator.name(), self.repetition)
    }

    /// 1.0 where the classifier erred, 0.0 where it was right: what the detectors watch.
    pub fn errors(&self) -> Vec<f64> {
        self.labels
            .iter()
            .zip(&self.predictions)
            .map(|(y, p)| if y == p { 0.0 } else { 1.0 })
            .collect()
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The CSV text: the features, `label`, `prediction` and `error` (labels and predictions
    /// as 0/1). Numbers are written in their shortest form that reads back exactly.
    pub fn to_csv(&self) -> String {
        let mut text = self.generator.features().join(",");
        text.push_str(",label,prediction,error\n");
        for ((x, &label), &prediction) in self
            .features
            .iter()
            .zip(&self.labels)
            .zip(&self.predictions)
        {
            for value in x {
                write!(text, "{value},").expect("writing to a String");
            }
            let (y, p) = (u8::from(label), u8::from(prediction));
            writeln!(text, "{y},{p},{}", u8::from(label != prediction))
                .expect("writing to a String");
        }
        text
    }

    /// Writes [`Stream::to_csv`] into `dir`.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        let path = dir.join(self.file_name());
        std::fs::write(&path, self.to_csv())
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
    }
}

/// The random generator of one stream: ChaCha8 from the benchmark's seed, on a stream of its
/// own for every generator, repetition and kind, so each stream is the same whatever else runs.
fn stream_rng(seed: u64, generator: Generator, repetition: usize, drifting: bool) -> ChaCha8Rng {
    let index = Generator::ALL
        .iter()
        .position(|g| *g == generator)
        .expect("a known generator") as u64;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index << 40 | (repetition as u64) << 1 | u64::from(drifting));
    rng
}

/// Generates one stream: `concepts(generator).len()` segments of `segment` examples when
/// `drifting`, else as many examples of the first concept.
pub fn generate(
    generator: Generator,
    seed: u64,
    repetition: usize,
    drifting: bool,
    segment: usize,
) -> Stream {
    let mut rng = stream_rng(seed, generator, repetition, drifting);
    let sequence = concepts(generator);
    let length = segment * sequence.len();
    let concept_at = |i: usize| {
        if drifting {
            sequence[i / segment]
        } else {
            sequence[0]
        }
    };
    let drifts = if drifting {
        (1..sequence.len())
            .filter(|&s| sequence[s] != sequence[s - 1])
            .map(|s| s * segment)
            .collect()
    } else {
        Vec::new()
    };
    let mut stream = Stream {
        generator,
        repetition,
        drifting,
        features: Vec::with_capacity(length),
        labels: Vec::with_capacity(length),
        predictions: Vec::with_capacity(length),
        drifts,
    };
    let mut plane = (generator == Generator::Hyperplane).then(|| Hyperplane::new(&mut rng));
    let first_weights = plane.as_ref().map(|p| p.weights.clone());
    for i in 0..length {
        let x = generator.draw(&mut rng);
        let (label, prediction) = match (&mut plane, &first_weights) {
            (Some(plane), Some(first)) => {
                let mut label = Hyperplane::label(&plane.weights, &x);
                if 0.01 + rng.random::<f64>() <= Hyperplane::NOISE {
                    label = !label;
                }
                let prediction = Hyperplane::label(first, &x);
                if concept_at(i) == 1 {
                    plane.rotate(HYPERPLANE_MAG_CHANGE, &mut rng);
                }
                (label, prediction)
            }
            _ => {
                let mut label = generator.label(concept_at(i), &x);
                if rng.random::<f64>() < LABEL_NOISE {
                    label = !label;
                }
                (label, generator.label(sequence[0], &x))
            }
        };
        stream.features.push(x);
        stream.labels.push(label);
        stream.predictions.push(prediction);
    }
    stream
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_raises_the_error_rate_and_the_first_concept_errs_at_the_noise_rate() {
        let segment = 4000;
        for generator in Generator::ALL {
            let stream = generate(generator, 7, 0, true, segment);
            let errors = stream.errors();
            let rates: Vec<f64> = errors
                .chunks(segment)
                .map(|c| c.iter().sum::<f64>() / c.len() as f64)
                .collect();
            let noise = if generator == Generator::Hyperplane {
                Hyperplane::NOISE - 0.01
            } else {
                LABEL_NOISE
            };
            assert!((rates[0] - noise).abs() < 0.02, "{generator:?}: {rates:?}");
            for pair in rates.windows(2) {
                assert!(pair[1] > pair[0], "{generator:?}: {rates:?}");
            }
            // One drift at each change of concept, at a segment boundary.
            let sequence = concepts(generator);
            let expected: Vec<usize> = (1..sequence.len())
                .filter(|&s| sequence[s] != sequence[s - 1])
                .map(|s| s * segment)
                .collect();
            assert_eq!(stream.drifts, expected, "{generator:?}");
        }
    }

    #[test]
    fn the_csv_has_features_label_prediction_and_error() {
        let stream = generate(Generator::Sea, 1, 0, false, 3);
        let csv = stream.to_csv();
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some("x0,x1,x2,label,prediction,error"));
        for line in lines {
            let cells: Vec<f64> = line.split(',').map(|c| c.parse().unwrap()).collect();
            assert_eq!(cells.len(), 6);
            // The drift-free stream's prediction is SEA's first concept, noise-free.
            assert_eq!(cells[4] == 1.0, cells[0] + cells[1] > 8.0);
            assert_eq!(cells[5], f64::from(u8::from(cells[3] != cells[4])));
        }
    }

    #[test]
    fn streams_depend_on_seed_repetition_and_kind_alone() {
        let a = generate(Generator::Agrawal, 5, 2, true, 50).to_csv();
        assert_eq!(a, generate(Generator::Agrawal, 5, 2, true, 50).to_csv());
        assert_ne!(a, generate(Generator::Agrawal, 6, 2, true, 50).to_csv());
        assert_ne!(a, generate(Generator::Agrawal, 5, 3, true, 50).to_csv());
        assert_ne!(a, generate(Generator::Agrawal, 5, 2, false, 50).to_csv());
    }
}
