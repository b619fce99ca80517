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
    Wasip2 {
        /// The cargo to run.
        cargo: PathBuf,
    },
    /// A rustc that knows wasm32-wasip1 and std's source; std is built from source and the
    /// module is componentized with the preview 1 adapter.
    Wasip1FromSource {
        /// The cargo to run.
        cargo: PathBuf,
        /// The rustc it drives.
        rustc: PathBuf,
        /// The wasm linker.
        linker: PathBuf,
        /// Directory with the wasm32-wasi `libc.a`.
        libc_dir: PathBuf,
    },
}

impl Toolchain {
    /// The first usable toolchain: rustup's wasm32-wasip2 target, then the system compiler
    /// with std's source.
    pub fn detect() -> Result<Self, BuildError> {
        let cargo = std::env::var_os("CARGO")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("cargo"));
        if rustup_has_wasip2() {
            return Ok(Toolchain::Wasip2 { cargo });
        }
        let missing: Vec<&str> = [
            SYSTEM_RUSTC,
            SYSTEM_CARGO,
            SYSTEM_STD_SOURCE,
            SYSTEM_WASI_LIBC,
        ]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
        if !missing.is_empty() {
            return Err(BuildError::NoToolchain(format!(
                "the rustup target wasm32-wasip2 is not installed and {} is missing",
                missing.join(", ")
            )));
        }
        Ok(Toolchain::Wasip1FromSource {
            cargo: SYSTEM_CARGO.into(),
            rustc: SYSTEM_RUSTC.into(),
            linker: find_lld().ok_or_else(|| {
                BuildError::NoToolchain("no rust-lld found for linking wasm".into())
            })?,
            libc_dir: SYSTEM_WASI_LIBC.into(),
        })
    }

    /// The rustc target triple this toolchain builds for.
    pub fn target(&self) -> &'static str {
        match self {
            Toolchain::Wasip2 { .. } => "wasm32-wasip2",
            Toolchain::Wasip1FromSource { .. } => "wasm32-wasip1",
        }
    }

    pub(crate) fn cargo_command(&self) -> Command {
        match self {
            Toolchain::Wasip2 { cargo } => clean_command(cargo),
            Toolchain::Wasip1FromSource {
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
                    .env("CARGO_TARGET_WASM32_WASIP1_LINKER", linker)
                    .env(
                        "CARGO_TARGET_WASM32_WASIP1_RUSTFLAGS",
                        format!("-C link-self-contained=no -L {}", libc_dir.display()),
                    )
                    .arg("-Zbuild-std=std,panic_abort");
                command
            }
        }
    }

    /// Turns cargo's output for one package into the component at `out`.
    pub(crate) fn finish(&self, module: &Path, out: &Path) -> Result<(), BuildError> {
        let bytes = std::fs::read(module).map_err(|source| BuildError::Io {
            path: module.to_path_buf(),
            source,
        })?;
        let component = match self {
            Toolchain::Wasip2 { .. } => bytes,
            Toolchain::Wasip1FromSource { .. } => {
                componentize(&bytes).map_err(|message| BuildError::Componentize {
                    path: module.to_path_buf(),
                    message,
                })?
            }
        };
        std::fs::write(out, component).map_err(|source| BuildError::Io {
            path: out.to_path_buf(),
            source,
        })
    }
}

/// Wraps a wasip1 core module (with its embedded WIT metadata) into a component.
pub fn componentize(module: &[u8]) -> Result<Vec<u8>, String> {
    wit_component::ComponentEncoder::default()
        .module(module)
        .and_then(|encoder| {
            encoder.adapter(
                "wasi_snapshot_preview1",
                wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
            )
        })
        .and_then(|encoder| encoder.validate(true).encode())
        .map_err(|e| format!("{e:#}"))
}

fn rustup_has_wasip2() -> bool {
    let Ok(output) = Command::new("rustc")
        .args(["--print", "target-libdir", "--target", "wasm32-wasip2"])
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
