//! Shared helpers for the integration tests: the built components, reference-value files, and
//! a runtime with the production limits.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use vigil_runtime::{Plugin, Runtime, RuntimeConfig};

include!(concat!(env!("OUT_DIR"), "/components.rs"));

/// The bytes of a built component, by cargo package name (e.g. `drift-ks`).
pub fn component(package: &str) -> Vec<u8> {
    let (_, path) = COMPONENTS
        .iter()
        .find(|(name, _)| *name == package)
        .unwrap_or_else(|| panic!("no component was built for `{package}`"));
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The directory holding the built components.
pub fn components_dir() -> PathBuf {
    let (_, path) = COMPONENTS.first().expect("components were built");
    Path::new(path).parent().unwrap().to_path_buf()
}

/// A runtime with the production defaults.
pub fn runtime() -> Runtime {
    Runtime::new(RuntimeConfig::default()).expect("runtime starts")
}

/// Loads a built component into `runtime`.
pub fn load(runtime: &Runtime, package: &str) -> Arc<Plugin> {
    runtime
        .load(&component(package))
        .unwrap_or_else(|e| panic!("loading {package}: {e}"))
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Parses `tests/reference/<name>.json`.
pub fn reference_cases(name: &str) -> serde_json::Value {
    let path = workspace()
        .join("tests/reference")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}
