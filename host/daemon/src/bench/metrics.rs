//! How a detector's detections on a stream are scored (docs/detectors.md, "Benchmark"):
//!
//! - A drift at position `p` (the first example of the new concept) is **detected** when the
//!   detector signals at some index `d` with `p ≤ d < end`, where `end` is the next drift, the
//!   end of the stream or `p + horizon`, whichever comes first; its **delay** is `d - p` for the
//!   first such `d` (0: at the drift's first example). Otherwise it is **missed**.
//! - Every detection on a drift-free stream is a **false alarm**; they are counted per 10,000
//!   examples of drift-free stream.

use serde::Serialize;

/// The scored detections of one detector on a set of streams.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Score {
    /// True drifts in the drift streams.
    pub drifts: usize,
    /// Drifts with a detection within the horizon.
    pub detected: usize,
    /// Drifts without one.
    pub missed: usize,
    /// The delay of each detected drift, in examples.
    #[serde(skip)]
    pub delays: Vec<usize>,
    /// Mean and median of `delays`; `None` when nothing was detected.
    pub mean_delay: Option<f64>,
    pub median_delay: Option<f64>,
    /// Detections on the drift-free streams.
    pub false_alarms: usize,
    /// Examples in the drift-free streams.
    pub stable_values: usize,
    /// `false_alarms` per 10,000 drift-free examples; `None` without drift-free examples.
    pub false_alarms_per_10k: Option<f64>,
}

impl Score {
    /// Adds one drift stream's detections.
    pub fn add_drift_stream(
        &mut self,
        drifts: &[usize],
        length: usize,
        horizon: usize,
        detections: &[usize],
    ) {
        for (i, &drift) in drifts.iter().enumerate() {
            let end = drifts
                .get(i + 1)
                .copied()
                .unwrap_or(length)
                .min(drift.saturating_add(horizon));
            self.drifts += 1;
            match detections.iter().find(|&&d| d >= drift && d < end) {
                Some(&d) => {
                    self.detected += 1;
                    self.delays.push(d - drift);
                }
                None => self.missed += 1,
            }
        }
        self.summarise();
    }

    /// Adds one drift-free stream's detections.
    pub fn add_stable_stream(&mut self, length: usize, detections: &[usize]) {
        self.false_alarms += detections.len();
        self.stable_values += length;
        self.summarise();
    }

    fn summarise(&mut self) {
        let mut delays = self.delays.clone();
        delays.sort_unstable();
        let n = delays.len();
        self.mean_delay = (n > 0).then(|| delays.iter().sum::<usize>() as f64 / n as f64);
        self.median_delay = (n > 0).then(|| {
            if n % 2 == 1 {
                delays[n / 2] as f64
            } else {
                (delays[n / 2 - 1] + delays[n / 2]) as f64 / 2.0
            }
        });
        self.false_alarms_per_10k = (self.stable_values > 0)
            .then(|| self.false_alarms as f64 * 10_000.0 / self.stable_values as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_detection_in_each_drift_window_counts() {
        let mut score = Score::default();
        // Drifts at 100 and 200 in a stream of 300, horizon 50: 120 detects the first (delay
        // 20); 130 is a second detection of it; 260 is past the second one's horizon.
        score.add_drift_stream(&[100, 200], 300, 50, &[40, 120, 130, 260]);
        assert_eq!((score.drifts, score.detected, score.missed), (2, 1, 1));
        assert_eq!(score.delays, vec![20]);
        // A detection right at the drift has delay 0; the window ends at the next drift.
        score.add_drift_stream(&[10, 20], 100, 1000, &[10, 25]);
        assert_eq!(score.delays, vec![20, 0, 5]);
        assert_eq!(score.mean_delay, Some(25.0 / 3.0));
        assert_eq!(score.median_delay, Some(5.0));
        assert_eq!(score.false_alarms_per_10k, None);
    }

    #[test]
    fn false_alarms_are_per_ten_thousand_drift_free_examples() {
        let mut score = Score::default();
        score.add_stable_stream(5000, &[1, 2, 3]);
        score.add_stable_stream(15_000, &[]);
        assert_eq!(score.false_alarms, 3);
        assert_eq!(score.false_alarms_per_10k, Some(1.5));
        assert_eq!(score.mean_delay, None);
    }
}
