//! Model-quality metrics for one window of predictions joined with their true labels, matching
//! scikit-learn (checked against `tests/reference/metrics.json`, written by
//! `tests/reference/generate_metrics.py`).
//!
//! Classification ([`classification`]), labels compared as text:
//! - `accuracy`: the fraction of rows where the predicted label equals the actual one.
//! - `precision`, `recall`, `f1`: if the classes seen in `actual ∪ predicted` are at most two and
//!   one of them is the positive class — the scores' positive class when scores are given,
//!   otherwise `"1"`, else a case-insensitive `"true"` (the first in byte order if several
//!   spellings occur) — sklearn's `average="binary"` with that `pos_label`. Otherwise
//!   `average="macro"`: the unweighted mean over the sorted union of classes, so a class seen only
//!   in the predictions counts with recall 0, and one seen only in the actual labels with
//!   precision 0. A 0/0 ratio is 0.0 (`zero_division=0`).
//! - `roc_auc`: only with scores and only when `actual` holds both the positive class and some
//!   other class (positive against everything else); it is
//!   `roc_auc_score(actual == positive, scores)`, computed exactly as the Mann–Whitney U statistic
//!   with tied scores counting one half (−0.0 and 0.0 are tied), over `n_pos · n_neg`: the
//!   correctly rounded value, which sklearn's trapezoidal sum can miss by an ulp.
//!
//! Regression ([`regression`]): `mae`, `rmse`, and `r2` (`1 − SS_res / SS_tot`) only when the
//! actual values are not all equal (SS_tot > 0). Sums use NumPy's pairwise summation, so these
//! agree with scikit-learn to the last bit.
//!
//! An empty window gives no metrics. Inputs are expected finite (the caller drops other rows);
//! non-finite ones give meaningless figures but no panic. Slices of different lengths are cut to
//! the shortest. Metrics come in the order accuracy, precision, recall, f1, roc_auc, and mae,
//! rmse, r2. Time is O(n) for all but `roc_auc`, which sorts the scores (O(n log n)); 100k rows
//! take a few milliseconds.

/// One quality figure for a window.
#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    pub name: &'static str,
    pub value: f64,
}

/// Classification metrics. `predicted[i]` and `actual[i]` are class labels as text (numbers
/// already written as text by the caller). `scores`, when given, is (positive class, that
/// class's predicted probability per row) and enables `roc_auc`.
/// Returns accuracy, precision, recall, f1 (and roc_auc). Empty input → empty Vec.
pub fn classification(
    predicted: &[&str],
    actual: &[&str],
    scores: Option<(&str, &[f64])>,
) -> Vec<Metric> {
    let mut n = predicted.len().min(actual.len());
    if let Some((_, values)) = scores {
        n = n.min(values.len());
    }
    if n == 0 {
        return Vec::new();
    }
    let (predicted, actual) = (&predicted[..n], &actual[..n]);

    // Per class: rows predicted as it, rows actually of it, rows both (true positives). With
    // scores, the scores' positive class is entered first, as class 0, seen or not, and each
    // row's score is filed as a positive's or a negative's for roc_auc.
    let mut classes = Classes::new();
    let mut ranks = scores.map(|(label, _)| {
        classes.index(label, Key::of(label));
        Ranks::new(n)
    });
    let mut correct = 0usize;
    for i in 0..n {
        let (p, a) = (predicted[i], actual[i]);
        let a_key = Key::of(a);
        let ai = classes.index(a, a_key);
        classes.counts[ai].actual += 1;
        let p_key = Key::of(p);
        if p_key.same(p, a_key, a) {
            classes.counts[ai].predicted += 1;
            classes.counts[ai].hits += 1;
            correct += 1;
        } else {
            let pi = classes.index(p, p_key);
            classes.counts[pi].predicted += 1;
        }
        if let (Some(ranks), Some((_, values))) = (&mut ranks, scores) {
            ranks.push(values[i], ai == 0);
        }
    }

    // The classes seen, in sorted order as sklearn's unique_labels gives them.
    let mut order: Vec<usize> = (0..classes.names.len())
        .filter(|&i| classes.counts[i].seen())
        .collect();
    order.sort_unstable_by_key(|&i| classes.names[i]);

    let positive = if order.len() <= 2 {
        match scores {
            Some(_) => classes.counts[0].seen().then_some(0),
            None => classes.lookup("1").or_else(|| {
                order
                    .iter()
                    .copied()
                    .find(|&i| classes.names[i].eq_ignore_ascii_case("true"))
            }),
        }
    } else {
        None
    };

    let (precision, recall, f1) = match positive {
        Some(i) => classes.counts[i].scores(),
        None => {
            let per_class: Vec<(f64, f64, f64)> =
                order.iter().map(|&i| classes.counts[i].scores()).collect();
            let k = per_class.len();
            let mean = |pick: fn(&(f64, f64, f64)) -> f64| {
                pairwise_sum(k, &|i| pick(&per_class[i])) / k as f64
            };
            (mean(|s| s.0), mean(|s| s.1), mean(|s| s.2))
        }
    };

    let mut out = vec![
        Metric {
            name: "accuracy",
            value: correct as f64 / n as f64,
        },
        Metric {
            name: "precision",
            value: precision,
        },
        Metric {
            name: "recall",
            value: recall,
        },
        Metric {
            name: "f1",
            value: f1,
        },
    ];
    if let Some(value) = ranks.and_then(Ranks::roc_auc) {
        out.push(Metric {
            name: "roc_auc",
            value,
        });
    }
    out
}

/// Regression metrics: mae, rmse (and r2 when actual has nonzero variance). Empty → empty Vec.
pub fn regression(predicted: &[f64], actual: &[f64]) -> Vec<Metric> {
    let n = predicted.len().min(actual.len());
    if n == 0 {
        return Vec::new();
    }
    let (predicted, actual) = (&predicted[..n], &actual[..n]);
    let count = n as f64;

    let abs_sum = pairwise_sum(n, &|i| (predicted[i] - actual[i]).abs());
    let sq_sum = pairwise_sum(n, &|i| {
        let d = actual[i] - predicted[i];
        d * d
    });
    let mut out = vec![
        Metric {
            name: "mae",
            value: abs_sum / count,
        },
        Metric {
            name: "rmse",
            value: (sq_sum / count).sqrt(),
        },
    ];

    let mean = pairwise_sum(n, &|i| actual[i]) / count;
    let total = pairwise_sum(n, &|i| {
        let d = actual[i] - mean;
        d * d
    });
    if total > 0.0 {
        // sklearn (force_finite): a perfect fit is exactly 1.
        let r2 = if sq_sum == 0.0 {
            1.0
        } else {
            1.0 - sq_sum / total
        };
        out.push(Metric {
            name: "r2",
            value: r2,
        });
    }
    out
}

/// Confusion counts of one class.
#[derive(Clone, Copy, Default)]
struct Counts {
    predicted: u64,
    actual: u64,
    hits: u64,
}

impl Counts {
    fn seen(&self) -> bool {
        self.actual + self.predicted > 0
    }

    /// (precision, recall, f1) of this class, 0/0 taken as 0.
    fn scores(&self) -> (f64, f64, f64) {
        let ratio = |num: f64, den: f64| if den == 0.0 { 0.0 } else { num / den };
        let hits = self.hits as f64;
        let (predicted, actual) = (self.predicted as f64, self.actual as f64);
        (
            ratio(hits, predicted),
            ratio(hits, actual),
            // sklearn's form: (1 + β²)·tp / (β²·(tp + fn) + (tp + fp)).
            ratio(2.0 * hits, actual + predicted),
        )
    }
}

/// A label's length and a 64-bit word: its bytes themselves when it has at most 8 (so equal
/// keys mean equal labels), else a hash of all of them. Compares and hashes labels without
/// calling `memcmp` for the short labels classes usually have.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Key {
    len: usize,
    word: u64,
}

impl Key {
    const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

    fn of(label: &str) -> Key {
        let bytes = label.as_bytes();
        let word = if bytes.len() <= 8 {
            let mut word = 0u64;
            for (i, &b) in bytes.iter().enumerate() {
                word |= u64::from(b) << (8 * i);
            }
            word
        } else {
            let mut chunks = bytes.chunks_exact(8);
            let mut hash = 0u64;
            for chunk in &mut chunks {
                let word = u64::from_le_bytes(chunk.try_into().unwrap());
                hash = (hash.rotate_left(5) ^ word).wrapping_mul(Self::MULTIPLIER);
            }
            let mut tail = 0u64;
            for (i, &b) in chunks.remainder().iter().enumerate() {
                tail |= u64::from(b) << (8 * i);
            }
            (hash.rotate_left(5) ^ tail).wrapping_mul(Self::MULTIPLIER)
        };
        Key {
            len: bytes.len(),
            word,
        }
    }

    /// Whether `label` (whose key this is) equals `other` (whose key is `other_key`).
    fn same(self, label: &str, other_key: Key, other: &str) -> bool {
        self == other_key && (self.len <= 8 || label == other)
    }

    /// A slot of a table of 2^bits slots: the top bits of a multiplicative hash.
    fn slot(self, bits: u32) -> usize {
        let mixed = (self.word ^ self.len as u64).wrapping_mul(Self::MULTIPLIER);
        (mixed >> (64 - bits)) as usize
    }
}

/// The classes seen so far, with their counts, found through an open-addressing hash table.
struct Classes<'a> {
    names: Vec<&'a str>,
    keys: Vec<Key>,
    counts: Vec<Counts>,
    /// Class index + 1, or 0 for an empty slot; at most half full.
    slots: Vec<usize>,
}

impl<'a> Classes<'a> {
    fn new() -> Self {
        Classes {
            names: Vec::new(),
            keys: Vec::new(),
            counts: Vec::new(),
            slots: vec![0; 16],
        }
    }

    /// The class of `label`, or the empty slot where it would go.
    fn find(&self, label: &str, key: Key) -> Result<usize, usize> {
        let mask = self.slots.len() - 1;
        let mut slot = key.slot(self.slots.len().trailing_zeros());
        loop {
            match self.slots[slot] {
                0 => return Err(slot),
                c if key.same(label, self.keys[c - 1], self.names[c - 1]) => return Ok(c - 1),
                _ => slot = (slot + 1) & mask,
            }
        }
    }

    fn lookup(&self, label: &str) -> Option<usize> {
        self.find(label, Key::of(label)).ok()
    }

    fn index(&mut self, label: &'a str, key: Key) -> usize {
        let slot = match self.find(label, key) {
            Ok(class) => return class,
            Err(slot) => slot,
        };
        let class = self.names.len();
        self.names.push(label);
        self.keys.push(key);
        self.counts.push(Counts::default());
        self.slots[slot] = class + 1;
        if 2 * self.names.len() > self.slots.len() {
            let size = 2 * self.slots.len();
            let mask = size - 1;
            self.slots = vec![0; size];
            for (c, key) in self.keys.iter().enumerate() {
                let mut slot = key.slot(size.trailing_zeros());
                while self.slots[slot] != 0 {
                    slot = (slot + 1) & mask;
                }
                self.slots[slot] = c + 1;
            }
        }
        class
    }
}

/// The scores of one window split by actual class: the positives' fill `keys` from the front,
/// the negatives' from the back (one allocation, no branch per row).
struct Ranks {
    keys: Vec<u64>,
    positives: usize,
    negatives: usize,
}

impl Ranks {
    fn new(n: usize) -> Self {
        Ranks {
            keys: vec![0; n],
            positives: 0,
            negatives: 0,
        }
    }

    /// Files one row; at most `n` rows in all.
    fn push(&mut self, score: f64, positive: bool) {
        let key = order_key(score);
        let back = self.keys.len() - 1 - self.negatives;
        // One of the two writes is the real one; the other lands on a free slot (or the same).
        self.keys[self.positives] = key;
        self.keys[back] = key;
        self.positives += usize::from(positive);
        self.negatives += usize::from(!positive);
    }

    /// Area under the ROC curve, or `None` when a side is empty. Mann–Whitney: the fraction of
    /// (positive, negative) pairs ranked right, ties counting one half; 2U is an integer, so the
    /// only rounding is the final division.
    fn roc_auc(mut self) -> Option<f64> {
        let n = self.keys.len();
        let (pos, rest) = self.keys.split_at_mut(self.positives);
        let neg = &mut rest[n - self.positives - self.negatives..];
        if pos.is_empty() || neg.is_empty() {
            return None;
        }
        pos.sort_unstable();
        neg.sort_unstable();

        // Per run of equal positive scores: 2·(negatives below) + (negatives equal), per positive.
        let mut twice_u: u128 = 0;
        let (mut below, mut i) = (0usize, 0usize);
        while i < pos.len() {
            let key = pos[i];
            let mut run = i + 1;
            while run < pos.len() && pos[run] == key {
                run += 1;
            }
            while below < neg.len() && neg[below] < key {
                below += 1;
            }
            let mut equal_end = below;
            while equal_end < neg.len() && neg[equal_end] == key {
                equal_end += 1;
            }
            let per_positive = 2 * below as u128 + (equal_end - below) as u128;
            twice_u += per_positive * (run - i) as u128;
            below = equal_end;
            i = run;
        }
        let pairs = pos.len() as u128 * neg.len() as u128;
        Some(twice_u as f64 / (2 * pairs) as f64)
    }
}

/// A key whose unsigned order is the numeric order of `x`, with −0.0 and 0.0 equal.
fn order_key(x: f64) -> u64 {
    let bits = (x + 0.0).to_bits(); // −0.0 + 0.0 = 0.0
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// Σ f(i) for i in 0..n, added in the order of NumPy's pairwise summation (`np.sum` of a
/// contiguous float64 array), so means agree with NumPy's to the last bit.
fn pairwise_sum(n: usize, f: &impl Fn(usize) -> f64) -> f64 {
    pairwise_range(0, n, f)
}

fn pairwise_range(start: usize, n: usize, f: &impl Fn(usize) -> f64) -> f64 {
    const BLOCK: usize = 128;
    if n < 8 {
        let mut sum = -0.0;
        for i in start..start + n {
            sum += f(i);
        }
        sum
    } else if n <= BLOCK {
        let mut r = [0.0; 8];
        for (j, r) in r.iter_mut().enumerate() {
            *r = f(start + j);
        }
        let whole = n - n % 8;
        let mut i = 8;
        while i < whole {
            for (j, r) in r.iter_mut().enumerate() {
                *r += f(start + i + j);
            }
            i += 8;
        }
        let mut sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for k in whole..n {
            sum += f(start + k);
        }
        sum
    } else {
        let mut half = n / 2;
        half -= half % 8;
        pairwise_range(start, half, f) + pairwise_range(start + half, n - half, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const REFERENCE: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/reference/metrics.json"
    ));

    const CLASSIFICATION_ORDER: [&str; 5] = ["accuracy", "precision", "recall", "f1", "roc_auc"];
    const REGRESSION_ORDER: [&str; 3] = ["mae", "rmse", "r2"];

    fn strings(value: &Value) -> Vec<&str> {
        value
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect()
    }

    fn floats(value: &Value) -> Vec<f64> {
        value
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    }

    /// Names in the documented order, no name twice.
    fn assert_canonical_order(got: &[Metric], order: &[&str], case: &str) {
        let positions: Vec<usize> = got
            .iter()
            .map(|m| order.iter().position(|&o| o == m.name).unwrap())
            .collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "{case}: metrics out of order: {got:?}"
        );
    }

    #[test]
    fn matches_scikit_learn() {
        let file: Value = serde_json::from_str(REFERENCE).unwrap();
        assert_eq!(file["generated_by"], "tests/reference/generate_metrics.py");
        let cases = file["cases"].as_array().unwrap();
        assert!(cases.len() >= 25, "only {} cases", cases.len());
        let mut worst: (f64, String) = (0.0, String::new());
        let mut compared = 0;
        for case in cases {
            let name = case["name"].as_str().unwrap();
            let got = match case["kind"].as_str().unwrap() {
                "classification" => {
                    let predicted = strings(&case["predicted"]);
                    let actual = strings(&case["actual"]);
                    let score_values;
                    let scores = match &case["scores"] {
                        Value::Null => None,
                        scores => {
                            score_values = floats(&scores["values"]);
                            Some((scores["positive"].as_str().unwrap(), &score_values[..]))
                        }
                    };
                    let got = classification(&predicted, &actual, scores);
                    assert_canonical_order(&got, &CLASSIFICATION_ORDER, name);
                    got
                }
                "regression" => {
                    let got = regression(&floats(&case["predicted"]), &floats(&case["actual"]));
                    assert_canonical_order(&got, &REGRESSION_ORDER, name);
                    got
                }
                kind => panic!("{name}: unknown kind {kind}"),
            };
            let expected = case["expected"].as_object().unwrap();
            let mut got_names: Vec<&str> = got.iter().map(|m| m.name).collect();
            let mut expected_names: Vec<&str> = expected.keys().map(String::as_str).collect();
            got_names.sort_unstable();
            expected_names.sort_unstable();
            assert_eq!(got_names, expected_names, "{name}: metric names");
            for metric in &got {
                // Without serde_json's float_roundtrip feature a 17-digit expected value may be
                // read an ulp off; with it, all but two roc_auc values (1 ulp) match bit for bit.
                let want = expected[metric.name].as_f64().unwrap();
                let error = (metric.value - want).abs() / want.abs().max(1.0);
                assert!(
                    error <= 1e-12,
                    "{name}: {} = {} but scikit-learn says {want}",
                    metric.name,
                    metric.value
                );
                if error > worst.0 {
                    worst = (error, format!("{name}/{}", metric.name));
                }
                compared += 1;
            }
        }
        println!(
            "{} cases, {compared} metrics, worst error {:e} ({})",
            cases.len(),
            worst.0,
            worst.1
        );
    }

    fn value(metrics: &[Metric], name: &str) -> Option<f64> {
        metrics.iter().find(|m| m.name == name).map(|m| m.value)
    }

    #[test]
    fn empty_windows_have_no_metrics() {
        assert!(classification(&[], &[], None).is_empty());
        assert!(classification(&[], &[], Some(("1", &[]))).is_empty());
        assert!(regression(&[], &[]).is_empty());
        // A zero-length side empties the window.
        assert!(classification(&["1"], &[], None).is_empty());
        assert!(classification(&["1"], &["1"], Some(("1", &[]))).is_empty());
        assert!(regression(&[1.0], &[]).is_empty());
    }

    #[test]
    fn mismatched_lengths_use_the_shorter() {
        let got = classification(&["1", "0", "1"], &["1", "0"], None);
        assert_eq!(value(&got, "accuracy"), Some(1.0));
        let got = classification(&["1", "0", "1"], &["1", "0", "0"], Some(("1", &[0.9, 0.1])));
        assert_eq!(value(&got, "accuracy"), Some(1.0));
        assert_eq!(value(&got, "roc_auc"), Some(1.0));
        let got = regression(&[1.0, 2.0, 100.0], &[1.0, 3.0]);
        assert_eq!(value(&got, "mae"), Some(0.5));
    }

    #[test]
    fn positive_class_choice() {
        // "1" wins over "true" when both are seen; the scores' class wins over both.
        let got = classification(&["1", "1", "true"], &["1", "true", "true"], None);
        assert_eq!(value(&got, "precision"), Some(0.5));
        assert_eq!(value(&got, "recall"), Some(1.0));
        let got = classification(&["TRUE", "FALSE"], &["TRUE", "TRUE"], None);
        assert_eq!(value(&got, "recall"), Some(0.5));
        assert_eq!(value(&got, "precision"), Some(1.0));
        // Positive "FALSE" through the scores: precision 0/1, recall 0/0.
        let got = classification(
            &["TRUE", "FALSE"],
            &["TRUE", "TRUE"],
            Some(("FALSE", &[0.2, 0.7])),
        );
        assert_eq!(value(&got, "precision"), Some(0.0));
        assert_eq!(value(&got, "recall"), Some(0.0));
        assert_eq!(value(&got, "roc_auc"), None);
        // No positive among two classes: macro average.
        let got = classification(&["a", "a"], &["a", "b"], None);
        assert_eq!(value(&got, "precision"), Some(0.25));
        assert_eq!(value(&got, "recall"), Some(0.5));
    }

    #[test]
    fn roc_auc_ties_and_signed_zeros() {
        let actual = ["1", "0", "1", "0"];
        let got = classification(&actual, &actual, Some(("1", &[0.5, 0.5, 0.5, 0.5])));
        assert_eq!(value(&got, "roc_auc"), Some(0.5));
        let got = classification(&actual, &actual, Some(("1", &[0.0, -0.0, 0.0, -0.0])));
        assert_eq!(value(&got, "roc_auc"), Some(0.5));
        let got = classification(&actual, &actual, Some(("1", &[0.7, 0.7, 0.9, 0.1])));
        assert_eq!(value(&got, "roc_auc"), Some(0.875));
        // One class in actual: no roc_auc.
        let got = classification(&["1", "0"], &["1", "1"], Some(("1", &[0.2, 0.3])));
        assert_eq!(value(&got, "roc_auc"), None);
        assert_eq!(got.len(), 4);
    }

    #[test]
    fn regression_edge_cases() {
        let got = regression(&[1.0, 2.0], &[5.0, 5.0]);
        assert_eq!(
            got,
            vec![
                Metric {
                    name: "mae",
                    value: 3.5
                },
                Metric {
                    name: "rmse",
                    value: 12.5f64.sqrt()
                },
            ]
        );
        let got = regression(&[1.0, 2.0], &[1.0, 2.0]);
        assert_eq!(value(&got, "r2"), Some(1.0));
        assert_eq!(value(&got, "rmse"), Some(0.0));
    }

    #[test]
    fn pairwise_sum_is_numpys() {
        // np.sum of this array (numpy 2.4) is 1.100000000004995e16; a left-to-right sum gives
        // 1.1000000000049976e16.
        let values: Vec<f64> = (0..1000)
            .map(|i| 0.1 * ((i * 7919) % 1000) as f64 + if i % 97 == 0 { 1e15 } else { 0.0 })
            .collect();
        assert_eq!(
            pairwise_sum(values.len(), &|i| values[i]),
            1.100000000004995e16
        );
        assert_eq!(values.iter().fold(0.0, |a, b| a + b), 1.1000000000049976e16);
    }

    #[test]
    fn many_classes_with_long_shared_prefixes() {
        // Labels longer than 8 bytes, alike in their first 8, in separate allocations; enough
        // classes to grow the class table several times.
        let labels: Vec<String> = (0..100).map(|i| format!("category_{i:03}")).collect();
        let copies: Vec<String> = labels.clone();
        let actual: Vec<&str> = labels.iter().map(String::as_str).collect();
        let predicted: Vec<&str> = copies.iter().map(String::as_str).collect();
        let got = classification(&predicted, &actual, None);
        assert!(got.iter().all(|m| m.value == 1.0), "{got:?}");
        // Each class predicted as the next one: everything wrong.
        let mut shifted = predicted.clone();
        shifted.rotate_left(1);
        let got = classification(&shifted, &actual, None);
        assert!(got.iter().all(|m| m.value == 0.0), "{got:?}");
        // Half right: 50 classes with precision = recall = 1, 50 with 0.
        let mut half = predicted.clone();
        half[50..].rotate_left(1);
        let scores: Vec<f64> = (0..100).map(|i| f64::from(i) / 100.0).collect();
        let got = classification(&half, &actual, Some(("category_099", &scores)));
        assert_eq!(value(&got, "accuracy"), Some(0.5));
        assert_eq!(value(&got, "precision"), Some(0.5));
        assert_eq!(value(&got, "recall"), Some(0.5));
        assert_eq!(value(&got, "roc_auc"), Some(1.0));
    }

    #[test]
    fn large_window_is_fast() {
        let n = 100_000;
        let names = ["0", "1"];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let actual: Vec<&str> = (0..n).map(|_| names[(next() % 2) as usize]).collect();
        let predicted: Vec<&str> = (0..n).map(|_| names[(next() % 2) as usize]).collect();
        let scores: Vec<f64> = (0..n).map(|_| (next() % 1000) as f64 / 1000.0).collect();
        let values: Vec<f64> = scores.iter().map(|s| s * 10.0).collect();
        let start = std::time::Instant::now();
        let got = classification(&predicted, &actual, Some(("1", &scores)));
        let reg = regression(&values, &scores);
        let elapsed = start.elapsed();
        assert_eq!(got.len(), 5);
        assert_eq!(reg.len(), 3);
        println!("100k rows: {elapsed:?}");
        if !cfg!(debug_assertions) {
            // Generous against a loaded machine; catches anything worse than n log n.
            assert!(elapsed.as_millis() < 500, "100k rows took {elapsed:?}");
        }
    }
}
