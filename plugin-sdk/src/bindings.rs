//! Bindings generated from the WIT package `vigil:plugin`, one module per world. The shared
//! `types` and `host` interfaces are generated once (in [`drift`]) and reused by the others.
#![allow(missing_docs)]

/// The `drift-test-plugin` world.
pub mod drift {
    wit_bindgen::generate!({
        world: "drift-test-plugin",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "export_drift_test_world",
        default_bindings_module: "vigil_plugin_sdk::bindings::drift",
        additional_derives: [PartialEq],
    });
}

/// The `detector-plugin` world.
pub mod detector {
    wit_bindgen::generate!({
        world: "detector-plugin",
        path: "../wit",
        with: {
            "vigil:plugin/types@0.2.0": crate::bindings::drift::vigil::plugin::types,
            "vigil:plugin/host@0.2.0": crate::bindings::drift::vigil::plugin::host,
        },
        pub_export_macro: true,
        export_macro_name: "export_detector_world",
        default_bindings_module: "vigil_plugin_sdk::bindings::detector",
    });
}

/// The `preprocessor-plugin` world.
pub mod preprocessor {
    wit_bindgen::generate!({
        world: "preprocessor-plugin",
        path: "../wit",
        with: {
            "vigil:plugin/types@0.2.0": crate::bindings::drift::vigil::plugin::types,
            "vigil:plugin/host@0.2.0": crate::bindings::drift::vigil::plugin::host,
        },
        pub_export_macro: true,
        export_macro_name: "export_preprocessor_world",
        default_bindings_module: "vigil_plugin_sdk::bindings::preprocessor",
    });
}

/// The `policy-plugin` world.
pub mod policy {
    wit_bindgen::generate!({
        world: "policy-plugin",
        path: "../wit",
        with: {
            "vigil:plugin/types@0.2.0": crate::bindings::drift::vigil::plugin::types,
            "vigil:plugin/host@0.2.0": crate::bindings::drift::vigil::plugin::host,
        },
        pub_export_macro: true,
        export_macro_name: "export_policy_world",
        default_bindings_module: "vigil_plugin_sdk::bindings::policy",
        additional_derives: [PartialEq],
    });
}

/// The `multivariate-drift-test-plugin` world.
pub mod multivariate {
    wit_bindgen::generate!({
        world: "multivariate-drift-test-plugin",
        path: "../wit",
        with: {
            "vigil:plugin/types@0.2.0": crate::bindings::drift::vigil::plugin::types,
            "vigil:plugin/host@0.2.0": crate::bindings::drift::vigil::plugin::host,
        },
        pub_export_macro: true,
        export_macro_name: "export_multivariate_drift_test_world",
        default_bindings_module: "vigil_plugin_sdk::bindings::multivariate",
    });
}
