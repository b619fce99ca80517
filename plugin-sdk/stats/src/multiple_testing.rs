//! Corrections for testing many columns at once: with twenty columns and a threshold of 0.05,
//! one column looks drifted by chance alone. Each correction turns the columns' p-values into
//! adjusted ones to compare with the same threshold; the order of the input is kept.

/// A correction for multiple testing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Correction {
    /// The p-values as they are.
    #[default]
    None,
    /// Bonferroni: `min(p · m, 1)`; bounds the chance of any false alarm (family-wise error).
    Bonferroni,
    /// Benjamini–Hochberg: bounds the expected share of false alarms among the columns called
    /// drifted (false discovery rate); as `scipy.stats.false_discovery_control(method='bh')`.
    BenjaminiHochberg,
}

impl Correction {
    /// The name used in configurations and reasons.
    pub fn name(self) -> &'static str {
        match self {
            Correction::None => "none",
            Correction::Bonferroni => "bonferroni",
            Correction::BenjaminiHochberg => "benjamini_hochberg",
        }
    }

    /// The adjusted p-values, in the order of `p_values`.
    pub fn adjust(self, p_values: &[f64]) -> Vec<f64> {
        match self {
            Correction::None => p_values.to_vec(),
            Correction::Bonferroni => bonferroni(p_values),
            Correction::BenjaminiHochberg => benjamini_hochberg(p_values),
        }
    }
}

/// Bonferroni-adjusted p-values: each multiplied by their number, at most 1.
pub fn bonferroni(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len() as f64;
    p_values.iter().map(|p| (p * m).min(1.0)).collect()
}

/// Benjamini–Hochberg-adjusted p-values: the i-th smallest times `m / i`, then the running
/// minimum from the largest down (so the adjusted values keep the order of the raw ones), at
/// most 1. Computed in SciPy's order of operations, so results match it to the last bit.
pub fn benjamini_hochberg(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let mut adjusted = vec![0.0; m];
    let mut running_min = f64::INFINITY;
    for (rank, &index) in order.iter().enumerate().rev() {
        let scaled = p_values[index] * (m as f64 / (rank + 1) as f64);
        running_min = running_min.min(scaled);
        adjusted[index] = running_min.clamp(0.0, 1.0);
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_p_values_give_none() {
        assert!(bonferroni(&[]).is_empty());
        assert!(benjamini_hochberg(&[]).is_empty());
    }

    #[test]
    fn the_running_minimum_lifts_the_smallest_p_value_to_its_tied_neighbours() {
        // Sorted 0.01, 0.04, 0.04, 0.04 scale to 0.04, 0.08, 0.053…, 0.04.
        assert_eq!(benjamini_hochberg(&[0.04, 0.01, 0.04, 0.04]), [0.04; 4]);
    }
}
