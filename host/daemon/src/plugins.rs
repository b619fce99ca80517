//! The plugins `vigil` can run: the standard set embedded in the binary, plus components from
//! a directory. Standard plugins are compiled only when first used.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, anyhow};
use vigil_runtime::{Plugin, Runtime};

use crate::vocab::plugin_version;

include!(concat!(env!("OUT_DIR"), "/standard_plugins.rs"));

/// The bytes of the standard plugin called `name`, if there is one.
pub fn standard_plugin(name: &str) -> Option<&'static [u8]> {
    STANDARD_PLUGINS
        .iter()
        .find(|(standard, _)| *standard == name)
        .map(|(_, bytes)| *bytes)
}

enum Entry {
    Standard(&'static [u8]),
    Loaded(Arc<Plugin>),
}

/// Plugins by name.
pub struct Registry {
    runtime: Runtime,
    entries: Mutex<BTreeMap<String, Entry>>,
}

impl Registry {
    /// The standard plugins, not yet compiled.
    pub fn standard(runtime: Runtime) -> Self {
        let entries = STANDARD_PLUGINS
            .iter()
            .map(|(name, bytes)| (name.to_string(), Entry::Standard(bytes)))
            .collect();
        Registry {
            runtime,
            entries: Mutex::new(entries),
        }
    }

    /// Adds every `*.wasm` component in `dir`. The standard plugins' names are reserved: a
    /// component under one of them that is not that plugin is refused. Versions follow the
    /// daemon's rule (see `vocab::plugin_version`): a version that is not semver is refused,
    /// and of two versions of one plugin the highest is used, whatever the files are called.
    pub fn add_dir(&self, dir: &Path) -> anyhow::Result<()> {
        let entries = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read plugin directory {}", dir.display()))?;
        let mut paths: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
            .collect();
        paths.sort();
        for path in paths {
            let bytes =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let plugin = self
                .runtime
                .load(&bytes)
                .with_context(|| format!("{} is not a usable plugin", path.display()))?;
            let name = plugin.info().name.clone();
            let version = plugin_version(&plugin.info().version)
                .map_err(|e| anyhow!("{}: {e}", path.display()))?;
            if let Some(standard) = standard_plugin(&name) {
                anyhow::ensure!(
                    standard == bytes.as_slice(),
                    "{}: `{name}` is the name of a standard plugin that comes with Vigil, and \
                     this is not it; give yours another name",
                    path.display()
                );
                continue;
            }
            let mut entries = self.entries.lock().expect("registry lock");
            let newer = match entries.get(&name) {
                Some(Entry::Loaded(held)) => {
                    plugin_version(&held.info().version).is_ok_and(|held| version > held)
                }
                _ => true,
            };
            if newer {
                entries.insert(name, Entry::Loaded(plugin));
            }
        }
        Ok(())
    }

    /// Finds a plugin by its name, or a drift test by its short name (`ks` for `drift-ks`).
    pub fn drift_test(&self, name: &str) -> anyhow::Result<Arc<Plugin>> {
        let full = format!("drift-{name}");
        let key = {
            let entries = self.entries.lock().expect("registry lock");
            [name, full.as_str()]
                .into_iter()
                .find(|k| entries.contains_key(*k))
                .map(str::to_string)
        };
        let key = key.ok_or_else(|| {
            anyhow!(
                "no drift test named `{name}`; available: {}",
                self.names().join(", ")
            )
        })?;
        self.get(&key)
    }

    /// Finds a multivariate drift test by its plugin name, or by its short name (`mmd` for
    /// `drift-mmd`).
    pub fn multivariate_test(&self, name: &str) -> anyhow::Result<Arc<Plugin>> {
        let full = format!("drift-{name}");
        let key = {
            let entries = self.entries.lock().expect("registry lock");
            [name, full.as_str()]
                .into_iter()
                .find(|k| entries.contains_key(*k))
                .map(str::to_string)
        };
        let key = key.ok_or_else(|| {
            anyhow!("no multivariate drift test named `{name}`; the standard ones are mmd, pca")
        })?;
        let plugin = self.get(&key)?;
        let kind = plugin.info().kind;
        anyhow::ensure!(
            kind == vigil_runtime::PluginKind::MultivariateDriftTest,
            "`{key}` is a {kind} plugin, not a multivariate drift test"
        );
        Ok(plugin)
    }

    /// Finds a detector by its plugin name, or by its short name (`adwin` for `detect-adwin`).
    pub fn detector(&self, name: &str) -> anyhow::Result<Arc<Plugin>> {
        let full = format!("detect-{name}");
        let key = {
            let entries = self.entries.lock().expect("registry lock");
            [name, full.as_str()]
                .into_iter()
                .find(|k| entries.contains_key(*k))
                .map(str::to_string)
        };
        let Some(key) = key else {
            let detectors: Vec<String> = self
                .names()
                .into_iter()
                .filter_map(|n| n.strip_prefix("detect-").map(str::to_string))
                .collect();
            return Err(anyhow!(
                "no detector named `{name}`; the standard ones are {}",
                detectors.join(", ")
            ));
        };
        let plugin = self.get(&key)?;
        let kind = plugin.info().kind;
        anyhow::ensure!(
            kind == vigil_runtime::PluginKind::Detector,
            "`{key}` is a {kind} plugin, not a detector"
        );
        Ok(plugin)
    }

    fn get(&self, name: &str) -> anyhow::Result<Arc<Plugin>> {
        let mut entries = self.entries.lock().expect("registry lock");
        let entry = entries.get_mut(name).expect("name was checked");
        let plugin = match entry {
            Entry::Loaded(plugin) => plugin.clone(),
            Entry::Standard(bytes) => {
                let plugin = self
                    .runtime
                    .load(bytes)
                    .with_context(|| format!("the standard plugin `{name}` failed to load"))?;
                *entry = Entry::Loaded(plugin.clone());
                plugin
            }
        };
        Ok(plugin)
    }

    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Names of every plugin, sorted.
    pub fn names(&self) -> Vec<String> {
        self.entries
            .lock()
            .expect("registry lock")
            .keys()
            .cloned()
            .collect()
    }
}
