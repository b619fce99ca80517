//! A policy that does nothing: measures the fixed cost of instantiating a plugin and calling it.

use schemars::JsonSchema;
use serde::Deserialize;
use vigil_plugin_sdk::{Action, Context, Decision, Policy, Result};

/// No configuration.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Config {}

/// The policy.
pub struct Empty;

impl Policy for Empty {
    type Config = Config;
    const DESCRIPTION: &'static str = "Always decides nothing (benchmarks)";

    fn decide(_context: Context, _config: Config) -> Result<Decision> {
        Ok(Decision {
            action: Action::None,
            reason: String::new(),
        })
    }
}

vigil_plugin_sdk::export_policy!(Empty);
