"""The daemon's OpenAPI document (`GET /v1/openapi.json`) checked from outside: a valid
OpenAPI 3.1 document by an independent validator, and the answers of a real daemon fed a
drifting stream valid against the schemas it documents, route by route."""

from __future__ import annotations

import copy
import json
import uuid

import jsonschema
import pytest
import requests
from openapi_spec_validator import validate as validate_openapi

from test_monitors import churn, wait_for
from vigil_client._bodies import record_of

# Routes whose success answer has a JSON schema but that this test does not call, and why.
NOT_CALLED = {
    ("post", "/v1/models/{model}/predict"): "needs a model server",
    ("post", "/v1/models/{model}/versions/{version}/promote"): "needs a rollout target",
    ("post", "/v1/models/{model}/rollback"): "needs a rollout target",
}


@pytest.fixture(scope="module")
def document(daemon):
    answer = requests.get(f"{daemon.url}/v1/openapi.json", timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    return answer.json()


def test_the_document_is_valid_openapi_3_1_and_every_protected_route_says_so(document):
    validate_openapi(document)
    assert document["openapi"] == "3.1.0"
    for path, item in document["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            if path in ("/healthz", "/readyz", "/v1/openapi.json", "/ui", "/ui/{file}"):
                assert operation["security"] == [], where
                continue
            assert operation["security"] == [{"bearer": []}], where
            assert {"401", "403"} <= set(operation["responses"]), where
            assert operation["x-vigil-roles"], where
    # Secrets are write-only in the schema as in the API.
    webhook = [
        variant
        for variant in document["components"]["schemas"]["Channel"]["oneOf"]
        if "url" in variant.get("properties", {})
    ][0]
    assert webhook["properties"]["secret"]["writeOnly"] is True


class Checker:
    """Calls routes as a client would and validates each answer against the document."""

    def __init__(self, daemon, document) -> None:
        self.url = daemon.url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {daemon.admin}"
        self.document = document
        self.called: set = set()

    def schema(self, method: str, template: str, status: int):
        operation = self.document["paths"][template][method]
        responses = operation["responses"]
        assert str(status) in responses, f"{method.upper()} {template} answered {status}, undocumented"
        content = responses[str(status)].get("content", {})
        if "application/json" not in content:
            return None
        # References point into the document's components: validate inside a copy of them.
        schema = copy.deepcopy(content["application/json"]["schema"])
        schema["components"] = self.document["components"]
        return schema

    def call(self, method: str, template: str, path: str, expect: int, **request):
        answer = self.session.request(method, self.url + path, timeout=60, **request)
        assert answer.status_code == expect, f"{method.upper()} {path}: {answer.status_code} {answer.text}"
        schema = self.schema(method, template, answer.status_code)
        if schema is not None:
            body = answer.json()
            jsonschema.Draft202012Validator(schema).validate(body)
            if 200 <= answer.status_code < 300:
                self.called.add((method, template))
            return body
        return answer


def test_answers_of_a_daemon_fed_a_drifting_stream_fit_the_documented_schemas(daemon, document):
    check = Checker(daemon, document)
    model = f"m-{uuid.uuid4().hex[:12]}"
    monitor = f"{model}-watch"
    check.call("post", "/v1/models", "/v1/models", 201, json={"name": model, "task": "classification"})
    check.call("get", "/v1/models", "/v1/models", 200)
    check.call("get", "/v1/models/{model}", f"/v1/models/{model}", 200)
    spec = {
        "name": monitor,
        "model": model,
        "window": {"records": 100},
        "features": [
            {"name": "tenure_months", "type": "numeric"},
            {"name": "monthly_charges", "type": "numeric"},
            {"name": "contract", "type": "categorical"},
        ],
        "alerts": {
            "channels": [
                {"type": "log"},
                {"type": "webhook", "url": "http://127.0.0.1:9/hook", "secret": "not-shown"},
            ]
        },
    }
    reference = churn(300, 30, prefix="oref").to_csv(index=False)
    created = check.call(
        "post", "/v1/monitors", "/v1/monitors", 201,
        json=dict(spec, reference_upload={"content_type": "text/csv", "body": reference}),
    )
    assert created["reference_rows"] == 300
    assert "not-shown" not in str(created)
    check.call(
        "put", "/v1/monitors/{name}/reference", f"/v1/monitors/{monitor}/reference", 200,
        data=reference, headers={"Content-Type": "text/csv"},
    )
    rows = churn(100, 31, prefix="os").to_dict("records") + churn(200, 32, shift=1.5, prefix="od").to_dict("records")
    stream = [record_of(row) for row in rows]
    check.call("post", "/v1/models/{model}/records", f"/v1/models/{model}/records", 200, json=stream)
    labels = "".join(json.dumps({"id": row["id"], "label": "yes"}) + "\n" for row in stream[:10])
    check.call(
        "post", "/v1/models/{model}/labels", f"/v1/models/{model}/labels", 200,
        data=labels, headers={"Content-Type": "application/x-ndjson"},
    )
    wait_for(
        lambda: len(requests.get(
            f"{daemon.url}/v1/monitors/{monitor}/evaluations",
            headers=check.session.headers, timeout=30,
        ).json()["evaluations"]) >= 3,
        "three evaluations",
    )
    page = check.call(
        "get", "/v1/monitors/{name}/evaluations", f"/v1/monitors/{monitor}/evaluations?limit=2", 200,
    )
    assert page["next_before"] == page["evaluations"][-1]["id"]
    evaluation = page["evaluations"][0]["id"]
    check.call("get", "/v1/evaluations/{id}", f"/v1/evaluations/{evaluation}", 200)
    timeline = check.call(
        "get", "/v1/monitors/{name}/timeline", f"/v1/monitors/{monitor}/timeline?limit=3", 200,
    )
    assert [w["id"] for w in timeline["windows"]] == sorted(w["id"] for w in timeline["windows"])
    assert timeline["columns"] == ["tenure_months", "monthly_charges", "contract"]
    # An older page carries the alerts its own windows raised, and only those.
    wait_for(lambda: requests.get(
        f"{daemon.url}/v1/alerts?monitor={monitor}", headers=check.session.headers, timeout=30,
    ).json()["alerts"], "an alert")
    raised = requests.get(
        f"{daemon.url}/v1/alerts?monitor={monitor}", headers=check.session.headers, timeout=30,
    ).json()["alerts"][-1]["evaluation_id"]
    older = check.call(
        "get", "/v1/monitors/{name}/timeline", f"/v1/monitors/{monitor}/timeline?limit=1&before={raised + 1}", 200,
    )
    assert [w["id"] for w in older["windows"]] == [raised]
    assert older["alerts"] and all(a["evaluation_id"] == raised for a in older["alerts"])
    check.call("get", "/v1/whoami", "/v1/whoami", 200)
    plots = check.call(
        "get", "/v1/evaluations/{id}/distributions", f"/v1/evaluations/{evaluation}/distributions", 200,
    )
    assert [c["kind"] for c in plots["columns"]] == ["numeric", "numeric", "categorical"]
    check.call("post", "/v1/evaluations/{id}/replay", f"/v1/evaluations/{evaluation}/replay", 200, json={})
    shadows = f"/v1/monitors/{monitor}/shadows"
    tried = check.call("post", "/v1/monitors/{name}/shadows", shadows, 201,
                       json={"plugin": "drift-t", "replaces": "drift-ks"})
    check.call("get", "/v1/monitors/{name}/shadows", shadows, 200)
    check.call("get", "/v1/monitors/{name}/shadows/{id}", f"{shadows}/{tried['id']}", 200)
    check.call("post", "/v1/monitors/{name}/shadows/{id}/drop", f"{shadows}/{tried['id']}/drop", 200, json={})
    again = check.call("post", "/v1/monitors/{name}/shadows", shadows, 201,
                       json={"plugin": "drift-t", "replaces": "drift-ks"})
    promoted = check.call(
        "post", "/v1/monitors/{name}/shadows/{id}/promote", f"{shadows}/{again['id']}/promote", 200, json={},
    )
    assert promoted["status"] == "promoted"
    check.call("get", "/v1/monitors", "/v1/monitors", 200)
    check.call("get", "/v1/monitors/{name}", f"/v1/monitors/{monitor}", 200)
    check.call("put", "/v1/monitors/{name}", f"/v1/monitors/{monitor}", 200, json=spec)
    check.call("get", "/v1/status", "/v1/status", 200)
    wait_for(lambda: check.call("get", "/v1/alerts", f"/v1/alerts?monitor={monitor}", 200)["alerts"], "an alert")
    check.call("get", "/v1/actions", f"/v1/actions?monitor={monitor}", 200)
    check.call("post", "/v1/models/{model}/versions", f"/v1/models/{model}/versions", 201,
               json={"version": "v1", "artifact_uri": "file:///models/v1", "metrics": {"accuracy": 0.9}})
    check.call("get", "/v1/models/{model}/versions", f"/v1/models/{model}/versions", 200)
    verdict = check.call("get", "/v1/models/{model}/verdict", f"/v1/models/{model}/verdict", 200)
    assert verdict["monitors"][0]["monitor"] == monitor
    check.call("put", "/v1/models/{model}/serving", f"/v1/models/{model}/serving", 200, json={"version": "v1"})
    plugins = check.call("get", "/v1/plugins", "/v1/plugins", 200)["plugins"]
    ks = next(p for p in plugins if p["name"] == "drift-ks")
    check.call("get", "/v1/plugins/{name}/{version}", f"/v1/plugins/drift-ks/{ks['version']}", 200)
    component = check.call(
        "get", "/v1/plugins/{name}/{version}/download", f"/v1/plugins/drift-ks/{ks['version']}/download", 200,
    ).content
    again = check.call(
        "post", "/v1/plugins", "/v1/plugins", 200,
        data=component, headers={"Content-Type": "application/wasm"},
    )
    assert again["sha256"] == ks["sha256"]
    token = check.call("post", "/v1/tokens", "/v1/tokens", 201, json={"name": "openapi-test", "role": "read"})
    check.call("delete", "/v1/tokens/{id}", f"/v1/tokens/{token['id']}", 204)
    check.call("delete", "/v1/monitors/{name}", f"/v1/monitors/{monitor}", 204)

    # Errors come in the documented shape, with a documented status.
    check.call("get", "/v1/monitors/{name}", f"/v1/monitors/{monitor}", 404)
    check.call("post", "/v1/models", "/v1/models", 409, json={"name": model, "task": "classification"})
    check.call("post", "/v1/models", "/v1/models", 422, json={"name": ""})
    check.session.headers["Authorization"] = f"Bearer {daemon.token('read')}"
    check.call("post", "/v1/models", "/v1/models", 403, json={"name": "nope"})
    del check.session.headers["Authorization"]
    check.call("get", "/v1/status", "/v1/status", 401)

    # Every route with a JSON answer was called, but those named above.
    documented = {
        (method, path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if any(
            "application/json" in answer.get("content", {})
            and "schema" in answer["content"]["application/json"]
            and answer["content"]["application/json"]["schema"]
            for status, answer in operation["responses"].items()
            if status.startswith("2")
        )
    }
    assert documented - check.called == set(NOT_CALLED), documented - check.called
