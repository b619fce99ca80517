//! The pooled sample of two sorted samples, walked in ascending order: what the CDF-based
//! statistics (Wasserstein, energy, Kuiper) and the rank statistics (Mann–Whitney) read.

use vigil_plugin_sdk::{Error, Result};

use crate::sum::pairwise_sum;

/// One value of the pooled sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// The value.
    pub value: f64,
    /// The next value of the pooled sample (equal for ties), `None` after the last.
    pub next: Option<f64>,
    /// How many values of the first sample are at most `value`.
    pub first_at_most: usize,
    /// How many values of the second sample are at most `value`.
    pub second_at_most: usize,
}

/// Visits every value of the pooled sample of `first` and `second` (both ascending), ties once
/// per copy, as `np.sort(np.concatenate(...))` lists them; the counts are
/// `searchsorted(..., side="right")` of each sample.
pub fn walk(first: &[f64], second: &[f64], mut visit: impl FnMut(Point)) {
    let (mut i, mut j) = (0, 0);
    let (mut first_at_most, mut second_at_most) = (0, 0);
    let take = |i: usize, j: usize| -> Option<(f64, usize, usize)> {
        match (first.get(i), second.get(j)) {
            (Some(&a), Some(&b)) if a <= b => Some((a, i + 1, j)),
            (Some(_), Some(&b)) => Some((b, i, j + 1)),
            (Some(&a), None) => Some((a, i + 1, j)),
            (None, Some(&b)) => Some((b, i, j + 1)),
            (None, None) => None,
        }
    };
    let mut current = take(i, j);
    while let Some((value, next_i, next_j)) = current {
        (i, j) = (next_i, next_j);
        let following = take(i, j);
        while first_at_most < first.len() && first[first_at_most] <= value {
            first_at_most += 1;
        }
        while second_at_most < second.len() && second[second_at_most] <= value {
            second_at_most += 1;
        }
        visit(Point {
            value,
            next: following.map(|(next, _, _)| next),
            first_at_most,
            second_at_most,
        });
        current = following;
    }
}

/// The order of a CDF distance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// `∫ |F − G|`: the Wasserstein-1 distance.
    One,
    /// `sqrt(∫ (F − G)²)`: the energy distance over sqrt(2).
    Two,
}

/// SciPy's `_cdf_distance(p, first, second)` for p = 1 or 2: the gap between the empirical
/// CDFs at each value of the pooled sample, raised to `p`, times the step to the next value,
/// summed (pairwise; SciPy's dot product sums in another order, which moves the result by a few
/// ulps), then the `p`-th root. An error when infinite values make it meaningless.
pub fn cdf_distance(order: Order, first: &[f64], second: &[f64]) -> Result<f64> {
    let (n, m) = (first.len() as f64, second.len() as f64);
    let mut terms = Vec::with_capacity(first.len() + second.len());
    walk(first, second, |point| {
        if let Some(next) = point.next {
            let gap = (point.first_at_most as f64 / n - point.second_at_most as f64 / m).abs();
            let gap = match order {
                Order::One => gap,
                Order::Two => gap * gap,
            };
            terms.push(gap * (next - point.value));
        }
    });
    let integral = pairwise_sum(&terms);
    finite(match order {
        Order::One => integral,
        Order::Two => integral.sqrt(),
    })
}

/// The distance, or an error when infinite values made it meaningless.
pub fn finite(distance: f64) -> Result<f64> {
    if distance.is_finite() {
        Ok(distance)
    } else {
        Err(Error::InvalidInput(
            "the samples hold infinite values (or values so far apart that the distance \
             overflows), so the distance is not a finite number"
                .into(),
        ))
    }
}

/// Groups of equal values in the pooled sample, ascending: how many copies each sample holds.
pub fn tie_groups(first: &[f64], second: &[f64]) -> Vec<(usize, usize)> {
    let mut groups = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < first.len() || j < second.len() {
        let value = match (first.get(i), second.get(j)) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => unreachable!(),
        };
        let (start_i, start_j) = (i, j);
        while i < first.len() && first[i] == value {
            i += 1;
        }
        while j < second.len() && second[j] == value {
            j += 1;
        }
        groups.push((i - start_i, j - start_j));
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_the_pooled_sample_with_right_counts() {
        let mut points = Vec::new();
        walk(&[1.0, 2.0, 2.0], &[2.0, 3.0], |p| points.push(p));
        let summary: Vec<_> = points
            .iter()
            .map(|p| (p.value, p.next, p.first_at_most, p.second_at_most))
            .collect();
        assert_eq!(
            summary,
            vec![
                (1.0, Some(2.0), 1, 0),
                (2.0, Some(2.0), 3, 1),
                (2.0, Some(2.0), 3, 1),
                (2.0, Some(3.0), 3, 1),
                (3.0, None, 3, 2),
            ]
        );
        assert_eq!(
            tie_groups(&[1.0, 2.0, 2.0], &[2.0, 3.0]),
            vec![(1, 0), (2, 1), (0, 1)]
        );
    }

    #[test]
    fn cdf_distances() {
        assert_eq!(
            cdf_distance(Order::One, &[0.0, 1.0], &[2.0, 3.0]).unwrap(),
            2.0
        );
        assert_eq!(cdf_distance(Order::Two, &[0.0], &[1.0]).unwrap(), 1.0);
        assert_eq!(
            cdf_distance(Order::One, &[1.0, 2.0], &[1.0, 2.0]).unwrap(),
            0.0
        );
        assert!(cdf_distance(Order::One, &[0.0, f64::INFINITY], &[1.0]).is_err());
    }
}
