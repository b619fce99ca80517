//! Builds the standard plugins into components and embeds them in the `vigil` binary, so the
//! binary alone can run `vigil drift` with no plugin files around.

use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest_dir.join("../..").canonicalize().unwrap();
    for watched in ["plugins", "plugin-sdk", "wit", "Cargo.lock"] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }
    println!("cargo:rerun-if-env-changed=VIGIL_PLUGIN_TARGET_DIR");
    let mut packages: Vec<String> = std::fs::read_dir(workspace.join("plugins"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("Cargo.toml").exists())
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    packages.sort();
    let request = vigil_plugin_build::BuildRequest {
        manifest_path: workspace.join("Cargo.toml"),
        packages,
        target_dir: std::env::var_os("VIGIL_PLUGIN_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace.join("target/wasm-plugins")),
    };
    let built = match vigil_plugin_build::build(&request) {
        Ok(built) => built,
        Err(error) => panic!("building the standard plugins failed: {error}"),
    };
    if let Some(first) = built.first() {
        // Lets tests point `--plugins` at real components.
        println!(
            "cargo:rustc-env=VIGIL_STANDARD_PLUGIN_DIR={}",
            first.path.parent().unwrap().display()
        );
    }
    let mut entries = String::new();
    for component in built {
        entries.push_str(&format!(
            "    ({:?}, include_bytes!({:?})),\n",
            component.package,
            component.path.display().to_string()
        ));
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("standard_plugins.rs");
    std::fs::write(
        out,
        format!("pub const STANDARD_PLUGINS: &[(&str, &[u8])] = &[\n{entries}];\n"),
    )
    .unwrap();
}
