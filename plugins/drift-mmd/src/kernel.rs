//! The kernel matrix of the pooled rows and the unbiased MMD² of a labelling of them.

use vigil_plugin_stats::columns::Rows;

/// The pooled rows' kernel values, upper triangle without the diagonal, row-major:
/// pairs `(0,1), (0,2), …, (0,N-1), (1,2), …`.
pub struct Pooled {
    size: usize,
    kernel: Vec<f64>,
}

impl Pooled {
    /// Pools `reference` and `window` (same columns, standardized), in that order.
    pub fn new(reference: &Rows, window: &Rows) -> Pooled {
        let rows: Vec<&[f64]> = (0..reference.len())
            .map(|i| reference.row(i))
            .chain((0..window.len()).map(|i| window.row(i)))
            .collect();
        let size = rows.len();
        let mut squared = Vec::with_capacity(size * (size - 1) / 2);
        for i in 0..size {
            for j in i + 1..size {
                // Summed column by column, as the reference script does.
                let mut sum = 0.0;
                for (a, b) in rows[i].iter().zip(rows[j]) {
                    let d = a - b;
                    sum += d * d;
                }
                squared.push(sum);
            }
        }
        let sigma = median_distance(&squared);
        let sigma = if sigma == 0.0 { 1.0 } else { sigma };
        let scale = 2.0 * sigma * sigma;
        let kernel = squared.into_iter().map(|d2| (-d2 / scale).exp()).collect();
        Pooled { size, kernel }
    }

    /// The number of pooled rows.
    pub fn len(&self) -> usize {
        self.size
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// The unbiased MMD² between the rows labelled `true` and the others. Each of the three
    /// sums runs over its pairs in row-major order, so that the same split (or, with equal
    /// sizes, the swapped one) gives the same bits, as in the reference script.
    pub fn mmd2(&self, labels: &[bool]) -> f64 {
        mmd2(self.size, &self.kernel, labels)
    }
}

/// See [`Pooled::mmd2`]: `kernel` is the upper triangle of a `size × size` matrix.
pub fn mmd2(size: usize, kernel: &[f64], labels: &[bool]) -> f64 {
    // sums[0]: both unlabelled; sums[1]: one of each; sums[2]: both labelled.
    let mut sums = [0.0f64; 3];
    let mut k = 0;
    for i in 0..size {
        let li = usize::from(labels[i]);
        for j in i + 1..size {
            sums[li + usize::from(labels[j])] += kernel[k];
            k += 1;
        }
    }
    let n = labels.iter().filter(|&&l| l).count() as f64;
    let m = size as f64 - n;
    let [yy, xy, xx] = sums;
    (xx * 2.0) / (n * (n - 1.0)) + (yy * 2.0) / (m * (m - 1.0)) - (xy * 2.0) / (n * m)
}

/// `np.median(np.sqrt(squared))`: the middle distance, or the mean of the two middle ones.
fn median_distance(squared: &[f64]) -> f64 {
    let mut distances: Vec<f64> = squared.iter().map(|d2| d2.sqrt()).collect();
    let count = distances.len();
    let half = count / 2;
    let (_, &mut upper, _) = distances.select_nth_unstable_by(half, f64::total_cmp);
    if count % 2 == 1 {
        return upper;
    }
    let lower = distances[..half]
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    // np.median takes the mean of the two middle values.
    (lower + upper) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median_distance(&[9.0, 1.0, 4.0]), 2.0);
        assert_eq!(median_distance(&[9.0, 1.0, 4.0, 16.0]), 2.5);
    }

    #[test]
    fn a_swapped_split_gives_the_same_bits() {
        let kernel: Vec<f64> = (0..6).map(|i| 0.1 + f64::from(i) * 0.137).collect();
        let a = mmd2(4, &kernel, &[true, false, true, false]);
        let b = mmd2(4, &kernel, &[false, true, false, true]);
        assert_eq!(a.to_bits(), b.to_bits());
    }
}
