//! What `vigil bench detectors` prints and writes: a table per part on stdout, and
//! `bench.json`, `detectors.csv` and `drift_tests.csv` in the output directory.

use std::path::Path;

use anyhow::Context as _;

use super::Report;
use super::metrics::Score;

/// The columns of `detectors.csv`: one row per detector and generator, then one for `all`.
pub const DETECTOR_COLUMNS: &[&str] = &[
    "detector",
    "generator",
    "drifts",
    "detected",
    "missed",
    "mean_delay",
    "median_delay",
    "false_alarms",
    "stable_values",
    "false_alarms_per_10k",
    "values_per_second",
];

/// The columns of `drift_tests.csv`: one row per test and effect.
pub const TEST_COLUMNS: &[&str] = &[
    "test",
    "pair",
    "effect",
    "size",
    "windows",
    "detected",
    "rate",
    "values_per_second",
];

/// Writes the three files.
pub fn write(report: &Report, dir: &Path) -> anyhow::Result<()> {
    let json = serde_json::to_string_pretty(report).expect("the report serialises");
    let files = [
        ("bench.json", json + "\n"),
        ("detectors.csv", detectors_csv(report)?),
        ("drift_tests.csv", tests_csv(report)?),
    ];
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn optional(value: Option<f64>) -> String {
    value.map_or_else(String::new, |v| v.to_string())
}

fn score_cells(detector: &str, generator: &str, score: &Score, rate: Option<f64>) -> Vec<String> {
    vec![
        detector.to_string(),
        generator.to_string(),
        score.drifts.to_string(),
        score.detected.to_string(),
        score.missed.to_string(),
        optional(score.mean_delay),
        optional(score.median_delay),
        score.false_alarms.to_string(),
        score.stable_values.to_string(),
        optional(score.false_alarms_per_10k),
        optional(rate),
    ]
}

fn to_csv(header: &[&str], rows: &[Vec<String>]) -> anyhow::Result<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(header)?;
    for row in rows {
        writer.write_record(row)?;
    }
    Ok(String::from_utf8(writer.into_inner()?).expect("CSV of UTF-8 cells"))
}

fn detectors_csv(report: &Report) -> anyhow::Result<String> {
    let mut rows = Vec::new();
    for detector in &report.detectors {
        for (generator, score) in &detector.generators {
            rows.push(score_cells(&detector.detector, generator, score, None));
        }
        rows.push(score_cells(
            &detector.detector,
            "all",
            &detector.overall,
            Some(detector.values_per_second),
        ));
    }
    to_csv(DETECTOR_COLUMNS, &rows)
}

fn tests_csv(report: &Report) -> anyhow::Result<String> {
    let mut rows = Vec::new();
    for test in &report.drift_tests {
        for effect in &test.effects {
            rows.push(vec![
                test.test.clone(),
                pair_name(test),
                effect.effect.to_string(),
                effect.size.to_string(),
                effect.windows.to_string(),
                effect.detected.to_string(),
                effect.rate.to_string(),
                test.values_per_second.round().to_string(),
            ]);
        }
    }
    to_csv(TEST_COLUMNS, &rows)
}

fn pair_name(test: &super::shifts::TestScore) -> String {
    serde_json::to_value(test.pair)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn rate(values_per_second: f64) -> String {
    if values_per_second >= 1e6 {
        format!("{:.1} M/s", values_per_second / 1e6)
    } else {
        format!("{:.0} k/s", values_per_second / 1e3)
    }
}

fn short(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.digits$}"))
}

/// The printed summary: the detectors over every stream, then each drift test's detection
/// rate per effect.
pub fn to_table(report: &Report) -> String {
    let sizes = &report.sizes;
    let mut out = format!(
        "Detectors on the 0/1 errors of a fixed classifier: {} drift and {} drift-free streams \
         (SEA, STAGGER, hyperplane, sine, Agrawal; seed {}, segments of {}, horizon {})\n\n",
        report.streams.iter().filter(|s| s.drifting).count(),
        report.streams.iter().filter(|s| !s.drifting).count(),
        report.seed,
        sizes.segment,
        sizes.segment,
    );
    let rows: Vec<Vec<String>> = report
        .detectors
        .iter()
        .map(|d| {
            let s = &d.overall;
            vec![
                d.detector.clone(),
                format!("{}/{}", s.detected, s.drifts),
                s.missed.to_string(),
                short(s.mean_delay, 1),
                short(s.median_delay, 1),
                short(s.false_alarms_per_10k, 2),
                rate(d.values_per_second),
            ]
        })
        .collect();
    out.push_str(&crate::table::render(
        &[
            "detector",
            "detected",
            "missed",
            "mean delay",
            "median delay",
            "false alarms/10k",
            "throughput",
        ],
        &rows,
    ));
    for pair in ["numeric", "categorical", "binary"] {
        let tests: Vec<_> = report
            .drift_tests
            .iter()
            .filter(|t| pair_name(t) == pair)
            .collect();
        let Some(first) = tests.first() else {
            continue;
        };
        out.push_str(&format!(
            "\nDrift tests on {pair} pairs ({} windows per effect, {} rows each side): share of \
             windows called drifted\n\n",
            first.effects[0].windows,
            super::shifts::SAMPLE_ROWS,
        ));
        let mut header = vec!["test"];
        header.extend(first.effects.iter().map(|e| e.effect));
        header.push("throughput");
        let rows: Vec<Vec<String>> = tests
            .iter()
            .map(|t| {
                let mut row = vec![t.test.clone()];
                row.extend(t.effects.iter().map(|e| format!("{:.3}", e.rate)));
                row.push(rate(t.values_per_second));
                row
            })
            .collect();
        out.push_str(&crate::table::render(&header, &rows));
    }
    out
}
