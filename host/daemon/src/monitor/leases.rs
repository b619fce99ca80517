//! Which monitors this replica acts for: a lease per monitor (`monitor/<id>`) in the store,
//! so that of several daemons on one database exactly one evaluates a monitor and runs its
//! actions at a time (see docs/orchestration.md, "Several replicas").
//!
//! A replica takes the leases of monitors nobody holds (free, released, or expired because
//! their holder died) as its loop meets them, renews the ones it holds every third of their
//! time to live, and releases them when it stops. Its writes for a monitor carry the lease's
//! [`Fence`], so a replica that lost a lease without noticing (paused, cut off) stores nothing
//! the new holder would store too.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use vigil_store::{Fence, Store};

/// The name of a monitor's lease.
pub fn lease_name(monitor_id: i64) -> String {
    format!("monitor/{monitor_id}")
}

fn host_name() -> String {
    hostname::get()
        .ok()
        .and_then(|name| name.into_string().ok())
        .unwrap_or_else(|| "unknown-host".into())
}

/// A name for this replica unique among replicas and restarts: host, process and a random
/// part (a restarted container may get its old host name and pid).
pub fn new_holder_id() -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{}/{}/{}", host_name(), std::process::id(), &random[..8])
}

/// The name of the one daemon a SQLite file serves: the same on every start.
pub fn sqlite_holder_id() -> String {
    format!("{}/sqlite", host_name())
}

/// A lease this replica holds.
#[derive(Clone, Copy, Debug)]
struct Held {
    epoch: i64,
    /// When the statement that last took or renewed it was sent: the lease lasts at least
    /// `ttl` from then on the database's clock, so until `sent + ttl` this replica knows it
    /// holds it without asking.
    sent: Instant,
}

/// What [`Leases::hold`] found.
pub enum Hold {
    /// Held already, or taken again at the same epoch (nobody acted meanwhile).
    Kept(Fence),
    /// Taken from nobody or from a holder that let it expire (a new epoch), or held for the
    /// first time by this process: what the last holder left unfinished is this replica's to
    /// finish.
    Taken(Fence),
    /// Another replica holds it.
    Elsewhere,
}

/// This replica's leases.
pub struct Leases {
    store: Store,
    holder: String,
    ttl: Duration,
    held: Mutex<HashMap<i64, Held>>,
    /// When each monitor not held was last tried: a live lease of another replica is asked for
    /// once per renewal interval, not once per tick.
    tried: Mutex<HashMap<i64, Instant>>,
}

impl Leases {
    pub fn new(store: Store, holder: String, ttl: Duration) -> Leases {
        Leases {
            store,
            holder,
            ttl,
            held: Mutex::default(),
            tried: Mutex::default(),
        }
    }

    /// This replica's name as lease holder.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// How often held leases are renewed: a third of their time to live, so two renewals can
    /// fail before one expires.
    pub fn renew_every(&self) -> Duration {
        self.ttl / 3
    }

    fn ttl_ms(&self) -> i64 {
        self.ttl.as_millis().max(1) as i64
    }

    fn fence(&self, monitor_id: i64, epoch: i64) -> Fence {
        Fence {
            lease: lease_name(monitor_id),
            holder: self.holder.clone(),
            epoch,
        }
    }

    /// The fence of the monitor's lease if this replica holds it, knowing it from its last
    /// renewal: `margin` before that runs out it counts as lost already, so that work started
    /// now (a webhook call) ends before another replica can take over.
    pub fn held(&self, monitor_id: i64, margin: Duration) -> Option<Fence> {
        let held = *self.held.lock().expect("leases lock").get(&monitor_id)?;
        (held.sent.elapsed() + margin < self.ttl).then(|| self.fence(monitor_id, held.epoch))
    }

    /// Whether the lease at `fence` is still this replica's (see [`Leases::held`]).
    pub fn still_holds(&self, fence: &Fence, monitor_id: i64) -> bool {
        self.held(monitor_id, self.ttl / 5)
            .is_some_and(|now| now.epoch == fence.epoch)
    }

    /// The monitor's lease: this replica's already, or taken now if nobody holds it (asked
    /// at most once per renewal interval while another replica holds it).
    pub async fn hold(&self, monitor_id: i64) -> anyhow::Result<Hold> {
        if let Some(fence) = self.held(monitor_id, Duration::ZERO) {
            return Ok(Hold::Kept(fence));
        }
        {
            let mut tried = self.tried.lock().expect("leases lock");
            if tried
                .get(&monitor_id)
                .is_some_and(|at| at.elapsed() < self.renew_every())
            {
                return Ok(Hold::Elsewhere);
            }
            tried.insert(monitor_id, Instant::now());
        }
        let before = self
            .held
            .lock()
            .expect("leases lock")
            .get(&monitor_id)
            .map(|h| h.epoch);
        let sent = Instant::now();
        let name = lease_name(monitor_id);
        let Some(epoch) = self
            .store
            .acquire_lease(&name, &self.holder, self.ttl_ms())
            .await?
        else {
            self.held.lock().expect("leases lock").remove(&monitor_id);
            return Ok(Hold::Elsewhere);
        };
        self.held
            .lock()
            .expect("leases lock")
            .insert(monitor_id, Held { epoch, sent });
        self.tried.lock().expect("leases lock").remove(&monitor_id);
        let fence = self.fence(monitor_id, epoch);
        // Taken unless this process held it at this epoch: a new epoch means another replica
        // may have acted since, and a lease this process never held (under a holder name it
        // reuses across restarts) may have been left with unfinished work by its last run.
        Ok(if before == Some(epoch) {
            Hold::Kept(fence)
        } else {
            tracing::info!(lease = %name, epoch, holder = %self.holder, "took the lease");
            Hold::Taken(fence)
        })
    }

    /// Renews every lease held; returns the monitors whose lease is lost (another replica took
    /// it, or it ran out while the database could not be reached).
    pub async fn renew(&self) -> Vec<i64> {
        let held: Vec<(i64, Held)> = self
            .held
            .lock()
            .expect("leases lock")
            .iter()
            .map(|(id, held)| (*id, *held))
            .collect();
        let mut lost = Vec::new();
        for (monitor_id, was) in held {
            let sent = Instant::now();
            let name = lease_name(monitor_id);
            let renewed = self
                .store
                .acquire_lease(&name, &self.holder, self.ttl_ms())
                .await;
            let mut leases = self.held.lock().expect("leases lock");
            match renewed {
                Ok(Some(epoch)) if epoch == was.epoch => {
                    leases.insert(monitor_id, Held { epoch, sent });
                }
                Ok(_) => {
                    // Taken by another, or expired and taken back at a new epoch: either way
                    // another replica may have acted, so this one starts over.
                    leases.remove(&monitor_id);
                    lost.push(monitor_id);
                }
                Err(error) => {
                    tracing::warn!(lease = %name, error = %format!("{error:#}"), "cannot renew a lease");
                    if was.sent.elapsed() >= self.ttl {
                        leases.remove(&monitor_id);
                        lost.push(monitor_id);
                    }
                }
            }
        }
        for monitor_id in &lost {
            tracing::warn!(lease = %lease_name(*monitor_id), holder = %self.holder, "lost the lease: another replica acts for the monitor");
        }
        lost
    }

    /// Forgets a lease a fenced write found lost.
    pub fn forget(&self, monitor_id: i64) {
        self.held.lock().expect("leases lock").remove(&monitor_id);
    }

    /// Lets go of the leases of monitors not among `monitors` (deleted since), so they are
    /// not renewed for ever.
    pub async fn release_gone(&self, monitors: &std::collections::HashSet<i64>) {
        let gone: Vec<i64> = {
            let mut held = self.held.lock().expect("leases lock");
            let gone: Vec<i64> = held
                .keys()
                .filter(|id| !monitors.contains(id))
                .copied()
                .collect();
            for id in &gone {
                held.remove(id);
            }
            gone
        };
        for monitor_id in gone {
            if let Err(error) = self
                .store
                .release_lease(&lease_name(monitor_id), &self.holder)
                .await
            {
                tracing::warn!(lease = %lease_name(monitor_id), error = %format!("{error:#}"), "cannot release a lease");
            }
        }
    }

    /// Lets go of every lease, so other replicas take the monitors at once (on a stop).
    pub async fn release_all(&self) {
        let held: Vec<i64> = self
            .held
            .lock()
            .expect("leases lock")
            .drain()
            .map(|(id, _)| id)
            .collect();
        for monitor_id in held {
            if let Err(error) = self
                .store
                .release_lease(&lease_name(monitor_id), &self.holder)
                .await
            {
                tracing::warn!(lease = %lease_name(monitor_id), error = %format!("{error:#}"), "cannot release a lease");
            }
        }
    }
}

/// A lease on a model (`model/<name>`), held while an action changes it so that replicas
/// acting for two monitors of one model never change it at once; renewed in the background
/// until [`ModelLease::release`].
pub struct ModelLease {
    name: String,
    stop: tokio::sync::watch::Sender<bool>,
    renewal: tokio::task::JoinHandle<()>,
    /// When the last renewal that kept the lease was sent: the lease is this replica's until
    /// `ttl` after that, on the database's clock.
    renewed: std::sync::Arc<Mutex<Instant>>,
    /// Set once a renewal found the lease taken by another replica.
    taken: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Leases {
    /// Takes the lease on `model`. When another replica holds it: `None` at once unless
    /// `wait`, else tried again every renewal interval while `keep_waiting` holds (`None` once
    /// it does not).
    pub async fn hold_model(
        self: &std::sync::Arc<Self>,
        model: &str,
        wait: bool,
        keep_waiting: impl Fn() -> bool,
    ) -> anyhow::Result<Option<ModelLease>> {
        let name = format!("model/{model}");
        let mut sent;
        loop {
            sent = Instant::now();
            let taken = self
                .store
                .acquire_lease(&name, &self.holder, self.ttl_ms())
                .await?;
            if taken.is_some() {
                break;
            }
            if !wait || !keep_waiting() {
                return Ok(None);
            }
            tokio::time::sleep(self.renew_every()).await;
        }
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let renewed = std::sync::Arc::new(Mutex::new(sent));
        let taken = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let leases = self.clone();
        let lease = name.clone();
        let (renewed_by_task, taken_by_task) = (renewed.clone(), taken.clone());
        let renewal = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(leases.renew_every()) => {}
                    _ = stopped.changed() => return,
                }
                let sent = Instant::now();
                match leases
                    .store
                    .acquire_lease(&lease, &leases.holder, leases.ttl_ms())
                    .await
                {
                    Ok(Some(_)) => *renewed_by_task.lock().expect("lease lock") = sent,
                    Ok(None) => {
                        tracing::warn!(%lease, "lost the lease on a model while changing it");
                        taken_by_task.store(true, std::sync::atomic::Ordering::Relaxed);
                        return;
                    }
                    Err(error) => {
                        tracing::warn!(%lease, error = %format!("{error:#}"), "cannot renew a lease");
                    }
                }
            }
        });
        Ok(Some(ModelLease {
            name,
            stop,
            renewal,
            renewed,
            taken,
        }))
    }
}

impl ModelLease {
    /// Whether the lease may be another replica's by now: taken, or not renewed for so long
    /// (with the margin [`Leases::still_holds`] keeps) that it may have run out.
    pub fn may_be_lost(&self, leases: &Leases) -> bool {
        self.taken.load(std::sync::atomic::Ordering::Relaxed)
            || self.renewed.lock().expect("lease lock").elapsed() + leases.ttl / 5 >= leases.ttl
    }

    /// Stops renewing the lease and lets go of it.
    pub async fn release(self, leases: &Leases) {
        self.stop.send_replace(true);
        let _ = self.renewal.await;
        if let Err(error) = leases.store.release_lease(&self.name, &leases.holder).await {
            tracing::warn!(lease = %self.name, error = %format!("{error:#}"), "cannot release a lease");
        }
    }
}
