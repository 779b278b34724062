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
  first page, with the same token as before.
"""

from __future__ import annotations

import inspect
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

from harness import HTTP_TIMEOUT_S, gql, unique

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
    scheme, the port separately, is_secure=False, and an author."""
    parts = urllib.parse.urlsplit(base_url)
    with warnings.catch_warnings():
        # "User access token is missing": expected, this server needs none.
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


@pytest.fixture
def mr(server, monkeypatch) -> ModelRegistry:
    # A token path in the environment would change what the constructor reads.
    monkeypatch.delenv("KF_PIPELINES_SA_TOKEN_PATH", raising=False)
    return connect(server)


@pytest.fixture
def fresh_mr(fresh_server, monkeypatch) -> ModelRegistry:
    monkeypatch.delenv("KF_PIPELINES_SA_TOKEN_PATH", raising=False)
    return connect(fresh_server)


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


def test_bearer_token_is_accepted(server, monkeypatch):
    # In a cluster the client sends `Authorization: Bearer <service-account token>`;
    # modelgraph has no auth and must simply accept it.
    monkeypatch.delenv("KF_PIPELINES_SA_TOKEN_PATH", raising=False)
    client = connect(server, user_token="not-a-real-token")
    name = unique("token")
    rm = register(client, name)
    assert client.get_registered_model(name).id == rm.id


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


def test_graphql_sees_what_the_client_registered(mr, server):
    name = unique("to-gql")
    rm = register(mr, name, metadata={"epochs": 3, "accuracy": 0.97})
    mv = mr.get_model_version(name, "v1")
    ma = mr.get_model_artifact(name, "v1")

    data = gql(server, "query($id: ID!) { registeredModel(id: $id) { id name owner state } }", {"id": rm.id})
    assert data["registeredModel"] == {"id": rm.id, "name": name, "owner": "pytest", "state": "LIVE"}

    data = gql(
        server,
        "query($name: String!) {"
        "  registeredModel(name: $name) { id versions { nodes { id name registeredModelId } } } }",
        {"name": name},
    )
    assert data["registeredModel"]["id"] == rm.id
    assert data["registeredModel"]["versions"]["nodes"] == [{"id": mv.id, "name": "v1", "registeredModelId": rm.id}]

    data = gql(
        server,
        "query($id: ID!) { artifact(id: $id) { id name artifactType ... on ModelArtifact { uri modelVersionId } } }",
        {"id": ma.id},
    )
    assert data["artifact"]["id"] == ma.id
    assert data["artifact"]["name"] == name
    assert data["artifact"]["uri"] == ma.uri
    assert data["artifact"]["modelVersionId"] == mv.id


def test_client_sees_what_graphql_created(mr, server):
    name = unique("from-gql")
    data = gql(
        server,
        'mutation($name: String!) { createRegisteredModel(input: {name: $name, owner: "gql-owner"}) { id } }',
        {"name": name},
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
    r = requests.get(f"{server}{rest_prefix()}/model_versions/{mv.id}/artifacts", timeout=HTTP_TIMEOUT_S)
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
