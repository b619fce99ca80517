//! Turns plugin crates into WebAssembly components.
//!
//! Plugins are built without WASI unless their `Cargo.toml` asks for it (see [`wants_wasi`]).
//! Two toolchains are supported, tried in this order:
//! 1. **rustup's `wasm32-wasip2` target** (what plugin authors normally have): `cargo build
//!    --target wasm32-wasip2` emits a component directly. Plugins without WASI are built for
//!    `wasm32-unknown-unknown` instead when that target is installed too.
//! 2. **A wasm32-capable rustc with the standard library's source** (Debian's `rustc-web`,
//!    `cargo-web`, `rust-web-src`, and `wasi-libc` for plugins with WASI; used where the rustup
//!    target cannot be installed): std is built from source for `wasm32-unknown-unknown` or
//!    `wasm32-wasip1`, and the core module is turned into a component here, with the WASI
//!    preview 1 reactor adapter for `wasip1`.
#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

mod python;
mod toolchain;
mod vendor;

pub use python::{
    COMPONENTIZE_PY, PythonProject, build_python, build_workspace_python, componentize_py,
};
use toolchain::Target;
pub use toolchain::Toolchain;
pub use vendor::{python_sdk_files, rust_sdk_files, wit_files};

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// No toolchain that can build wasm32 components was found.
    #[error(
        "no toolchain can build WebAssembly components here: run `rustup target add wasm32-wasip2`, \
         or install Debian's rustc-web, cargo-web, rust-web-src and wasi-libc ({0})"
    )]
    NoToolchain(String),
    /// cargo failed; its diagnostics went to stderr.
    #[error("cargo failed to build the plugin (exit status {0}); see the compiler output above")]
    Cargo(String),
    /// Running a tool failed.
    #[error("could not run {tool}: {source}")]
    Spawn {
        /// The program.
        tool: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The core module could not be turned into a component.
    #[error("could not make a component of {path}: {message}")]
    Componentize {
        /// The core module.
        path: PathBuf,
        /// What wit-component said.
        message: String,
    },
    /// A project's `pyproject.toml` does not say what to build.
    #[error("{path}: {message}")]
    Project {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Building a Python plugin failed.
    #[error("{0}")]
    Python(String),
    /// cargo reported no wasm artifact for a requested package.
    #[error("cargo produced no .wasm for package `{0}`; is its crate-type `cdylib`?")]
    NoArtifact(String),
}

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// `Cargo.toml` of the plugin crate, or of the workspace holding the packages.
    pub manifest_path: PathBuf,
    /// Packages to build; empty means the manifest's own package.
    pub packages: Vec<String>,
    /// cargo's target directory for the wasm build (kept apart from native builds).
    pub target_dir: PathBuf,
}

/// One built plugin.
#[derive(Debug, Clone)]
pub struct BuiltComponent {
    /// The cargo package name.
    pub package: String,
    /// Where the component was written.
    pub path: PathBuf,
}

/// Builds the requested packages with the best toolchain available, in one cargo run, and
/// writes each component to `<target_dir>/components/<package>.wasm`.
pub fn build(request: &BuildRequest) -> Result<Vec<BuiltComponent>, BuildError> {
    let toolchain = Toolchain::detect()?;
    build_with(&toolchain, request)
}

/// [`build`] with a chosen toolchain. Plugins are grouped by target (with or without WASI, see
/// [`wants_wasi`]) and each group is built in one cargo run.
pub fn build_with(
    toolchain: &Toolchain,
    request: &BuildRequest,
) -> Result<Vec<BuiltComponent>, BuildError> {
    let packages = plugin_packages(toolchain, request)?;
    let mut by_target: BTreeMap<Target, Vec<String>> = BTreeMap::new();
    for (package, wasi) in packages {
        by_target
            .entry(toolchain.target(wasi)?)
            .or_default()
            .push(package);
    }
    let out_dir = request.target_dir.join("components");
    std::fs::create_dir_all(&out_dir).map_err(|source| BuildError::Io {
        path: out_dir.clone(),
        source,
    })?;
    let mut built = Vec::new();
    for (target, packages) in by_target {
        let modules = cargo_build(toolchain, target, request, &packages)?;
        for package in packages {
            let module = modules
                .get(&package)
                .ok_or_else(|| BuildError::NoArtifact(package.clone()))?;
            let path = out_dir.join(format!("{package}.wasm"));
            toolchain.finish(target, module, &path)?;
            built.push(BuiltComponent { package, path });
        }
    }
    Ok(built)
}

/// Runs cargo for one target; returns package name → core module (or component, for wasip2).
fn cargo_build(
    toolchain: &Toolchain,
    target: Target,
    request: &BuildRequest,
    packages: &[String],
) -> Result<BTreeMap<String, PathBuf>, BuildError> {
    let mut cargo = toolchain.cargo_command(target);
    cargo
        .arg("build")
        .arg("--release")
        .arg("--message-format=json-render-diagnostics")
        .arg("--manifest-path")
        .arg(&request.manifest_path)
        .arg("--target-dir")
        .arg(&request.target_dir)
        .args(["--target", target.triple()])
        // Small, fast components whatever the plugin's own release profile says.
        .args(["--config", "profile.release.lto=true"])
        .args(["--config", "profile.release.codegen-units=1"])
        .args(["--config", "profile.release.opt-level=3"])
        .args(["--config", "profile.release.debug=false"])
        .args(["--config", "profile.release.strip=false"])
        .args(["--config", "profile.release.panic=\"abort\""])
        .stderr(std::process::Stdio::inherit());
    for package in packages {
        cargo.arg("-p").arg(package);
    }
    let output = cargo.output().map_err(|source| BuildError::Spawn {
        tool: "cargo".into(),
        source,
    })?;
    if !output.status.success() {
        return Err(BuildError::Cargo(output.status.to_string()));
    }
    Ok(wasm_artifacts(&output.stdout))
}

/// The packages to build, each with whether it asks for WASI: the requested ones, or else the
/// manifest's own package (every member, for a virtual workspace manifest).
fn plugin_packages(
    toolchain: &Toolchain,
    request: &BuildRequest,
) -> Result<Vec<(String, bool)>, BuildError> {
    let mut cargo = toolchain.cargo_command(Target::Unknown);
    cargo
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .arg("--manifest-path")
        .arg(&request.manifest_path)
        .stderr(std::process::Stdio::inherit());
    let output = cargo.output().map_err(|source| BuildError::Spawn {
        tool: "cargo".into(),
        source,
    })?;
    if !output.status.success() {
        return Err(BuildError::Cargo(output.status.to_string()));
    }
    let metadata: Metadata = serde_json::from_slice(&output.stdout)
        .map_err(|e| BuildError::Cargo(format!("unreadable `cargo metadata` output: {e}")))?;
    let own_manifest = std::fs::canonicalize(&request.manifest_path).ok();
    let selected: Vec<&MetadataPackage> = if request.packages.is_empty() {
        let own: Vec<_> = metadata
            .packages
            .iter()
            .filter(|p| std::fs::canonicalize(&p.manifest_path).ok() == own_manifest)
            .collect();
        if own.is_empty() {
            // A virtual workspace: its plugin crates (libraries and tools have no component).
            metadata
                .packages
                .iter()
                .filter(|p| {
                    p.targets
                        .iter()
                        .any(|t| t.crate_types.iter().any(|c| c == "cdylib"))
                })
                .collect()
        } else {
            own
        }
    } else {
        request
            .packages
            .iter()
            .map(|name| {
                metadata
                    .packages
                    .iter()
                    .find(|p| &p.name == name)
                    .ok_or_else(|| BuildError::NoArtifact(name.clone()))
            })
            .collect::<Result<_, _>>()?
    };
    Ok(selected
        .into_iter()
        .map(|p| (p.name.clone(), wants_wasi(&p.metadata)))
        .collect())
}

#[derive(serde::Deserialize)]
struct Metadata {
    packages: Vec<MetadataPackage>,
}

#[derive(serde::Deserialize)]
struct MetadataPackage {
    name: String,
    manifest_path: PathBuf,
    #[serde(default)]
    metadata: serde_json::Value,
    #[serde(default)]
    targets: Vec<MetadataTarget>,
}

#[derive(serde::Deserialize)]
struct MetadataTarget {
    #[serde(default)]
    crate_types: Vec<String>,
}

/// Whether a package's `[package.metadata.vigil]` sets `wasi = true`. Plugins are built without
/// WASI unless they ask for it: std's `println!` then goes nowhere (the SDK's `log` reaches the
/// host), and in exchange the component instantiates several times faster and imports nothing
/// but the host interface. A plugin that wants std's stdout and stderr (captured into the
/// host's log), clocks or randomness sets `wasi = true`; files, environment and sockets stay
/// denied either way.
pub fn wants_wasi(metadata: &serde_json::Value) -> bool {
    metadata
        .pointer("/vigil/wasi")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false)
}

/// For build scripts: builds every plugin crate directly under each of `dirs` (relative to
/// `workspace`) in one cargo run, into the wasm target directory the workspace's build scripts
/// share (`$VIGIL_PLUGIN_TARGET_DIR`, else `<workspace>/target/wasm-plugins`), and tells cargo
/// to run the build script again when a plugin, the SDK, the WIT or the lock file changes.
/// Returns the components sorted by package name.
pub fn build_workspace_plugins(
    workspace: &Path,
    dirs: &[&str],
) -> Result<Vec<BuiltComponent>, BuildError> {
    for watched in dirs.iter().chain(&["plugin-sdk", "wit", "Cargo.lock"]) {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }
    println!("cargo:rerun-if-env-changed=VIGIL_PLUGIN_TARGET_DIR");
    let mut packages = Vec::new();
    for dir in dirs {
        let dir = workspace.join(dir);
        let entries = std::fs::read_dir(&dir).map_err(|source| BuildError::Io {
            path: dir.clone(),
            source,
        })?;
        for entry in entries.flatten() {
            if entry.path().join("Cargo.toml").exists() {
                packages.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
    }
    packages.sort();
    let mut built = build(&BuildRequest {
        manifest_path: workspace.join("Cargo.toml"),
        packages,
        target_dir: std::env::var_os("VIGIL_PLUGIN_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace.join("target/wasm-plugins")),
    })?;
    built.sort_by(|a, b| a.package.cmp(&b.package));
    Ok(built)
}

/// Maps package name → the `.wasm` file cargo reported for it.
fn wasm_artifacts(stdout: &[u8]) -> BTreeMap<String, PathBuf> {
    #[derive(serde::Deserialize)]
    struct Message {
        reason: String,
        #[serde(default)]
        package_id: String,
        #[serde(default)]
        filenames: Vec<PathBuf>,
        #[serde(default)]
        target: Option<Target>,
    }
    #[derive(serde::Deserialize)]
    struct Target {
        name: String,
    }
    let mut artifacts = BTreeMap::new();
    for line in stdout.split(|&b| b == b'\n') {
        let Ok(message) = serde_json::from_slice::<Message>(line) else {
            continue;
        };
        if message.reason != "compiler-artifact" {
            continue;
        }
        let Some(wasm) = message
            .filenames
            .into_iter()
            .find(|f| f.extension().is_some_and(|e| e == "wasm"))
        else {
            continue;
        };
        let package = package_name(&message.package_id)
            .or(message.target.map(|t| t.name.replace('_', "-")))
            .unwrap_or_default();
        artifacts.insert(package, wasm);
    }
    artifacts
}

/// The package name from a cargo package id: `path+file:///x/drift-ks#0.1.0` (the last path
/// segment, unless a `name@` prefix follows the `#`) or `registry+…#name@1.0.0`.
fn package_name(id: &str) -> Option<String> {
    let (source, fragment) = id.rsplit_once('#')?;
    if let Some((name, _version)) = fragment.split_once('@') {
        return Some(name.to_string());
    }
    Path::new(source)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
}

/// A command with the environment cleared of everything an enclosing cargo (a build script,
/// `cargo run`) sets, so the nested build neither inherits flags meant for the host nor
/// fights over the outer target directory.
fn clean_command(program: &Path) -> Command {
    let mut command = Command::new(program);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let inherited_from_cargo = (key.starts_with("CARGO")
            && !matches!(key.as_ref(), "CARGO_HOME")
            && !key.starts_with("CARGO_NET_")
            && !key.starts_with("CARGO_HTTP_")
            && !key.starts_with("CARGO_REGISTRIES_")
            && !key.starts_with("CARGO_REGISTRY_"))
            || key.starts_with("RUSTC")
            || key.starts_with("RUSTDOC")
            || matches!(
                key.as_ref(),
                "RUSTFLAGS"
                    | "OUT_DIR"
                    | "TARGET"
                    | "HOST"
                    | "OPT_LEVEL"
                    | "PROFILE"
                    | "DEBUG"
                    | "NUM_JOBS"
                    | "RUST_RECURSION_COUNT"
            );
        if inherited_from_cargo {
            command.env_remove(key.as_ref());
        }
    }
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_names_from_cargo_ids() {
        assert_eq!(
            package_name("path+file:///work/main/plugins/drift-ks#0.1.0").as_deref(),
            Some("drift-ks")
        );
        assert_eq!(
            package_name("path+file:///work/x#my-plugin@0.2.0").as_deref(),
            Some("my-plugin")
        );
        assert_eq!(
            package_name("registry+https://github.com/rust-lang/crates.io-index#serde@1.0.0")
                .as_deref(),
            Some("serde")
        );
    }

    #[test]
    fn plugins_ask_for_wasi_in_their_metadata() {
        let metadata = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
        assert!(wants_wasi(&metadata(r#"{"vigil": {"wasi": true}}"#)));
        assert!(!wants_wasi(&metadata(r#"{"vigil": {"wasi": false}}"#)));
        assert!(!wants_wasi(&metadata(r#"{"other-tool": {"wasi": true}}"#)));
        assert!(!wants_wasi(&serde_json::Value::Null));
    }

    #[test]
    fn artifacts_are_read_from_cargo_messages() {
        let stdout = br#"{"reason":"compiler-artifact","package_id":"path+file:///p/drift-ks#0.1.0","target":{"name":"drift_ks"},"filenames":["/t/drift_ks.wasm","/t/libdrift_ks.rlib"]}
{"reason":"compiler-artifact","package_id":"registry+x#serde@1.0.0","target":{"name":"serde"},"filenames":["/t/libserde.rlib"]}
{"reason":"build-finished","success":true}"#;
        let artifacts = wasm_artifacts(stdout);
        assert_eq!(artifacts.len(), 1);
        assert_eq!(artifacts["drift-ks"], PathBuf::from("/t/drift_ks.wasm"));
    }
}
