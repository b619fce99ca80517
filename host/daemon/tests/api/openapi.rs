//! The OpenAPI document and the route table stay one: every route documented with its method,
//! roles and error answers, nothing documented that is not routed, every schema reference
//! resolved. (clients/python/tests/test_openapi.py validates the document with an independent
//! validator and the daemon's answers against its schemas.)

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use vigil::server::{self, auth::Access, openapi};

use crate::common::{sqlite_database, start};

fn references(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Object(fields) => {
            if let Some(Value::String(reference)) = fields.get("$ref") {
                found.insert(reference.clone());
            }
            fields.values().for_each(|v| references(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, found)),
        _ => {}
    }
}

#[test]
fn the_document_covers_the_route_table_and_nothing_else() {
    let document = server::openapi_json();
    let routes = server::routes();
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let routed: BTreeSet<_> = routes
        .iter()
        .map(|route| (route.method.to_string(), route.path.to_string()))
        .collect();
    assert_eq!(documented, routed);

    for route in &routes {
        let operation = &document["paths"][route.path][route.method.as_str().to_lowercase()];
        let roles: Vec<&str> = operation["x-vigil-roles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        assert_eq!(roles, openapi::roles(route.access), "{route:?}");
        let responses = operation["responses"].as_object().unwrap();
        assert!(
            responses.contains_key(route.doc.status.as_str()),
            "{route:?}"
        );
        assert!(responses.contains_key("default"), "{route:?}");
        if route.access == Access::Public {
            assert!(roles.len() == 5 && operation["security"] == serde_json::json!([]));
        } else {
            assert!(responses.contains_key("401") && responses.contains_key("403"));
        }
        for parameter in route.path.split('/').filter(|s| s.starts_with('{')) {
            let name = parameter.trim_matches(|c| c == '{' || c == '}');
            assert!(
                operation["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["name"] == name && p["in"] == "path"),
                "{route:?}: {name}"
            );
            assert!(responses.contains_key("404"), "{route:?}");
        }
    }
    // Query types become parameters: the evaluations page's four.
    let page = &document["paths"]["/v1/monitors/{name}/evaluations"]["get"]["parameters"];
    let names: BTreeSet<&str> = page
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["in"] == "query")
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, BTreeSet::from(["before", "limit", "since", "until"]));

    let mut found = BTreeSet::new();
    references(&document, &mut found);
    let schemas = document["components"]["schemas"].as_object().unwrap();
    assert!(found.contains("#/components/schemas/MonitorSpec"));
    for reference in found {
        let name = reference
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("a reference outside the components: {reference}"));
        assert!(schemas.contains_key(name), "{reference} is not defined");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_served_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(&sqlite_database(&dir)).await;
    let (status, body) = daemon
        .call(Method::GET, "/v1/openapi.json", None, None, &[])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, server::openapi_json());
    daemon.stop().await;
}
