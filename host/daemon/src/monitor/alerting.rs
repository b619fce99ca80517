//! Which alerts a window raises: a cause fires unless it fired within its cooldown, and an
//! open alert clears only after a run of clean windows, so alerts do not flap on stable data.

use super::carried::{Carried, QUARANTINE_AFTER};
use super::evaluation::{Action, Decision};
use super::pipeline::Findings;
use super::spec::{AlertSpec, MAX_SECONDS};

/// An alert cause a window raised.
#[derive(Clone, Debug)]
pub struct Raised {
    pub cause: String,
    /// Whether it fires now (it does not within its cooldown).
    pub fired: bool,
    pub message: String,
}

/// Which alerts a window raises, and whether each fires now.
///
/// A cause fires when it is raised and has not fired within the cooldown, cleared or not in
/// between. It stays open until `clear_after_windows` windows in a row decide "no action"
/// (windows whose preprocessing or policy failed neither raise nor clear), and a quarantine
/// until its plugin works again.
pub fn decide_alerts(
    alerts: &AlertSpec,
    findings: &Findings,
    carried: &mut Carried,
    now: i64,
) -> Vec<Raised> {
    let mut raised = Vec::new();
    let cooldown = (alerts.cooldown_seconds.min(MAX_SECONDS) as i64) * 1000;
    let mut raise = |carried: &mut Carried, cause: String, message: String| {
        let last_fired = carried
            .alerts_fired
            .get(&cause)
            .or(carried.open_alerts.get(&cause))
            .copied();
        let fire = last_fired.is_none_or(|at| now.saturating_sub(at) >= cooldown);
        let fired_at = if fire { now } else { last_fired.unwrap_or(now) };
        if fire {
            carried.alerts_fired.insert(cause.clone(), now);
            carried.last_alert = Some(now);
        }
        carried.open_alerts.insert(cause.clone(), fired_at);
        carried.clean_windows.remove(&cause);
        raised.push(Raised {
            cause,
            fired: fire,
            message,
        });
    };
    match &findings.decision {
        _ if findings.preprocessing.is_some() => {}
        Err(_) => {}
        Ok(Decision {
            action: Action::None,
            ..
        }) => {
            let clear_after = alerts.clear_after_windows.max(1);
            let open: Vec<String> = carried
                .open_alerts
                .keys()
                .filter(|cause| !cause.starts_with("quarantine:"))
                .cloned()
                .collect();
            for cause in open {
                let clean = carried.clean_windows.entry(cause.clone()).or_insert(0);
                *clean += 1;
                if *clean >= clear_after {
                    carried.clean_windows.remove(&cause);
                    carried.open_alerts.remove(&cause);
                }
            }
        }
        Ok(Decision { action, .. }) => {
            // Alert and retrain both mean "the data drifted": one cause, so a retrain
            // downgraded to an alert during its cooldown does not alert twice.
            let cause = match action {
                Action::Alert | Action::Retrain => "drift",
                other => other.name(),
            };
            raise(carried, cause.to_string(), findings.decision().reason);
        }
    }
    carried
        .open_alerts
        .retain(|cause, _| match cause.strip_prefix("quarantine:") {
            Some(plugin) => carried.failures.contains_key(plugin),
            None => true,
        });
    for plugin in &findings.newly_quarantined {
        let message = carried
            .failures
            .get(plugin)
            .and_then(|f| f.last_error.clone())
            .unwrap_or_default();
        raise(
            carried,
            format!("quarantine:{plugin}"),
            format!(
                "plugin {plugin} failed {} windows in a row and is quarantined: {message}",
                QUARANTINE_AFTER
            ),
        );
    }
    // A retrain decision is not a retraining: `last_retrain` is set by the action that runs
    // one, and until then every window counts.
    carried.windows_since_retrain = carried.windows_since_retrain.saturating_add(1);
    raised
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::evaluation::Failure;

    fn outcome(decision: Result<Action, ()>) -> Findings {
        Findings {
            preprocessing: None,
            columns: Vec::new(),
            multivariate: Vec::new(),
            detectors: Vec::new(),
            metrics: Vec::new(),
            decision: decision
                .map(|action| Decision {
                    action,
                    reason: "reason".to_string(),
                })
                .map_err(|()| Failure {
                    plugin: "p@1".into(),
                    kind: "trap".into(),
                    message: "boom".into(),
                }),
            policy_state: None,
            newly_quarantined: Vec::new(),
            output_dropped_bytes: 0,
            plugin_calls: Default::default(),
        }
    }

    fn fired(alerts: &AlertSpec, carried: &mut Carried, action: Action, now: i64) -> bool {
        decide_alerts(alerts, &outcome(Ok(action)), carried, now)
            .iter()
            .any(|raised| raised.fired)
    }

    /// Flapping on stable data: false positives every other window. With the cooldown
    /// holding across clears, one alert fires, not one per flap.
    #[test]
    fn alerts_do_not_flap_on_alternating_windows() {
        let alerts = AlertSpec::default();
        let mut carried = Carried::default();
        let mut fires = 0;
        for second in 0..30 {
            let action = if second % 2 == 0 {
                Action::Alert
            } else {
                Action::None
            };
            fires += fired(&alerts, &mut carried, action, second * 1000) as u32;
        }
        assert_eq!(fires, 1);
        assert!(carried.open_alerts.contains_key("drift"));
    }

    /// An alert clears after `clear_after_windows` clean windows in a row; raised again within
    /// the cooldown it is open again without firing, and after the cooldown it fires.
    #[test]
    fn alerts_clear_after_a_clean_streak_and_the_cooldown_outlives_the_clear() {
        let alerts = AlertSpec {
            cooldown_seconds: 60,
            clear_after_windows: 3,
            ..AlertSpec::default()
        };
        let mut carried = Carried::default();
        assert!(fired(&alerts, &mut carried, Action::Alert, 0));
        for window in 1..3 {
            assert!(!fired(&alerts, &mut carried, Action::None, window * 1000));
            assert!(carried.open_alerts.contains_key("drift"), "{window}");
        }
        // A failed window neither raises nor clears.
        decide_alerts(&alerts, &outcome(Err(())), &mut carried, 3_000);
        assert!(carried.open_alerts.contains_key("drift"));
        assert!(!fired(&alerts, &mut carried, Action::None, 4_000));
        assert!(!carried.open_alerts.contains_key("drift"), "cleared");
        // Within the cooldown: open again, silently.
        assert!(!fired(&alerts, &mut carried, Action::Retrain, 10_000));
        assert!(carried.open_alerts.contains_key("drift"));
        // A raise resets the clean streak.
        assert!(!fired(&alerts, &mut carried, Action::None, 11_000));
        assert!(!fired(&alerts, &mut carried, Action::Alert, 12_000));
        assert_eq!(carried.clean_windows.get("drift"), None);
        // After the cooldown it fires again.
        assert!(fired(&alerts, &mut carried, Action::Alert, 60_000));
    }

    /// State stored before `alerts_fired` existed: the open alert's time is its last firing.
    #[test]
    fn cooldowns_carry_over_from_state_stored_by_older_versions() {
        let alerts = AlertSpec::default();
        let mut carried: Carried =
            serde_json::from_str(r#"{"open_alerts": {"drift": 1000}}"#).unwrap();
        assert!(!fired(&alerts, &mut carried, Action::Alert, 2_000));
        assert!(fired(
            &alerts,
            &mut carried,
            Action::Alert,
            1000 + 3_600_000
        ));
    }
}
