//! What a plugin project is built against, compiled into this crate so that a project builds
//! without a Vigil checkout: the plugin contract (WIT), the Python SDK, and the Rust SDK with
//! a manifest of its own (`vigil plugin new` copies it into Rust projects).

/// The plugin contract's WIT files, by name.
pub const WIT: &[(&str, &str)] = &[
    ("types.wit", include_str!("../../../wit/types.wit")),
    ("worlds.wit", include_str!("../../../wit/worlds.wit")),
];

/// The Python SDK (`plugin-sdk/python/vigil_plugin`), by file name.
pub const PYTHON_SDK: &[(&str, &str)] = &[
    (
        "__init__.py",
        include_str!("../../../plugin-sdk/python/vigil_plugin/__init__.py"),
    ),
    (
        "_bridge.py",
        include_str!("../../../plugin-sdk/python/vigil_plugin/_bridge.py"),
    ),
    (
        "calls.py",
        include_str!("../../../plugin-sdk/python/vigil_plugin/calls.py"),
    ),
    (
        "config.py",
        include_str!("../../../plugin-sdk/python/vigil_plugin/config.py"),
    ),
    (
        "data.py",
        include_str!("../../../plugin-sdk/python/vigil_plugin/data.py"),
    ),
    (
        "errors.py",
        include_str!("../../../plugin-sdk/python/vigil_plugin/errors.py"),
    ),
    (
        "kinds.py",
        include_str!("../../../plugin-sdk/python/vigil_plugin/kinds.py"),
    ),
    (
        "log.py",
        include_str!("../../../plugin-sdk/python/vigil_plugin/log.py"),
    ),
    (
        "testing.py",
        include_str!("../../../plugin-sdk/python/vigil_plugin/testing.py"),
    ),
];

/// The Rust SDK (`plugin-sdk`), by path in the crate, with a manifest that needs no workspace
/// (`Cargo.toml`, `{{vigil_version}}` to be filled in).
pub const RUST_SDK: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../../../plugin-sdk/templates/rust/sdk-Cargo.toml.tmpl"),
    ),
    ("README.md", include_str!("../../../plugin-sdk/README.md")),
    (
        "src/adapters.rs",
        include_str!("../../../plugin-sdk/src/adapters.rs"),
    ),
    (
        "src/bindings.rs",
        include_str!("../../../plugin-sdk/src/bindings.rs"),
    ),
    (
        "src/column.rs",
        include_str!("../../../plugin-sdk/src/column.rs"),
    ),
    (
        "src/config.rs",
        include_str!("../../../plugin-sdk/src/config.rs"),
    ),
    ("src/lib.rs", include_str!("../../../plugin-sdk/src/lib.rs")),
    (
        "src/panic_hook.rs",
        include_str!("../../../plugin-sdk/src/panic_hook.rs"),
    ),
    (
        "src/testing.rs",
        include_str!("../../../plugin-sdk/src/testing.rs"),
    ),
];

/// The Python SDK's files, by name.
pub fn python_sdk_files() -> &'static [(&'static str, &'static str)] {
    PYTHON_SDK
}

/// The Rust SDK's files, by path in its crate.
pub fn rust_sdk_files() -> &'static [(&'static str, &'static str)] {
    RUST_SDK
}

/// The plugin contract's WIT files, by name.
pub fn wit_files() -> &'static [(&'static str, &'static str)] {
    WIT
}
