//! Serving: one route per model to the process of the version it serves, and blue/green
//! rollouts. A rollout starts the new version's process beside the old one, waits for its
//! health check, switches the route in one step, and stops the old process once no request
//! holds it (or the drain timeout has passed).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::supervise::Launch;
use super::{Inner, check_name, io_error, process};
use crate::{Error, Result, Rollout, RolloutOutcome, RolloutTarget, Upstream};

/// Every model served here.
#[derive(Default)]
pub(super) struct Models {
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

/// One model: where its requests go, and its rollouts.
struct Slot {
    /// One rollout at a time per model.
    rollout: tokio::sync::Mutex<()>,
    state: Mutex<SlotState>,
    /// Told of every change `watch_rollout` waits for.
    changes: Arc<watch::Sender<()>>,
}

#[derive(Default)]
struct SlotState {
    /// The version requests go to.
    routed: Option<Arc<Instance>>,
    /// Versions whose `roll_out` is under way, with how many calls want each.
    pending: HashMap<String, usize>,
    /// Versions whose last rollout failed, with why.
    refused: HashMap<String, String>,
}

/// A version's process, as the route and the requests see it. Its supervisor (`supervise`)
/// owns the process itself.
pub(super) struct Instance {
    pub version: String,
    url: Mutex<String>,
    /// The process is running and has answered its health check.
    up: AtomicBool,
    in_flight: AtomicUsize,
    idle: Notify,
    /// Cancelled to stop the process for good.
    pub stop: CancellationToken,
    changes: Arc<watch::Sender<()>>,
}

impl Instance {
    /// Where it listens now (a restart moves it to a new port), and that it is healthy there.
    pub fn serve_at(&self, port: u16) {
        *self.url.lock().unwrap() = format!("http://127.0.0.1:{port}");
        self.up.store(true, Ordering::SeqCst);
        self.changes.send_replace(());
    }

    pub fn set_down(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.changes.send_replace(());
    }

    fn is_up(&self) -> bool {
        self.up.load(Ordering::SeqCst)
    }
}

/// A request in flight on an instance; the instance is drained once none is left.
struct InFlight(Arc<Instance>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Models {
    fn slot(&self, model: &str) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap();
        Arc::clone(slots.entry(model.to_string()).or_insert_with(|| {
            Arc::new(Slot {
                rollout: tokio::sync::Mutex::new(()),
                state: Mutex::new(SlotState::default()),
                changes: Arc::new(watch::channel(()).0),
            })
        }))
    }

    pub(super) fn upstream(&self, model: &str) -> Option<Upstream> {
        let slot = Arc::clone(self.slots.lock().unwrap().get(model)?);
        // Counted under the lock the switch takes: once a version is switched away from, no
        // new request can hold it, and the drain waits only for those that do.
        let state = slot.state.lock().unwrap();
        let instance = Arc::clone(state.routed.as_ref()?);
        instance.in_flight.fetch_add(1, Ordering::SeqCst);
        let url = instance.url.lock().unwrap().clone();
        Some(Upstream {
            url,
            version: instance.version.clone(),
            guard: Box::new(InFlight(instance)),
        })
    }

    /// Forgets every route (after shutdown, when no process is left).
    pub(super) fn clear(&self) {
        for slot in self.slots.lock().unwrap().values() {
            slot.state.lock().unwrap().routed = None;
            slot.changes.send_replace(());
        }
    }
}

/// Counts a `roll_out` as under way for `watch_rollout` until it returns or is dropped.
struct Pending {
    slot: Arc<Slot>,
    version: String,
}

impl Pending {
    fn new(slot: &Arc<Slot>, version: &str) -> Pending {
        *slot
            .state
            .lock()
            .unwrap()
            .pending
            .entry(version.to_string())
            .or_default() += 1;
        Pending {
            slot: Arc::clone(slot),
            version: version.to_string(),
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let mut state = self.slot.state.lock().unwrap();
        if let Some(count) = state.pending.get_mut(&self.version) {
            *count -= 1;
            if *count == 0 {
                state.pending.remove(&self.version);
            }
        }
        drop(state);
        self.slot.changes.send_replace(());
    }
}

impl Inner {
    /// Blue/green: returns once the version serves, or once it was refused (recorded for
    /// `watch_rollout`, the old version still serving). Errors only for a rollout this backend
    /// cannot run, or when shutting down.
    pub(super) async fn roll_out(self: &Arc<Self>, rollout: &Rollout) -> Result<()> {
        let RolloutTarget::Local {
            command,
            health_path,
        } = &rollout.target
        else {
            return Err(Error::Invalid(format!(
                "model {}: the local backend serves local commands, not Kubernetes objects",
                rollout.model
            )));
        };
        check_name("model", &rollout.model)?;
        check_name("version", &rollout.version)?;
        if command.program.is_empty() || !health_path.starts_with('/') {
            return Err(Error::Invalid(format!(
                "model {}: a local rollout target needs a program and a health path starting \
                 with `/`",
                rollout.model
            )));
        }
        let artifact = process::artifact_argument(&rollout.artifact_uri)
            .map_err(|e| Error::Invalid(format!("model {}: {e}", rollout.model)))?;
        self.check_running()?;

        let slot = self.models.slot(&rollout.model);
        let _pending = Pending::new(&slot, &rollout.version);
        let _one_at_a_time = slot.rollout.lock().await;
        self.check_running()?;
        if let Some(routed) = &slot.state.lock().unwrap().routed {
            // Serving already; if its process died, its supervisor is starting it again.
            if routed.version == rollout.version {
                return Ok(());
            }
        }
        slot.state.lock().unwrap().refused.remove(&rollout.version);

        let dir = self.dir.join("serving").join(&rollout.model);
        std::fs::create_dir_all(&dir).map_err(|e| io_error("create", &dir, e))?;
        let instance = Arc::new(Instance {
            version: rollout.version.clone(),
            url: Mutex::new(String::new()),
            up: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            idle: Notify::new(),
            stop: self.stopping.child_token(),
            changes: Arc::clone(&slot.changes),
        });
        // If this call is dropped before the switch, the new process is stopped.
        let abandoned = instance.stop.clone().drop_guard();
        let (ready_tx, ready) = oneshot::channel();
        let launch = Launch {
            model: rollout.model.clone(),
            command: command.clone(),
            health_path: health_path.clone(),
            artifact,
            log: dir.join(format!("{}.log", rollout.version)),
        };
        self.tasks
            .spawn(Arc::clone(self).supervise(Arc::clone(&instance), launch, ready_tx));
        let started = ready
            .await
            .unwrap_or_else(|_| Err("its supervisor ended".into()));
        if let Err(reason) = started {
            self.check_running()?;
            warn!(
                model = %rollout.model, version = %rollout.version, %reason,
                "refused a rollout: the version did not become healthy; the serving version stays"
            );
            slot.state
                .lock()
                .unwrap()
                .refused
                .insert(rollout.version.clone(), reason);
            return Ok(());
        }

        abandoned.disarm();
        let old = slot
            .state
            .lock()
            .unwrap()
            .routed
            .replace(Arc::clone(&instance));
        slot.changes.send_replace(());
        info!(
            model = %rollout.model, version = %rollout.version,
            replaced = old.as_ref().map(|o| o.version.as_str()),
            "switched the model's route"
        );
        if let Some(old) = old {
            let drain_timeout = self.settings.drain_timeout;
            self.tasks
                .spawn(drain(rollout.model.clone(), old, drain_timeout));
        }
        Ok(())
    }

    pub(super) async fn watch_rollout(
        &self,
        rollout: &Rollout,
        deadline: Duration,
    ) -> Result<RolloutOutcome> {
        self.check_running()?;
        let deadline = Instant::now() + deadline;
        let slot = self.models.slot(&rollout.model);
        let mut changes = slot.changes.subscribe();
        loop {
            changes.borrow_and_update();
            let outcome = progress(&slot.state.lock().unwrap(), rollout);
            if let Some(outcome) = outcome {
                return Ok(outcome);
            }
            tokio::select! {
                // The slot, which holds the sender, outlives this loop.
                _ = changes.changed() => {}
                () = tokio::time::sleep_until(deadline) => {
                    return Ok(RolloutOutcome::Failed {
                        reason: format!(
                            "version {} of model {} was not serving and healthy by the deadline",
                            rollout.version, rollout.model
                        ),
                    });
                }
                () = self.stopping.cancelled() => self.check_running()?,
            }
        }
    }
}

/// How the rollout stands: `None` while it may still complete.
fn progress(state: &SlotState, rollout: &Rollout) -> Option<RolloutOutcome> {
    let version = &rollout.version;
    match &state.routed {
        Some(routed) if &routed.version == version => {
            return routed.is_up().then_some(RolloutOutcome::Complete);
        }
        _ => {}
    }
    if state.pending.contains_key(version) {
        return None;
    }
    let reason = match (state.refused.get(version), &state.routed) {
        (Some(reason), _) => reason.clone(),
        (None, Some(routed)) => format!(
            "version {version} of model {} is not being rolled out: {} serves",
            rollout.model, routed.version
        ),
        (None, None) => format!(
            "version {version} of model {} is not being rolled out, and nothing serves it here",
            rollout.model
        ),
    };
    Some(RolloutOutcome::Failed { reason })
}

/// Stops a replaced version once no request holds it, or once `cap` has passed.
async fn drain(model: String, old: Arc<Instance>, cap: Duration) {
    let deadline = Instant::now() + cap;
    loop {
        let idle = old.idle.notified();
        tokio::pin!(idle);
        // Registered before the count is read, so a last request ending in between wakes it.
        idle.as_mut().enable();
        let left = old.in_flight.load(Ordering::SeqCst);
        if left == 0 {
            break;
        }
        tokio::select! {
            () = idle => {}
            () = old.stop.cancelled() => return,
            () = tokio::time::sleep_until(deadline) => {
                warn!(
                    model = %model, version = %old.version, requests = left,
                    "stopping a replaced version with requests still in flight: the drain timeout passed"
                );
                break;
            }
        }
    }
    info!(model = %model, version = %old.version, "stopping a replaced version");
    old.stop.cancel();
}
