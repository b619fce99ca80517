//! Vigil's host: the `vigil` binary's commands, the daemon (API, monitoring loop, alerts) and
//! the one-shot `vigil drift` and `vigil detect`. A library so that integration tests reach the route table and
//! run the daemon in-process.

pub mod alerts;
pub mod bench;
pub mod cli;
pub mod client;
pub mod commands;
pub mod config;
pub mod csv_quotes;
pub mod demo;
pub mod detect;
pub mod drift;
pub mod ingest;
pub mod listing;
pub mod metrics;
pub mod monitor;
pub mod orchestration;
pub mod performance;
pub mod plugins;
pub mod retention;
pub mod scaffold;
pub mod server;
pub mod signing;
pub mod table;
pub mod vocab;

use std::path::PathBuf;

use vigil_runtime::RuntimeConfig;

/// The runtime settings of every command: the defaults, plus the on-disk cache of compiled
/// plugins, so that only the first run after an install or upgrade pays for compilation.
pub fn runtime_config() -> RuntimeConfig {
    RuntimeConfig {
        cache_dir: cache_dir(),
        ..RuntimeConfig::default()
    }
}

/// Where `vigil plugin build` installs the tools it needs (componentize-py):
/// `$VIGIL_CACHE_DIR/tools`, else `tools` in the XDG cache location's `vigil` directory.
pub fn tools_dir() -> Option<PathBuf> {
    match cache_root()? {
        CacheRoot::Given(dir) => Some(dir.join("tools")),
        CacheRoot::Xdg(vigil) => Some(vigil.join("tools")),
    }
}

/// `$VIGIL_CACHE_DIR`, else the XDG cache location (`$XDG_CACHE_HOME`, falling back to
/// `~/.cache`); `None` turns the cache off when none of them is set.
pub fn cache_dir() -> Option<PathBuf> {
    match cache_root()? {
        CacheRoot::Given(dir) => Some(dir),
        CacheRoot::Xdg(vigil) => Some(vigil.join("components")),
    }
}

enum CacheRoot {
    /// `$VIGIL_CACHE_DIR`.
    Given(PathBuf),
    /// `vigil` in the XDG cache location.
    Xdg(PathBuf),
}

fn cache_root() -> Option<CacheRoot> {
    let var = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
    if let Some(dir) = var("VIGIL_CACHE_DIR") {
        return Some(CacheRoot::Given(PathBuf::from(dir)));
    }
    let base = var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(CacheRoot::Xdg(base.join("vigil")))
}
