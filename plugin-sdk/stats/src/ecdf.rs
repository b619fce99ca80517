//! The pooled sample of two sorted samples, walked in ascending order: what the CDF-based
//! statistics (Wasserstein, energy, Kuiper) and the rank statistics (Mann–Whitney) read.

use vigil_plugin_sdk::{Error, Result};

use crate::sum::pairwise_sum_iter;

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
pub fn walk(first: &[f64], second: &[f64], visit: impl FnMut(Point)) {
    Walk::new(first, second).for_each(visit);
}

/// [`walk`] as an iterator.
#[derive(Debug, Clone)]
pub struct Walk<'a> {
    first: &'a [f64],
    second: &'a [f64],
    i: usize,
    j: usize,
    first_at_most: usize,
    second_at_most: usize,
    current: Option<f64>,
}

impl<'a> Walk<'a> {
    /// The walk over the pooled sample of `first` and `second` (both ascending).
    pub fn new(first: &'a [f64], second: &'a [f64]) -> Self {
        let mut walk = Walk {
            first,
            second,
            i: 0,
            j: 0,
            first_at_most: 0,
            second_at_most: 0,
            current: None,
        };
        walk.current = walk.pop();
        walk
    }

    /// The next value of the pooled sample, advancing past it.
    #[inline]
    fn pop(&mut self) -> Option<f64> {
        match (self.first.get(self.i), self.second.get(self.j)) {
            (Some(&a), Some(&b)) if a <= b => {
                self.i += 1;
                Some(a)
            }
            (_, Some(&b)) => {
                self.j += 1;
                Some(b)
            }
            (Some(&a), None) => {
                self.i += 1;
                Some(a)
            }
            (None, None) => None,
        }
    }
}

impl Iterator for Walk<'_> {
    type Item = Point;

    #[inline]
    fn next(&mut self) -> Option<Point> {
        let value = self.current?;
        let following = self.pop();
        let (first, second) = (self.first, self.second);
        while self.first_at_most < first.len() && first[self.first_at_most] <= value {
            self.first_at_most += 1;
        }
        while self.second_at_most < second.len() && second[self.second_at_most] <= value {
            self.second_at_most += 1;
        }
        self.current = following;
        Some(Point {
            value,
            next: following,
            first_at_most: self.first_at_most,
            second_at_most: self.second_at_most,
        })
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
    let mut terms = Walk::new(first, second).filter_map(|point| {
        let next = point.next?;
        let gap = (point.first_at_most as f64 / n - point.second_at_most as f64 / m).abs();
        let gap = match order {
            Order::One => gap,
            Order::Two => gap * gap,
        };
        Some(gap * (next - point.value))
    });
    // Every value but the last has a next one.
    let integral = pairwise_sum_iter(first.len() + second.len() - 1, &mut terms);
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
    TieGroups::new(first, second).collect()
}

/// [`tie_groups`] as an iterator, which holds no memory of its own: the rank statistics walk
/// the groups of two million values several times rather than keep them.
#[derive(Debug, Clone)]
pub struct TieGroups<'a> {
    first: &'a [f64],
    second: &'a [f64],
    i: usize,
    j: usize,
}

impl<'a> TieGroups<'a> {
    /// The groups of the pooled sample of `first` and `second` (both ascending).
    pub fn new(first: &'a [f64], second: &'a [f64]) -> Self {
        TieGroups {
            first,
            second,
            i: 0,
            j: 0,
        }
    }
}

impl Iterator for TieGroups<'_> {
    type Item = (usize, usize);

    #[inline]
    fn next(&mut self) -> Option<(usize, usize)> {
        let (first, second) = (self.first, self.second);
        let value = match (first.get(self.i), second.get(self.j)) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => return None,
        };
        let (start_i, start_j) = (self.i, self.j);
        while self.i < first.len() && first[self.i] == value {
            self.i += 1;
        }
        while self.j < second.len() && second[self.j] == value {
            self.j += 1;
        }
        Some((self.i - start_i, self.j - start_j))
    }
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
