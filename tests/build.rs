//! Builds the standard plugins and the hostile guests into components, once per change, and
//! tells the tests where they are.

use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest_dir.parent().unwrap().to_path_buf();
    for watched in ["plugins", "plugin-sdk", "wit", "tests/guests", "Cargo.lock"] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }
    println!("cargo:rerun-if-env-changed=VIGIL_PLUGIN_TARGET_DIR");
    let packages: Vec<String> = ["plugins", "tests/guests"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(workspace.join(dir)).unwrap())
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("Cargo.toml").exists())
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let request = vigil_plugin_build::BuildRequest {
        manifest_path: workspace.join("Cargo.toml"),
        packages,
        target_dir: std::env::var_os("VIGIL_PLUGIN_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace.join("target/wasm-plugins")),
    };
    let built = match vigil_plugin_build::build(&request) {
        Ok(built) => built,
        Err(error) => panic!("building the test plugins failed: {error}"),
    };
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
