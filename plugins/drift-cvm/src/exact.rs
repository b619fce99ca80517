//! The exact null distribution of U, as SciPy's `_pval_cvm_2samp_exact` computes it (Xiao,
//! Gordon and Yakovlev 2006, after Anderson 1962): the frequency of every value of the lattice
//! path sum `Σ (a v − b u)²`, built one step at a time, and the share of paths at least as
//! extreme as the observed U.

use std::collections::BTreeMap;

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Python's float floor division `x // y`, which rounds the way `fmod` dictates rather than
/// as `floor(x / y)` does.
fn python_floor_div(x: f64, y: f64) -> f64 {
    let modulo = x % y;
    let mut div = (x - modulo) / y;
    if modulo != 0.0 && ((y < 0.0) != (modulo < 0.0)) {
        div -= 1.0;
    }
    let floor = div.floor();
    if div - floor > 0.5 {
        floor + 1.0
    } else {
        floor
    }
}

/// `P(U' >= u)` for samples of `m` and `n` values (both at most 20).
pub fn p_value(u: f64, m: usize, n: usize) -> f64 {
    let (m64, n64) = (m as u64, n as u64);
    let lcm = m64 / gcd(m64, n64) * n64;
    let (a, b) = (lcm / m64, lcm / n64);
    let mn = m64 * n64;
    let zeta = python_floor_div(
        (lcm * lcm * (m64 + n64)) as f64 * (6.0 * u - (mn * (4 * mn - 1)) as f64),
        (6 * mn * mn) as f64,
    );

    // gs[v]: frequency of each path sum over the paths ending at (u, v).
    let mut gs: Vec<BTreeMap<u64, u64>> = vec![BTreeMap::new(); m + 1];
    gs[0].insert(0, 1);
    for step_u in 0..=n64 {
        let mut next = Vec::with_capacity(m + 1);
        let mut running: BTreeMap<u64, u64> = BTreeMap::new();
        for (v, g) in gs.iter().enumerate() {
            for (&value, &frequency) in g {
                *running.entry(value).or_insert(0) += frequency;
            }
            let step = (a * v as u64).abs_diff(b * step_u);
            let res = step * step;
            running = running
                .into_iter()
                .map(|(value, frequency)| (value + res, frequency))
                .collect();
            next.push(running.clone());
        }
        gs = next;
    }
    let extreme: u64 = gs[m]
        .iter()
        .filter(|&(&value, _)| value as f64 >= zeta)
        .map(|(_, &frequency)| frequency)
        .sum();
    extreme as f64 / binomial(m64 + n64, m64) as f64
}

fn binomial(n: u64, k: u64) -> u64 {
    (1..=k).fold(1u64, |c, i| c * (n - k + i) / i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_division_like_python() {
        assert_eq!(python_floor_div(7.0, 2.0), 3.0);
        assert_eq!(python_floor_div(-7.0, 2.0), -4.0);
        assert_eq!(python_floor_div(6.0, 3.0), 2.0);
    }

    #[test]
    fn most_extreme_and_least_extreme() {
        // The smallest U is reached by every path: p = 1.
        assert_eq!(p_value(0.0, 3, 3), 1.0);
        assert_eq!(binomial(40, 20), 137_846_528_820);
    }
}
