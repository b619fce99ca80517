//! The plugins stored in the daemon, compiled once and kept by `name@version`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use tokio::sync::Semaphore;
use vigil_runtime::{Limits, Plugin, Runtime};
use vigil_store::Store;

use super::spec::MonitorSpec;
use crate::signing::Trust;

/// The plugins a spec names, loaded, by `name@version`.
pub type Plugins = HashMap<String, Arc<Plugin>>;

/// Plugins loaded from the store, by `name@version`, compiled once, each after its signature
/// is checked against the daemon's trusted keys. Uploads are compiled here too, a few at a
/// time.
pub struct StoredPlugins {
    store: Store,
    runtime: Runtime,
    trust: Trust,
    /// Every plugin's default limits, and the most a monitor may give one.
    limits: (Limits, Limits),
    loaded: Mutex<HashMap<String, Arc<Plugin>>>,
    /// Compilations at once (docs/reliability.md, U5): uploads cannot starve the machine.
    compiling: Semaphore,
}

impl StoredPlugins {
    pub fn new(
        store: Store,
        runtime: Runtime,
        trust: Trust,
        limits: (Limits, Limits),
    ) -> StoredPlugins {
        StoredPlugins {
            store,
            runtime,
            trust,
            limits,
            loaded: Mutex::new(HashMap::new()),
            compiling: Semaphore::new(2),
        }
    }

    /// Compiles and checks a component off the async threads.
    pub async fn compile(&self, bytes: Vec<u8>) -> Result<Arc<Plugin>, vigil_runtime::Error> {
        let _permit = self.compiling.acquire().await.expect("never closed");
        let runtime = self.runtime.clone();
        tokio::task::spawn_blocking(move || runtime.load(&bytes))
            .await
            .unwrap_or_else(|e| Err(vigil_runtime::Error::Host(format!("compile task: {e}"))))
    }

    /// A stored plugin by `name@version`.
    pub async fn get(&self, reference: &str) -> anyhow::Result<Arc<Plugin>> {
        if let Some(plugin) = self.loaded.lock().expect("cache lock").get(reference) {
            return Ok(plugin.clone());
        }
        let (name, version) = reference
            .split_once('@')
            .with_context(|| format!("plugin reference `{reference}` has no version"))?;
        let stored = self
            .store
            .plugin_component(name, version)
            .await?
            .with_context(|| format!("plugin {reference} is not stored"))?;
        // Checked at every load, not only on upload: a key taken off the trusted list, or a
        // row changed in the database, stops the plugin. The standard plugins come with the
        // binary and are trusted as it is.
        let standard = crate::plugins::standard_plugin(name) == Some(stored.bytes.as_slice());
        if !standard {
            self.trust
                .check(&stored.bytes, stored.signature.as_deref())
                .with_context(|| format!("plugin {reference} is not loaded"))?;
        }
        let plugin = self.compile(stored.bytes).await?;
        self.loaded
            .lock()
            .expect("cache lock")
            .insert(reference.to_string(), plugin.clone());
        Ok(plugin)
    }

    /// Every plugin a (pinned) spec names.
    pub async fn for_spec(&self, spec: &MonitorSpec) -> anyhow::Result<Plugins> {
        let mut plugins = Plugins::new();
        for (name, version) in spec.pinned_plugins() {
            let reference = format!("{name}@{version}");
            let plugin = self.get(&reference).await?;
            plugins.insert(reference, plugin);
        }
        Ok(plugins)
    }

    /// Drops a compiled plugin (deleted from the store).
    pub fn forget(&self, reference: &str) {
        self.loaded.lock().expect("cache lock").remove(reference);
    }

    /// Every plugin's default limits, and the most a monitor may give one.
    pub fn limits(&self) -> (Limits, Limits) {
        self.limits
    }

    /// The keys plugin signatures are checked against.
    pub fn trust(&self) -> &Trust {
        &self.trust
    }

    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }
}
