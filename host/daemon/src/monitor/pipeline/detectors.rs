//! The detector stage: each streaming detector resumed from its snapshot and fed the window's
//! column; a detector that fails keeps its previous state.

use std::sync::Arc;

use vigil_runtime::{DetectorSession, Plugin};
use vigil_store::ColumnData;

use super::Prepared;
use crate::monitor::carried::Carried;
use crate::monitor::evaluation::{DetectorResult, Failure};
use crate::monitor::spec::PluginRef;
use crate::monitor::window::Window;

pub(super) struct DetectorPlan {
    pub(super) column: String,
    pub(super) plugin_ref: PluginRef,
    pub(super) config: String,
    pub(super) plugin: Arc<Plugin>,
}

impl Prepared {
    /// Feeds each detector the window; a detector whose failure starts a quarantine is added
    /// to `newly_quarantined`, so that it raises its alert like any other plugin.
    pub(super) fn run_detectors(
        &self,
        window: &Window<'_>,
        carried: &mut Carried,
        now_ms: i64,
        newly_quarantined: &mut Vec<String>,
    ) -> Vec<DetectorResult> {
        let mut out = Vec::new();
        for plan in &self.detectors {
            if self.cancelled() {
                break;
            }
            let key = format!("{}/{}", plan.column, plan.plugin_ref.plugin);
            let before = carried.detectors.get(&key).cloned();
            let seen_before = carried.detector_seen.get(&key).copied().unwrap_or(0);
            let mut outcome = DetectorResult {
                column: plan.column.clone(),
                plugin: plan.plugin_ref.plugin.clone(),
                detections: Vec::new(),
                snapshot_before: before.clone(),
                seen_before,
                failure: None,
            };
            let source = if plan.column == "prediction" {
                window.records.prediction.as_ref()
            } else {
                window.records.feature(&plan.column).map(|c| &c.data)
            };
            let rows: Vec<(usize, f64)> = match source {
                Some(ColumnData::Numeric(values)) => values
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.is_finite())
                    .map(|(i, &v)| (i, v))
                    .collect(),
                _ => Vec::new(),
            };
            if let Some(until) = carried.quarantined(&plan.plugin_ref.plugin, now_ms) {
                outcome.failure = Some(Failure::quarantined(&plan.plugin_ref.plugin, until));
                out.push(outcome);
                continue;
            }
            let result = (|| {
                let snapshot = before
                    .as_deref()
                    .map(hex::decode)
                    .transpose()
                    .map_err(|e| vigil_runtime::Error::Host(format!("stored snapshot: {e}")))?;
                let mut session: DetectorSession =
                    plan.plugin
                        .detector(&self.budget, &plan.config, snapshot.as_deref())?;
                let values: Vec<f64> = rows.iter().map(|&(_, v)| v).collect();
                let positions = session.update(&values)?;
                let after = session.snapshot()?;
                Ok::<_, vigil_runtime::Error>((positions, after))
            })();
            match result {
                Ok((positions, after)) => {
                    // Positions count every value the detector was ever fed.
                    outcome.detections = positions
                        .iter()
                        .filter_map(|&p| p.checked_sub(seen_before))
                        .filter_map(|i| rows.get(i as usize))
                        .map(|&(row, _)| window.start + row as i64)
                        .collect();
                    carried
                        .detector_seen
                        .insert(key.clone(), seen_before + rows.len() as u64);
                    carried.detectors.insert(key, hex::encode(after));
                    carried.count(&plan.plugin_ref.plugin, None, now_ms);
                }
                Err(error) => {
                    let failure = Failure::from_runtime(&plan.plugin_ref.plugin, &error);
                    if failure.blames_plugin()
                        && carried.count(
                            &plan.plugin_ref.plugin,
                            Some(failure.message.clone()),
                            now_ms,
                        )
                    {
                        newly_quarantined.push(plan.plugin_ref.plugin.clone());
                    }
                    outcome.failure = Some(failure);
                }
            }
            out.push(outcome);
        }
        out
    }
}
