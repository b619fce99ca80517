//! `vigil plugin new`: a plugin project of any kind, in Python or Rust, that works as it is
//! (an example plugin, its tests, a README) and builds anywhere: the SDK it is written against
//! is copied into it, so it needs no Vigil checkout, only the package registries.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::cli::{PluginKindArg, PluginLang};

/// What each kind's example does, for its description.
fn description(kind: PluginKindArg) -> &'static str {
    match kind {
        PluginKindArg::DriftTest => "Shift of the mean, relative to the reference's range",
        PluginKindArg::Detector => "Two-sided CUSUM around the running mean",
        PluginKindArg::Preprocessor => "Clips numeric columns to the reference's range",
        PluginKindArg::Policy => "Retrain when enough columns drifted",
    }
}

fn python_templates(kind: PluginKindArg) -> (&'static str, &'static str) {
    match kind {
        PluginKindArg::DriftTest => (
            include_str!("../../../plugin-sdk/templates/python/drift-test.py"),
            include_str!("../../../plugin-sdk/templates/python/drift-test.test.py"),
        ),
        PluginKindArg::Detector => (
            include_str!("../../../plugin-sdk/templates/python/detector.py"),
            include_str!("../../../plugin-sdk/templates/python/detector.test.py"),
        ),
        PluginKindArg::Preprocessor => (
            include_str!("../../../plugin-sdk/templates/python/preprocessor.py"),
            include_str!("../../../plugin-sdk/templates/python/preprocessor.test.py"),
        ),
        PluginKindArg::Policy => (
            include_str!("../../../plugin-sdk/templates/python/policy.py"),
            include_str!("../../../plugin-sdk/templates/python/policy.test.py"),
        ),
    }
}

fn rust_template(kind: PluginKindArg) -> &'static str {
    match kind {
        PluginKindArg::DriftTest => {
            include_str!("../../../plugin-sdk/templates/rust/drift-test.rs")
        }
        PluginKindArg::Detector => include_str!("../../../plugin-sdk/templates/rust/detector.rs"),
        PluginKindArg::Preprocessor => {
            include_str!("../../../plugin-sdk/templates/rust/preprocessor.rs")
        }
        PluginKindArg::Policy => include_str!("../../../plugin-sdk/templates/rust/policy.rs"),
    }
}

/// `my-drift_test` → `MyDriftTest`.
fn class_name(name: &str) -> String {
    name.split(['-', '_'])
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            let first = chars.next().expect("not empty").to_ascii_uppercase();
            std::iter::once(first).chain(chars).collect::<String>()
        })
        .collect()
}

/// Writes a new plugin project named `name` into `dir` (default `./NAME`); returns the
/// directory.
pub fn new_project(
    lang: PluginLang,
    kind: PluginKindArg,
    name: &str,
    dir: Option<&Path>,
) -> anyhow::Result<PathBuf> {
    crate::vocab::check_name("the plugin's name", name).map_err(anyhow::Error::msg)?;
    anyhow::ensure!(
        name.starts_with(|c: char| c.is_ascii_lowercase()),
        "the plugin's name must start with a letter (it is also a package name)"
    );
    anyhow::ensure!(
        crate::plugins::standard_plugin(name).is_none(),
        "`{name}` is the name of a standard plugin; choose another"
    );
    let dir = dir.map_or_else(|| PathBuf::from(name), Path::to_path_buf);
    anyhow::ensure!(
        !dir.exists(),
        "{} exists; choose another directory (--dir) or name",
        dir.display()
    );
    let class = class_name(name);
    let fill = |text: &str| {
        text.replace("{{name}}", name)
            .replace("{{class}}", &class)
            .replace("{{description}}", description(kind))
            .replace("{{kind}}", kind.name())
            .replace("{{vigil_version}}", env!("CARGO_PKG_VERSION"))
    };
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    match lang {
        PluginLang::Python => {
            let (plugin, test) = python_templates(kind);
            files.push(("plugin.py".into(), fill(plugin)));
            files.push(("test_plugin.py".into(), fill(test)));
            files.push((
                "pyproject.toml".into(),
                fill(include_str!(
                    "../../../plugin-sdk/templates/python/pyproject.toml.tmpl"
                )),
            ));
            files.push((
                "README.md".into(),
                fill(include_str!(
                    "../../../plugin-sdk/templates/python/README.md.tmpl"
                )),
            ));
            for (file, text) in vigil_plugin_build::python_sdk_files() {
                files.push((Path::new("vigil_plugin").join(file), text.to_string()));
            }
        }
        PluginLang::Rust => {
            files.push(("src/lib.rs".into(), fill(rust_template(kind))));
            files.push((
                "Cargo.toml".into(),
                fill(include_str!(
                    "../../../plugin-sdk/templates/rust/Cargo.toml.tmpl"
                )),
            ));
            files.push((
                "README.md".into(),
                fill(include_str!(
                    "../../../plugin-sdk/templates/rust/README.md.tmpl"
                )),
            ));
            files.push((".gitignore".into(), "/target\n".into()));
            for (file, text) in vigil_plugin_build::rust_sdk_files() {
                files.push((Path::new("vendor/vigil-plugin-sdk").join(file), fill(text)));
            }
            for (file, text) in vigil_plugin_build::wit_files() {
                files.push((Path::new("vendor/wit").join(file), text.to_string()));
            }
        }
    }
    for (file, text) in files {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().expect("inside the project"))
            .with_context(|| format!("cannot create {}", dir.display()))?;
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_are_camel_case() {
        assert_eq!(class_name("my-drift_test"), "MyDriftTest");
        assert_eq!(class_name("psi2"), "Psi2");
    }

    #[test]
    fn a_project_is_written_whole_and_never_over_another() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("p");
        for lang in [PluginLang::Python, PluginLang::Rust] {
            let _ = std::fs::remove_dir_all(&project);
            new_project(lang, PluginKindArg::Policy, "my-policy", Some(&project)).unwrap();
            let error = new_project(lang, PluginKindArg::Policy, "my-policy", Some(&project));
            assert!(error.unwrap_err().to_string().contains("exists"));
        }
        let lib = std::fs::read_to_string(project.join("src/lib.rs")).unwrap();
        assert!(lib.contains("pub struct MyPolicy;") && !lib.contains("{{"));
        assert!(project.join("vendor/wit/worlds.wit").exists());
        let manifest = std::fs::read_to_string(project.join("vendor/vigil-plugin-sdk/Cargo.toml"));
        assert!(!manifest.unwrap().contains("workspace = true"));
        assert!(new_project(PluginLang::Rust, PluginKindArg::Policy, "drift-ks", None).is_err());
        assert!(new_project(PluginLang::Rust, PluginKindArg::Policy, "9lives", None).is_err());
        assert!(new_project(PluginLang::Rust, PluginKindArg::Policy, "Bad Name", None).is_err());
    }
}
