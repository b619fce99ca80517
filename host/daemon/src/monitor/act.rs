//! Act: what a recorded evaluation sets in motion. Today that is the delivery of the alerts it
//! fired, each recorded as pending in the evaluation's transaction (see `record.rs`) and
//! marked when delivered, so that alerts a crash left pending are delivered at the next start.

use vigil_store::Monitor;

use super::record::Recorded;
use super::spec::MonitorSpec;
use crate::alerts::{AlertEvent, Alerter};
use crate::metrics::{Metrics, MonitorLabel};

pub async fn act(
    alerter: &Alerter,
    metrics: &Metrics,
    monitor: &Monitor,
    spec: &MonitorSpec,
    recorded: Recorded,
) -> anyhow::Result<()> {
    for (id, raised) in recorded.alerts {
        metrics
            .alerts
            .get_or_create(&MonitorLabel {
                monitor: monitor.name.clone(),
            })
            .inc();
        let event = AlertEvent {
            monitor: monitor.name.clone(),
            monitor_id: monitor.id,
            evaluation_id: Some(recorded.evaluation_id),
            cause: raised.cause,
            message: raised.message,
        };
        alerter
            .deliver_recorded(&spec.alerts.channels, event, id)
            .await?;
    }
    Ok(())
}
