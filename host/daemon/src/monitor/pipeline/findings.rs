//! What a window's evaluation found, and what it amounts to: its status, decision and counts.

use crate::monitor::evaluation::{
    Action, ColumnResult, Decision, DetectorResult, Failure, MetricValue, MultivariateResult,
    Status,
};

/// What the pipeline found in a window, before it is recorded.
pub struct Findings {
    /// Set when a preprocessor failed: nothing else ran.
    pub preprocessing: Option<Failure>,
    pub columns: Vec<ColumnResult>,
    pub multivariate: Vec<MultivariateResult>,
    pub detectors: Vec<DetectorResult>,
    /// Each quality metric of the window, with the reference's value when it has one.
    pub metrics: Vec<MetricValue>,
    pub decision: Result<Decision, Failure>,
    /// The state the policy was given (what it kept last window); `None` when it had none or
    /// was not asked.
    pub policy_state: Option<Vec<u8>>,
    /// Plugins whose failure in this window started a quarantine.
    pub newly_quarantined: Vec<String>,
    /// Bytes of log output the monitor's plugins wrote past their allowance (dropped).
    pub output_dropped_bytes: u64,
    /// The calls into each plugin during the window.
    pub plugin_calls: std::collections::BTreeMap<String, crate::monitor::evaluation::CallTotals>,
}

impl Findings {
    /// A window whose preprocessing failed: no column tested, no policy asked.
    pub(super) fn failed(failure: Failure, newly_quarantined: Vec<String>) -> Findings {
        Findings {
            decision: Err(Failure {
                plugin: String::new(),
                kind: "not_run".into(),
                message: "the policy was not asked: preprocessing failed".into(),
            }),
            policy_state: None,
            preprocessing: Some(failure),
            columns: Vec::new(),
            multivariate: Vec::new(),
            detectors: Vec::new(),
            metrics: Vec::new(),
            newly_quarantined,
            output_dropped_bytes: 0,
            plugin_calls: Default::default(),
        }
    }

    pub fn action(&self) -> Action {
        self.decision.as_ref().map_or(Action::None, |d| d.action)
    }

    /// The decision and why, or why no action was taken.
    pub fn decision(&self) -> Decision {
        let reason = if let Some(failure) = &self.preprocessing {
            format!("preprocessing failed, the window was not tested: {failure}")
        } else {
            match &self.decision {
                Ok(decision) => decision.reason.clone(),
                Err(failure) => format!("policy failed, no action taken: {failure}"),
            }
        };
        Decision {
            action: self.action(),
            reason,
        }
    }

    pub fn status(&self) -> Status {
        if self.preprocessing.is_some() {
            Status::Failed
        } else if self.decision.is_err() {
            Status::PolicyFailed
        } else if self.columns.iter().any(|c| c.failure.is_some())
            || self.multivariate.iter().any(|m| m.failure.is_some())
        {
            Status::Partial
        } else {
            Status::Ok
        }
    }

    pub fn drifted_columns(&self) -> usize {
        self.columns
            .iter()
            .filter(|c| c.drifted == Some(true))
            .count()
    }

    pub fn failed_columns(&self) -> usize {
        self.columns.iter().filter(|c| c.failure.is_some()).count()
    }
}
