//! The API's OpenAPI 3.1 document (`GET /v1/openapi.json`), built from the route table: each
//! route's [`Doc`] names the Rust types its handler reads and writes, and their JSON Schemas
//! come from those types (`schemars`), so the document cannot describe a body the code does not
//! take. Roles come from the route's [`Access`]. See docs/api.md.

use axum::http::StatusCode;
use schemars::{JsonSchema, Schema, SchemaGenerator, generate::SchemaSettings};
use serde_json::{Map, Value, json};

use super::Route;
use super::auth::{Access, Role};

/// A type's schema, registered with a generator: what [`Doc`] keeps instead of the type.
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn schema_of<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// A request or response body.
#[derive(Clone, Copy)]
pub enum Body {
    None,
    /// JSON of a type's schema.
    Json(SchemaFn),
    /// Another media type (or several), described in words.
    Media(&'static [&'static str], &'static str),
}

/// What the document says of a route, beside its method, path and access.
#[derive(Clone, Copy)]
pub struct Doc {
    pub summary: &'static str,
    pub request: Body,
    pub query: Option<SchemaFn>,
    /// Optional request headers the route reads: name and meaning.
    pub headers: &'static [(&'static str, &'static str)],
    pub response: Body,
    /// The success status.
    pub status: StatusCode,
    /// Another success status with the same body (`200` for an upload already stored).
    pub also: Option<(StatusCode, &'static str)>,
    /// Error statuses this route answers beyond those every route of its shape can (401 and
    /// 403 with a token, 400 with a body or query, 404 with a path parameter).
    pub errors: &'static [StatusCode],
}

impl Doc {
    pub const fn new(summary: &'static str) -> Doc {
        Doc {
            summary,
            request: Body::None,
            query: None,
            headers: &[],
            response: Body::None,
            status: StatusCode::OK,
            also: None,
            errors: &[],
        }
    }

    /// A JSON request body of type `T`.
    pub fn takes<T: JsonSchema>(mut self) -> Doc {
        self.request = Body::Json(schema_of::<T>);
        self
    }

    /// A request body of other media types.
    pub const fn takes_media(mut self, types: &'static [&'static str], what: &'static str) -> Doc {
        self.request = Body::Media(types, what);
        self
    }

    /// Query parameters: the fields of `T`.
    pub fn query<T: JsonSchema>(mut self) -> Doc {
        self.query = Some(schema_of::<T>);
        self
    }

    /// Optional request headers: name and meaning.
    pub const fn headers(mut self, headers: &'static [(&'static str, &'static str)]) -> Doc {
        self.headers = headers;
        self
    }

    /// A JSON answer of type `T`.
    pub fn returns<T: JsonSchema>(mut self) -> Doc {
        self.response = Body::Json(schema_of::<T>);
        self
    }

    /// An answer of other media types.
    pub const fn returns_media(
        mut self,
        types: &'static [&'static str],
        what: &'static str,
    ) -> Doc {
        self.response = Body::Media(types, what);
        self
    }

    pub const fn status(mut self, status: StatusCode) -> Doc {
        self.status = status;
        self
    }

    /// Another success status, with the same body, and when it is answered.
    pub const fn also(mut self, status: StatusCode, when: &'static str) -> Doc {
        self.also = Some((status, when));
        self
    }

    pub const fn errors(mut self, errors: &'static [StatusCode]) -> Doc {
        self.errors = errors;
        self
    }
}

/// The error body every failure carries (docs/api.md, "Errors").
#[derive(JsonSchema)]
#[allow(dead_code)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
struct ErrorDetail {
    /// A stable, machine-readable code: `bad_request`, `unauthorized`, `forbidden`,
    /// `not_found`, `conflict`, `too_large`, `invalid`, `rate_limited`, `busy`, `gone`,
    /// `unavailable`, `timeout`, `internal`, ….
    code: String,
    /// What went wrong and what to change, for a person.
    message: String,
}

const ROLES: [Role; 5] = [
    Role::Admin,
    Role::Write,
    Role::Ingest,
    Role::Read,
    Role::Train,
];

/// The roles whose tokens the route admits, by name.
pub fn roles(access: Access) -> Vec<&'static str> {
    ROLES
        .into_iter()
        .filter(|role| access.allows(*role))
        .map(Role::as_str)
        .collect()
}

/// `{name}` segments of a path.
fn path_parameters(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
}

fn reason(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("error")
}

/// Why a route answers an error status, for the statuses the rules below add.
fn error_description(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "The body, the query or a path parameter does not parse.",
        401 => "No token, or a token that is unknown, expired or revoked.",
        403 => "The token's role does not allow this route (see `x-vigil-roles`).",
        404 => "Nothing of that name or id.",
        409 => "It conflicts with what is stored (a name taken, a state that forbids it).",
        410 => "What it needs was pruned by retention.",
        413 => "The body is larger than the daemon takes.",
        415 => "The body's Content-Type is not one this route takes.",
        422 => "The body parses but is not valid; the message says what to change.",
        429 => "Too many requests: retry after `Retry-After` seconds.",
        502 => "The model server did not answer properly.",
        503 => "The store or a needed capacity is unavailable; retry later.",
        _ => reason(status),
    }
}

fn media_content(types: &[&str], schema: Value) -> Value {
    let mut content = Map::new();
    for media in types {
        content.insert(media.to_string(), json!({ "schema": schema }));
    }
    Value::Object(content)
}

fn body_content(
    body: Body,
    generator: &mut SchemaGenerator,
) -> Option<(Value, Option<&'static str>)> {
    match body {
        Body::None => None,
        Body::Json(schema) => Some((
            media_content(&["application/json"], schema(generator).to_value()),
            None,
        )),
        Body::Media(types, what) => Some((media_content(types, json!({})), Some(what))),
    }
}

/// Query parameters from the properties of a query type's (object) schema.
fn query_parameters(schema: SchemaFn, generator: &mut SchemaGenerator) -> Vec<Value> {
    let schema = schema(generator).to_value();
    let schema = match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap_or_default();
            generator
                .definitions()
                .get(name)
                .cloned()
                .unwrap_or(Value::Null)
        }
        None => schema,
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    properties
        .iter()
        .map(|(name, property)| {
            let mut property = property.clone();
            let description = property
                .as_object_mut()
                .and_then(|p| p.remove("description"))
                .unwrap_or(Value::String(String::new()));
            json!({
                "name": name,
                "in": "query",
                "required": required.contains(&name.as_str()),
                "description": description,
                "schema": property,
            })
        })
        .collect()
}

/// The schema generators: what a route reads is described as serde reads it (defaults make
/// fields optional), what it answers as serde writes it (skipped fields are optional).
struct Generators {
    requests: SchemaGenerator,
    answers: SchemaGenerator,
}

/// Where the answers' definitions are put until [`document`] merges them with the requests'.
const ANSWERS_PATH: &str = "/components/x-answers";

fn operation(route: &Route, generators: &mut Generators) -> Value {
    let doc = &route.doc;
    let mut operation = Map::new();
    operation.insert("summary".into(), json!(doc.summary));
    operation.insert(
        "operationId".into(),
        json!(format!(
            "{} {}",
            route.method.as_str().to_lowercase(),
            route.path
        )),
    );
    let tag = route
        .path
        .trim_start_matches("/v1")
        .split('/')
        .find(|segment| !segment.is_empty())
        .unwrap_or("daemon");
    let tag = if route.path.starts_with("/v1/") {
        tag
    } else {
        "daemon"
    };
    operation.insert("tags".into(), json!([tag]));

    let mut parameters: Vec<Value> = path_parameters(route.path)
        .map(|name| {
            // Evaluations are numbered; tokens' ids are text.
            let schema = if name == "id" && route.path.starts_with("/v1/evaluations/") {
                json!({"type": "integer", "format": "int64"})
            } else {
                json!({"type": "string"})
            };
            json!({"name": name, "in": "path", "required": true, "schema": schema})
        })
        .collect();
    if let Some(query) = doc.query {
        parameters.extend(query_parameters(query, &mut generators.requests));
    }
    parameters.extend(doc.headers.iter().map(|(name, what)| {
        json!({"name": name, "in": "header", "required": false, "description": what,
               "schema": {"type": "string"}})
    }));
    if !parameters.is_empty() {
        operation.insert("parameters".into(), Value::Array(parameters));
    }

    if let Some((content, what)) = body_content(doc.request, &mut generators.requests) {
        let mut body = json!({"required": true, "content": content});
        if let Some(what) = what {
            body["description"] = json!(what);
        }
        operation.insert("requestBody".into(), body);
    }

    let mut responses = Map::new();
    let mut success = json!({"description": reason(doc.status)});
    if let Some((content, what)) = body_content(doc.response, &mut generators.answers) {
        success["content"] = content;
        if let Some(what) = what {
            success["description"] = json!(what);
        }
    }
    if let Some((status, when)) = doc.also {
        let mut also = success.clone();
        also["description"] = json!(when);
        responses.insert(status.as_u16().to_string(), also);
    }
    responses.insert(doc.status.as_u16().to_string(), success);
    let mut errors: Vec<StatusCode> = doc.errors.to_vec();
    if route.access != Access::Public {
        errors.extend([StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN]);
    }
    if !matches!(doc.request, Body::None) || doc.query.is_some() {
        errors.push(StatusCode::BAD_REQUEST);
    }
    if !matches!(doc.request, Body::None) {
        errors.push(StatusCode::PAYLOAD_TOO_LARGE);
    }
    if path_parameters(route.path).next().is_some() {
        errors.push(StatusCode::NOT_FOUND);
    }
    errors.sort();
    errors.dedup();
    let error = json!({
        "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
    });
    for status in errors {
        responses.insert(
            status.as_u16().to_string(),
            json!({"description": error_description(status), "content": error}),
        );
    }
    responses.insert(
        "default".into(),
        json!({
            "description": "Any other failure (a request timeout, a storage error) in the same shape.",
            "content": error,
        }),
    );
    operation.insert("responses".into(), Value::Object(responses));

    if route.access == Access::Public {
        operation.insert("security".into(), json!([]));
    } else {
        operation.insert("security".into(), json!([{"bearer": []}]));
    }
    operation.insert("x-vigil-access".into(), json!(route.access.name()));
    operation.insert("x-vigil-roles".into(), json!(roles(route.access)));
    Value::Object(operation)
}

/// Types an answer shows in the form a request takes (the API shows a monitor's spec so that it
/// can be sent back as it is, with `signed` in place of a webhook's secret).
const SHOWN_AS_ACCEPTED: &[&str] = &["MonitorSpec"];

/// Calls `visit` with every `$ref` in `value`.
fn for_each_reference(value: &mut Value, visit: &mut impl FnMut(&mut String)) {
    match value {
        Value::Object(fields) => {
            if let Some(Value::String(reference)) = fields.get_mut("$ref") {
                visit(reference);
            }
            fields
                .values_mut()
                .for_each(|field| for_each_reference(field, visit));
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| for_each_reference(item, visit)),
        _ => {}
    }
}

/// The component names `value` refers to.
fn references(mut value: Value) -> Vec<String> {
    let mut found = Vec::new();
    for_each_reference(&mut value, &mut |reference| {
        if let Some(name) = reference.strip_prefix("#/components/schemas/") {
            found.push(name.to_string());
        }
    });
    found
}

/// Points every `$ref` into the answers' definitions at its merged name.
fn rename_references(value: &mut Value, names: &std::collections::BTreeMap<String, String>) {
    let answers = format!("#{ANSWERS_PATH}/");
    for_each_reference(value, &mut |reference| {
        if let Some(name) = reference.strip_prefix(&answers) {
            *reference = format!("#/components/schemas/{}", names[name]);
        }
    });
}

/// The whole document for `routes`.
pub fn document(routes: &[Route]) -> Value {
    let settings = SchemaSettings::draft2020_12().with(|settings| {
        settings.definitions_path = "/components/schemas".into();
        settings.meta_schema = None;
    });
    let mut generators = Generators {
        requests: settings.clone().for_deserialize().into_generator(),
        answers: settings
            .with(|settings| settings.definitions_path = ANSWERS_PATH.into())
            .for_serialize()
            .into_generator(),
    };
    generators.requests.subschema_for::<ErrorBody>();
    let mut paths = Map::new();
    for route in routes {
        let item = paths
            .entry(route.path.to_string())
            .or_insert_with(|| json!({}));
        item[route.method.as_str().to_lowercase()] = operation(route, &mut generators);
    }
    // One set of components: an answer's type whose schema is the request's shares its name;
    // one that differs (fields serde skips when writing) is named `…Answer`.
    let mut schemas = generators.requests.take_definitions(true);
    let answers = generators.answers.take_definitions(true);
    let names: std::collections::BTreeMap<String, String> = answers
        .iter()
        .map(|(name, schema)| {
            let merged = match schemas.get(name) {
                Some(_) if SHOWN_AS_ACCEPTED.contains(&name.as_str()) => name.clone(),
                Some(request) if request != schema => format!("{name}Answer"),
                _ => name.clone(),
            };
            (name.clone(), merged)
        })
        .collect();
    for (name, mut schema) in answers {
        if SHOWN_AS_ACCEPTED.contains(&name.as_str()) {
            continue;
        }
        rename_references(&mut schema, &names);
        schemas.insert(names[&name].clone(), schema);
    }
    let mut paths = Value::Object(paths);
    rename_references(&mut paths, &names);
    // Only what the paths reach (a type shown as accepted leaves its answer-side parts behind).
    let mut reached = std::collections::BTreeSet::new();
    let mut next = vec![
        paths.clone(),
        json!({"$ref": "#/components/schemas/ErrorBody"}),
    ];
    while let Some(value) = next.pop() {
        for name in references(value) {
            if reached.insert(name.clone())
                && let Some(schema) = schemas.get(&name)
            {
                next.push(schema.clone());
            }
        }
    }
    schemas.retain(|name, _| reached.contains(name));
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Vigil",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Vigil's HTTP API: models, monitors, plugins, ingestion, results, \
                rollouts and tokens. Every route but health, readiness and this document needs \
                a bearer token; `x-vigil-roles` lists the roles a route admits. See docs/api.md.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `vigil token create` or `POST /v1/tokens`."
                }
            },
        },
    })
}
