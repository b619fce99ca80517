//! Budgets: the share of the runtime's capacity that one owner's plugins may use.
//!
//! The runtime has [`RuntimeConfig::pooled_instances`] instance slots. A [`Budget`] reserves
//! some of them for one owner (a monitor, say): every plugin instance created against it holds
//! one of its slots for as long as the instance lives, and nothing created against another
//! budget can take them. The slots no owner reserved at start-up form the shared budget
//! ([`Runtime::shared`]), used for uploads, replays and one-shot commands. So the pool can
//! never fill up under a budget that stayed within its reservation.
//!
//! A budget also caps what its plugins may write to the log per window, and per second however
//! short the windows (see [`Budget::start_window`]): log records and captured stdout/stderr
//! together.
//!
//! [`RuntimeConfig::pooled_instances`]: crate::RuntimeConfig::pooled_instances
//! [`Runtime::shared`]: crate::Runtime::shared

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::Error;

/// The instance slots not yet reserved by a budget.
pub(crate) struct Pool {
    capacity: u32,
    free: Mutex<u32>,
}

impl Pool {
    pub(crate) fn new(capacity: u32) -> Arc<Pool> {
        Arc::new(Pool {
            capacity,
            free: Mutex::new(capacity),
        })
    }
}

/// A reservation of instance slots and of log output per window. Cheap to clone; the slots go
/// back to the runtime when the last clone and the last instance created against it are gone.
#[derive(Clone)]
pub struct Budget {
    inner: Arc<Inner>,
}

struct Inner {
    owner: String,
    pool: Arc<Pool>,
    slots: u32,
    in_use: AtomicU32,
    /// Bytes of log output (records and stdio) allowed per window; `usize::MAX` for no cap.
    output_per_window: usize,
    output_left: AtomicUsize,
    output_dropped: AtomicU64,
    /// When the allowance was last renewed.
    output_renewed: Mutex<Instant>,
}

/// The allowance is renewed at most this often, so that many short windows do not multiply it.
const OUTPUT_RENEWAL: Duration = Duration::from_secs(1);

impl Drop for Inner {
    fn drop(&mut self) {
        *self.pool.free.lock().expect("pool lock") += self.slots;
    }
}

impl Budget {
    /// Reserves `slots` of `pool` for `owner`, or says how many are left.
    pub(crate) fn reserve(
        pool: &Arc<Pool>,
        owner: &str,
        slots: u32,
        output_per_window: Option<usize>,
    ) -> Result<Budget, Error> {
        let mut free = pool.free.lock().expect("pool lock");
        if slots > *free {
            return Err(Error::Capacity(format!(
                "{owner} needs {slots} plugin instances, but only {} of the runtime's {} are \
                 not reserved (raise `pooled_instances`; the daemon's `plugin_instances`)",
                *free, pool.capacity
            )));
        }
        *free -= slots;
        let output_per_window = output_per_window.unwrap_or(usize::MAX);
        Ok(Budget {
            inner: Arc::new(Inner {
                owner: owner.to_string(),
                pool: pool.clone(),
                slots,
                in_use: AtomicU32::new(0),
                output_per_window,
                output_left: AtomicUsize::new(output_per_window),
                output_dropped: AtomicU64::new(0),
                output_renewed: Mutex::new(Instant::now()),
            }),
        })
    }

    /// Who the budget is for.
    pub fn owner(&self) -> &str {
        &self.inner.owner
    }

    /// The instance slots reserved.
    pub fn slots(&self) -> u32 {
        self.inner.slots
    }

    /// The slots held by live instances now.
    pub fn in_use(&self) -> u32 {
        self.inner.in_use.load(Ordering::Relaxed)
    }

    /// Starts a new window of log output: the allowance is renewed, unless it was less than a
    /// second ago (so a monitor with many tiny windows writes no more than one allowance a
    /// second).
    pub fn start_window(&self) {
        let inner = &self.inner;
        let mut renewed = inner.output_renewed.lock().expect("renewal lock");
        if renewed.elapsed() >= OUTPUT_RENEWAL {
            *renewed = Instant::now();
            inner
                .output_left
                .store(inner.output_per_window, Ordering::Relaxed);
        }
    }

    /// How many bytes the plugins wrote over the allowance since the last call (and were
    /// dropped).
    pub fn take_dropped(&self) -> u64 {
        self.inner.output_dropped.swap(0, Ordering::Relaxed)
    }

    /// Counts output dropped by another cap (log records past the per-call limit).
    pub(crate) fn drop_output(&self, bytes: usize) {
        self.inner
            .output_dropped
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Takes a slot for a new instance.
    pub(crate) fn take_slot(&self, plugin: &str) -> Result<Slot, Error> {
        let inner = &self.inner;
        inner
            .in_use
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < inner.slots).then_some(n + 1)
            })
            .map_err(|_| {
                Error::Capacity(format!(
                    "cannot start plugin `{plugin}`: all {} plugin instances reserved for {} \
                     are in use (the shared ones are `shared_instances`, the daemon's \
                     `plugin_shared_instances`)",
                    inner.slots, inner.owner
                ))
            })?;
        Ok(Slot {
            budget: self.clone(),
        })
    }

    /// Takes up to `bytes` of the window's output allowance; returns how many were granted.
    /// The rest is counted as dropped.
    pub(crate) fn take_output(&self, bytes: usize) -> usize {
        let inner = &self.inner;
        let granted =
            match inner
                .output_left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                    Some(left.saturating_sub(bytes))
                }) {
                Ok(before) | Err(before) => before.min(bytes),
            };
        if granted < bytes {
            inner
                .output_dropped
                .fetch_add((bytes - granted) as u64, Ordering::Relaxed);
        }
        granted
    }
}

/// One instance slot of a budget, held by the store of the instance that uses it.
pub(crate) struct Slot {
    budget: Budget,
}

impl Slot {
    pub(crate) fn budget(&self) -> &Budget {
        &self.budget
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.budget.inner.in_use.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_come_out_of_the_pool_and_go_back() {
        let pool = Pool::new(10);
        let a = Budget::reserve(&pool, "monitor a", 6, None).unwrap();
        let error = Budget::reserve(&pool, "monitor b", 5, None)
            .err()
            .expect("only 4 are left");
        assert!(matches!(error, Error::Capacity(_)), "{error}");
        assert!(error.to_string().contains("only 4"), "{error}");
        let b = Budget::reserve(&pool, "monitor b", 4, None).unwrap();
        // A budget's slots are its own: it can fill them, and no more.
        let held: Vec<Slot> = (0..4).map(|_| b.take_slot("p").unwrap()).collect();
        assert_eq!(b.in_use(), 4);
        assert!(matches!(b.take_slot("p"), Err(Error::Capacity(_))));
        assert!(a.take_slot("p").is_ok());
        drop(held);
        assert_eq!(b.in_use(), 0);
        // A slot keeps its budget's reservation alive after the budget itself is dropped.
        let slot = b.take_slot("p").unwrap();
        drop(b);
        assert!(Budget::reserve(&pool, "monitor c", 1, None).is_err());
        drop(slot);
        assert!(Budget::reserve(&pool, "monitor c", 4, None).is_ok());
        drop(a);
        assert_eq!(*pool.free.lock().unwrap(), 10);
    }

    #[test]
    fn output_is_capped_per_window_and_per_second() {
        let pool = Pool::new(1);
        let budget = Budget::reserve(&pool, "m", 0, Some(100)).unwrap();
        assert_eq!(budget.take_output(60), 60);
        assert_eq!(budget.take_output(60), 40);
        assert_eq!(budget.take_output(10), 0);
        assert_eq!(budget.take_dropped(), 30);
        assert_eq!(budget.take_dropped(), 0);
        // A window less than a second after the last renewal gets no new allowance.
        budget.start_window();
        assert_eq!(budget.take_output(10), 0);
        *budget.inner.output_renewed.lock().unwrap() -= OUTPUT_RENEWAL;
        budget.start_window();
        assert_eq!(budget.take_output(100), 100);
        let uncapped = Budget::reserve(&pool, "shared", 0, None).unwrap();
        assert_eq!(uncapped.take_output(usize::MAX / 2), usize::MAX / 2);
    }
}
