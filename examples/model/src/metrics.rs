//! Holdout metrics: accuracy, and ROC AUC for binary models.

/// The share of predictions equal to the truth. `None` without rows.
pub fn accuracy(predicted: &[usize], truth: &[usize]) -> Option<f64> {
    if truth.is_empty() {
        return None;
    }
    let right = predicted.iter().zip(truth).filter(|(p, t)| p == t).count();
    Some(right as f64 / truth.len() as f64)
}

/// The area under the ROC curve: the chance that a random positive scores above a random
/// negative, ties counting half (the Mann–Whitney U statistic over ranks, which is what
/// scikit-learn's `roc_auc_score` computes). `None` unless both classes are present.
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    let positives = positive.iter().filter(|p| **p).count();
    let negatives = positive.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Ranks from 1, tied scores sharing their average rank.
    let mut rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        let average_rank = (start + 1 + end) as f64 / 2.0;
        rank_sum +=
            average_rank * order[start..end].iter().filter(|&&i| positive[i]).count() as f64;
        start = end;
    }
    let (p, n) = (positives as f64, negatives as f64);
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracy_counts_the_right_predictions() {
        assert_eq!(accuracy(&[1, 0, 1, 1], &[1, 0, 0, 1]), Some(0.75));
        assert_eq!(accuracy(&[], &[]), None);
    }

    #[test]
    fn roc_auc_matches_hand_computed_cases() {
        // Perfect ranking, reversed, and scikit-learn's documented example (0.75).
        assert_eq!(
            roc_auc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]),
            Some(1.0)
        );
        assert_eq!(
            roc_auc(&[0.9, 0.8, 0.2, 0.1], &[false, false, true, true]),
            Some(0.0)
        );
        assert_eq!(
            roc_auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]),
            Some(0.75)
        );
        // All tied: chance.
        assert_eq!(roc_auc(&[0.5; 4], &[false, true, false, true]), Some(0.5));
        assert_eq!(roc_auc(&[0.5, 0.6], &[true, true]), None);
    }
}
