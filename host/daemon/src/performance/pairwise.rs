//! Sums in the order of NumPy's pairwise summation.

/// Σ f(i) for i in 0..n, added in the order of NumPy's pairwise summation (`np.sum` of a
/// contiguous float64 array), so means agree with NumPy's to the last bit.
pub(super) fn pairwise_sum(n: usize, f: &impl Fn(usize) -> f64) -> f64 {
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
}
