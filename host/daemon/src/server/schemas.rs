//! The schema a model's records must fit, kept per model: built once from its monitors' specs
//! rather than read and parsed from every monitor on each ingestion request.
//!
//! Freshness (docs/reliability.md, U12). A handler that changes a monitor holds a
//! [`SchemaChange`] for its model, which drops the model's schema when the handler ends,
//! however it ends: once a change is answered, this daemon's next request builds the schema
//! afresh. Another daemon on the same Postgres changes monitors without telling this one; its
//! change is seen here within [`TTL`] of its commit, as an entry that old is built again.
//! A TTL rather than a check of the monitors' count and latest `updated_at` on each request:
//! that check is a round trip to the database per request, which on Postgres is most of what
//! the cache saves. Monitors change rarely and by hand, and for a second after another
//! replica's change this one checks records as it did just before it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use vigil_store::Store;

use super::error::{ApiError, ApiResult};
use crate::monitor::spec::{FeatureKind, MonitorSpec};

/// The features every monitor of a model declares; `None` when it has no monitor (records may
/// then have any features).
pub type Schema = Option<Vec<(String, FeatureKind)>>;

/// How long a schema is used before it is built again, for changes made by other daemons.
pub const TTL: Duration = Duration::from_secs(1);

/// The schemas of the models records arrived for lately, by model id.
#[derive(Default)]
pub struct Schemas {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Each schema with the time its build began.
    entries: HashMap<i64, (Instant, Arc<Schema>)>,
    /// Counts invalidations, so that a schema built from monitors read before one is not kept.
    generation: u64,
}

impl Schemas {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().expect("schemas lock")
    }

    /// The model's schema: the one kept when it is fresh, else built from its monitors.
    pub async fn get(&self, store: &Store, model_id: i64) -> ApiResult<Arc<Schema>> {
        let generation = {
            let inner = self.lock();
            if let Some((built, schema)) = inner.entries.get(&model_id)
                && built.elapsed() < TTL
            {
                return Ok(schema.clone());
            }
            inner.generation
        };
        // The age counts from before the read: an entry is never older than what it saw.
        let started = Instant::now();
        let schema = Arc::new(build(store, model_id).await?);
        let mut inner = self.lock();
        if inner.generation == generation {
            inner.entries.insert(model_id, (started, schema.clone()));
        }
        Ok(schema)
    }

    /// Drops the model's schema, and keeps none whose build began before now.
    pub fn invalidate(&self, model_id: i64) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.entries.remove(&model_id);
    }

    /// For a handler about to change a monitor of the model: drops the model's schema when the
    /// returned guard is dropped. Created before the change and dropped after it, it leaves no
    /// schema built before the change committed, whether the handler answers, fails after the
    /// commit or is abandoned in the middle.
    pub fn changing(&self, model_id: i64) -> SchemaChange<'_> {
        SchemaChange {
            schemas: self,
            model_id,
        }
    }
}

/// See [`Schemas::changing`].
pub struct SchemaChange<'a> {
    schemas: &'a Schemas,
    model_id: i64,
}

impl Drop for SchemaChange<'_> {
    fn drop(&mut self) {
        self.schemas.invalidate(self.model_id);
    }
}

/// The features every monitor of the model declares, from the stored specs.
async fn build(store: &Store, model_id: i64) -> ApiResult<Schema> {
    let mut schema: Vec<(String, FeatureKind)> = Vec::new();
    let mut any = false;
    for monitor in store.monitors().await? {
        if monitor.model_id != model_id {
            continue;
        }
        any = true;
        let spec: MonitorSpec = serde_json::from_str(&monitor.spec)
            .map_err(|e| ApiError::internal(format!("stored monitor spec: {e}")))?;
        for feature in spec.features {
            if !schema.iter().any(|(name, _)| *name == feature.name) {
                schema.push((feature.name, feature.kind));
            }
        }
    }
    Ok(any.then_some(schema))
}
