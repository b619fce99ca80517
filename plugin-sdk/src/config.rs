//! Plugin configuration: JSON in, the plugin's own serde type out.

use crate::Error;

/// Parses a plugin's JSON configuration; an empty string means `{}`.
/// A parse failure becomes [`Error::InvalidConfig`] with serde's message (field and position).
pub fn parse_config<C: serde::de::DeserializeOwned>(json: &str) -> Result<C, Error> {
    let json = if json.trim().is_empty() { "{}" } else { json };
    serde_json::from_str(json).map_err(|e| Error::InvalidConfig(e.to_string()))
}

/// The JSON Schema of a configuration type, as published in the plugin's `info`.
pub fn config_schema<C: schemars::JsonSchema>() -> String {
    serde_json::to_string(&schemars::schema_for!(C)).unwrap_or_else(|_| "{}".to_string())
}
