//! The words every part of the daemon shares: feature kinds, model tasks, ingestion formats,
//! what a missing value is, how a number reads as text, what a name may be and how plugin
//! versions order. It imports
//! nothing of the daemon's, so every module can import it.

use serde::{Deserialize, Serialize};

/// What a feature's values are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FeatureKind {
    Numeric,
    Categorical,
}

impl FeatureKind {
    /// The name the spec uses.
    pub fn name(self) -> &'static str {
        match self {
            FeatureKind::Numeric => "numeric",
            FeatureKind::Categorical => "categorical",
        }
    }
}

/// How records, labels and reference rows are sent: by `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Ndjson,
    Csv,
}

impl Format {
    /// The format a `Content-Type` names; `None` for anything else.
    pub fn from_content_type(content_type: &str) -> Option<Format> {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/json" => Some(Format::Json),
            "application/x-ndjson"
            | "application/ndjson"
            | "application/jsonl"
            | "application/x-jsonlines" => Some(Format::Ndjson),
            "text/csv" => Some(Format::Csv),
            _ => None,
        }
    }
}

/// Whether predictions are classes or values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    Classification,
    Regression,
}

impl Task {
    /// The task a model was registered with (`classification` or `regression`).
    pub fn parse(text: &str) -> Option<Task> {
        match text {
            "classification" => Some(Task::Classification),
            "regression" => Some(Task::Regression),
            _ => None,
        }
    }
}

/// The texts that mean "no value" in CSV, for ingestion and `vigil drift` alike.
pub const MISSING: [&str; 5] = ["", "NA", "NaN", "nan", "null"];

/// Whether a CSV cell holds no value.
pub fn is_missing(cell: &str) -> bool {
    MISSING.contains(&cell)
}

/// Numbers as class names and categories: `1` rather than `1.0`.
pub fn number_text(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        value.to_string()
    }
}

/// A name of a feature, model, monitor or version: 1 to 128 ASCII letters, digits, `-`, `_`
/// or `.`; the error names `field`.
pub fn valid_name(field: &str, name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{field}: `{name}` must be 1 to 128 letters, digits, `-`, `_` or `.`"
        ))
    }
}

/// Checks a feature's name (as a monitor's features are named).
pub fn check_feature_name(name: &str) -> Result<(), String> {
    valid_name("name", name)
        .map(|_| ())
        .map_err(|_| "a feature's name is 1 to 128 letters, digits, `-`, `_` or `.`".to_string())
}

/// Checks a model, version or monitor name, which appears in URLs: it also starts with a
/// letter or digit, so that `.` and `..` (which URLs resolve away) are not names.
/// A plugin's version, by the one rule the daemon and `vigil drift --plugins` share: semantic
/// versioning (`1.2.0`, `0.3.0-rc.1`), so that versions order as their authors mean.
pub fn plugin_version(version: &str) -> Result<semver::Version, String> {
    semver::Version::parse(version)
        .map_err(|e| format!("the plugin's version `{version}` is not semver (like 1.2.0): {e}"))
}

/// Of several versions of a plugin, the one a name without a version means: the highest by
/// semver (`0.10.0` above `0.9.0`). Versions that are not semver never win.
pub fn newest_version<T>(
    candidates: impl IntoIterator<Item = T>,
    version: impl Fn(&T) -> &str,
) -> Option<T> {
    candidates
        .into_iter()
        .max_by_key(|candidate| plugin_version(version(candidate)).ok())
}

pub fn check_name(field: &str, name: &str) -> Result<(), String> {
    valid_name(field, name)?;
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(format!(
            "{field}: `{name}` must start with a letter or digit"
        ));
    }
    Ok(())
}

/// The name a multivariate test's result goes by, in `vigil drift`'s report and as the
/// `column` of the result a policy sees: the test's short name (its plugin name without
/// `drift-`) and the columns it compared, e.g. `mmd(age,income)` (docs/monitors.md).
pub fn multivariate_name(plugin: &str, columns: &[String]) -> String {
    let short = plugin.strip_prefix("drift-").unwrap_or(plugin);
    format!("{short}({})", columns.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_versions_are_semver_and_the_highest_is_the_newest() {
        assert!(plugin_version("1.2.0").is_ok());
        assert!(plugin_version("0.3.0-rc.1").is_ok());
        for bad in ["1.2", "v1.2.0", "latest", ""] {
            let error = plugin_version(bad).unwrap_err();
            assert!(error.contains("not semver"), "{bad}: {error}");
        }
        let newest = |versions: &[&'static str]| newest_version(versions.iter(), |v| **v).copied();
        // By semver, not as text: 0.10.0 is above 0.9.0, a release above its candidate.
        assert_eq!(newest(&["0.9.0", "0.10.0", "0.2.0"]), Some("0.10.0"));
        assert_eq!(newest(&["1.0.0", "1.0.0-rc.2"]), Some("1.0.0"));
        assert_eq!(newest(&["latest", "0.1.0"]), Some("0.1.0"));
        assert_eq!(newest(&[]), None);
    }
}
