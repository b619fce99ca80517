//! ROC AUC as the Mann–Whitney U statistic, exact, ties counting one half.

/// The scores of one window split by actual class: the positives' fill `keys` from the front,
/// the negatives' from the back (one allocation, no branch per row).
pub(super) struct Ranks {
    keys: Vec<u64>,
    positives: usize,
    negatives: usize,
}

impl Ranks {
    pub(super) fn new(n: usize) -> Self {
        Ranks {
            keys: vec![0; n],
            positives: 0,
            negatives: 0,
        }
    }

    /// Files one row; at most `n` rows in all.
    pub(super) fn push(&mut self, score: f64, positive: bool) {
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
    pub(super) fn roc_auc(mut self) -> Option<f64> {
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
