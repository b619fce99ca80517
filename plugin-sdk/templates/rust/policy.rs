//! `{{name}}`: retrains when at least `drift_share` of the tested columns drifted, and alerts
//! when some did. Replace `decide` with yours; `context.history.recent` holds the monitor's
//! earlier windows, newest first. To keep a state between windows, implement
//! `Policy::decide_keeping` too: `context.state` is what it kept last.

use schemars::JsonSchema;
use serde::Deserialize;
use vigil_plugin_sdk::{Action, Context, Decision, Error, Policy, Result};

/// The plugin's settings.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Share of drifted columns that retrains.
    #[serde(default = "default_share")]
    pub drift_share: f64,
}

fn default_share() -> f64 {
    0.5
}

/// The policy.
pub struct {{class}};

impl Policy for {{class}} {
    type Config = Config;
    const DESCRIPTION: &'static str = "{{description}}";

    fn decide(context: Context, config: Config) -> Result<Decision> {
        if !(config.drift_share > 0.0 && config.drift_share <= 1.0) {
            return Err(Error::InvalidConfig(format!(
                "drift_share must lie in (0, 1], got {}",
                config.drift_share
            )));
        }
        let tested: Vec<_> = context.columns.iter().filter(|c| c.failure.is_none()).collect();
        let drifted: Vec<&str> = tested
            .iter()
            .filter(|c| c.drifted)
            .map(|c| c.column.as_str())
            .collect();
        if drifted.is_empty() {
            return Ok(Decision {
                action: Action::None,
                reason: format!("none of {} columns drifted", tested.len()),
            });
        }
        let reason = format!(
            "{} of {} columns drifted: {}",
            drifted.len(),
            tested.len(),
            drifted.join(", ")
        );
        let share = drifted.len() as f64 / tested.len() as f64;
        let action = if share >= config.drift_share { Action::Retrain } else { Action::Alert };
        Ok(Decision { action, reason })
    }
}

vigil_plugin_sdk::export_policy!({{class}});

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_plugin_sdk::testing::decide;
    use vigil_plugin_sdk::{ColumnResult, History};

    fn context(drifted: &[&str], stable: &[&str]) -> Context {
        let column = |name: &&str, drifted: bool| ColumnResult {
            column: name.to_string(),
            test: "drift-ks".into(),
            statistic: 0.3,
            p_value: Some(if drifted { 0.001 } else { 0.5 }),
            drifted,
            failure: None,
        };
        Context {
            columns: drifted
                .iter()
                .map(|c| column(c, true))
                .chain(stable.iter().map(|c| column(c, false)))
                .collect(),
            metrics: Vec::new(),
            history: History {
                model_version: None,
                last_alert: None,
                last_retrain: None,
                windows_since_retrain: 0,
                recent: Vec::new(),
            },
            now: 1_700_000_000,
            state: None,
        }
    }

    #[test]
    fn the_share_of_drifted_columns_decides() {
        let none = decide::<{{class}}>(context(&[], &["x", "y"]), "{}").unwrap();
        assert_eq!(none.action, Action::None);
        let alert = decide::<{{class}}>(context(&["x"], &["y", "z"]), "{}").unwrap();
        assert_eq!(alert.action, Action::Alert);
        let retrain = decide::<{{class}}>(context(&["x", "y"], &["z"]), "{}").unwrap();
        assert_eq!(retrain.action, Action::Retrain);
        assert!(retrain.reason.contains("2 of 3"));
        assert!(decide::<{{class}}>(context(&["x"], &[]), r#"{"drift_share": 2}"#).is_err());
    }
}
