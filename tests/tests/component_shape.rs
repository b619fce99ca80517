//! Components that are not Vigil plugins are refused at load time, before any of their code
//! runs, with a message that names what is wrong. The components are generated from WIT with
//! bodies that only trap, so each case differs from a real plugin only in its shape.

use vigil_runtime::Error;
use vigil_tests::{runtime, workspace};
use wit_component::{ComponentEncoder, StringEncoding, dummy_module, embed_component_metadata};
use wit_parser::{ManglingAndAbi, Resolve};

/// A component for `world` in `wit` (a package that may use `vigil:plugin@0.1.0`).
fn component(wit: &str, world: &str) -> Vec<u8> {
    let mut resolve = Resolve::default();
    resolve.push_dir(workspace().join("wit")).unwrap();
    let package = resolve.push_str("case.wit", wit).unwrap();
    let world = resolve.select_world(&[package], Some(world)).unwrap();
    let mut module = dummy_module(&resolve, world, ManglingAndAbi::Standard32);
    embed_component_metadata(&mut module, &resolve, world, StringEncoding::UTF8).unwrap();
    ComponentEncoder::default()
        .module(&module)
        .unwrap()
        .validate(true)
        .encode()
        .unwrap()
}

fn refused(wit: &str, world: &str) -> String {
    match runtime().load(&component(wit, world)) {
        Err(Error::InvalidComponent(message)) => message,
        Err(other) => panic!("expected InvalidComponent, got {other}"),
        Ok(plugin) => panic!("accepted {:?}", plugin.info()),
    }
}

#[test]
fn a_component_of_another_world_is_refused() {
    let message = refused(
        "package acme:tool; interface run { go: func(); } world tool { export run; }",
        "tool",
    );
    assert!(message.contains("acme:tool/run"), "{message}");
    assert!(
        message.contains("vigil:plugin/drift-test@0.1.0"),
        "{message}"
    );
}

#[test]
fn a_plugin_exporting_two_worlds_is_refused() {
    let message = refused(
        "package acme:both;
         world both {
             use vigil:plugin/types@0.1.0.{plugin-info};
             export info: func() -> plugin-info;
             export vigil:plugin/drift-test@0.1.0;
             export vigil:plugin/detector@0.1.0;
         }",
        "both",
    );
    assert!(message.contains("several plugin interfaces"), "{message}");
}

#[test]
fn a_plugin_without_info_is_refused() {
    let message = refused(
        "package acme:noinfo; world noinfo { export vigil:plugin/drift-test@0.1.0; }",
        "noinfo",
    );
    assert!(message.contains("`info`"), "{message}");
}

#[test]
fn an_import_the_host_does_not_grant_is_refused() {
    let message = refused(
        "package acme:sneaky;
         interface net { connect: func(host: string) -> u32; }
         world sneaky {
             use vigil:plugin/types@0.1.0.{plugin-info};
             import net;
             export info: func() -> plugin-info;
             export vigil:plugin/drift-test@0.1.0;
         }",
        "sneaky",
    );
    assert!(message.contains("acme:sneaky/net"), "{message}");
    assert!(message.contains("does not grant"), "{message}");
}

#[test]
fn a_plugin_built_against_another_contract_version_is_refused() {
    let message = refused(
        "package vigil:plugin@0.2.0;
         interface drift-test { evaluate: func(values: list<f64>) -> f64; }
         world drift-test-plugin { export info: func() -> string; export drift-test; }",
        "drift-test-plugin",
    );
    assert!(
        message.contains("vigil:plugin/drift-test@0.2.0"),
        "{message}"
    );
}

#[test]
fn a_plugin_whose_exports_have_the_wrong_types_is_refused() {
    let message = refused(
        "package acme:shape;
         world shape {
             export info: func() -> string;
             export vigil:plugin/drift-test@0.1.0;
         }",
        "shape",
    );
    assert!(
        message.contains("do not match the `drift-test-plugin` world"),
        "{message}"
    );
}
