//! `vigil bench detectors`: how well each standard detector and drift test detects, on
//! synthetic data with known changes (docs/detectors.md, "Benchmark").
//!
//! The streaming detectors watch the 0/1 error stream of a fixed classifier on the standard
//! concept-drift streams ([`streams`]) and are scored by [`metrics`]; the drift tests compare
//! reference/window pairs of known effect size ([`shifts`]). Plugins run through the runtime as
//! `vigil detect` and `vigil drift` run them.

pub mod generators;
pub mod metrics;
pub mod report;
pub mod shifts;
pub mod streams;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use serde::Serialize;

use crate::plugins::Registry;
use generators::Generator;
use metrics::Score;
use shifts::{PairKind, TestScore};
use streams::Stream;

/// The standard detectors, as `vigil detect --detector` names them, in report order.
pub const DETECTORS: &[&str] = &[
    "adwin",
    "page-hinkley",
    "kswin",
    "ddm",
    "eddm",
    "hddm-a",
    "hddm-w",
    "cusum",
];

/// Values handed to a detector per call, as `vigil detect` feeds it.
const CHUNK: usize = 1 << 16;

/// What to run and where to write it.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub out: PathBuf,
    pub seed: u64,
    pub quick: bool,
}

/// The sizes of a run.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Sizes {
    /// Examples per concept segment; also the horizon within which a drift must be detected.
    pub segment: usize,
    /// Drift streams (and drift-free streams) per generator.
    pub repetitions: usize,
    /// Reference/window pairs per effect.
    pub windows: usize,
}

impl Sizes {
    pub fn for_run(quick: bool) -> Self {
        if quick {
            Sizes {
                segment: 1000,
                repetitions: 1,
                windows: 5,
            }
        } else {
            Sizes {
                segment: 5000,
                repetitions: 10,
                windows: 200,
            }
        }
    }
}

/// One stream as the report lists it, with every detector's detections on it.
#[derive(Debug, Clone, Serialize)]
pub struct StreamEntry {
    /// The file under `streams/`.
    pub file: String,
    pub generator: &'static str,
    pub repetition: usize,
    pub drifting: bool,
    pub length: usize,
    pub drifts: Vec<usize>,
    /// The concept of each segment (all the first one's on a drift-free stream).
    pub concepts: Vec<usize>,
    /// The share of errors in each segment.
    pub error_rates: Vec<f64>,
    /// Detector name → 0-based indices at which it signalled.
    pub detections: BTreeMap<String, Vec<usize>>,
}

/// One detector's scores: over every stream, and per generator.
#[derive(Debug, Clone, Serialize)]
pub struct DetectorScore {
    pub detector: String,
    pub plugin: String,
    #[serde(flatten)]
    pub overall: Score,
    pub generators: BTreeMap<&'static str, Score>,
    /// Values fed (drift and drift-free streams).
    pub values: usize,
    /// Values per second, creating the detector on each stream and feeding it.
    pub values_per_second: f64,
}

/// Everything a run measured; `bench.json` is this.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub seed: u64,
    pub quick: bool,
    pub sizes: Sizes,
    pub label_noise: f64,
    pub hyperplane_mag_change: f64,
    pub streams: Vec<StreamEntry>,
    pub detectors: Vec<DetectorScore>,
    pub drift_tests: Vec<TestScore>,
}

/// Generates the data, writes the streams, runs every detector and test, and writes
/// `bench.json`, `detectors.csv` and `drift_tests.csv` into `options.out`.
pub fn run(options: &BenchOptions, registry: &Registry) -> anyhow::Result<Report> {
    let sizes = Sizes::for_run(options.quick);
    let stream_dir = options.out.join("streams");
    std::fs::create_dir_all(&stream_dir)
        .with_context(|| format!("cannot create {}", stream_dir.display()))?;
    let started = Instant::now();
    let mut streams: Vec<Stream> = Vec::new();
    for generator in Generator::ALL {
        for repetition in 0..sizes.repetitions {
            for drifting in [true, false] {
                streams.push(streams::generate(
                    generator,
                    options.seed,
                    repetition,
                    drifting,
                    sizes.segment,
                ));
            }
        }
    }
    for stream in &streams {
        stream.write(&stream_dir)?;
    }
    tracing::debug!(elapsed = ?started.elapsed(), "wrote the streams");

    let errors: Vec<Vec<f64>> = streams.iter().map(Stream::errors).collect();
    let mut entries: Vec<StreamEntry> = streams
        .iter()
        .zip(&errors)
        .map(|(s, e)| entry(s, e, sizes.segment))
        .collect();
    let mut detectors = Vec::new();
    for &name in DETECTORS {
        detectors.push(score_detector(
            registry,
            name,
            &streams,
            &errors,
            &mut entries,
            sizes.segment,
        )?);
    }
    tracing::debug!(elapsed = ?started.elapsed(), "ran the detectors");

    let mut drift_tests = Vec::new();
    for (kind, tests) in [
        (PairKind::Numeric, shifts::NUMERIC_TESTS),
        (PairKind::Categorical, shifts::CATEGORICAL_TESTS),
        (PairKind::Binary, shifts::BINARY_TESTS),
    ] {
        drift_tests.extend(shifts::run(
            registry,
            kind,
            tests,
            options.seed,
            sizes.windows,
        )?);
    }
    tracing::debug!(elapsed = ?started.elapsed(), "ran the drift tests");

    let report = Report {
        seed: options.seed,
        quick: options.quick,
        sizes,
        label_noise: streams::LABEL_NOISE,
        hyperplane_mag_change: streams::HYPERPLANE_MAG_CHANGE,
        streams: entries,
        detectors,
        drift_tests,
    };
    report::write(&report, &options.out)?;
    Ok(report)
}

fn entry(stream: &Stream, errors: &[f64], segment: usize) -> StreamEntry {
    let sequence = streams::concepts(stream.generator);
    let concepts = if stream.drifting {
        sequence.to_vec()
    } else {
        vec![sequence[0]; sequence.len()]
    };
    StreamEntry {
        file: format!("streams/{}", stream.file_name()),
        generator: stream.generator.name(),
        repetition: stream.repetition,
        drifting: stream.drifting,
        length: stream.len(),
        drifts: stream.drifts.clone(),
        concepts,
        error_rates: errors
            .chunks(segment)
            .map(|c| c.iter().sum::<f64>() / c.len() as f64)
            .collect(),
        detections: Default::default(),
    }
}

/// Runs one detector, with its defaults, over every stream in a fresh session each.
fn score_detector(
    registry: &Registry,
    name: &str,
    streams: &[Stream],
    errors: &[Vec<f64>],
    entries: &mut [StreamEntry],
    horizon: usize,
) -> anyhow::Result<DetectorScore> {
    let plugin = registry.detector(name)?;
    let mut overall = Score::default();
    let mut by_generator: BTreeMap<&'static str, Score> = Default::default();
    let mut seconds = 0.0;
    let mut values = 0;
    for ((stream, errors), entry) in streams.iter().zip(errors).zip(entries.iter_mut()) {
        let started = Instant::now();
        let mut session = plugin
            .detector(registry.runtime().shared(), "{}", None)
            .with_context(|| format!("cannot create detector `{name}`"))?;
        let mut detections = Vec::new();
        for chunk in errors.chunks(CHUNK) {
            let found = session
                .update(chunk)
                .with_context(|| format!("detector `{name}` failed on {}", entry.file))?;
            detections.extend(found.into_iter().map(|p| p as usize));
        }
        seconds += started.elapsed().as_secs_f64();
        values += errors.len();
        let generator = by_generator.entry(stream.generator.name()).or_default();
        for score in [&mut overall, generator] {
            if stream.drifting {
                score.add_drift_stream(&stream.drifts, stream.len(), horizon, &detections);
            } else {
                score.add_stable_stream(stream.len(), &detections);
            }
        }
        entry.detections.insert(name.to_string(), detections);
    }
    let info = plugin.info();
    Ok(DetectorScore {
        detector: name.to_string(),
        plugin: format!("{}@{}", info.name, info.version),
        overall,
        generators: by_generator,
        values,
        values_per_second: values as f64 / seconds.max(f64::MIN_POSITIVE),
    })
}
