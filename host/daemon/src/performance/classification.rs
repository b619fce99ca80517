//! Classification metrics: accuracy, precision, recall and f1 from per-class confusion counts,
//! and roc_auc from the scores.

use super::Metric;
use super::classes::{Classes, Key};
use super::pairwise::pairwise_sum;
use super::roc_auc::Ranks;

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
