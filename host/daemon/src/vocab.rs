//! The words every part of the daemon shares: feature kinds, model tasks, ingestion formats,
//! what a missing value is, how a number reads as text, and what a name may be. It imports
//! nothing of the daemon's, so every module can import it.

use serde::{Deserialize, Serialize};

/// What a feature's values are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
pub fn check_name(field: &str, name: &str) -> Result<(), String> {
    valid_name(field, name)?;
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(format!(
            "{field}: `{name}` must start with a letter or digit"
        ));
    }
    Ok(())
}
