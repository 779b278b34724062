"""The real Kubeflow Model Registry Python client (PyPI `model-registry`) against modelgraph.

The same file runs under model-registry 0.3.18 (which calls /api/model_registry/v1/...)
and 0.3.14 (which calls /api/model_registry/v1alpha3/...), on SQLite and PostgreSQL.

What the client does, read from its source (both versions behave the same here):
- the constructor already lists registered models (GET registered_models?pageSize=1);
- register_model = find model by name (404 -> create it), find version by
  name+parentResourceId (found -> StoreError "already exists", else POST model_versions),
  then POST model_versions/{id}/artifacts with artifactType model-artifact;
- get_* use the find endpoints (GET registered_model?name=..., model_version?name=&
  parentResourceId=, model_artifact?name=<model name>&parentResourceId=<version id>);
  a 404 there becomes None, any other error raises;
- update() PATCHes the whole object (registered_models/{id}, model_versions/{id},
  model_artifacts/{id});
- the pager stops when a re-fetch returns the nextPageToken it saw after the first page,
  so after the last page (token "") it asks again with nextPageToken="" and expects the
  first page, with the same token as before;
- `user_token=` becomes `Authorization: Bearer <token>` on every request (mr_openapi's
  Configuration.access_token); a refusal surfaces as mr_openapi's UnauthorizedException
  (401) or ForbiddenException (403), carrying the status, the body and the headers.

The servers are authenticated (conftest's auth_* fixtures: tokens made with `modelgraph
token create` before `serve`) and the client runs with the EDITOR token, as a pipeline
would; one test keeps the open server (no token anywhere) working without a token.
"""

from __future__ import annotations

import inspect
import json
import time
import urllib.parse
import warnings
from itertools import islice

import model_registry
import pytest
import requests
from model_registry import ModelRegistry
from model_registry.exceptions import StoreError
from model_registry.types import ArtifactState, ModelVersionState, RegisteredModelState
from mr_openapi.api.model_registry_service_api import ModelRegistryServiceApi
from mr_openapi.exceptions import ApiException, ForbiddenException, UnauthorizedException

from harness import HTTP_TIMEOUT_S, Endpoint, gql, last_change, unique

CLIENT_VERSION = model_registry.__version__
# 0.3.14 still ships the experiment-tracking API (removed by 0.3.18).
HAS_EXPERIMENTS = hasattr(ModelRegistry, "start_experiment_run")

# One value of every type the client supports, with the edge cases that catch lossy
# storage: an int must come back an int (not 3.0), a whole float a float (not 3), a
# string that looks like a number or a bool a string, and floats bit-exact.
METADATA = {
    "epochs": 3,
    "negative": -42,
    "zero": 0,
    "large_int": 123456789,  # the spec's int pattern allows at most 9 digits
    "accuracy": 0.97,
    "whole_float": 1.0,
    "tiny_float": -2.5e-07,
    "inexact_float": 0.1 + 0.2,  # 0.30000000000000004 must survive exactly
    "framework": "pytorch",
    "empty": "",
    "numeric_string": "42",
    "bool_string": "true",
    "unicode": "żółw ✓ 模型",
    "dotted.key-name": "ok",
    "enabled": True,
    "disabled": False,
}

# Enough to stop a pager that never terminates (a server whose tokens are not stable).
PAGER_GUARD = 200


def connect(base_url: str, **kwargs) -> ModelRegistry:
    """Build the client as a user would for a plain-HTTP server: host with the http://
    scheme, the port separately, is_secure=False, an author, and `user_token=` when the
    server wants one."""
    parts = urllib.parse.urlsplit(base_url)
    with warnings.catch_warnings():
        # "User access token is missing": expected where a test leaves the token out.
        warnings.simplefilter("ignore")
        return ModelRegistry(
            f"http://{parts.hostname}",
            parts.port,
            author="pytest",
            is_secure=False,
            **kwargs,
        )


def rest_prefix() -> str:
    """The REST prefix this client version calls (read from its generated code)."""
    src = inspect.getsource(ModelRegistryServiceApi)
    return "/api/model_registry/v1alpha3" if "/api/model_registry/v1alpha3/" in src else "/api/model_registry/v1"


@pytest.fixture(autouse=True)
def _no_token_from_the_environment(monkeypatch, tmp_path):
    # Without user_token the client reads a token file: the path in
    # KF_PIPELINES_SA_TOKEN_PATH, else the pod's service-account token. Neither may leak
    # into a test that means to send no token (e.g. when CI runs inside a pod).
    monkeypatch.delenv("KF_PIPELINES_SA_TOKEN_PATH", raising=False)
    monkeypatch.setattr(model_registry._client, "DEFAULT_K8S_SA_TOKEN_PATH", str(tmp_path / "no-such-token"))


@pytest.fixture
def mr(auth_server: Endpoint) -> ModelRegistry:
    """The client on the session's authenticated server, with the EDITOR token."""
    return connect(auth_server.url, user_token=auth_server.token("EDITOR"))


@pytest.fixture
def fresh_mr(auth_fresh_server: Endpoint) -> ModelRegistry:
    return connect(auth_fresh_server.url, user_token=auth_fresh_server.token("EDITOR"))


def assert_same_typed(actual: dict | None, expected: dict) -> None:
    """Equal values AND equal Python types (1 == 1.0 == True would hide a lossy store)."""
    assert actual is not None, "custom properties were lost"
    assert set(actual) == set(expected), f"keys differ: {sorted(actual)} vs {sorted(expected)}"
    for key, value in expected.items():
        got = actual[key]
        assert type(got) is type(value), f"{key}: {got!r} ({type(got).__name__}) != {value!r} ({type(value).__name__})"
        assert got == value, f"{key}: {got!r} != {value!r}"


def assert_epoch_ms(value: str | None) -> int:
    """A decimal string of milliseconds since the epoch, close to now."""
    assert value is not None and value.isdigit(), f"not a decimal ms timestamp: {value!r}"
    ms = int(value)
    now = int(time.time() * 1000)
    assert abs(now - ms) < 24 * 3600 * 1000, f"{value} is not milliseconds near now ({now})"
    return ms


def register(mr: ModelRegistry, name: str, version: str = "v1", **kwargs):
    kwargs.setdefault("model_format_name", "onnx")
    kwargs.setdefault("model_format_version", "1")
    return mr.register_model(name, f"s3://bucket/{name}/{version}.onnx", version=version, **kwargs)


# --------------------------------------------------------------------------- register / get


def test_client_talks_to_the_expected_prefix():
    # Both prefixes must be served; this documents which one this run exercises.
    expected = "/api/model_registry/v1alpha3" if CLIENT_VERSION == "0.3.14" else "/api/model_registry/v1"
    assert rest_prefix() == expected, f"model-registry {CLIENT_VERSION} calls {rest_prefix()}"


def test_register_model_and_read_everything_back(mr):
    name = unique("mnist")
    rm = mr.register_model(
        name,
        "s3://bucket/mnist.onnx",
        model_format_name="onnx",
        model_format_version="1",
        version="v1",
        version_description="first",
        author="ada",
        owner="grace",
        storage_key="aws-connection",
        storage_path="models/mnist",
        service_account_name="model-reader",
        model_source_kind="kfp",
        model_source_class="pipelinerun",
        model_source_group="team-ns",
        model_source_id="run-123",
        model_source_name="mnist-training",
        metadata=METADATA,
    )
    assert rm.id is not None and rm.id.isdigit(), rm.id
    assert rm.name == name
    assert rm.owner == "grace"
    assert rm.state == RegisteredModelState.LIVE
    created = assert_epoch_ms(rm.create_time_since_epoch)
    assert assert_epoch_ms(rm.last_update_time_since_epoch) >= created

    got = mr.get_registered_model(name)
    assert got is not None
    assert (got.id, got.name, got.owner, got.state) == (rm.id, name, "grace", RegisteredModelState.LIVE)

    mv = mr.get_model_version(name, "v1")
    assert mv is not None
    assert mv.id is not None and mv.id.isdigit()
    assert mv.id != rm.id, "ids are global across kinds"
    assert mv.name == "v1"
    assert mv.author == "ada"
    assert mv.description == "first"
    assert mv.state == ModelVersionState.LIVE
    assert mv.registered_model_id == rm.id
    assert_epoch_ms(mv.create_time_since_epoch)
    assert_same_typed(mv.custom_properties, METADATA)

    ma = mr.get_model_artifact(name, "v1")
    assert ma is not None
    assert ma.id is not None and ma.id.isdigit() and ma.id not in {rm.id, mv.id}
    assert ma.name == name
    assert ma.uri == "s3://bucket/mnist.onnx"
    assert ma.model_format_name == "onnx"
    assert ma.model_format_version == "1"
    assert ma.storage_key == "aws-connection"
    assert ma.storage_path == "models/mnist"
    assert ma.service_account_name == "model-reader"
    assert ma.model_source_kind == "kfp"
    assert ma.model_source_class == "pipelinerun"
    assert ma.model_source_group == "team-ns"
    assert ma.model_source_id == "run-123"
    assert ma.model_source_name == "mnist-training"
    assert ma.state == ArtifactState.UNKNOWN  # what the client sends by default
    assert_epoch_ms(ma.create_time_since_epoch)


def test_second_version_reuses_the_model(mr):
    name = unique("reuse")
    rm1 = register(mr, name, "v1")
    rm2 = register(mr, name, "v2", metadata={"epochs": 9})
    assert rm2.id == rm1.id
    versions = list(islice(mr.get_model_versions(name), PAGER_GUARD))
    assert sorted(v.name for v in versions) == ["v1", "v2"]
    assert all(v.registered_model_id == rm1.id for v in versions)
    assert mr.get_model_version(name, "v2").custom_properties == {"epochs": 9}


def test_duplicate_version_raises(mr):
    name = unique("dup")
    register(mr, name, "v1")
    with pytest.raises(StoreError, match="already exists"):
        register(mr, name, "v1")
    # and nothing was half-created by the refused attempt
    versions = list(islice(mr.get_model_versions(name), PAGER_GUARD))
    assert [v.name for v in versions] == ["v1"]


def test_missing_objects(mr):
    missing = unique("missing")
    # find by name answers 404, which the client turns into None
    assert mr.get_registered_model(missing) is None
    with pytest.raises(StoreError, match="does not exist"):
        mr.get_model_version(missing, "v1")
    with pytest.raises(StoreError, match="does not exist"):
        mr.get_model_versions(missing)

    name = unique("present")
    register(mr, name, "v1")
    assert mr.get_model_version(name, "no-such-version") is None
    with pytest.raises(StoreError, match="does not exist"):
        mr.get_model_artifact(name, "no-such-version")


# --------------------------------------------------------------------------- authentication


def assert_refused(exc: ApiException, status: int, code: str) -> dict:
    """What the client surfaces for a refusal: the status, the server's {code, message}
    body and, for a 401, the `WWW-Authenticate: Bearer` challenge."""
    assert exc.status == status, f"expected {status}, got {exc.status}: {exc.body}"
    body = json.loads(exc.body)
    assert body.get("code") == code, body
    assert isinstance(body.get("message"), str) and body["message"], body
    if status == 401:
        challenge = (exc.headers or {}).get("WWW-Authenticate", "")
        assert challenge.split(" ")[0].lower() == "bearer", f"WWW-Authenticate: {challenge!r}"
    return body


def forged(token: str) -> str:
    """A token of the right shape that the server never issued: the last character of
    a real one changed."""
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def test_open_server_needs_no_token(server):
    """With no token in its store the server is open: the client as used before
    authentication existed (no user_token at all) registers and reads."""
    client = connect(server)
    name = unique("open")
    rm = register(client, name)
    assert client.get_registered_model(name).id == rm.id
    assert client.get_model_artifact(name, "v1").uri == f"s3://bucket/{name}/v1.onnx"


def test_client_without_a_token_gets_401(auth_server: Endpoint):
    """The constructor already lists registered models, so that is where a client
    without a token (or with one the server never issued) fails: UnauthorizedException."""
    with pytest.raises(UnauthorizedException) as info:
        connect(auth_server.url)
    assert "credential" in assert_refused(info.value, 401, "Unauthorized")["message"]

    for bad in ("not-a-real-token", forged(auth_server.token("READER"))):
        with pytest.raises(UnauthorizedException) as info:
            connect(auth_server.url, user_token=bad)
        assert_refused(info.value, 401, "Unauthorized")

    # Control: the same constructor with a real token works.
    connect(auth_server.url, user_token=auth_server.token("READER"))


def test_reader_token_reads_but_every_write_is_403(mr: ModelRegistry, auth_server: Endpoint):
    name = unique("read-only")
    register(mr, name, metadata={"epochs": 3})
    before = last_change(auth_server)

    reader = connect(auth_server.url, user_token=auth_server.token("READER"))
    rm = reader.get_registered_model(name)
    assert rm is not None and rm.name == name
    mv = reader.get_model_version(name, "v1")
    assert mv.custom_properties == {"epochs": 3}
    ma = reader.get_model_artifact(name, "v1")
    assert ma.uri == f"s3://bucket/{name}/v1.onnx"
    assert [v.name for v in _take(reader.get_model_versions(name))] == ["v1"]

    new = unique("read-only-new")
    with pytest.raises(ForbiddenException) as info:
        register(reader, new)  # 404 on the find, then POST registered_models
    body = assert_refused(info.value, 403, "Forbidden")
    assert "EDITOR" in body["message"], body
    with pytest.raises(ForbiddenException) as info:
        register(reader, name, "v2")  # a new version of a model that exists: POST model_versions
    assert_refused(info.value, 403, "Forbidden")
    for obj in (rm, mv, ma):  # PATCH registered_models / model_versions / model_artifacts
        obj.description = "written by a reader"
        with pytest.raises(ForbiddenException) as info:
            reader.update(obj)
        assert_refused(info.value, 403, "Forbidden")

    # Nothing of it was written.
    assert last_change(auth_server) == before
    assert mr.get_registered_model(new) is None
    assert [v.name for v in _take(mr.get_model_versions(name))] == ["v1"]
    assert mr.get_registered_model(name).description is None
    assert mr.get_model_version(name, "v1").description is None
    assert mr.get_model_artifact(name, "v1").description is None


def test_revoked_token_gets_401_on_every_call(auth_server: Endpoint):
    """A token made over GraphQL by the ADMIN works with the client until the ADMIN
    revokes it; then every kind of call the client makes is refused with 401."""
    admin = auth_server.token("ADMIN")
    subject = unique("pipeline")
    made = gql(
        auth_server.url,
        "mutation($s: String!) { createApiToken(subject: $s, role: EDITOR) { token apiToken { id subject role } } }",
        {"s": subject},
        token=admin,
    )["createApiToken"]
    assert made["apiToken"]["subject"] == subject and made["apiToken"]["role"] == "EDITOR"

    client = connect(auth_server.url, user_token=made["token"])
    name = unique("revoked")
    rm = register(client, name)
    assert client.get_registered_model(name).id == rm.id

    revoked = gql(
        auth_server.url,
        "mutation($id: ID!) { revokeApiToken(id: $id) { id revokedAt } }",
        {"id": made["apiToken"]["id"]},
        token=admin,
    )["revokeApiToken"]
    assert revoked["revokedAt"], revoked

    calls = {
        "find": lambda: client.get_registered_model(name),
        "list": lambda: list(islice(client.get_registered_models(), 1)),
        "create": lambda: register(client, unique("revoked-new")),
        "update": lambda: client.update(rm),
    }
    for what, call in calls.items():
        with pytest.raises(UnauthorizedException) as info:
            call()
        assert info.value.status == 401, what
        assert_refused(info.value, 401, "Unauthorized")


def test_client_writes_are_recorded_under_its_token(mr: ModelRegistry, auth_server: Endpoint):
    """The change log names the token's subject as the actor of everything the client
    wrote, through the REST door."""
    name = unique("actor")
    rm = register(mr, name)
    mv = mr.get_model_version(name, "v1")
    ma = mr.get_model_artifact(name, "v1")
    mv.description = "touched"
    mr.update(mv)

    changes = gql(
        auth_server.url,
        "query($ids: [ID!]) { changes(filter: {nodeIds: $ids}, first: 100) { nodes { actor via operation nodeId } } }",
        {"ids": [rm.id, mv.id, ma.id]},
        token=auth_server.token("READER"),
    )["changes"]["nodes"]
    assert {(c["actor"], c["via"]) for c in changes} == {(auth_server.subject("EDITOR"), "REST")}, changes
    ops = {(c["nodeId"], c["operation"]) for c in changes}
    assert {(rm.id, "CREATE"), (mv.id, "CREATE"), (ma.id, "CREATE"), (mv.id, "UPDATE")} <= ops, ops


def test_graphql_needs_a_token_too(auth_server: Endpoint):
    """The GraphQL door the tests below read through: 401 with UNAUTHENTICATED without a
    token; a READER queries but may not mutate; the EDITOR token is the client's identity."""
    url = f"{auth_server.url}/graphql"
    viewer = {"query": "{ viewer { subject roles authenticated } }"}
    r = requests.post(url, json=viewer, timeout=HTTP_TIMEOUT_S)
    assert r.status_code == 401, r.text
    assert r.headers.get("WWW-Authenticate", "").split(" ")[0].lower() == "bearer", r.headers
    assert r.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", r.text

    data = gql(auth_server.url, viewer["query"], token=auth_server.token("READER"))
    assert data["viewer"] == {"subject": auth_server.subject("READER"), "roles": ["READER"], "authenticated": True}
    data = gql(auth_server.url, viewer["query"], token=auth_server.token("EDITOR"))
    assert data["viewer"]["subject"] == auth_server.subject("EDITOR")

    before = last_change(auth_server)
    name = unique("gql-reader")
    r = requests.post(
        url,
        json={
            "query": "mutation($n: String!) { createRegisteredModel(input: {name: $n}) { id } }",
            "variables": {"n": name},
        },
        headers=auth_server.headers("READER"),
        timeout=HTTP_TIMEOUT_S,
    )
    assert r.status_code < 500, r.text
    errors = r.json().get("errors") or []
    assert errors and errors[0]["extensions"]["code"] == "FORBIDDEN", r.text
    assert last_change(auth_server) == before


# --------------------------------------------------------------------------- updates


def test_update_registered_model(mr):
    name = unique("upd-rm")
    register(mr, name)
    before = mr.get_registered_model(name)
    time.sleep(0.01)  # so that a bumped update time is visibly later

    before.description = "updated"
    before.custom_properties = {"team": "vision", "stars": 5, "score": 0.5, "public": True}
    out = mr.update(before)
    assert out.id == before.id
    assert out.description == "updated"

    got = mr.get_registered_model(name)
    assert got.description == "updated"
    assert got.owner == "pytest"  # default owner is the client's author
    assert_same_typed(got.custom_properties, {"team": "vision", "stars": 5, "score": 0.5, "public": True})
    assert got.create_time_since_epoch == before.create_time_since_epoch
    assert int(got.last_update_time_since_epoch) > int(before.last_update_time_since_epoch)

    # change a value's type and add a key: the new types must stick
    got.custom_properties = {"team": "nlp", "stars": 5.5, "score": 1, "public": False, "new": "key"}
    mr.update(got)
    again = mr.get_registered_model(name)
    assert_same_typed(again.custom_properties, {"team": "nlp", "stars": 5.5, "score": 1, "public": False, "new": "key"})


def test_update_model_version(mr):
    name = unique("upd-mv")
    register(mr, name, metadata={"epochs": 3, "accuracy": 0.97})
    mv = mr.get_model_version(name, "v1")

    mv.description = "v1 updated"
    mv.author = "someone-else"
    mv.custom_properties = {"epochs": 4, "accuracy": 0.98, "notes": "retrained", "approved": True}
    out = mr.update(mv)
    assert out.id == mv.id
    assert out.description == "v1 updated"

    got = mr.get_model_version(name, "v1")
    assert got.id == mv.id
    assert got.name == "v1"
    assert got.description == "v1 updated"
    assert got.author == "someone-else"
    assert got.registered_model_id == mv.registered_model_id
    assert_same_typed(got.custom_properties, {"epochs": 4, "accuracy": 0.98, "notes": "retrained", "approved": True})


def test_update_model_artifact(mr):
    name = unique("upd-ma")
    register(mr, name)
    ma = mr.get_model_artifact(name, "v1")

    ma.model_format_version = "2"
    ma.storage_path = "models/v2"
    ma.description = "re-exported"
    ma.state = ArtifactState.LIVE
    ma.custom_properties = {"size_bytes": 1024, "quantized": False}
    out = mr.update(ma)
    assert out.id == ma.id
    assert out.model_format_version == "2"

    got = mr.get_model_artifact(name, "v1")
    assert got.id == ma.id
    assert got.uri == ma.uri
    assert got.model_format_name == "onnx"
    assert got.model_format_version == "2"
    assert got.storage_path == "models/v2"
    assert got.description == "re-exported"
    assert got.state == ArtifactState.LIVE
    assert_same_typed(got.custom_properties, {"size_bytes": 1024, "quantized": False})


def test_archive_and_restore_model_and_version(mr):
    name = unique("archive")
    register(mr, name)

    rm = mr.get_registered_model(name)
    rm.state = RegisteredModelState.ARCHIVED
    assert mr.update(rm).state == RegisteredModelState.ARCHIVED
    assert mr.get_registered_model(name).state == RegisteredModelState.ARCHIVED

    mv = mr.get_model_version(name, "v1")
    mv.state = ModelVersionState.ARCHIVED
    assert mr.update(mv).state == ModelVersionState.ARCHIVED
    archived = mr.get_model_version(name, "v1")
    assert archived.state == ModelVersionState.ARCHIVED
    # archiving changes nothing else
    assert archived.name == "v1" and archived.registered_model_id == rm.id

    # archiving is reversible
    archived.state = ModelVersionState.LIVE
    mr.update(archived)
    assert mr.get_model_version(name, "v1").state == ModelVersionState.LIVE
    rm = mr.get_registered_model(name)
    rm.state = RegisteredModelState.LIVE
    mr.update(rm)
    assert mr.get_registered_model(name).state == RegisteredModelState.LIVE


# --------------------------------------------------------------------------- listing


def _register_many(mr: ModelRegistry, prefix: str, n: int) -> list[str]:
    names = []
    for i in range(n):
        name = f"{prefix}-{i}"
        register(mr, name)
        names.append(name)
        time.sleep(0.003)  # distinct creation milliseconds
    return names


def _take(pager) -> list:
    items = list(islice(pager, PAGER_GUARD))
    assert len(items) < PAGER_GUARD, "pager never stopped: the server's page tokens are not stable"
    return items


def test_list_models_by_id_over_several_pages(fresh_mr):
    names = _register_many(fresh_mr, "page", 7)

    asc = _take(fresh_mr.get_registered_models().order_by_id().page_size(3))
    assert [m.name for m in asc] == names, "each model exactly once, in id order"
    ids = [int(m.id) for m in asc]
    assert ids == sorted(ids) and len(set(ids)) == 7

    desc = _take(fresh_mr.get_registered_models().order_by_id().descending().page_size(3))
    assert [m.name for m in desc] == names[::-1]

    # a page size larger than the list, and no page size at all (the server's default)
    assert [m.name for m in _take(fresh_mr.get_registered_models().order_by_id().page_size(100))] == names
    assert sorted(m.name for m in _take(fresh_mr.get_registered_models())) == sorted(names)

    # page size 1: seven round trips plus the wrap-around one
    assert [m.name for m in _take(fresh_mr.get_registered_models().order_by_id().page_size(1))] == names


def test_list_models_by_creation_time(fresh_mr):
    names = _register_many(fresh_mr, "ctime", 7)

    asc = _take(fresh_mr.get_registered_models().order_by_creation_time().page_size(3))
    assert [m.name for m in asc] == names
    times = [int(m.create_time_since_epoch) for m in asc]
    assert times == sorted(times)

    desc = _take(fresh_mr.get_registered_models().order_by_creation_time().descending().page_size(2))
    assert [m.name for m in desc] == names[::-1]


def test_list_models_by_update_time(fresh_mr):
    names = _register_many(fresh_mr, "utime", 4)
    time.sleep(0.01)
    first = fresh_mr.get_registered_model(names[0])
    first.description = "touched last"
    fresh_mr.update(first)

    ordered = _take(fresh_mr.get_registered_models().order_by_update_time().page_size(3))
    assert [m.name for m in ordered] == names[1:] + names[:1]
    desc = _take(fresh_mr.get_registered_models().order_by_update_time().descending().page_size(3))
    assert desc[0].name == names[0]


def test_list_versions_of_a_model(fresh_mr):
    name = "versions"
    versions = [f"v{i}" for i in range(6)]  # a multiple of the page size: the last page is full
    for v in versions:
        register(fresh_mr, name, v)
        time.sleep(0.003)
    register(fresh_mr, "other-model", "v0")  # must not leak into the list

    asc = _take(fresh_mr.get_model_versions(name).order_by_id().page_size(3))
    assert [v.name for v in asc] == versions
    desc = _take(fresh_mr.get_model_versions(name).order_by_creation_time().descending().page_size(4))
    assert [v.name for v in desc] == versions[::-1]
    rm_id = fresh_mr.get_registered_model(name).id
    assert {v.registered_model_id for v in asc} == {rm_id}


# --------------------------------------------------------------------------- GraphQL interop


def test_graphql_sees_what_the_client_registered(mr, auth_server: Endpoint):
    server, reader = auth_server.url, auth_server.token("READER")
    name = unique("to-gql")
    rm = register(mr, name, metadata={"epochs": 3, "accuracy": 0.97})
    mv = mr.get_model_version(name, "v1")
    ma = mr.get_model_artifact(name, "v1")

    data = gql(server, "query($id: ID!) { registeredModel(id: $id) { id name owner state } }", {"id": rm.id}, reader)
    assert data["registeredModel"] == {"id": rm.id, "name": name, "owner": "pytest", "state": "LIVE"}

    data = gql(
        server,
        "query($name: String!) {"
        "  registeredModel(name: $name) { id versions { nodes { id name registeredModelId } } } }",
        {"name": name},
        reader,
    )
    assert data["registeredModel"]["id"] == rm.id
    assert data["registeredModel"]["versions"]["nodes"] == [{"id": mv.id, "name": "v1", "registeredModelId": rm.id}]

    data = gql(
        server,
        "query($id: ID!) { artifact(id: $id) { id name artifactType ... on ModelArtifact { uri modelVersionId } } }",
        {"id": ma.id},
        reader,
    )
    assert data["artifact"]["id"] == ma.id
    assert data["artifact"]["name"] == name
    assert data["artifact"]["uri"] == ma.uri
    assert data["artifact"]["modelVersionId"] == mv.id


def test_client_sees_what_graphql_created(mr, auth_server: Endpoint):
    server, editor = auth_server.url, auth_server.token("EDITOR")
    name = unique("from-gql")
    data = gql(
        server,
        'mutation($name: String!) { createRegisteredModel(input: {name: $name, owner: "gql-owner"}) { id } }',
        {"name": name},
        editor,
    )
    rm_id = data["createRegisteredModel"]["id"]
    got = mr.get_registered_model(name)
    assert got is not None
    assert (got.id, got.owner) == (rm_id, "gql-owner")

    # registerModel: model + version + model artifact in one mutation, typed properties
    props = {"epochs": 3, "accuracy": 0.97, "whole": 2.0, "framework": "pytorch", "ok": True}
    data = gql(
        server,
        "mutation($input: RegisterModelInput!) {"
        "  registerModel(input: $input) { id registeredModel { id } artifacts { nodes { id } } } }",
        {
            "input": {
                "name": name,
                "version": "g1",
                "uri": "s3://bucket/from-gql.onnx",
                "modelFormatName": "onnx",
                "modelFormatVersion": "1",
                "author": "gql-author",
                "customProperties": props,
            }
        },
        editor,
    )
    reg = data["registerModel"]
    assert reg["registeredModel"]["id"] == rm_id, "registerModel reuses the model of that name"

    mv = mr.get_model_version(name, "g1")
    assert mv is not None
    assert mv.id == reg["id"]
    assert mv.author == "gql-author"
    assert mv.registered_model_id == rm_id
    assert_same_typed(mv.custom_properties, props)

    # the version's artifacts over REST (the prefix this client uses) carry the same ids
    r = requests.get(
        f"{server}{rest_prefix()}/model_versions/{mv.id}/artifacts",
        headers=auth_server.headers("READER"),
        timeout=HTTP_TIMEOUT_S,
    )
    assert r.status_code == 200, r.text
    rest_ids = sorted(a["id"] for a in r.json()["items"])
    assert rest_ids == sorted(n["id"] for n in reg["artifacts"]["nodes"])
    assert len(rest_ids) == 1
    assert r.json()["items"][0]["uri"] == "s3://bucket/from-gql.onnx"


# --------------------------------------------------------------------------- experiments (0.3.14)


@pytest.mark.skipif(
    not HAS_EXPERIMENTS,
    reason=f"model-registry {CLIENT_VERSION} has no experiment-tracking API (only 0.3.14 of the two pinned versions)",
)
def test_experiment_run_logging(mr):
    exp_name = unique("exp")
    with mr.start_experiment_run(experiment_name=exp_name, run_description="first run") as run:
        run.log_param("learning_rate", 0.01)
        run.log_param("optimizer", "adam")
        run.log_metric("accuracy", 0.93, step=2)
    assert run.info.id.isdigit() and run.info.experiment_id.isdigit()

    runs = _take(mr.get_experiment_runs(experiment_name=exp_name))
    assert [r.id for r in runs] == [run.info.id]
    assert runs[0].experiment_id == run.info.experiment_id

    logs = {a.name: a for a in _take(mr.get_experiment_run_logs(run_id=run.info.id))}
    assert set(logs) == {"learning_rate", "optimizer", "accuracy"}
    assert logs["learning_rate"].value == 0.01
    assert logs["optimizer"].value == "adam"
    assert logs["accuracy"].value == 0.93 and type(logs["accuracy"].value) is float
    assert logs["accuracy"].step == 2

    assert exp_name in {e.name for e in _take(mr.get_experiments())}
