//! Finding a toolchain that can build wasm32 components.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{BuildError, clean_command};

/// Where Debian's packages put the wasm-capable compiler, std's source and the WASI libc.
const SYSTEM_RUSTC: &str = "/usr/bin/rustc";
const SYSTEM_CARGO: &str = "/usr/bin/cargo";
const SYSTEM_STD_SOURCE: &str = "/usr/lib/rustlib/src/rust/library";
const SYSTEM_WASI_LIBC: &str = "/usr/lib/wasm32-wasi";
const SYSTEM_LLD: &str = "/usr/bin/rust-lld";

/// A way to build components.
#[derive(Debug, Clone)]
pub enum Toolchain {
    /// rustup with the `wasm32-wasip2` target installed: components come straight from rustc.
    /// Plugins without WASI are built for `wasm32-unknown-unknown` when that target is installed
    /// too, else for `wasm32-wasip2` like the others.
    Rustup {
        /// The cargo to run.
        cargo: PathBuf,
        /// Whether rustup also has `wasm32-unknown-unknown`.
        has_unknown: bool,
    },
    /// A rustc that knows the wasm32 targets and has std's source: std is built from source,
    /// for `wasm32-unknown-unknown` (plugins without WASI) or for `wasm32-wasip1` (plugins with
    /// WASI, componentized with the preview 1 adapter).
    FromSource {
        /// The cargo to run.
        cargo: PathBuf,
        /// The rustc it drives.
        rustc: PathBuf,
        /// The wasm linker.
        linker: PathBuf,
        /// Directory with the wasm32-wasi `libc.a`, needed only for plugins with WASI.
        libc_dir: Option<PathBuf>,
    },
}

/// The wasm32 targets a plugin can be built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Target {
    /// No WASI: the component imports only what the plugin uses of `vigil:plugin/host`.
    Unknown,
    Wasip1,
    Wasip2,
}

impl Target {
    /// cargo's per-target environment variable `CARGO_TARGET_<TRIPLE>_<KEY>`.
    fn env_var(self, key: &str) -> String {
        let triple = self.triple().to_uppercase().replace('-', "_");
        format!("CARGO_TARGET_{triple}_{key}")
    }

    pub(crate) fn triple(self) -> &'static str {
        match self {
            Target::Unknown => "wasm32-unknown-unknown",
            Target::Wasip1 => "wasm32-wasip1",
            Target::Wasip2 => "wasm32-wasip2",
        }
    }
}

impl Toolchain {
    /// The first usable toolchain: rustup's wasm32-wasip2 target, then the system compiler
    /// with std's source.
    pub fn detect() -> Result<Self, BuildError> {
        let cargo = std::env::var_os("CARGO")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("cargo"));
        if rustup_has("wasm32-wasip2") {
            return Ok(Toolchain::Rustup {
                cargo,
                has_unknown: rustup_has("wasm32-unknown-unknown"),
            });
        }
        let missing: Vec<&str> = [SYSTEM_RUSTC, SYSTEM_CARGO, SYSTEM_STD_SOURCE]
            .into_iter()
            .filter(|p| !Path::new(p).exists())
            .collect();
        if !missing.is_empty() {
            return Err(BuildError::NoToolchain(format!(
                "the rustup target wasm32-wasip2 is not installed and {} is missing",
                missing.join(", ")
            )));
        }
        Ok(Toolchain::FromSource {
            cargo: SYSTEM_CARGO.into(),
            rustc: SYSTEM_RUSTC.into(),
            linker: find_lld().ok_or_else(|| {
                BuildError::NoToolchain("no rust-lld found for linking wasm".into())
            })?,
            libc_dir: Some(PathBuf::from(SYSTEM_WASI_LIBC)).filter(|dir| dir.exists()),
        })
    }

    /// The target a plugin is built for: one without WASI when the plugin does not ask for
    /// WASI and the toolchain can, since such components instantiate several times faster
    /// (no preview 1 adapter, nothing to link) and import nothing but the host interface.
    pub(crate) fn target(&self, wasi: bool) -> Result<Target, BuildError> {
        match self {
            Toolchain::Rustup { has_unknown, .. } => Ok(if !wasi && *has_unknown {
                Target::Unknown
            } else {
                Target::Wasip2
            }),
            Toolchain::FromSource { libc_dir, .. } => match (wasi, libc_dir) {
                (false, _) => Ok(Target::Unknown),
                (true, Some(_)) => Ok(Target::Wasip1),
                (true, None) => Err(BuildError::NoToolchain(format!(
                    "the plugin asks for WASI and {SYSTEM_WASI_LIBC} (Debian's wasi-libc) is missing"
                ))),
            },
        }
    }

    pub(crate) fn cargo_command(&self, target: Target) -> Command {
        // Wasm SIMD, which every runtime Vigil supports enables: the sums and scans that
        // statistics spend their time in run two lanes at a time (docs/plugins.md).
        let mut rustflags = String::from("-C target-feature=+simd128");
        let mut command = match self {
            Toolchain::Rustup { cargo, .. } => clean_command(cargo),
            Toolchain::FromSource {
                cargo,
                rustc,
                linker,
                libc_dir,
            } => {
                let mut command = clean_command(cargo);
                command
                    .env("RUSTC", rustc)
                    // -Zbuild-std on a stable compiler.
                    .env("RUSTC_BOOTSTRAP", "1")
                    .env(target.env_var("LINKER"), linker)
                    .arg("-Zbuild-std=std,panic_abort");
                if let (Target::Wasip1, Some(libc_dir)) = (target, libc_dir) {
                    rustflags.push_str(&format!(
                        " -C link-self-contained=no -L {}",
                        libc_dir.display()
                    ));
                }
                command
            }
        };
        command.env(target.env_var("RUSTFLAGS"), rustflags);
        command
    }

    /// Turns cargo's output for one package into the component at `out`.
    pub(crate) fn finish(
        &self,
        target: Target,
        module: &Path,
        out: &Path,
    ) -> Result<(), BuildError> {
        let bytes = std::fs::read(module).map_err(|source| BuildError::Io {
            path: module.to_path_buf(),
            source,
        })?;
        let component = match target {
            Target::Wasip2 => bytes,
            Target::Wasip1 | Target::Unknown => componentize(&bytes, target == Target::Wasip1)
                .map_err(|message| BuildError::Componentize {
                    path: module.to_path_buf(),
                    message,
                })?,
        };
        // An unchanged component keeps its file, and so its modification time: the crates that
        // embed the components (`include_bytes!`) are rebuilt only when one really changed, not
        // each time another build script builds the same plugins.
        if std::fs::read(out).is_ok_and(|existing| existing == component) {
            return Ok(());
        }
        std::fs::write(out, component).map_err(|source| BuildError::Io {
            path: out.to_path_buf(),
            source,
        })
    }
}

/// Wraps a core module (with its embedded WIT metadata) into a component. A wasip1 module's
/// WASI imports go through the preview 1 adapter (`wasip1`); a module built without WASI
/// needs none.
pub fn componentize(module: &[u8], wasip1: bool) -> Result<Vec<u8>, String> {
    let mut encoder = wit_component::ComponentEncoder::default()
        .module(module)
        .map_err(|e| format!("{e:#}"))?;
    if wasip1 {
        encoder = encoder
            .adapter(
                "wasi_snapshot_preview1",
                wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
            )
            .map_err(|e| format!("{e:#}"))?;
    }
    encoder
        .validate(true)
        .encode()
        .map_err(|e| format!("{e:#}"))
}

fn rustup_has(target: &str) -> bool {
    let Ok(output) = Command::new("rustc")
        .args(["--print", "target-libdir", "--target", target])
        .output()
    else {
        return false;
    };
    if !output.status.success() {
        return false;
    }
    let libdir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    // The directory holds std's rlibs only when the target is installed.
    std::fs::read_dir(&libdir)
        .map(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("libstd-"))
        })
        .unwrap_or(false)
}

fn find_lld() -> Option<PathBuf> {
    if Path::new(SYSTEM_LLD).exists() {
        return Some(SYSTEM_LLD.into());
    }
    let output = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .ok()?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    let lld = sysroot.join("lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-lld");
    lld.exists().then_some(lld)
}
