//! What the standard retraining policies share, so that each states only its own rule and the
//! composite reuses exactly the same code: the [`conditions`] (drift share, drifted windows in a
//! row, a metric worse than its baseline, nested `any`/`all`), which way a metric worsens
//! ([`metrics`]), the wording of reasons ([`text`]), and what a policy does once its rule holds
//! ([`OnHold`], [`retrain_unless_cooling`]). docs/monitors.md lists each policy's settings.

pub mod conditions;
pub mod correction;
#[cfg(feature = "harness")]
pub mod fixtures;
pub mod metrics;
pub mod text;

use schemars::JsonSchema;
use serde::Deserialize;
use vigil_plugin_sdk::{Action, Context, Decision};

use self::text::sentence;

/// What a policy decides when its rule holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnHold {
    /// Start a retraining, or alert instead within the cooldown.
    #[default]
    Retrain,
    /// Tell people.
    Alert,
}

/// The seconds after a retraining during which another is only an alert, by default a day.
pub fn default_retrain_cooldown_secs() -> u64 {
    86_400
}

/// The decision for a rule that held: `on_hold`, with a retrain downgraded to an alert within
/// the cooldown.
pub fn act(context: &Context, on_hold: OnHold, cooldown_secs: u64, reason: String) -> Decision {
    match on_hold {
        OnHold::Retrain => retrain_unless_cooling(context, cooldown_secs, reason),
        OnHold::Alert => Decision {
            action: Action::Alert,
            reason: sentence(&reason),
        },
    }
}

/// The decision for a condition's outcome: `on_hold` (within the cooldown, a retrain is only an
/// alert) when it held, nothing otherwise; what the condition-based policies decide.
pub fn decide_on(
    context: &Context,
    on_hold: OnHold,
    cooldown_secs: u64,
    outcome: conditions::Outcome,
) -> Decision {
    if outcome.held {
        act(context, on_hold, cooldown_secs, outcome.clause)
    } else {
        nothing(&outcome.clause)
    }
}

/// No action, with the reason.
pub fn nothing(reason: &str) -> Decision {
    Decision {
        action: Action::None,
        reason: sentence(reason),
    }
}

/// Retrain, or alert instead when the last retraining (one that succeeded, see
/// docs/architecture.md, "Actions") lies within `cooldown_secs` of `now`.
pub fn retrain_unless_cooling(context: &Context, cooldown_secs: u64, reason: String) -> Decision {
    if let Some(last) = context.history.last_retrain {
        // A last retrain stamped after `now` (clock skew) counts as just now.
        let elapsed = context.now.saturating_sub(last);
        if elapsed < cooldown_secs {
            return Decision {
                action: Action::Alert,
                reason: sentence(&format!(
                    "{reason}; alerting instead of retraining because the last retrain was \
                     {elapsed} s ago, within the {cooldown_secs} s cooldown"
                )),
            };
        }
    }
    Decision {
        action: Action::Retrain,
        reason: sentence(&reason),
    }
}
