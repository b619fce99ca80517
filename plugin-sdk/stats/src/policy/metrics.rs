//! Which way a metric worsens: error metrics when they rise, every other metric when it falls.

/// Error metrics, for which lower is better; every other metric is higher-is-better.
pub const LOWER_IS_BETTER: &[&str] = &["mae", "mse", "rmse", "log_loss"];

/// Whether `name` is better lower (`mae`, `rmse`, …, and their `estimated_` forms).
pub fn lower_is_better(name: &str) -> bool {
    let base = name.strip_prefix("estimated_").unwrap_or(name);
    LOWER_IS_BETTER.contains(&base)
}

/// How much `value` is worse than `baseline`: positive when it worsened, negative when it
/// improved.
pub fn worsening(name: &str, value: f64, baseline: f64) -> f64 {
    if lower_is_better(name) {
        value - baseline
    } else {
        baseline - value
    }
}
