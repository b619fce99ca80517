//! A policy that fails on purpose, as configured (host containment tests).

use vigil_hostile::{Config, misbehave};
use vigil_plugin_sdk::{Action, Context, Decision, Error, Policy, Result};

/// The misbehaving policy.
pub struct Hostile;

impl Policy for Hostile {
    type Config = Config;
    const DESCRIPTION: &'static str = "Misbehaves on purpose (host containment tests)";

    fn decide(_context: Context, config: Config) -> Result<Decision> {
        misbehave(config.mode).map_err(Error::InvalidInput)?;
        // Behaving, it asks for the most drastic action: a failure must never get this far.
        Ok(Decision {
            action: Action::Retrain,
            reason: "the hostile policy behaved".into(),
        })
    }
}

vigil_plugin_sdk::export_policy!(Hostile);
