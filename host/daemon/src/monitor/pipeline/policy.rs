//! The policy call: each column's result, the window's metrics, the history, the time and the
//! state it kept last, to a decision and the state to keep; a policy that fails yields no action
//! and keeps its previous state.

use vigil_runtime::{ColumnResult as PolicyColumn, Context, History, Metric};

use super::{Prepared, config_text};
use crate::monitor::carried::Carried;
use crate::monitor::evaluation::{ColumnResult, Decision, Failure, MultivariateResult};

impl Prepared {
    /// Asks the policy for its decision and counts its outcome; a policy whose failure starts a
    /// quarantine is added to `newly_quarantined`.
    /// Each multivariate test is one more `column-result`, named `TEST(col1,col2,…)`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn decide(
        &self,
        columns: &[ColumnResult],
        multivariate: &[MultivariateResult],
        metrics: &[Metric],
        history: &History,
        state: Option<Vec<u8>>,
        carried: &mut Carried,
        now_ms: i64,
        newly_quarantined: &mut Vec<String>,
    ) -> Result<Decision, Failure> {
        let context = Context {
            columns: columns
                .iter()
                .map(|c| PolicyColumn {
                    column: c.name.clone(),
                    test: c.test.clone(),
                    statistic: c.statistic.unwrap_or(f64::NAN),
                    p_value: c.p_value,
                    drifted: c.drifted.unwrap_or(false),
                    failure: c.failure.as_ref().map(|f| f.message.clone()),
                })
                .chain(multivariate.iter().map(|m| PolicyColumn {
                    column: m.name.clone(),
                    test: m.test.clone(),
                    statistic: m.statistic.unwrap_or(f64::NAN),
                    p_value: m.p_value,
                    drifted: m.drifted.unwrap_or(false),
                    failure: m.failure.as_ref().map(|f| f.message.clone()),
                }))
                .collect(),
            metrics: metrics.to_vec(),
            history: history.clone(),
            now: (now_ms / 1000).max(0) as u64,
            state,
        };
        let (policy_ref, policy) = &self.policy;
        let decision = match carried.quarantined(&policy_ref.plugin, now_ms) {
            Some(until) => Err(Failure::quarantined(&policy_ref.plugin, until)),
            None => policy
                .decide(&self.budget, &context, &config_text(policy_ref))
                .map_err(|e| Failure::from_runtime(&policy_ref.plugin, &e)),
        };
        if decision.as_ref().err().is_none_or(Failure::blames_plugin)
            && carried.count(
                &policy_ref.plugin,
                decision.as_ref().err().map(|f| f.message.clone()),
                now_ms,
            )
        {
            newly_quarantined.push(policy_ref.plugin.clone());
        }
        decision.map(|d| {
            carried.keep_policy_state(policy_ref, d.state.as_deref());
            Decision {
                action: d.action.into(),
                reason: d.reason,
            }
        })
    }
}
