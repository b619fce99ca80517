//! The plugins stored in the daemon, compiled once and kept by `name@version`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use tokio::sync::Semaphore;
use vigil_runtime::{Plugin, Runtime};
use vigil_store::Store;

use super::spec::MonitorSpec;

/// The plugins a spec names, loaded, by `name@version`.
pub type Plugins = HashMap<String, Arc<Plugin>>;

/// Plugins loaded from the store, by `name@version`, compiled once. Uploads are compiled here
/// too, a few at a time.
pub struct StoredPlugins {
    store: Store,
    runtime: Runtime,
    loaded: Mutex<HashMap<String, Arc<Plugin>>>,
    /// Compilations at once (docs/reliability.md, U5): uploads cannot starve the machine.
    compiling: Semaphore,
}

impl StoredPlugins {
    pub fn new(store: Store, runtime: Runtime) -> StoredPlugins {
        StoredPlugins {
            store,
            runtime,
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
        let bytes = self
            .store
            .plugin_bytes(name, version)
            .await?
            .with_context(|| format!("plugin {reference} is not stored"))?;
        let plugin = self.compile(bytes).await?;
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

    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }
}
