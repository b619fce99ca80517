//! Builds the standard plugins, the hostile guests and the Python plugins (the examples and
//! the hostile Python guest) into components, once per change, and tells the tests where they
//! are.

use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest_dir.parent().unwrap().to_path_buf();
    let mut built =
        vigil_plugin_build::build_workspace_plugins(&workspace, &["plugins", "tests/guests"])
            .unwrap_or_else(|error| panic!("building the test plugins failed: {error}"));
    let python_target = std::env::var_os("VIGIL_PLUGIN_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target/wasm-plugins"));
    built.extend(
        vigil_plugin_build::build_workspace_python(
            &workspace,
            &["examples/python", "tests/guests-python"],
            &python_target,
        )
        .unwrap_or_else(|error| panic!("building the Python test plugins failed: {error}")),
    );
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
