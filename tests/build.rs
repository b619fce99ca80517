//! Builds the standard plugins and the hostile guests into components, once per change, and
//! tells the tests where they are.

use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest_dir.parent().unwrap().to_path_buf();
    let built =
        vigil_plugin_build::build_workspace_plugins(&workspace, &["plugins", "tests/guests"])
            .unwrap_or_else(|error| panic!("building the test plugins failed: {error}"));
    let mut consts = String::new();
    for component in built {
        consts.push_str(&format!(
            "    ({:?}, {:?}),\n",
            component.package,
            component.path.display().to_string()
        ));
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("components.rs");
    std::fs::write(
        out,
        format!("/// (package, component path) of every built plugin and guest.\npub const COMPONENTS: &[(&str, &str)] = &[\n{consts}];\n"),
    )
    .unwrap();
}
