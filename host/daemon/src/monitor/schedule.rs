//! Schedule: what the loop reads of each monitor once per tick, and which of its windows is
//! due.

use std::collections::HashMap;

use anyhow::Context as _;
use vigil_store::{Model, Monitor, MonitorState, Store};

use super::spec::{MAX_SECONDS, MAX_WINDOW_RECORDS, MonitorSpec, WindowRule};

/// A monitor as the loop sees it this tick.
#[derive(Clone)]
pub struct Snapshot {
    pub monitor: Monitor,
    pub spec: MonitorSpec,
    pub model: Model,
    pub state: MonitorState,
}

/// Every monitor, read once: its spec parsed, its model and its position.
pub async fn snapshots(store: &Store) -> anyhow::Result<Vec<Snapshot>> {
    let models: HashMap<i64, Model> = store
        .models()
        .await?
        .into_iter()
        .map(|model| (model.id, model))
        .collect();
    let mut snapshots = Vec::new();
    for monitor in store.monitors().await? {
        let spec: MonitorSpec = serde_json::from_str(&monitor.spec)
            .with_context(|| format!("the stored spec of monitor `{}`", monitor.name))?;
        let (Some(model), Some(state)) = (
            models.get(&monitor.model_id).cloned(),
            store.monitor_state(monitor.id).await?,
        ) else {
            continue;
        };
        snapshots.push(Snapshot {
            monitor,
            spec,
            model,
            state,
        });
    }
    Ok(snapshots)
}

/// The stream offsets `start..end` of the monitor's next window, if it has closed: a window
/// of records when that many arrived after the last one; a window of time when its time has
/// passed and records arrived, holding at most [`MAX_WINDOW_RECORDS`] (the rest make the
/// next window).
pub fn next_window(
    rule: WindowRule,
    record_count: i64,
    state: &MonitorState,
    now_ms: i64,
) -> Option<(i64, i64)> {
    let next = state.next_offset;
    let end = match rule {
        WindowRule::Records(n) if record_count - next >= n as i64 => next + n as i64,
        WindowRule::Seconds(t)
            if record_count > next
                && now_ms.saturating_sub(state.last_closed_at)
                    >= (t.min(MAX_SECONDS) as i64) * 1000 =>
        {
            record_count.min(next + MAX_WINDOW_RECORDS as i64)
        }
        _ => return None,
    };
    Some((next, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(next_offset: i64, last_closed_at: i64) -> MonitorState {
        MonitorState {
            next_offset,
            last_closed_at,
            state: String::new(),
        }
    }

    #[test]
    fn windows_close_by_count_or_by_time() {
        let records = WindowRule::Records(100);
        assert_eq!(next_window(records, 99, &at(0, 0), 0), None);
        assert_eq!(next_window(records, 250, &at(100, 0), 0), Some((100, 200)));
        let minute = WindowRule::Seconds(60);
        assert_eq!(next_window(minute, 10, &at(0, 0), 59_999), None);
        assert_eq!(next_window(minute, 10, &at(0, 0), 60_000), Some((0, 10)));
        // Time passed but nothing arrived: no window.
        assert_eq!(next_window(minute, 10, &at(10, 0), 120_000), None);
        // At most a million records in a window of time.
        assert_eq!(
            next_window(minute, 3_000_000, &at(0, 0), 60_000),
            Some((0, 1_000_000))
        );
        // Lengths no spec can hold any more (stored before they were bounded) do not overflow.
        let forever = WindowRule::Seconds(u64::MAX);
        assert_eq!(
            next_window(forever, 10, &at(0, i64::MIN), i64::MAX),
            Some((0, 10))
        );
        assert_eq!(next_window(forever, 10, &at(0, 0), 1_000), None);
    }
}
