//! Which tested columns count as drifted once a multiple-testing correction is applied across
//! them, and how a reason says so: shared by `policy-threshold` and the `drift_share` condition.

use vigil_plugin_sdk::ColumnResult;

use super::text::plural;
use crate::multiple_testing::Correction;

/// What a multiple-testing correction did, for the reason.
#[derive(Clone, Debug, PartialEq)]
pub struct Corrected {
    pub correction: Correction,
    pub alpha: f64,
    /// Tested columns with a p-value: the ones adjusted.
    pub adjusted: usize,
    /// Of those, the ones whose adjusted p-value is below `alpha`.
    pub passed: usize,
    /// Tested columns without a p-value, which kept their test's flag.
    pub kept: usize,
}

/// Whether each tested column counts as drifted: its test's flag, or with a correction, its
/// adjusted p-value below `alpha` (columns without a p-value keep their flag).
pub fn drifted_flags(
    tested: &[&ColumnResult],
    correction: Correction,
    alpha: f64,
) -> (Vec<bool>, Option<Corrected>) {
    let mut flags: Vec<bool> = tested.iter().map(|c| c.drifted).collect();
    if correction == Correction::None {
        return (flags, None);
    }
    let with_p: Vec<(usize, f64)> = tested
        .iter()
        .enumerate()
        .filter_map(|(i, c)| Some((i, c.p_value?)))
        .collect();
    let raw: Vec<f64> = with_p.iter().map(|&(_, p)| p).collect();
    let adjusted = correction.adjust(&raw);
    let mut passed = 0;
    for (&(index, _), adjusted) in with_p.iter().zip(adjusted) {
        flags[index] = adjusted < alpha;
        passed += usize::from(flags[index]);
    }
    let corrected = Corrected {
        correction,
        alpha,
        adjusted: with_p.len(),
        passed,
        kept: tested.len() - with_p.len(),
    };
    (flags, Some(corrected))
}

/// Which correction decided the drifted flags and how many columns passed it, as a tail for a
/// clause ("; bonferroni correction over 3 p-values: 1 adjusted below alpha 0.05").
pub fn correction_note(corrected: Option<&Corrected>) -> String {
    let Some(c) = corrected else {
        return String::new();
    };
    let mut out = if c.adjusted == 0 {
        format!(
            "; {} correction: no tested column had a p-value to adjust",
            c.correction.name()
        )
    } else {
        format!(
            "; {} correction over {} p-{}: {} adjusted below alpha {}",
            c.correction.name(),
            c.adjusted,
            plural(c.adjusted, "value", "values"),
            c.passed,
            c.alpha
        )
    };
    if c.kept > 0 {
        out.push_str(&format!(
            ", {} {} without a p-value kept {} test's flag",
            c.kept,
            plural(c.kept, "column", "columns"),
            plural(c.kept, "its", "their")
        ));
    }
    out
}
