//! The names Vigil writes on Kubernetes objects: its field manager, labels and annotations.

/// The field manager of every write (server-side apply and creates), so `managedFields` show
/// which fields Vigil owns.
pub const FIELD_MANAGER: &str = "vigil";

/// On everything Vigil creates.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY_VALUE: &str = "vigil";
/// The model a Job retrains (label: as a label value allows; annotation: exact).
pub const MODEL: &str = "vigil.dev/model";
/// The run a Job and its Secret belong to.
pub const RUN: &str = "vigil.dev/run";
/// The version a pod template or an `InferenceService` serves (label: as a label value
/// allows; annotation: exact).
pub const VERSION: &str = "vigil.dev/version";
/// The artifact URI of that version.
pub const ARTIFACT: &str = "vigil.dev/artifact";
/// On a Job: the name of the Secret holding its run's secret variables, written once that
/// Secret exists (see `job::start`).
pub const TOKEN_SECRET: &str = "vigil.dev/token-secret";

/// `value` as a label value: at most 63 characters of `[A-Za-z0-9._-]`, starting and ending
/// alphanumeric. Values that are valid already are kept as they are; others have each other
/// character replaced by `-` and are cut to 63 (the exact value is kept in an annotation).
pub fn label_value(value: &str) -> String {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let replaced: String = value
        .chars()
        .map(|c| if allowed(c) { c } else { '-' })
        .collect();
    let trimmed = replaced.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    let cut = &trimmed[..trimmed.len().min(63)];
    cut.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_valid_and_kept_when_they_can_be() {
        assert_eq!(label_value("churn-v2.1_b"), "churn-v2.1_b");
        assert_eq!(label_value("2024-05-01T10:00:00Z"), "2024-05-01T10-00-00Z");
        assert_eq!(label_value("-ü-x-"), "x");
        assert_eq!(label_value(""), "");
        let long = label_value(&format!("a{}", "-".repeat(70)));
        assert_eq!(long, "a");
        assert_eq!(label_value(&"x".repeat(100)).len(), 63);
    }
}
