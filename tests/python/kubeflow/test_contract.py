"""Contract of modelgraph's Kubeflow Model Registry REST API against the published spec.

For every operation of ../shared/reference/kubeflow-model-registry.openapi.yaml, under
both /api/model_registry/v1alpha3 and /api/model_registry/v1, one valid request (its
parents created first, through the same prefix) must get the documented success code,
a JSON body that validates against the spec (openapi-core, which honours the
`artifactType` / `metadataType` discriminators), and the values asked for. Then the error
contract: {code, message} bodies, 404 for unknown ids and unmatched finds, 409 for name
clashes, 400 for malformed tokens, filters and JSON, and never a 5xx for bad input.

The servers are authenticated (conftest's `auth_module_server` / `auth_fresh_server`:
tokens made with `modelgraph token create` before `serve`), and every request above
carries the EDITOR token, as the spec's global `security: [Bearer]` asks (requests are
validated with it). The authentication contract: without a token (or with a bad one)
every operation is 401 with the spec's Unauthorized response (an Error body) and
`WWW-Authenticate: Bearer`; a READER token gets every GET and a 403 on every POST/PATCH;
a refused write writes nothing (the server's change log does not move).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import jsonschema
import pytest
import requests
from openapi_core import OpenAPI

# Plain value holders that openapi-core validates; they wrap the real request we sent and
# the real response we got (nothing is mocked).
from openapi_core.testing import MockRequest as SentRequest
from openapi_core.testing import MockResponse as ReceivedResponse

from harness import (
    HTTP_TIMEOUT_S,
    PREFIXES,
    SPEC_PREFIX,
    Endpoint,
    last_change,
    load_spec,
    spec_for_both_prefixes,
    spec_operations,
    success_codes,
    unique,
)

SPEC = spec_for_both_prefixes()
OPENAPI = OpenAPI.from_dict(SPEC)
# Requests are validated as if sent to the spec's own server: only the path matters.
SPEC_HOST = SPEC["servers"][0]["url"]
OPERATIONS = spec_operations(load_spec())  # the published (v1alpha3) operations
ERROR_SCHEMA = SPEC["components"]["schemas"]["Error"]

PREFIX_IDS = [p.rsplit("/", 1)[1] for p in PREFIXES]
UNKNOWN_ID = "999999999"  # matches the spec's id pattern, never allocated in a test
ID_RE = re.compile(r"^[1-9][0-9]*$")


# --------------------------------------------------------------------------- helpers


class Caller:
    """Raw HTTP to one server as one role: that role's token on every request (role
    None: no token at all). EDITOR by default, the least role every operation allows."""

    def __init__(self, server: Endpoint, role: str | None = "EDITOR"):
        self.server = server
        self.base = server.url
        self.role = role
        self.headers = server.headers(role) if role else {}

    def __call__(self, method: str, url: str, **kwargs) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return requests.request(method, url, headers=headers, timeout=HTTP_TIMEOUT_S, **kwargs)


def mimetype(r: requests.Response) -> str:
    return r.headers.get("Content-Type", "").split(";")[0].strip().lower()


def assert_error(r: requests.Response, *statuses: int) -> dict:
    """An error answer: one of `statuses`, JSON {code: str, message: str}, never 5xx."""
    assert r.status_code < 500, f"{r.request.method} {r.url} -> {r.status_code} (server error): {r.text}"
    assert r.status_code in statuses, f"{r.request.method} {r.url} -> {r.status_code}, expected {statuses}: {r.text}"
    assert mimetype(r) == "application/json", f"error body is {mimetype(r)!r}: {r.text}"
    body = r.json()
    jsonschema.validate(body, ERROR_SCHEMA)
    assert body["message"], f"empty error message: {body}"
    return body


def assert_wire_conventions(value) -> None:
    """Beyond the schema's `type: string`: ids are decimal strings, times are decimal
    millisecond strings, list pages count their own items."""
    if isinstance(value, dict):
        for key in (
            "id",
            "registeredModelId",
            "modelVersionId",
            "servingEnvironmentId",
            "experimentId",
            "experimentRunId",
        ):
            if key in value:
                assert isinstance(value[key], str) and ID_RE.match(value[key]), f"{key}={value[key]!r}"
        for key in ("createTimeSinceEpoch", "lastUpdateTimeSinceEpoch"):
            if key in value:
                v = value[key]
                assert isinstance(v, str) and v.isdigit() and int(v) > 10**12, f"{key}={v!r} is not epoch ms"
        if "items" in value and "size" in value:
            assert value["size"] == len(value["items"]), f"size {value['size']} != {len(value['items'])} items"
            assert isinstance(value["nextPageToken"], str)
        for v in value.values():
            assert_wire_conventions(v)
    elif isinstance(value, list):
        for v in value:
            assert_wire_conventions(v)


def validate_exchange(path: str, method: str, query: dict, body, r: requests.Response) -> None:
    """Validate what we sent (so the test's own requests are valid, the spec's Bearer
    security included) and what came back."""
    authorization = r.request.headers.get("Authorization")
    sent = SentRequest(
        SPEC_HOST,
        method,
        path,
        args=query,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": authorization} if authorization else {},
    )
    OPENAPI.validate_request(sent)
    received = ReceivedResponse(r.content, status_code=r.status_code, content_type=r.headers.get("Content-Type", ""))
    OPENAPI.validate_response(sent, received)


# --------------------------------------------------------------------------- parents


class World:
    """The parent objects operations need, created lazily (once per prefix and server)
    through the API under test."""

    def __init__(self, server: Endpoint, prefix: str):
        self.server = server
        self.base = server.url
        self.prefix = prefix
        self.http = Caller(server, "EDITOR")

    def url(self, path: str) -> str:
        return f"{self.base}{self.prefix}{path}"

    def create(self, path: str, body: dict, statuses=(201,)) -> dict:
        r = self.http("POST", self.url(path), json=body)
        assert r.status_code in statuses, f"setup POST {path} -> {r.status_code}: {r.text}"
        return r.json()

    @cached_property
    def rm(self) -> dict:
        return self.create("/registered_models", {"name": unique("rm"), "owner": "contract"})

    @cached_property
    def mv(self) -> dict:
        return self.create(
            "/model_versions",
            {
                "name": unique("mv"),
                "registeredModelId": self.rm["id"],
                "author": "contract",
                "customProperties": {"epochs": {"metadataType": "MetadataIntValue", "int_value": "3"}},
            },
        )

    @cached_property
    def ma(self) -> dict:
        return self.create(
            f"/model_versions/{self.mv['id']}/artifacts",
            {"artifactType": "model-artifact", "name": unique("ma"), "uri": "s3://bucket/model.onnx"},
        )

    @cached_property
    def exp(self) -> dict:
        return self.create("/experiments", {"name": unique("exp")})

    @cached_property
    def run(self) -> dict:
        return self.create("/experiment_runs", {"name": unique("run"), "experimentId": self.exp["id"]})

    @cached_property
    def metric(self) -> dict:
        return self.create(
            f"/experiment_runs/{self.run['id']}/artifacts",
            {
                "artifactType": "metric",
                "name": "accuracy",
                "value": 0.9,
                "step": 1,
                "timestamp": str(int(time.time() * 1000)),
            },
        )

    @cached_property
    def env(self) -> dict:
        return self.create("/serving_environments", {"name": unique("env")})

    @cached_property
    def isvc(self) -> dict:
        ops = {op["operationId"]: op for _, _, op in OPERATIONS}
        return self.create(
            "/inference_services",
            {
                "name": unique("isvc"),
                "registeredModelId": self.rm["id"],
                "servingEnvironmentId": self.env["id"],
                "modelVersionId": self.mv["id"],
            },
            statuses=tuple(success_codes(ops["createInferenceService"], self.prefix)),
        )

    @cached_property
    def serve(self) -> dict:
        return self.create(f"/inference_services/{self.isvc['id']}/serves", {"modelVersionId": self.mv["id"]})


# --------------------------------------------------------------------------- recipes


@dataclass
class Call:
    path_params: dict = field(default_factory=dict)
    query: dict = field(default_factory=dict)
    body: dict | None = None
    check: Callable[[dict], None] | None = None
    # for upserts documented with both 200 and 201: the one this request must get
    status: int | None = None


def ids_of(page: dict) -> list[str]:
    return [item["id"] for item in page["items"]]


def has(obj: dict, **expected) -> Callable[[dict], None]:
    """Check that the answer is `obj` (same id) and carries `expected`."""

    def check(body: dict) -> None:
        want = {"id": obj["id"], **expected}
        for k, v in want.items():
            assert body.get(k) == v, f"{k}: {body.get(k)!r} != {v!r} in {body}"

    return check


def lists(*objs: dict) -> Callable[[dict], None]:
    def check(body: dict) -> None:
        got = ids_of(body)
        for o in objs:
            assert o["id"] in got, f"{o['id']} not listed in {got}"

    return check


def is_list(body: dict) -> None:
    assert isinstance(body["items"], list)


def created(**expected) -> Callable[[dict], None]:
    def check(body: dict) -> None:
        assert ID_RE.match(body["id"])
        for k, v in expected.items():
            assert body.get(k) == v, f"{k}: {body.get(k)!r} != {v!r}"

    return check


def _artifact_ops() -> dict[str, Callable[[World], Call]]:
    def create_doc(w: World) -> Call:
        name = unique("doc")
        return Call(
            body={"artifactType": "doc-artifact", "name": name, "uri": "https://example.org/card.md"},
            check=created(artifactType="doc-artifact", name=name),
        )

    return {
        "findArtifact": lambda w: Call(query={"name": w.ma["name"], "parentResourceId": w.mv["id"]}, check=has(w.ma)),
        "getArtifacts": lambda w: Call(check=lists(w.ma)),
        "createArtifact": create_doc,
        "getArtifact": lambda w: Call(path_params={"id": w.ma["id"]}, check=has(w.ma, artifactType="model-artifact")),
        # PATCH changes what it carries and keeps the rest
        "updateArtifact": lambda w: Call(
            path_params={"id": w.ma["id"]},
            body={"artifactType": "model-artifact", "description": "patched"},
            check=has(w.ma, description="patched", uri=w.ma["uri"], name=w.ma["name"]),
        ),
    }


def _experiment_ops() -> dict[str, Callable[[World], Call]]:
    def create_exp(w: World) -> Call:
        name = unique("exp")
        return Call(body={"name": name, "owner": "contract"}, check=created(name=name, owner="contract"))

    def create_run(w: World) -> Call:
        name = unique("run")
        return Call(
            body={"name": name, "experimentId": w.exp["id"]}, check=created(name=name, experimentId=w.exp["id"])
        )

    def create_nested_run(w: World) -> Call:
        name = unique("run")
        return Call(
            path_params={"experimentId": w.exp["id"]},
            body={"name": name, "experimentId": w.exp["id"]},
            check=created(name=name, experimentId=w.exp["id"]),
        )

    def upsert_param(w: World) -> Call:
        name = unique("lr")
        return Call(
            path_params={"experimentrunId": w.run["id"]},
            body={"artifactType": "parameter", "name": name, "value": "0.01", "parameterType": "number"},
            check=created(artifactType="parameter", name=name, value="0.01", parameterType="number"),
            status=201,  # a new artifact
        )

    def metric_history(w: World) -> Call:
        w.metric  # a metric has been logged somewhere  # noqa: B018
        return Call(check=is_list)

    def run_metric_history(w: World) -> Call:
        w.metric  # noqa: B018
        return Call(path_params={"experimentrunId": w.run["id"]}, check=is_list)

    return {
        "findExperiment": lambda w: Call(query={"name": w.exp["name"]}, check=has(w.exp)),
        "findExperimentRun": lambda w: Call(
            query={"name": w.run["name"], "parentResourceId": w.exp["id"]}, check=has(w.run, experimentId=w.exp["id"])
        ),
        "getExperimentRuns": lambda w: Call(check=lists(w.run)),
        "createExperimentRun": create_run,
        "getExperimentRunsMetricHistory": metric_history,
        "getExperimentRun": lambda w: Call(path_params={"experimentrunId": w.run["id"]}, check=has(w.run)),
        "updateExperimentRun": lambda w: Call(
            path_params={"experimentrunId": w.run["id"]},
            body={"status": "FINISHED", "description": "patched"},
            check=has(w.run, status="FINISHED", description="patched", name=w.run["name"]),
        ),
        "getExperimentRunArtifacts": lambda w: Call(
            path_params={"experimentrunId": w.run["id"]}, check=lists(w.metric)
        ),
        "upsertExperimentRunArtifact": upsert_param,
        "getExperimentRunMetricHistory": run_metric_history,
        "getExperiments": lambda w: Call(check=lists(w.exp)),
        "createExperiment": create_exp,
        "getExperiment": lambda w: Call(path_params={"experimentId": w.exp["id"]}, check=has(w.exp)),
        "updateExperiment": lambda w: Call(
            path_params={"experimentId": w.exp["id"]},
            body={"description": "patched"},
            check=has(w.exp, description="patched", name=w.exp["name"]),
        ),
        "getExperimentExperimentRuns": lambda w: Call(path_params={"experimentId": w.exp["id"]}, check=lists(w.run)),
        "createExperimentExperimentRun": create_nested_run,
    }


def _serving_ops() -> dict[str, Callable[[World], Call]]:
    def create_isvc(w: World) -> Call:
        name = unique("isvc")
        return Call(
            body={"name": name, "registeredModelId": w.rm["id"], "servingEnvironmentId": w.env["id"]},
            check=created(name=name, registeredModelId=w.rm["id"], servingEnvironmentId=w.env["id"]),
        )

    def create_env_isvc(w: World) -> Call:
        name = unique("isvc")
        return Call(
            path_params={"servingenvironmentId": w.env["id"]},
            body={"name": name, "registeredModelId": w.rm["id"], "servingEnvironmentId": w.env["id"]},
            check=created(name=name, servingEnvironmentId=w.env["id"]),
        )

    def create_env(w: World) -> Call:
        name = unique("env")
        return Call(body={"name": name, "description": "contract"}, check=created(name=name, description="contract"))

    return {
        "findInferenceService": lambda w: Call(
            query={"name": w.isvc["name"], "parentResourceId": w.env["id"]}, check=has(w.isvc)
        ),
        "getInferenceServices": lambda w: Call(check=lists(w.isvc)),
        "createInferenceService": create_isvc,
        "getInferenceService": lambda w: Call(
            path_params={"inferenceserviceId": w.isvc["id"]},
            check=has(
                w.isvc, registeredModelId=w.rm["id"], servingEnvironmentId=w.env["id"], modelVersionId=w.mv["id"]
            ),
        ),
        "updateInferenceService": lambda w: Call(
            path_params={"inferenceserviceId": w.isvc["id"]},
            body={"desiredState": "UNDEPLOYED"},
            check=has(w.isvc, desiredState="UNDEPLOYED", name=w.isvc["name"]),
        ),
        "getInferenceServiceModel": lambda w: Call(path_params={"inferenceserviceId": w.isvc["id"]}, check=has(w.rm)),
        "getInferenceServiceServes": lambda w: Call(
            path_params={"inferenceserviceId": w.isvc["id"]}, check=lists(w.serve)
        ),
        "createInferenceServiceServe": lambda w: Call(
            path_params={"inferenceserviceId": w.isvc["id"]},
            body={"modelVersionId": w.mv["id"]},
            check=created(modelVersionId=w.mv["id"]),
        ),
        "getInferenceServiceVersion": lambda w: Call(path_params={"inferenceserviceId": w.isvc["id"]}, check=has(w.mv)),
        "findServingEnvironment": lambda w: Call(query={"name": w.env["name"]}, check=has(w.env)),
        "getServingEnvironments": lambda w: Call(check=lists(w.env)),
        "createServingEnvironment": create_env,
        "getServingEnvironment": lambda w: Call(path_params={"servingenvironmentId": w.env["id"]}, check=has(w.env)),
        "updateServingEnvironment": lambda w: Call(
            path_params={"servingenvironmentId": w.env["id"]},
            body={"description": "patched"},
            check=has(w.env, description="patched", name=w.env["name"]),
        ),
        "getEnvironmentInferenceServices": lambda w: Call(
            path_params={"servingenvironmentId": w.env["id"]}, check=lists(w.isvc)
        ),
        "createEnvironmentInferenceService": create_env_isvc,
    }


def _model_ops() -> dict[str, Callable[[World], Call]]:
    def create_rm(w: World) -> Call:
        name = unique("rm")
        return Call(
            body={
                "name": name,
                "owner": "contract",
                "customProperties": {"stars": {"metadataType": "MetadataIntValue", "int_value": "5"}},
            },
            check=created(name=name, owner="contract", state="LIVE"),
        )

    def create_mv(w: World) -> Call:
        name = unique("mv")
        return Call(
            body={"name": name, "registeredModelId": w.rm["id"]},
            check=created(name=name, registeredModelId=w.rm["id"], state="LIVE"),
        )

    def create_nested_mv(w: World) -> Call:
        name = unique("mv")
        return Call(
            path_params={"registeredmodelId": w.rm["id"]},
            body={"name": name, "registeredModelId": w.rm["id"]},
            check=created(name=name, registeredModelId=w.rm["id"]),
        )

    def create_ma(w: World) -> Call:
        name = unique("ma")
        return Call(
            body={
                "artifactType": "model-artifact",
                "name": name,
                "uri": "s3://bucket/standalone.onnx",
                "modelFormatName": "onnx",
            },
            check=created(name=name, artifactType="model-artifact", modelFormatName="onnx"),
        )

    def upsert_doc(w: World) -> Call:
        name = unique("doc")
        return Call(
            path_params={"modelversionId": w.mv["id"]},
            body={"artifactType": "doc-artifact", "name": name, "uri": "https://example.org/readme.md"},
            check=created(artifactType="doc-artifact", name=name),
            status=201,  # a new artifact
        )

    return {
        "findModelArtifact": lambda w: Call(
            query={"name": w.ma["name"], "parentResourceId": w.mv["id"]}, check=has(w.ma)
        ),
        "getModelArtifacts": lambda w: Call(check=lists(w.ma)),
        "createModelArtifact": create_ma,
        "getModelArtifact": lambda w: Call(
            path_params={"modelartifactId": w.ma["id"]}, check=has(w.ma, uri=w.ma["uri"])
        ),
        "updateModelArtifact": lambda w: Call(
            path_params={"modelartifactId": w.ma["id"]},
            body={"artifactType": "model-artifact", "modelFormatVersion": "2"},
            check=has(w.ma, modelFormatVersion="2", uri=w.ma["uri"]),
        ),
        "findModelVersion": lambda w: Call(
            query={"name": w.mv["name"], "parentResourceId": w.rm["id"]}, check=has(w.mv, registeredModelId=w.rm["id"])
        ),
        "getModelVersions": lambda w: Call(check=lists(w.mv)),
        "createModelVersion": create_mv,
        "getModelVersion": lambda w: Call(
            path_params={"modelversionId": w.mv["id"]}, check=has(w.mv, customProperties=w.mv["customProperties"])
        ),
        # PATCH of one field keeps the custom properties it did not mention
        "updateModelVersion": lambda w: Call(
            path_params={"modelversionId": w.mv["id"]},
            body={"description": "patched"},
            check=has(w.mv, description="patched", customProperties=w.mv["customProperties"], author="contract"),
        ),
        "getModelVersionArtifacts": lambda w: Call(path_params={"modelversionId": w.mv["id"]}, check=lists(w.ma)),
        "upsertModelVersionArtifact": upsert_doc,
        "findRegisteredModel": lambda w: Call(query={"name": w.rm["name"]}, check=has(w.rm)),
        "getRegisteredModels": lambda w: Call(query={"orderBy": "ID", "sortOrder": "DESC"}, check=lists(w.rm)),
        "createRegisteredModel": create_rm,
        "getRegisteredModel": lambda w: Call(
            path_params={"registeredmodelId": w.rm["id"]}, check=has(w.rm, owner="contract")
        ),
        "updateRegisteredModel": lambda w: Call(
            path_params={"registeredmodelId": w.rm["id"]},
            body={"description": "patched"},
            check=has(w.rm, description="patched", owner="contract", name=w.rm["name"]),
        ),
        "getRegisteredModelVersions": lambda w: Call(path_params={"registeredmodelId": w.rm["id"]}, check=lists(w.mv)),
        "createRegisteredModelVersion": create_nested_mv,
    }


RECIPES: dict[str, Callable[[World], Call]] = {
    **_artifact_ops(),
    **_experiment_ops(),
    **_serving_ops(),
    **_model_ops(),
}


@pytest.fixture(scope="module")
def worlds(auth_module_server: Endpoint) -> dict[str, World]:
    return {prefix: World(auth_module_server, prefix) for prefix in PREFIXES}


def spec_path(prefix: str, template: str, params: dict) -> str:
    return prefix + template[len(SPEC_PREFIX) :].format(**params)


# --------------------------------------------------------------------------- every operation


def test_spec_has_56_operations_per_prefix_and_each_has_a_recipe():
    assert len(OPERATIONS) == 56, f"the spec has {len(OPERATIONS)} operations"
    ids = {op["operationId"] for _, _, op in OPERATIONS}
    assert len(ids) == 56
    assert set(RECIPES) == ids, f"missing: {ids - set(RECIPES)}, extra: {set(RECIPES) - ids}"
    for prefix in PREFIXES:
        served = [p for p in SPEC["paths"] if p.startswith(prefix + "/")]
        ops = [m for p in served for m in SPEC["paths"][p] if m in ("get", "post", "patch", "put", "delete")]
        assert len(ops) == 56, f"{prefix}: {len(ops)} operations"


@pytest.mark.parametrize("prefix", PREFIXES, ids=PREFIX_IDS)
@pytest.mark.parametrize(
    ("method", "template", "operation"),
    OPERATIONS,
    ids=[op["operationId"] for _, _, op in OPERATIONS],
)
def test_operation(worlds, prefix, method, template, operation):
    w = worlds[prefix]
    call = RECIPES[operation["operationId"]](w)
    path = spec_path(prefix, template, call.path_params)
    r = w.http(method.upper(), f"{w.base}{path}", params=call.query, json=call.body)

    assert r.status_code not in (404, 405), f"{method.upper()} {path} is not served: {r.status_code} {r.text}"
    expected = {call.status} if call.status else success_codes(operation, prefix)
    assert r.status_code in expected, f"{method.upper()} {path} -> {r.status_code}, expected {expected}: {r.text}"
    assert mimetype(r) == "application/json", f"Content-Type {r.headers.get('Content-Type')!r}"
    validate_exchange(path, method, call.query, call.body, r)
    body = r.json()
    assert_wire_conventions(body)
    if call.check:
        call.check(body)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("prefix", PREFIXES, ids=PREFIX_IDS)
@pytest.mark.parametrize(
    ("method", "template", "operation"),
    [o for o in OPERATIONS if "{" in o[1]],
    ids=[op["operationId"] for _, t, op in OPERATIONS if "{" in t],
)
def test_unknown_id_is_404(worlds, prefix, method, template, operation):
    """The same valid request, with the id in the path swapped for one that does not
    exist: 404 with an error body (never a 200 on nothing, never a 5xx)."""
    call = RECIPES[operation["operationId"]](worlds[prefix])
    params = {k: UNKNOWN_ID for k in call.path_params}
    path = spec_path(prefix, template, params)
    r = worlds[prefix].http(method.upper(), f"{worlds[prefix].base}{path}", params=call.query, json=call.body)
    assert_error(r, 404)


FINDS = {
    "findRegisteredModel": ("/registered_model", None),
    "findExperiment": ("/experiment", None),
    "findServingEnvironment": ("/serving_environment", None),
    "findModelVersion": ("/model_version", "rm"),
    "findModelArtifact": ("/model_artifact", "mv"),
    "findArtifact": ("/artifact", "mv"),
    "findExperimentRun": ("/experiment_run", "exp"),
    "findInferenceService": ("/inference_service", "env"),
}


BODY_OPERATIONS = [(m, t, op) for m, t, op in OPERATIONS if "requestBody" in op]


def test_every_write_operation_has_a_body_to_check():
    assert len(BODY_OPERATIONS) >= 20, [op["operationId"] for _, _, op in BODY_OPERATIONS]


@pytest.mark.parametrize("prefix", PREFIXES, ids=PREFIX_IDS)
@pytest.mark.parametrize(
    ("method", "template", "operation"),
    BODY_OPERATIONS,
    ids=[op["operationId"] for _, _, op in BODY_OPERATIONS],
)
def test_unknown_body_field_is_400_naming_it(worlds, prefix, method, template, operation):
    """Bodies are decoded strictly, as Kubeflow's server does (`json: unknown field`): the
    operation's valid body plus one field its schema does not have is refused, naming it."""
    w = worlds[prefix]
    call = RECIPES[operation["operationId"]](w)
    assert call.body is not None, f"{operation['operationId']} has a request body in the spec"
    path = spec_path(prefix, template, call.path_params)
    body = dict(call.body, ext_id="x")
    err = assert_error(w.http(method.upper(), f"{w.base}{path}", params=call.query, json=body), 400)
    assert "ext_id" in err["message"], err


@pytest.mark.parametrize("prefix", PREFIXES, ids=PREFIX_IDS)
@pytest.mark.parametrize("op_id", sorted(FINDS))
def test_find_without_match_is_404(worlds, prefix, op_id):
    w = worlds[prefix]
    path, parent = FINDS[op_id]
    query = {"name": unique("no-such")}
    if parent:
        query["parentResourceId"] = getattr(w, parent)["id"]
    assert_error(w.http("GET", w.url(path), params=query), 404)
    assert_error(w.http("GET", w.url(path), params={"externalId": unique("no-such-ext")}), 404)


@pytest.mark.parametrize("prefix", PREFIXES, ids=PREFIX_IDS)
def test_name_clashes_are_409(worlds, prefix):
    w = worlds[prefix]
    clashes = [
        ("/registered_models", {"name": w.rm["name"]}),
        ("/experiments", {"name": w.exp["name"]}),
        ("/serving_environments", {"name": w.env["name"]}),
        ("/model_versions", {"name": w.mv["name"], "registeredModelId": w.rm["id"]}),
        (f"/registered_models/{w.rm['id']}/versions", {"name": w.mv["name"], "registeredModelId": w.rm["id"]}),
        ("/experiment_runs", {"name": w.run["name"], "experimentId": w.exp["id"]}),
        (
            f"/serving_environments/{w.env['id']}/inference_services",
            {"name": w.isvc["name"], "registeredModelId": w.rm["id"], "servingEnvironmentId": w.env["id"]},
        ),
    ]
    for path, body in clashes:
        assert_error(w.http("POST", w.url(path), json=body), 409)

    # externalId is unique when set
    ext = unique("ext")
    w.create("/registered_models", {"name": unique("rm"), "externalId": ext})
    assert_error(w.http("POST", w.url("/registered_models"), json={"name": unique("rm"), "externalId": ext}), 409)

    # the same version name under another model is fine
    other = w.create("/registered_models", {"name": unique("rm")})
    w.create("/model_versions", {"name": w.mv["name"], "registeredModelId": other["id"]})


LIST_PATHS = [
    "/registered_models",
    "/model_versions",
    "/model_artifacts",
    "/artifacts",
    "/experiments",
    "/experiment_runs",
    "/serving_environments",
    "/inference_services",
]


@pytest.mark.parametrize("prefix", PREFIXES, ids=PREFIX_IDS)
@pytest.mark.parametrize("path", LIST_PATHS)
def test_malformed_page_token_is_400(worlds, prefix, path):
    w = worlds[prefix]
    for token in ("!!not-a-token!!", "definitely not base64 %%%", "eyJub3QiOiJvdXJzIn0"):
        assert_error(w.http("GET", w.url(path), params={"pageSize": "2", "nextPageToken": token}), 400)


BAD_FILTERS = [
    "name =",
    "name = 'x' AND",
    "(name = 'x'",
    "name = 'x')",
    "name === 'x'",
    "name = 'unterminated",
    "AND name = 'x'",
    "name IN ('a', 'b'",
    "= 'x'",
    "name LIKE",
]


@pytest.mark.parametrize("prefix", PREFIXES, ids=PREFIX_IDS)
@pytest.mark.parametrize("path", ["/registered_models", "/model_versions", "/artifacts", "/experiments"])
def test_bad_filter_query_is_400(worlds, prefix, path):
    w = worlds[prefix]
    for q in BAD_FILTERS:
        assert_error(w.http("GET", w.url(path), params={"filterQuery": q}), 400)


@pytest.mark.parametrize("prefix", PREFIXES, ids=PREFIX_IDS)
def test_malformed_json_is_400(worlds, prefix):
    w = worlds[prefix]
    headers = {"Content-Type": "application/json"}
    targets = [
        ("POST", "/registered_models"),
        ("PATCH", f"/registered_models/{w.rm['id']}"),
        ("POST", "/model_versions"),
        ("PATCH", f"/model_versions/{w.mv['id']}"),
        ("POST", f"/model_versions/{w.mv['id']}/artifacts"),
        ("PATCH", f"/artifacts/{w.ma['id']}"),
        ("POST", "/experiments"),
        ("POST", "/serving_environments"),
    ]
    for method, path in targets:
        for raw in ('{"name": ', "not json at all", "", "[1, 2"):
            assert_error(w.http(method, w.url(path), data=raw.encode(), headers=headers), 400)


@pytest.mark.parametrize("prefix", PREFIXES, ids=PREFIX_IDS)
def test_invalid_input_is_a_4xx_error_never_5xx(worlds, prefix):
    """Well-formed JSON bodies the spec does not allow get a 4xx with an error body (the
    exact code is the server's: 400/422, or 404 for an id that cannot exist); malformed
    query values get 400; ids that are not ids in a path get 400 or 404."""
    w = worlds[prefix]
    int_prop = {"metadataType": "MetadataIntValue", "int_value": "abc"}
    bodies = [
        ("POST", "/registered_models", {"name": 5}),
        ("POST", "/registered_models", {"name": ""}),
        ("POST", "/registered_models", {}),
        ("POST", "/registered_models", ["not", "an", "object"]),
        ("POST", "/registered_models", {"name": unique("rm"), "state": "SLEEPING"}),
        ("POST", "/registered_models", {"name": unique("rm"), "customProperties": {"x": int_prop}}),
        ("POST", "/registered_models", {"name": unique("rm"), "customProperties": {"x": {"metadataType": "Nope"}}}),
        # found by schemathesis: a proto value's `type` must be a string, not echoed back as given
        (
            "POST",
            "/model_artifacts",
            {"customProperties": {"k": {"metadataType": "MetadataProtoValue", "type": True, "proto_value": ""}}},
        ),
        ("POST", "/model_versions", {"name": unique("mv")}),
        ("POST", "/model_versions", {"name": unique("mv"), "registeredModelId": "not-an-id"}),
        ("POST", f"/model_versions/{w.mv['id']}/artifacts", {"artifactType": "bogus", "name": unique("a")}),
        ("PATCH", f"/registered_models/{w.rm['id']}", {"state": "SLEEPING"}),
        ("PATCH", f"/model_versions/{w.mv['id']}", {"customProperties": {"x": int_prop}}),
        ("POST", "/experiment_runs", {"name": unique("run")}),
        ("POST", "/inference_services", {"name": unique("isvc")}),
    ]
    for method, path, body in bodies:
        r = w.http(method, w.url(path), json=body)
        assert_error(r, 400, 404, 409, 422)

    queries = [
        ("/registered_models", {"pageSize": "abc"}),
        ("/registered_models", {"pageSize": "-1"}),
        ("/registered_models", {"orderBy": "BOGUS"}),
        ("/registered_models", {"sortOrder": "SIDEWAYS"}),
        ("/artifacts", {"artifactType": "bogus"}),
        ("/experiment_runs/metric_history", {"stepIds": "1,x"}),
    ]
    for path, query in queries:
        assert_error(w.http("GET", w.url(path), params=query), 400)

    for path in ("/registered_models/abc", "/model_versions/0", "/artifacts/-1", "/experiments/1.5"):
        assert_error(w.http("GET", w.url(path)), 400, 404)


@pytest.mark.parametrize("prefix", PREFIXES, ids=PREFIX_IDS)
def test_nested_artifact_post_is_an_upsert(worlds, prefix):
    """POST model_versions/{id}/artifacts: 201 when it creates, 200 when the body names
    an existing artifact by id (and the change is kept)."""
    w = worlds[prefix]
    path = f"/model_versions/{w.mv['id']}/artifacts"
    first = w.http(
        "POST", w.url(path), json={"artifactType": "doc-artifact", "name": unique("doc"), "uri": "https://a"}
    )
    assert first.status_code == 201, first.text
    art = first.json()
    again = w.http(
        "POST",
        w.url(path),
        json={"artifactType": "doc-artifact", "id": art["id"], "name": art["name"], "uri": "https://b"},
    )
    assert again.status_code == 200, again.text
    assert again.json()["id"] == art["id"]
    assert again.json()["uri"] == "https://b"
    listed = w.http("GET", w.url(path)).json()
    assert ids_of(listed).count(art["id"]) == 1


# --------------------------------------------------------------------------- lists


def _create_models(api: Caller, prefix: str, n: int, props=None) -> list[dict]:
    out = []
    for i in range(n):
        body = {"name": f"m{i}"}
        if props:
            body.update(props[i])
        r = api("POST", f"{api.base}{prefix}/registered_models", json=body)
        assert r.status_code == 201, r.text
        out.append(r.json())
        time.sleep(0.003)  # distinct creation milliseconds
    return out


def _walk(api: Caller, path: str, query: dict, guard: int = 50) -> tuple[list[dict], list[dict]]:
    """Follow nextPageToken to the end; return (items, pages)."""
    items, pages, token = [], [], None
    for _ in range(guard):
        q = dict(query)
        if token:
            q["nextPageToken"] = token
        r = api("GET", f"{api.base}{path}", params=q)
        assert r.status_code == 200, r.text
        page = r.json()
        assert_wire_conventions(page)
        pages.append(page)
        items.extend(page["items"])
        token = page["nextPageToken"]
        if not token:
            return items, pages
    raise AssertionError(f"no last page after {guard} pages")


@pytest.mark.parametrize("prefix", PREFIXES, ids=PREFIX_IDS)
def test_paging_by_id_create_time_and_update_time(auth_fresh_server, prefix):
    api = Caller(auth_fresh_server)
    base = api.base
    models = _create_models(api, prefix, 7)
    ids = [m["id"] for m in models]
    path = f"{prefix}/registered_models"

    items, pages = _walk(api, path, {"pageSize": "3", "orderBy": "ID", "sortOrder": "ASC"})
    assert [m["id"] for m in items] == ids
    assert [p["size"] for p in pages] == [3, 3, 1]
    assert all(p["pageSize"] == 3 for p in pages)
    assert [bool(p["nextPageToken"]) for p in pages] == [True, True, False]

    items, _ = _walk(api, path, {"pageSize": "3", "orderBy": "ID", "sortOrder": "DESC"})
    assert [m["id"] for m in items] == ids[::-1]
    items, _ = _walk(api, path, {"pageSize": "2", "orderBy": "CREATE_TIME", "sortOrder": "ASC"})
    assert [m["id"] for m in items] == ids
    items, _ = _walk(api, path, {"pageSize": "4", "orderBy": "CREATE_TIME", "sortOrder": "DESC"})
    assert [m["id"] for m in items] == ids[::-1]

    # no pageSize, or 0: everything in one page
    for query in ({"orderBy": "ID"}, {"orderBy": "ID", "pageSize": "0"}):
        r = api("GET", f"{base}{path}", params=query)
        page = r.json()
        assert [m["id"] for m in page["items"]] == ids and page["size"] == 7 and page["nextPageToken"] == ""

    # touching the first model moves it last by LAST_UPDATE_TIME
    time.sleep(0.01)
    r = api("PATCH", f"{base}{path}/{ids[0]}", json={"description": "touched"})
    assert r.status_code == 200, r.text
    items, _ = _walk(api, path, {"pageSize": "3", "orderBy": "LAST_UPDATE_TIME", "sortOrder": "ASC"})
    assert [m["id"] for m in items] == ids[1:] + ids[:1]


@pytest.mark.parametrize("prefix", PREFIXES, ids=PREFIX_IDS)
def test_page_tokens_are_stable_and_empty_token_means_first_page(auth_fresh_server, prefix):
    """The Kubeflow client's pager stops when a re-fetch of the first page hands back
    the token it saw first, and after the last page it asks with nextPageToken="": so the
    same page must always carry the same token, and "" must mean "from the start"."""
    api = Caller(auth_fresh_server)
    base = api.base
    _create_models(api, prefix, 5)
    url = f"{base}{prefix}/registered_models"
    query = {"pageSize": "2", "orderBy": "ID", "sortOrder": "ASC"}
    first = api("GET", url, params=query).json()
    again = api("GET", url, params=query).json()
    empty = api("GET", url, params={**query, "nextPageToken": ""}).json()
    assert first["nextPageToken"] and first == again == empty
    second = api("GET", url, params={**query, "nextPageToken": first["nextPageToken"]}).json()
    second_again = api("GET", url, params={**query, "nextPageToken": first["nextPageToken"]}).json()
    assert second == second_again
    assert ids_of(second) and set(ids_of(second)).isdisjoint(ids_of(first))


@pytest.mark.parametrize("prefix", PREFIXES, ids=PREFIX_IDS)
def test_filter_query(auth_fresh_server, prefix):
    api = Caller(auth_fresh_server)
    base = api.base

    def prop(v):
        if isinstance(v, bool):
            return {"metadataType": "MetadataBoolValue", "bool_value": v}
        if isinstance(v, int):
            return {"metadataType": "MetadataIntValue", "int_value": str(v)}
        if isinstance(v, float):
            return {"metadataType": "MetadataDoubleValue", "double_value": v}
        return {"metadataType": "MetadataStringValue", "string_value": v}

    specs = [
        {"framework": "pytorch", "accuracy": 0.97, "epochs": 3, "prod": True},
        {"framework": "tensorflow", "accuracy": 0.91, "epochs": 10, "prod": False},
        {"framework": "pytorch", "accuracy": 0.5, "epochs": 1, "mlflow.source.type": "notebook"},
        {},
    ]
    props = [{"customProperties": {k: prop(v) for k, v in s.items()}} for s in specs]
    props[3]["state"] = "ARCHIVED"
    models = _create_models(api, prefix, 4, props)  # names m0..m3

    cases = {
        "name = 'm1'": ["m1"],
        'name = "m1"': ["m1"],
        "name != 'm1'": ["m0", "m2", "m3"],
        "name <> 'm1'": ["m0", "m2", "m3"],
        "name IN ('m0', 'm2')": ["m0", "m2"],
        "name LIKE 'm%'": ["m0", "m1", "m2", "m3"],
        "name ILIKE 'M_'": ["m0", "m1", "m2", "m3"],
        "state = 'ARCHIVED'": ["m3"],
        "accuracy > 0.95": ["m0"],
        "accuracy >= 0.91": ["m0", "m1"],
        "accuracy < 0.6": ["m2"],
        "epochs <= 3": ["m0", "m2"],
        "epochs > 5": ["m1"],
        "prod = true": ["m0"],
        "framework.string_value = 'pytorch'": ["m0", "m2"],
        "accuracy.double_value < 0.95": ["m1", "m2"],
        "epochs.int_value = 10": ["m1"],
        "`mlflow.source.type` = 'notebook'": ["m2"],
        "framework = 'pytorch' AND epochs > 2": ["m0"],
        "framework = 'tensorflow' OR epochs = 1": ["m1", "m2"],
        "(framework = 'pytorch' OR framework = 'tensorflow') AND accuracy < 0.95": ["m1", "m2"],
        "framework = 'jax'": [],
        f"id = {models[2]['id']}": ["m2"],
    }
    url = f"{base}{prefix}/registered_models"
    for query, expected in cases.items():
        r = api("GET", url, params={"filterQuery": query, "orderBy": "ID"})
        assert r.status_code == 200, f"{query!r}: {r.status_code} {r.text}"
        got = [m["name"] for m in r.json()["items"]]
        assert got == expected, f"{query!r}: {got} != {expected}"


# --------------------------------------------------------------------------- authentication


def assert_unauthorized(r: requests.Response) -> dict:
    """401 with an Error body whose code is Unauthorized, and the Bearer challenge."""
    err = assert_error(r, 401)
    assert err["code"] == "Unauthorized", err
    challenge = r.headers.get("WWW-Authenticate", "")
    assert challenge.split(" ")[0].lower() == "bearer", f"WWW-Authenticate: {challenge!r}"
    return err


def forged(token: str) -> str:
    """A token of the right shape that the server never issued."""
    return token[:-1] + ("A" if token[-1] != "A" else "B")


@pytest.mark.parametrize("prefix", PREFIXES, ids=PREFIX_IDS)
@pytest.mark.parametrize(
    ("method", "template", "operation"),
    OPERATIONS,
    ids=[op["operationId"] for _, _, op in OPERATIONS],
)
def test_without_a_token_every_operation_is_401(worlds, prefix, method, template, operation):
    """test_operation's valid request without the token: the spec's documented 401
    (Unauthorized, an Error body), the Bearer challenge, and nothing written."""
    w = worlds[prefix]
    call = RECIPES[operation["operationId"]](w)  # parents are made here, with the EDITOR token
    path = spec_path(prefix, template, call.path_params)
    before = last_change(w.server)
    r = Caller(w.server, None)(method.upper(), f"{w.base}{path}", params=call.query, json=call.body)
    assert_unauthorized(r)
    sent = SentRequest(
        SPEC_HOST, method, path, args=call.query, data=json.dumps(call.body).encode() if call.body else None
    )
    received = ReceivedResponse(r.content, status_code=r.status_code, content_type=r.headers.get("Content-Type", ""))
    OPENAPI.validate_response(sent, received)
    assert last_change(w.server) == before, f"{method.upper()} {path} without a token wrote something"


@pytest.mark.parametrize("prefix", PREFIXES, ids=PREFIX_IDS)
@pytest.mark.parametrize(
    ("method", "template", "operation"),
    OPERATIONS,
    ids=[op["operationId"] for _, _, op in OPERATIONS],
)
def test_reader_token_reads_and_every_write_is_403(worlds, prefix, method, template, operation):
    """test_operation's valid request with the READER token: a GET answers as for the
    EDITOR; a POST or PATCH is 403 (code Forbidden, naming the role it needs) and writes
    nothing."""
    w = worlds[prefix]
    call = RECIPES[operation["operationId"]](w)
    path = spec_path(prefix, template, call.path_params)
    before = last_change(w.server)
    r = Caller(w.server, "READER")(method.upper(), f"{w.base}{path}", params=call.query, json=call.body)
    if method == "get":
        assert r.status_code in success_codes(operation, prefix), f"GET {path} -> {r.status_code}: {r.text}"
        validate_exchange(path, method, call.query, call.body, r)
    else:
        err = assert_error(r, 403)
        assert err["code"] == "Forbidden", err
        assert "EDITOR" in err["message"], err
    assert last_change(w.server) == before, f"{method.upper()} {path} as a READER wrote something"
    if method == "get" and call.check:
        call.check(r.json())


@pytest.mark.parametrize("prefix", PREFIXES, ids=PREFIX_IDS)
def test_bad_credentials_are_401(worlds, prefix):
    """An unknown token, a forged one, another scheme, a bare token and a scheme without a
    token all get the same 401; a write with one writes nothing."""
    w = worlds[prefix]
    token = w.server.token("EDITOR")
    url = w.url("/registered_models")
    before = last_change(w.server)
    for value in (f"Bearer {forged(token)}", "Bearer not-a-token", f"Basic {token}", token, "Bearer"):
        assert_unauthorized(requests.get(url, headers={"Authorization": value}, timeout=HTTP_TIMEOUT_S))
    bad = {"Authorization": f"Bearer {forged(token)}"}
    assert_unauthorized(requests.post(url, json={"name": unique("rm")}, headers=bad, timeout=HTTP_TIMEOUT_S))
    assert last_change(w.server) == before
    # Control (and it clears this address's bad-credential record): the real token works.
    assert w.http("GET", url).status_code == 200


def test_health_and_readiness_need_no_token(auth_module_server: Endpoint):
    for path in ("/healthz", "/readyz"):
        r = requests.get(f"{auth_module_server.url}{path}", timeout=HTTP_TIMEOUT_S)
        assert r.status_code == 200, f"{path} -> {r.status_code}: {r.text}"
