//! What a monitor carries from one window to the next: detector state, the policy's state,
//! plugin failure counts and quarantines, open alerts and the history its policy sees. Stored as
//! JSON beside the monitor's position, in the same transaction as each evaluation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::spec::PluginRef;

/// Consecutive failing windows after which a plugin is quarantined.
pub const QUARANTINE_AFTER: u32 = 5;
/// A quarantine's first backoff; each further failure doubles it, up to the cap.
const BACKOFF_START_MS: i64 = 1_000;
const BACKOFF_CAP_MS: i64 = 600_000;

/// What a monitor carries from one window to the next.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Carried {
    /// Detector snapshots (hex) by `column/plugin`.
    #[serde(default)]
    pub detectors: BTreeMap<String, String>,
    /// Values each detector has been fed so far: its detections are positions in that stream.
    #[serde(default)]
    pub detector_seen: BTreeMap<String, u64>,
    /// Failure counts by plugin reference (`name@version`).
    #[serde(default)]
    pub failures: BTreeMap<String, Failures>,
    /// Alert causes that fired and have not cleared, with when they last fired (Unix ms).
    #[serde(default)]
    pub open_alerts: BTreeMap<String, i64>,
    /// When each cause last fired (Unix ms), kept after it clears: its cooldown runs from here.
    #[serde(default)]
    pub alerts_fired: BTreeMap<String, i64>,
    /// Windows in a row without its cause, for each open alert; it clears at the spec's
    /// `clear_after_windows`.
    #[serde(default)]
    pub clean_windows: BTreeMap<String, u32>,
    /// When an alert last fired (Unix ms).
    #[serde(default)]
    pub last_alert: Option<i64>,
    /// When a retraining last succeeded (Unix ms): set by the action that ran it, never by a
    /// decision alone.
    #[serde(default)]
    pub last_retrain: Option<i64>,
    /// Windows evaluated since then.
    #[serde(default)]
    pub windows_since_retrain: u32,
    /// What the policy's last decision kept for its next window.
    #[serde(default)]
    pub policy_state: Option<PolicyState>,
}

/// A policy's state, and the policy reference that kept it: another reference (a new version
/// or configuration) starts without it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicyState {
    /// The policy (`name@version`).
    pub plugin: String,
    /// Its configuration when it kept the state.
    pub config: serde_json::Value,
    /// The bytes, hex; the host never reads them.
    pub state: String,
}

/// A plugin's failures in a row, and its quarantine.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Failures {
    pub consecutive: u32,
    #[serde(default)]
    pub quarantined_until: Option<i64>,
    #[serde(default)]
    pub last_error: Option<String>,
}

impl Carried {
    /// Until when (Unix ms) the plugin is quarantined, if it is at `now_ms`.
    pub fn quarantined(&self, plugin: &str, now_ms: i64) -> Option<i64> {
        self.failures
            .get(plugin)
            .and_then(|f| f.quarantined_until)
            .filter(|&until| until > now_ms)
    }

    /// The state the policy last kept, if `policy` is the reference that kept it.
    pub fn policy_state(&self, policy: &PluginRef) -> Option<Vec<u8>> {
        self.policy_state
            .as_ref()
            .filter(|kept| kept.plugin == policy.plugin && kept.config == policy.config)
            .and_then(|kept| hex::decode(&kept.state).ok())
    }

    /// Keeps what `policy`'s decision kept for the next window (`None` clears it).
    pub fn keep_policy_state(&mut self, policy: &PluginRef, state: Option<&[u8]>) {
        self.policy_state = state.map(|state| PolicyState {
            plugin: policy.plugin.clone(),
            config: policy.config.clone(),
            state: hex::encode(state),
        });
    }

    /// Counts one window's outcome for a plugin; true when this failure starts a quarantine.
    pub fn count(&mut self, plugin: &str, failure: Option<String>, now_ms: i64) -> bool {
        match failure {
            None => {
                self.failures.remove(plugin);
                false
            }
            Some(error) => {
                let entry = self.failures.entry(plugin.to_string()).or_default();
                entry.consecutive += 1;
                entry.last_error = Some(error);
                if entry.consecutive >= QUARANTINE_AFTER {
                    let doublings = (entry.consecutive - QUARANTINE_AFTER).min(20);
                    let backoff = (BACKOFF_START_MS << doublings).min(BACKOFF_CAP_MS);
                    entry.quarantined_until = Some(now_ms + backoff);
                    entry.consecutive == QUARANTINE_AFTER
                } else {
                    false
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_state_is_given_back_only_to_the_reference_that_kept_it() {
        let policy = |plugin: &str, config: serde_json::Value| PluginRef {
            plugin: plugin.into(),
            config,
            limits: None,
        };
        let kept_by = policy("streak@1.0.0", serde_json::json!({"windows": 2}));
        let mut carried = Carried::default();
        assert_eq!(carried.policy_state(&kept_by), None);
        // Arbitrary bytes, not text: they go back as they came.
        carried.keep_policy_state(&kept_by, Some(&[0, 255, 0xfe, b'{']));
        let carried: Carried =
            serde_json::from_str(&serde_json::to_string(&carried).unwrap()).unwrap();
        assert_eq!(
            carried.policy_state(&kept_by),
            Some(vec![0, 255, 0xfe, b'{'])
        );
        let other_version = policy("streak@1.0.1", serde_json::json!({"windows": 2}));
        let other_config = policy("streak@1.0.0", serde_json::json!({"windows": 3}));
        assert_eq!(carried.policy_state(&other_version), None);
        assert_eq!(carried.policy_state(&other_config), None);
        let mut cleared = carried.clone();
        cleared.keep_policy_state(&kept_by, None);
        assert_eq!(cleared.policy_state, None);
    }

    #[test]
    fn quarantine_starts_after_five_failures_and_backs_off() {
        let mut carried = Carried::default();
        for i in 1..QUARANTINE_AFTER {
            assert!(!carried.count("p@1", Some("boom".into()), 0), "failure {i}");
            assert_eq!(carried.quarantined("p@1", 0), None);
        }
        assert!(carried.count("p@1", Some("boom".into()), 0));
        assert_eq!(carried.quarantined("p@1", 0), Some(1_000));
        assert_eq!(carried.quarantined("p@1", 1_000), None);
        assert!(!carried.count("p@1", Some("boom".into()), 1_000));
        assert_eq!(carried.quarantined("p@1", 1_000), Some(3_000));
        for _ in 0..30 {
            carried.count("p@1", Some("boom".into()), 0);
        }
        assert_eq!(carried.quarantined("p@1", 0), Some(BACKOFF_CAP_MS));
        carried.count("p@1", None, 0);
        assert_eq!(carried.quarantined("p@1", 0), None);
        assert!(carried.failures.is_empty());
    }
}
