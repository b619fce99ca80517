//! Components that are not Vigil plugins are refused at load time, before any of their code
//! runs, with a message that names what is wrong. The components are generated from WIT with
//! bodies that only trap, so each case differs from a real plugin only in its shape.

use vigil_runtime::Error;
use vigil_tests::{runtime, workspace};
use wit_component::{ComponentEncoder, StringEncoding, dummy_module, embed_component_metadata};
use wit_parser::{ManglingAndAbi, Resolve};

/// A component for `world` in `wit` (a package that may use `vigil:plugin@0.2.0`).
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
        message.contains("vigil:plugin/drift-test@0.2.0"),
        "{message}"
    );
}

#[test]
fn a_plugin_exporting_two_worlds_is_refused() {
    let message = refused(
        "package acme:both;
         world both {
             use vigil:plugin/types@0.2.0.{plugin-info};
             export info: func() -> plugin-info;
             export vigil:plugin/drift-test@0.2.0;
             export vigil:plugin/detector@0.2.0;
         }",
        "both",
    );
    assert!(message.contains("several plugin interfaces"), "{message}");
}

#[test]
fn a_plugin_without_info_is_refused() {
    let message = refused(
        "package acme:noinfo; world noinfo { export vigil:plugin/drift-test@0.2.0; }",
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
             use vigil:plugin/types@0.2.0.{plugin-info};
             import net;
             export info: func() -> plugin-info;
             export vigil:plugin/drift-test@0.2.0;
         }",
        "sneaky",
    );
    assert!(message.contains("acme:sneaky/net"), "{message}");
    assert!(message.contains("does not grant"), "{message}");
}

#[test]
fn a_plugin_built_against_a_contract_version_the_host_does_not_run_is_refused() {
    for version in ["0.0.9", "0.3.0"] {
        let message = refused(
            &format!(
                "package vigil:plugin@{version};
                 interface drift-test {{ evaluate: func(values: list<f64>) -> f64; }}
                 world drift-test-plugin {{ export info: func() -> string; export drift-test; }}"
            ),
            "drift-test-plugin",
        );
        assert!(
            message.contains(&format!("vigil:plugin/drift-test@{version}")),
            "{message}"
        );
        assert!(
            message.contains("vigil:plugin@0.2.0 and vigil:plugin@0.1.0"),
            "{message}"
        );
        assert!(message.contains("rebuild the plugin"), "{message}");
    }
    // 0.1.0 is run, so a 0.1.0 component is checked against that version's world.
    let message = refused(
        "package vigil:plugin@0.1.0;
         interface drift-test { evaluate: func(values: list<f64>) -> f64; }
         world drift-test-plugin { export info: func() -> string; export drift-test; }",
        "drift-test-plugin",
    );
    assert!(
        message.contains("do not match the `drift-test-plugin` world of vigil:plugin@0.1.0"),
        "{message}"
    );
}

#[test]
fn a_plugin_whose_exports_have_the_wrong_types_is_refused() {
    let message = refused(
        "package acme:shape;
         world shape {
             export info: func() -> string;
             export vigil:plugin/drift-test@0.2.0;
         }",
        "shape",
    );
    assert!(
        message.contains("do not match the `drift-test-plugin` world"),
        "{message}"
    );
}

/// The shape check through the upload route (docs/reliability.md, U3): a matrix of wrong
/// shapes, each refused with 422 and a message naming the offending item; nothing is stored; a
/// real plugin is then accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_of_the_wrong_shape_get_422_naming_the_problem() {
    const KINDS: [(&str, &str); 4] = [
        ("drift-test", "drift-test-plugin"),
        ("detector", "detector-plugin"),
        ("preprocessor", "preprocessor-plugin"),
        ("policy", "policy-plugin"),
    ];
    let mut cases: Vec<(String, String)> = vec![(
        "package acme:tool; interface run { go: func(); } world w { export run; }".into(),
        "acme:tool/run".into(),
    )];
    for (i, (kind, world)) in KINDS.iter().enumerate() {
        let (other, _) = KINDS[(i + 1) % 4];
        // Two plugin interfaces at once.
        cases.push((
            format!(
                "package acme:both; world w {{ use vigil:plugin/types@0.2.0.{{plugin-info}};
                 export info: func() -> plugin-info; export vigil:plugin/{kind}@0.2.0;
                 export vigil:plugin/{other}@0.2.0; }}"
            ),
            "several plugin interfaces".into(),
        ));
        // No `info`.
        cases.push((
            format!("package acme:noinfo; world w {{ export vigil:plugin/{kind}@0.2.0; }}"),
            "`info`".into(),
        ));
        // `info` of the wrong type.
        cases.push((
            format!(
                "package acme:shape; world w {{ export info: func() -> string;
                 export vigil:plugin/{kind}@0.2.0; }}"
            ),
            format!("`{world}` world"),
        ));
        // An import the host does not grant.
        cases.push((
            format!(
                "package acme:sneaky; interface net {{ connect: func(host: string) -> u32; }}
                 world w {{ use vigil:plugin/types@0.2.0.{{plugin-info}}; import net;
                 export info: func() -> plugin-info; export vigil:plugin/{kind}@0.2.0; }}"
            ),
            "acme:sneaky/net".into(),
        ));
        // A version of the contract the host does not run.
        cases.push((
            format!(
                "package vigil:plugin@0.3.0; interface {kind} {{ go: func() -> f64; }}
                 world w {{ export info: func() -> string; export {kind}; }}"
            ),
            format!("vigil:plugin/{kind}@0.3.0"),
        ));
    }
    assert!(cases.len() >= 20);

    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("vigil.db").display());
    let config = vigil::config::Config {
        database_url: db.clone(),
        listen: "127.0.0.1:0".parse().unwrap(),
        upload_rate_per_second: 0.0, // every case in a burst
        ..Default::default()
    };
    let store = vigil_store::Store::open(&db).await.unwrap();
    let token = vigil::server::auth::create_token(&store, "u3", vigil::server::auth::Role::Write)
        .await
        .unwrap()
        .text;
    let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
    let url = format!("http://{}/v1/plugins", listener.local_addr().unwrap());
    let state = vigil::server::AppState::new(store, runtime(), config).expect("state");
    tokio::spawn(vigil::server::serve(
        state,
        listener,
        std::future::pending(),
    ));
    let http = reqwest::Client::new();
    let upload = |bytes: Vec<u8>| {
        http.post(&url)
            .bearer_auth(&token)
            .header("content-type", "application/wasm")
            .body(bytes)
            .send()
    };
    for (wit, expected) in &cases {
        let response = upload(component(wit, "w")).await.unwrap();
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert_eq!(status, 422, "{wit}: {body}");
        assert!(
            message.contains(expected.as_str()),
            "{message} should name {expected}"
        );
    }
    let listed: serde_json::Value = http
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let uploaded: Vec<&serde_json::Value> = listed["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["uploaded_by"] != "vigil")
        .collect();
    assert!(uploaded.is_empty(), "nothing stored: {listed}");
    let response = upload(vigil_tests::component("hostile-drift"))
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    // An uploaded plugin can be deleted again; a standard one cannot.
    for (plugin, status) in [("hostile-drift/0.1.0", 204), ("drift-ks/0.1.0", 409)] {
        let response = http
            .delete(format!("{url}/{plugin}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{plugin}");
    }
}
