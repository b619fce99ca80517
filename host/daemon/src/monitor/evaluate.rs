//! Evaluate: a due window through its monitor's pipeline, into the record to store, the
//! alerts it raises, and the state the monitor carries on with. Blocking: the loop runs it off
//! the async threads.

use vigil_runtime::History;
use vigil_store::now_ms;

use super::alerting::{Raised, decide_alerts};
use super::carried::Carried;
use super::evaluation::{AlertRaised, EvaluationRecord, PolicyOutcome, ReferenceSummary};
use super::pipeline::Prepared;
use super::window::Window;

/// A window evaluated, ready to be recorded.
pub struct Evaluated {
    pub record: EvaluationRecord,
    /// What the monitor carries to its next window.
    pub carried: Carried,
    /// The alert causes the window raised, fired or not.
    pub raised: Vec<Raised>,
}

/// Evaluates `window` with the pipeline; `None` when the evaluation was cancelled (the daemon
/// is stopping), in which case nothing of it is to be kept.
pub fn evaluate(
    prepared: &mut Prepared,
    window: &Window<'_>,
    mut carried: Carried,
    history: &History,
    started: i64,
) -> Option<Evaluated> {
    let findings = prepared.evaluate(window, &mut carried, history, started)?;
    let raised = decide_alerts(&prepared.spec.alerts, &findings, &mut carried, now_ms());
    let decision = findings.decision();
    let record = EvaluationRecord {
        monitor_revision: prepared.revision,
        spec: prepared.spec.redacted(),
        reference: ReferenceSummary {
            rows: prepared.reference_rows,
            sha256: prepared.reference_digest.clone(),
        },
        window: window.summary(),
        history: history.into(),
        now: started,
        finished_at: now_ms(),
        status: findings.status(),
        drifted_columns: findings.drifted_columns(),
        failed_columns: findings.failed_columns(),
        policy: PolicyOutcome {
            plugin: prepared.spec.policy.as_ref().map(|p| p.plugin.clone()),
            failure: findings.decision.as_ref().err().cloned(),
            state: findings.policy_state.as_deref().map(hex::encode),
        },
        alerts: raised
            .iter()
            .map(|r| AlertRaised {
                cause: r.cause.clone(),
                fired: r.fired,
            })
            .collect(),
        decision,
        preprocessing: findings.preprocessing,
        plugin_output_dropped_bytes: findings.output_dropped_bytes,
        columns: findings.columns,
        multivariate: findings.multivariate,
        detectors: findings.detectors,
        metrics: findings.metrics,
        plugin_limits: prepared.plugin_limits.clone(),
        plugin_calls: findings.plugin_calls,
    };
    Some(Evaluated {
        record,
        carried,
        raised,
    })
}
