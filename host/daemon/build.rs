//! Builds the standard plugins into components and embeds them in the `vigil` binary, so the
//! binary alone can run `vigil drift` with no plugin files around.

use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest_dir.join("../..").canonicalize().unwrap();
    let built = vigil_plugin_build::build_workspace_plugins(&workspace, &["plugins"])
        .unwrap_or_else(|error| panic!("building the standard plugins failed: {error}"));
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
