"""OpenLineage ingestion, driven by the real openlineage-python client.

Events are built with the client's own classes (RunEvent, SchemaDatasetFacet,
ColumnLineageDatasetFacet, ParentRunFacet, DatasetVersionDatasetFacet, ...) and sent by
its HttpTransport to `POST /api/v1/lineage` of a real modelgraph server (SQLite and
PostgreSQL, one server per backend for this module). What the server made of them is
read back through GraphQL with the `gql` client (which validates every query against the
server's introspected schema first) and through the Marquez-shaped
`GET /api/v1/lineage`.

Every test names its own jobs, runs, namespaces and datasets, so tests sharing the
module's server do not see each other's nodes. Bad events are posted as raw JSON: the
client's classes refuse to build them, so each one starts from what the client serialises
for a valid event and breaks one field.

The server is authenticated (conftest's `auth_module_server`: tokens made with
`modelgraph token create` before `serve`). The client sends the EDITOR token the way a
user configures it, `auth: {type: api_key, apiKey: TOKEN}` in the HTTP transport's config
(its ApiKeyTokenProvider turns that into `Authorization: Bearer TOKEN`); the GraphQL reads
use the ADMIN token. The authentication tests check the refusals: no api key or a bad one
is a 401 (the client raises requests.HTTPError from `emit`, it does not swallow it), a
READER's key a 403, and a refused event writes nothing.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest
import requests
from gql import Client, GraphQLRequest
from gql.transport.requests import RequestsHTTPTransport
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import (
    DatasetEvent,
    InputDataset,
    Job,
    JobEvent,
    OutputDataset,
    Run,
    RunEvent,
    RunState,
    StaticDataset,
)
from openlineage.client.facet_v2 import (
    column_lineage_dataset,
    dataset_version_dataset,
    error_message_run,
    parent_run,
    schema_dataset,
)
from openlineage.client.serde import Serde
from openlineage.client.transport.http import HttpConfig, HttpTransport
from openlineage.client.uuid import generate_new_uuid

from harness import HTTP_TIMEOUT_S, Endpoint, bearer, last_change, unique

PRODUCER = "https://example.com/modelgraph/tests/python/openlineage"
LINEAGE_PATH = "/api/v1/lineage"
# What the contract allows between an eventTime and the DateTime read back (the server may
# keep milliseconds only).
TIME_TOLERANCE = timedelta(milliseconds=1)
T0 = datetime(2026, 11, 26, 10, 0, 0, 123000, tzinfo=timezone.utc)


# --------------------------------------------------------------------------- helpers


def iso(t: datetime, tz: timezone = timezone.utc) -> str:
    """An RFC 3339 eventTime with milliseconds, in the given offset ('Z' for UTC)."""
    s = t.astimezone(tz).isoformat(timespec="milliseconds")
    return s.replace("+00:00", "Z") if tz == timezone.utc else s


def parse_dt(value: str | None) -> datetime:
    assert value, f"expected a DateTime, got {value!r}"
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, f"DateTime {value!r} has no offset (RFC 3339 needs one)"
    return parsed


def assert_time(value: str | None, expected: datetime, what: str) -> None:
    got = parse_dt(value)
    assert abs(got - expected) <= TIME_TOLERANCE, f"{what}: got {value!r}, expected {iso(expected)}"


def new_run_id() -> str:
    """A run id as the client makes them (UUIDv7)."""
    return str(generate_new_uuid())


def ns_s3() -> str:
    return f"s3://{unique('bucket')}"


def schema_facet(*fields: schema_dataset.SchemaDatasetFacetFields) -> schema_dataset.SchemaDatasetFacet:
    return schema_dataset.SchemaDatasetFacet(fields=list(fields))


def col(name: str, type_: str | None = None, description: str | None = None, fields=None):
    return schema_dataset.SchemaDatasetFacetFields(
        name=name, type=type_, description=description, fields=list(fields or [])
    )


def transformation(type_: str, subtype: str | None = None, description: str | None = None, masking=None):
    return column_lineage_dataset.Transformation(type=type_, subtype=subtype, description=description, masking=masking)


def input_field(namespace: str, name: str, field_: str, *transformations):
    return column_lineage_dataset.InputField(
        namespace=namespace, name=name, field=field_, transformations=list(transformations)
    )


def column_lineage(mapping: dict[str, list[column_lineage_dataset.InputField]]):
    return column_lineage_dataset.ColumnLineageDatasetFacet(
        fields={out: column_lineage_dataset.Fields(inputFields=inputs) for out, inputs in mapping.items()}
    )


def version_facet(version: str) -> dataset_version_dataset.DatasetVersionDatasetFacet:
    return dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=version)


def run_event(
    event_type: RunState,
    when: str,
    job: tuple[str, str],
    run_id: str,
    inputs: list[InputDataset] | None = None,
    outputs: list[OutputDataset] | None = None,
    run_facets: dict | None = None,
) -> RunEvent:
    return RunEvent(
        eventType=event_type,
        eventTime=when,
        run=Run(runId=run_id, facets=dict(run_facets or {})),
        job=Job(namespace=job[0], name=job[1]),
        producer=PRODUCER,
        inputs=list(inputs or []),
        outputs=list(outputs or []),
    )


# --------------------------------------------------------------------------- clients


@dataclass
class Emitter:
    """The real OpenLineageClient over HttpTransport, with every HTTP answer recorded.
    The transport is configured from a mapping, as the client reads its own config
    (HttpConfig.from_dict): `auth: {type: api_key, apiKey: ...}` when `api_key` is given,
    no `auth` at all otherwise."""

    base_url: str
    api_key: str | None = None
    responses: list[requests.Response] = field(default_factory=list)

    def __post_init__(self) -> None:
        session = requests.Session()
        session.hooks["response"].append(lambda r, *_a, **_k: self.responses.append(r))
        params = {
            "url": self.base_url,
            "endpoint": "api/v1/lineage",
            "timeout": HTTP_TIMEOUT_S,
            "session": session,
            # No client-side retries (from_dict merges this over the defaults, which
            # retry 5xx): a replay must be one we chose to send.
            "retry": {"total": 0, "status_forcelist": []},
        }
        if self.api_key is not None:
            params["auth"] = {"type": "api_key", "apiKey": self.api_key}
        self.client = OpenLineageClient(transport=HttpTransport(HttpConfig.from_dict(params)))

    def send(self, event) -> tuple[requests.Response, requests.HTTPError | None]:
        """Send one event with the client; the answer, and what `emit` raised for it."""
        before = len(self.responses)
        error = None
        try:
            self.client.emit(event)
        except requests.HTTPError as e:
            error = e
        assert len(self.responses) == before + 1, "the client did not send exactly one request"
        r = self.responses[-1]
        assert r.request.url.endswith(LINEAGE_PATH), r.request.url
        return r, error

    def emit(self, event) -> requests.Response:
        """Send one event with the client; it must be answered 201."""
        r, error = self.send(event)
        if error is not None:
            pytest.fail(f"client.emit: {r.status_code} {r.text}\nevent: {Serde.to_json(event)}", pytrace=False)
        assert r.status_code == 201, f"POST {LINEAGE_PATH} -> {r.status_code}: {r.text}"
        return r


class GraphQL:
    """The `gql` client with its requests transport; queries are validated against the
    server's introspected schema before they are sent."""

    def __init__(self, base_url: str, token: str) -> None:
        self.client = Client(
            transport=RequestsHTTPTransport(
                url=f"{base_url}/graphql", headers=bearer(token), timeout=int(HTTP_TIMEOUT_S)
            ),
            fetch_schema_from_transport=True,
        )

    def __call__(self, query: str, **variables) -> dict:
        return self.client.execute(GraphQLRequest(query, variable_values=variables))


@pytest.fixture(scope="module")
def lineage_server(auth_module_server: Endpoint) -> Endpoint:
    """The module's authenticated server (one per backend)."""
    return auth_module_server


@pytest.fixture(scope="module")
def base_url(lineage_server: Endpoint) -> str:
    return lineage_server.url


@pytest.fixture(scope="module")
def ol(lineage_server: Endpoint) -> Emitter:
    """The client with the EDITOR token as its api key."""
    return Emitter(lineage_server.url, api_key=lineage_server.token("EDITOR"))


@pytest.fixture(scope="module")
def q(lineage_server: Endpoint) -> GraphQL:
    return GraphQL(lineage_server.url, lineage_server.token("ADMIN"))


# --------------------------------------------------------------------------- GraphQL reads

RUN_FIELDS = """
  id name externalId status startTime endTime revision lastUpdateTime
  experiment { id name namespace revision lastUpdateTime }
  inputs { id kind name }
  outputs { id kind name }
"""

DATASET_FIELDS = "id kind name namespace uri revision lastUpdateTime"

SCHEMA_FIELDS = "schemaFields { name type description fields { name type description fields { name type } } }"

COLUMN_LINEAGE = (
    "columnLineage { field inputs { namespace name field transformations { type subtype description masking } } }"
)

LINEAGE = """
query($start: [ID!]!, $direction: LineageDirection!, $maxDepth: Int!, $edgeKinds: [EdgeKind!]) {
  lineage(start: $start, direction: $direction, maxDepth: $maxDepth, edgeKinds: $edgeKinds) {
    nodes { depth direction node { id kind name } }
    edges { kind source { id } target { id } }
    truncated
  }
}
"""


def find_runs(q: GraphQL, run_id: str, fields: str = RUN_FIELDS) -> list[dict]:
    data = q(
        f"""query($ext: String!) {{
              experimentRuns(filter: {{externalId: $ext}}) {{ totalCount nodes {{ {fields} }} }}
            }}""",
        ext=run_id,
    )["experimentRuns"]
    assert data["totalCount"] == len(data["nodes"]), data
    return data["nodes"]


def one_run(q: GraphQL, run_id: str, fields: str = RUN_FIELDS) -> dict:
    runs = find_runs(q, run_id, fields)
    assert len(runs) == 1, f"expected one run with externalId {run_id}, got {runs}"
    return runs[0]


def find_experiments(q: GraphQL, namespace: str, name: str) -> list[dict]:
    data = q(
        """query($ns: String!, $name: String!) {
             experiments(filter: {namespace: $ns, name: {eq: $name}}) {
               totalCount nodes { id name namespace revision lastUpdateTime }
             }
           }""",
        ns=namespace,
        name=name,
    )["experiments"]
    assert data["totalCount"] == len(data["nodes"]), data
    return data["nodes"]


def datasets_in(q: GraphQL, namespace: str, fields: str = DATASET_FIELDS) -> list[dict]:
    data = q(
        f"""query($ns: String!) {{
              datasets(filter: {{namespace: $ns}}, first: 100) {{ totalCount nodes {{ {fields} }} }}
            }}""",
        ns=namespace,
    )["datasets"]
    assert data["totalCount"] == len(data["nodes"]), data
    return data["nodes"]


def find_datasets(q: GraphQL, namespace: str, name: str, fields: str = DATASET_FIELDS) -> list[dict]:
    data = q(
        f"""query($ns: String!, $name: String!) {{
              datasets(filter: {{namespace: $ns, name: {{eq: $name}}}}) {{ totalCount nodes {{ {fields} }} }}
            }}""",
        ns=namespace,
        name=name,
    )["datasets"]
    assert data["totalCount"] == len(data["nodes"]), data
    return data["nodes"]


def one_dataset(q: GraphQL, namespace: str, name: str, fields: str = DATASET_FIELDS) -> dict:
    found = find_datasets(q, namespace, name, fields)
    assert len(found) == 1, f"expected one dataset {namespace} / {name}, got {found}"
    return found[0]


def totals(q: GraphQL) -> dict[str, int]:
    data = q("""{ experiments { totalCount } experimentRuns { totalCount } datasets { totalCount } }""")
    return {k: v["totalCount"] for k, v in data.items()}


def lineage(q: GraphQL, start: list[str], direction: str, max_depth: int, edge_kinds=None) -> dict:
    return q(LINEAGE, start=start, direction=direction, maxDepth=max_depth, edgeKinds=edge_kinds)["lineage"]


def edge_set(graph: dict) -> set[tuple[str, str, str]]:
    return {(e["kind"], e["source"]["id"], e["target"]["id"]) for e in graph["edges"]}


def schema_as_dicts(fields: list[schema_dataset.SchemaDatasetFacetFields]) -> list[dict]:
    """What `schemaFields` must read back for a schema facet (two nesting levels here)."""

    def one(f, depth):
        d = {"name": f.name, "type": f.type}
        if depth < 2:
            d["description"] = f.description
            d["fields"] = [one(c, depth + 1) for c in f.fields or []]
        elif f.fields:
            raise AssertionError("test schemas nest two levels at most")
        return d

    return [one(f, 0) for f in fields]


def normalise_schema(fields: list[dict], depth: int = 0) -> list[dict]:
    out = []
    for f in fields:
        d = {"name": f["name"], "type": f["type"]}
        if depth < 2:
            d["description"] = f["description"]
            d["fields"] = normalise_schema(f["fields"], depth + 1)
        out.append(d)
    return out


def column_lineage_as_dicts(mapping: dict[str, list[column_lineage_dataset.InputField]]) -> dict[str, list[dict]]:
    return {
        out: [
            {
                "namespace": i.namespace,
                "name": i.name,
                "field": i.field,
                "transformations": [
                    {"type": t.type, "subtype": t.subtype, "description": t.description, "masking": t.masking}
                    for t in i.transformations or []
                ],
            }
            for i in inputs
        ]
        for out, inputs in mapping.items()
    }


def column_lineage_by_field(entries: list[dict]) -> dict[str, list[dict]]:
    fields = [e["field"] for e in entries]
    assert len(fields) == len(set(fields)), f"columnLineage lists a field twice: {fields}"
    return {e["field"]: e["inputs"] for e in entries}


# --------------------------------------------------------------------------- a full run


@dataclass
class TrainingRun:
    job: tuple[str, str]
    run_id: str
    ns: str
    train: str
    labels: str
    features: str
    schemas: dict[str, list]
    lineage_map: dict[str, list]
    start_time: datetime
    end_time: datetime
    events: list[RunEvent]


def training_run(ol: Emitter, start_time: datetime = T0) -> TrainingRun:
    """START then COMPLETE of a job that reads two datasets and writes one, with schema
    facets on all three and column lineage on the output."""
    ns = ns_s3()
    job = (unique("ml"), unique("train_model"))
    run_id = new_run_id()
    train, labels, features = "train.csv", "labels.csv", "features/part-0.parquet"
    schemas = {
        train: [
            col("x", "double", "first feature"),
            col("y", "double"),
            col("meta", "struct", "where the row came from", [col("source", "string"), col("row", "bigint")]),
        ],
        labels: [col("id", "bigint", "row id"), col("label", "string", "the class")],
        features: [col("feature_x", "double"), col("label", "string"), col("label_hash", "string")],
    }
    lineage_map = {
        "feature_x": [input_field(ns, train, "x", transformation("DIRECT", "IDENTITY", "copied", False))],
        "label": [
            input_field(ns, labels, "label", transformation("DIRECT", "IDENTITY")),
            input_field(ns, labels, "id", transformation("INDIRECT", "JOIN", "joined on id")),
        ],
        "label_hash": [
            input_field(ns, labels, "label", transformation("DIRECT", "TRANSFORMATION", "sha256(label)", True))
        ],
    }

    def inputs():
        return [
            InputDataset(namespace=ns, name=train, facets={"schema": schema_facet(*schemas[train])}),
            InputDataset(namespace=ns, name=labels, facets={"schema": schema_facet(*schemas[labels])}),
        ]

    end_time = start_time + timedelta(seconds=90, milliseconds=500)
    # START in a +02:00 offset: the server must keep the instant, not the wall clock.
    start = run_event(RunState.START, iso(start_time, timezone(timedelta(hours=2))), job, run_id, inputs())
    complete = run_event(
        RunState.COMPLETE,
        iso(end_time),
        job,
        run_id,
        inputs(),
        [
            OutputDataset(
                namespace=ns,
                name=features,
                facets={"schema": schema_facet(*schemas[features]), "columnLineage": column_lineage(lineage_map)},
            )
        ],
    )
    ol.emit(start)
    ol.emit(complete)
    return TrainingRun(
        job, run_id, ns, train, labels, features, schemas, lineage_map, start_time, end_time, [start, complete]
    )


@pytest.fixture(scope="module")
def trained(ol: Emitter) -> TrainingRun:
    return training_run(ol)


def test_job_becomes_an_experiment(q: GraphQL, trained: TrainingRun):
    experiments = find_experiments(q, *trained.job)
    assert len(experiments) == 1, experiments
    exp = experiments[0]
    assert (exp["namespace"], exp["name"]) == trained.job
    # The same job name in another namespace is not this experiment.
    assert find_experiments(q, unique("other-ns"), trained.job[1]) == []


def test_run_is_finished_with_both_times(q: GraphQL, trained: TrainingRun):
    run = one_run(q, trained.run_id)
    assert run["externalId"] == trained.run_id
    assert run["name"] == trained.run_id
    assert run["status"] == "FINISHED"
    assert_time(run["startTime"], trained.start_time, "startTime (from the START eventTime)")
    assert_time(run["endTime"], trained.end_time, "endTime (from the COMPLETE eventTime)")
    assert (run["experiment"]["namespace"], run["experiment"]["name"]) == trained.job


def test_inputs_and_outputs_are_datasets_with_lineage_edges(q: GraphQL, trained: TrainingRun):
    datasets = {d["name"]: d for d in datasets_in(q, trained.ns)}
    assert set(datasets) == {trained.train, trained.labels, trained.features}
    for name, d in datasets.items():
        assert d["kind"] == "DATASET"
        assert d["namespace"] == trained.ns
        assert d["uri"] == f"{trained.ns}/{name}"

    run = one_run(q, trained.run_id)
    assert sorted((n["kind"], n["name"]) for n in run["inputs"]) == [
        ("DATASET", trained.labels),
        ("DATASET", trained.train),
    ]
    assert [(n["kind"], n["name"]) for n in run["outputs"]] == [("DATASET", trained.features)]

    graph = lineage(q, [run["id"]], "BOTH", 1)
    assert edge_set(graph) == {
        ("INPUT", datasets[trained.train]["id"], run["id"]),
        ("INPUT", datasets[trained.labels]["id"], run["id"]),
        ("OUTPUT", run["id"], datasets[trained.features]["id"]),
    }

    ds_fields = "id producedBy { id externalId } consumedBy { id externalId status }"
    out = one_dataset(q, trained.ns, trained.features, ds_fields)
    assert [r["externalId"] for r in out["producedBy"]] == [trained.run_id]
    assert out["consumedBy"] == []
    train = one_dataset(q, trained.ns, trained.train, ds_fields)
    assert train["consumedBy"] == [{"id": run["id"], "externalId": trained.run_id, "status": "FINISHED"}]
    assert train["producedBy"] == []


def test_downstream_of_an_input_reaches_the_run_and_the_output(q: GraphQL, trained: TrainingRun):
    d = one_dataset(
        q, trained.ns, trained.train, "id downstream(maxDepth: 5) { nodes { depth node { id kind name } } }"
    )
    reached = {(e["node"]["kind"], e["node"]["name"]): e["depth"] for e in d["downstream"]["nodes"]}
    assert reached.get(("EXPERIMENT_RUN", trained.run_id)) == 1, reached
    assert reached.get(("DATASET", trained.features)) == 2, reached
    assert ("DATASET", trained.labels) not in reached, "a sibling input is not downstream"


def test_schema_facet_reads_back_as_schema_fields(q: GraphQL, trained: TrainingRun):
    for name, fields in trained.schemas.items():
        d = one_dataset(q, trained.ns, name, f"id {SCHEMA_FIELDS}")
        assert normalise_schema(d["schemaFields"]) == schema_as_dicts(fields), name


def test_column_lineage_reads_back_with_transformations(q: GraphQL, trained: TrainingRun):
    out = one_dataset(q, trained.ns, trained.features, f"id {COLUMN_LINEAGE}")
    assert column_lineage_by_field(out["columnLineage"]) == column_lineage_as_dicts(trained.lineage_map)
    # Only the output carried the facet.
    inp = one_dataset(q, trained.ns, trained.train, f"id {COLUMN_LINEAGE}")
    assert inp["columnLineage"] == []


# --------------------------------------------------------------------------- run states


@pytest.mark.parametrize(
    ("terminal", "status"),
    [(RunState.FAIL, "FAILED"), (RunState.ABORT, "KILLED")],
    ids=["FAIL", "ABORT"],
)
def test_terminal_event_sets_status_and_end_time(ol: Emitter, q: GraphQL, terminal: RunState, status: str):
    ns = ns_s3()
    job = (unique("ml"), unique("flaky_job"))
    run_id = new_run_id()
    t_end = T0 + timedelta(minutes=3, milliseconds=7)
    ol.emit(run_event(RunState.START, iso(T0), job, run_id, [InputDataset(namespace=ns, name="in.csv")]))
    assert one_run(q, run_id)["status"] == "RUNNING"
    facets = {}
    if terminal == RunState.FAIL:
        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message="ZeroDivisionError: division by zero", programmingLanguage="python"
        )
    ol.emit(
        run_event(terminal, iso(t_end), job, run_id, [InputDataset(namespace=ns, name="in.csv")], run_facets=facets)
    )

    run = one_run(q, run_id)
    assert run["status"] == status
    assert_time(run["startTime"], T0, "startTime")
    assert_time(run["endTime"], t_end, f"endTime (from the {terminal.value} eventTime)")
    assert [n["name"] for n in run["inputs"]] == ["in.csv"]


def test_start_and_running_leave_the_run_running(ol: Emitter, q: GraphQL):
    job = (unique("ml"), unique("long_job"))
    run_id = new_run_id()
    ol.emit(run_event(RunState.START, iso(T0), job, run_id))
    run = one_run(q, run_id)
    assert run["status"] == "RUNNING"
    assert_time(run["startTime"], T0, "startTime")
    assert run["endTime"] is None

    ol.emit(run_event(RunState.RUNNING, iso(T0 + timedelta(seconds=30)), job, run_id))
    run = one_run(q, run_id)
    assert run["status"] == "RUNNING"
    assert_time(run["startTime"], T0, "startTime (a RUNNING event does not move it)")
    assert run["endTime"] is None


def test_out_of_order_complete_then_start_ends_finished(ol: Emitter, q: GraphQL):
    ns = ns_s3()
    job = (unique("ml"), unique("racy_job"))
    run_id = new_run_id()
    t_end = T0 + timedelta(seconds=42, milliseconds=250)
    ol.emit(
        run_event(
            RunState.COMPLETE,
            iso(t_end),
            job,
            run_id,
            [InputDataset(namespace=ns, name="a.csv")],
            [OutputDataset(namespace=ns, name="b.csv")],
        )
    )
    run = one_run(q, run_id)
    assert run["status"] == "FINISHED"
    assert_time(run["endTime"], t_end, "endTime")

    ol.emit(run_event(RunState.START, iso(T0), job, run_id, [InputDataset(namespace=ns, name="a.csv")]))
    run = one_run(q, run_id)
    assert run["status"] == "FINISHED", "a late START must not undo a terminal status"
    assert_time(run["startTime"], T0, "startTime (from the late START)")
    assert_time(run["endTime"], t_end, "endTime (kept)")
    assert [n["name"] for n in run["outputs"]] == ["b.csv"]
    assert [n["name"] for n in run["inputs"]] == ["a.csv"]
    assert len(find_experiments(q, *job)) == 1


# --------------------------------------------------------------------------- replay


def snapshot(q: GraphQL, t: TrainingRun) -> dict:
    run = one_run(q, t.run_id)
    datasets = datasets_in(q, t.ns, f"{DATASET_FIELDS} {SCHEMA_FIELDS} {COLUMN_LINEAGE}")
    graph = lineage(q, [run["id"]], "BOTH", 2)
    return {
        "totals": totals(q),
        "experiments": find_experiments(q, *t.job),
        "run": run,
        "datasets": sorted(datasets, key=lambda d: d["name"]),
        "edges": sorted(edge_set(graph)),
        "edge_count": len(graph["edges"]),
    }


def test_replayed_events_change_nothing(ol: Emitter, q: GraphQL):
    t = training_run(ol, T0 + timedelta(hours=1))
    before = snapshot(q, t)
    start, complete = t.events

    first_body = ol.responses[-1].request.body
    ol.emit(complete)  # the same event object, sent again
    assert ol.responses[-1].request.body == first_body, "the client did not send the same event twice"
    after_complete = snapshot(q, t)
    assert after_complete == before, "replaying the COMPLETE event changed the registry"

    ol.emit(start)
    assert snapshot(q, t) == before, "replaying the START event changed the registry"


# --------------------------------------------------------------------------- parent runs


def test_parent_run_facet_links_child_to_parent(ol: Emitter, q: GraphQL):
    parent_job = (unique("airflow"), unique("daily_dag"))
    child_job = (parent_job[0], f"{parent_job[1]}.train_task")
    parent_id, child_id = new_run_id(), new_run_id()

    ol.emit(run_event(RunState.START, iso(T0), parent_job, parent_id))
    facet = parent_run.ParentRunFacet(
        run=parent_run.Run(runId=parent_id),
        job=parent_run.Job(namespace=parent_job[0], name=parent_job[1]),
        root=parent_run.Root(
            run=parent_run.RootRun(runId=parent_id),
            job=parent_run.RootJob(namespace=parent_job[0], name=parent_job[1]),
        ),
    )
    ol.emit(
        run_event(RunState.START, iso(T0 + timedelta(seconds=1)), child_job, child_id, run_facets={"parent": facet})
    )
    ol.emit(
        run_event(RunState.COMPLETE, iso(T0 + timedelta(seconds=9)), child_job, child_id, run_facets={"parent": facet})
    )

    fields = "id externalId status experiment { name namespace } parentRun { externalId }"
    child = one_run(q, child_id, fields)
    assert child["parentRun"] == {"externalId": parent_id}
    assert child["status"] == "FINISHED"
    assert (child["experiment"]["namespace"], child["experiment"]["name"]) == child_job
    parent = one_run(q, parent_id, fields)
    assert parent["parentRun"] is None
    assert (parent["experiment"]["namespace"], parent["experiment"]["name"]) == parent_job
    # The parent link is not a second run for the parent id.
    assert len(find_runs(q, parent_id, "id")) == 1


# --------------------------------------------------------------------------- dataset versions


def test_dataset_versions_chain_by_derived_from(ol: Emitter, q: GraphQL):
    ns = ns_s3()
    job = (unique("etl"), unique("write_events"))
    name = "events"
    runs = []
    for i, version in enumerate(["v1", "v2"]):
        run_id = new_run_id()
        runs.append(run_id)
        t = T0 + timedelta(hours=i)
        out = OutputDataset(
            namespace=ns,
            name=name,
            facets={"version": version_facet(version), "schema": schema_facet(col("id", "bigint"))},
        )
        ol.emit(run_event(RunState.START, iso(t), job, run_id))
        ol.emit(run_event(RunState.COMPLETE, iso(t + timedelta(minutes=1)), job, run_id, outputs=[out]))

    plain = one_dataset(q, ns, name)
    v1 = one_dataset(q, ns, f"{name}@v1")
    v2 = one_dataset(q, ns, f"{name}@v2")
    assert v1["namespace"] == ns and v2["namespace"] == ns
    assert len({plain["id"], v1["id"], v2["id"]}) == 3

    graph = lineage(q, [plain["id"]], "DOWNSTREAM", 5, ["DERIVED_FROM"])
    assert edge_set(graph) == {
        ("DERIVED_FROM", plain["id"], v1["id"]),
        ("DERIVED_FROM", v1["id"], v2["id"]),
    }, "versions chain plain -> v1 -> v2 (each derived from the previous one)"

    # Each run's write reaches the version it wrote.
    for run_id, version in zip(runs, (v1, v2), strict=True):
        run = one_run(q, run_id, "id")
        reached = {e["node"]["id"] for e in lineage(q, [run["id"]], "DOWNSTREAM", 5)["nodes"]}
        assert version["id"] in reached, f"run {run_id} does not reach {version['name']}"

    # Replaying the v2 write makes no third version and no extra edge.
    count = len(datasets_in(q, ns))
    assert count == 3, datasets_in(q, ns)
    t = T0 + timedelta(hours=1)
    ol.emit(
        run_event(
            RunState.COMPLETE,
            iso(t + timedelta(minutes=1)),
            job,
            runs[1],
            outputs=[
                OutputDataset(
                    namespace=ns,
                    name=name,
                    facets={"version": version_facet("v2"), "schema": schema_facet(col("id", "bigint"))},
                )
            ],
        )
    )
    assert len(datasets_in(q, ns)) == count
    assert edge_set(lineage(q, [plain["id"]], "DOWNSTREAM", 5, ["DERIVED_FROM"])) == edge_set(graph)


# --------------------------------------------------------------------------- facet updates


def test_facetless_later_event_keeps_facets_and_a_new_facet_replaces_them(ol: Emitter, q: GraphQL):
    ns = ns_s3()
    src, dst = "src.csv", "dst.parquet"
    first_schema = [col("a", "int", "the a"), col("b", "string")]
    first_lineage = {"a2": [input_field(ns, src, "a", transformation("DIRECT", "TRANSFORMATION", "a * 2"))]}

    writer = (unique("etl"), unique("writer"))
    run_id = new_run_id()
    ol.emit(
        run_event(
            RunState.COMPLETE,
            iso(T0),
            writer,
            run_id,
            [InputDataset(namespace=ns, name=src)],
            [
                OutputDataset(
                    namespace=ns,
                    name=dst,
                    facets={"schema": schema_facet(*first_schema), "columnLineage": column_lineage(first_lineage)},
                )
            ],
        )
    )
    fields = f"id revision {SCHEMA_FIELDS} {COLUMN_LINEAGE}"
    d = one_dataset(q, ns, dst, fields)
    assert normalise_schema(d["schemaFields"]) == schema_as_dicts(first_schema)
    assert column_lineage_by_field(d["columnLineage"]) == column_lineage_as_dicts(first_lineage)

    # Another job reads the dataset and names it without any facet.
    reader = (unique("etl"), unique("reader"))
    ol.emit(
        run_event(
            RunState.COMPLETE,
            iso(T0 + timedelta(minutes=5)),
            reader,
            new_run_id(),
            [InputDataset(namespace=ns, name=dst)],
        )
    )
    d = one_dataset(q, ns, dst, fields)
    assert normalise_schema(d["schemaFields"]) == schema_as_dicts(first_schema), "a facet-less event dropped the schema"
    assert column_lineage_by_field(d["columnLineage"]) == column_lineage_as_dicts(first_lineage), (
        "a facet-less event dropped the column lineage"
    )

    # A later event carrying the facets replaces them (not a merge).
    second_schema = [col("a", "bigint"), col("c", "double", "new column")]
    second_lineage = {"c": [input_field(ns, src, "b", transformation("INDIRECT", "AGGREGATION", "count(b)"))]}
    ol.emit(
        run_event(
            RunState.COMPLETE,
            iso(T0 + timedelta(hours=1)),
            writer,
            new_run_id(),
            [InputDataset(namespace=ns, name=src)],
            [
                OutputDataset(
                    namespace=ns,
                    name=dst,
                    facets={"schema": schema_facet(*second_schema), "columnLineage": column_lineage(second_lineage)},
                )
            ],
        )
    )
    d = one_dataset(q, ns, dst, fields)
    assert normalise_schema(d["schemaFields"]) == schema_as_dicts(second_schema)
    assert column_lineage_by_field(d["columnLineage"]) == column_lineage_as_dicts(second_lineage)
    assert len(find_datasets(q, ns, dst)) == 1


def test_same_dataset_name_in_two_namespaces_is_two_datasets(ol: Emitter, q: GraphQL):
    ns_a, ns_b = ns_s3(), f"gs://{unique('bucket')}"
    job = (unique("etl"), unique("copy"))
    ol.emit(
        run_event(
            RunState.COMPLETE,
            iso(T0),
            job,
            new_run_id(),
            [InputDataset(namespace=ns_a, name="table", facets={"schema": schema_facet(col("a", "int"))})],
            [OutputDataset(namespace=ns_b, name="table", facets={"schema": schema_facet(col("b", "int"))})],
        )
    )
    a = one_dataset(q, ns_a, "table", f"id uri {SCHEMA_FIELDS}")
    b = one_dataset(q, ns_b, "table", f"id uri {SCHEMA_FIELDS}")
    assert a["id"] != b["id"]
    assert (a["uri"], b["uri"]) == (f"{ns_a}/table", f"{ns_b}/table")
    assert [f["name"] for f in a["schemaFields"]] == ["a"]
    assert [f["name"] for f in b["schemaFields"]] == ["b"]


# --------------------------------------------------------------------------- other event kinds


def test_dataset_event_and_job_event_are_accepted(ol: Emitter, q: GraphQL):
    ns = ns_s3()
    fields = [col("k", "string"), col("v", "double")]
    ol.emit(
        DatasetEvent(
            eventTime=iso(T0),
            producer=PRODUCER,
            dataset=StaticDataset(namespace=ns, name="static.parquet", facets={"schema": schema_facet(*fields)}),
        )
    )
    d = one_dataset(q, ns, "static.parquet", f"{DATASET_FIELDS} {SCHEMA_FIELDS}")
    assert d["uri"] == f"{ns}/static.parquet"
    assert normalise_schema(d["schemaFields"]) == schema_as_dicts(fields)

    job = (unique("ml"), unique("declared_job"))
    ol.emit(JobEvent(eventTime=iso(T0), producer=PRODUCER, job=Job(namespace=job[0], name=job[1])))
    experiments = find_experiments(q, *job)
    assert [(e["namespace"], e["name"]) for e in experiments] == [job]


# --------------------------------------------------------------------------- models


def test_registered_model_is_reachable_downstream_of_an_input(ol: Emitter, q: GraphQL):
    t = training_run(ol, T0 + timedelta(hours=2))
    run = one_run(q, t.run_id, "id")
    model_name = unique("churn-model")
    mv = q(
        """mutation($input: RegisterModelInput!) { registerModel(input: $input) { id name } }""",
        input={"name": model_name, "uri": f"{t.ns}/models/model.pkl", "producedByRun": run["id"]},
    )["registerModel"]

    # The run's OUTPUT edge to the new model version.
    graph = lineage(q, [run["id"]], "DOWNSTREAM", 1)
    assert ("OUTPUT", run["id"], mv["id"]) in edge_set(graph)

    # Walking from the input dataset: dataset -> run -> model version.
    train = one_dataset(q, t.ns, t.train, "id")
    graph = lineage(q, [train["id"]], "DOWNSTREAM", 5)
    reached = {e["node"]["id"]: (e["node"]["kind"], e["depth"]) for e in graph["nodes"]}
    assert reached.get(mv["id"]) == ("MODEL_VERSION", 2), reached
    assert graph["truncated"] is False

    # The same answer through the node's own field.
    d = one_dataset(q, t.ns, t.train, "id downstream(maxDepth: 5) { nodes { node { id kind } } }")
    assert {"id": mv["id"], "kind": "MODEL_VERSION"} in [e["node"] for e in d["downstream"]["nodes"]]


# --------------------------------------------------------------------------- Marquez-shaped GET


def marquez(server: Endpoint, node_id: str, depth: int, role: str | None = "READER") -> requests.Response:
    """GET the Marquez-shaped lineage as `role` (READER is enough; None: no token)."""
    return requests.get(
        f"{server.url}{LINEAGE_PATH}",
        params={"nodeId": node_id, "depth": depth},
        headers=server.headers(role) if role else {},
        timeout=HTTP_TIMEOUT_S,
    )


def marquez_graph(server: Endpoint, node_id: str, depth: int) -> dict[str, dict]:
    r = marquez(server, node_id, depth)
    assert r.status_code == 200, f"GET {LINEAGE_PATH}?nodeId={node_id} -> {r.status_code}: {r.text}"
    body = r.json()
    assert set(body) >= {"graph"}, body
    nodes = {}
    for n in body["graph"]:
        assert set(n) >= {"id", "type", "data", "inEdges", "outEdges"}, n
        assert n["id"] not in nodes, f"node {n['id']} listed twice"
        assert n["type"] in ("DATASET", "JOB"), f"{n['id']}: type {n['type']!r} (runs collapse into jobs)"
        assert n["id"].startswith(f"{n['type'].lower()}:"), n["id"]
        assert isinstance(n["data"], dict), n
        for e in n["inEdges"] + n["outEdges"]:
            assert set(e) >= {"origin", "destination"}, e
        for e in n["inEdges"]:
            assert e["destination"] == n["id"], f"inEdge of {n['id']} ends elsewhere: {e}"
        for e in n["outEdges"]:
            assert e["origin"] == n["id"], f"outEdge of {n['id']} starts elsewhere: {e}"
        nodes[n["id"]] = n
    # Every edge between two listed nodes shows on both of its ends.
    for n in nodes.values():
        for e in n["outEdges"]:
            if e["destination"] in nodes:
                assert e in nodes[e["destination"]]["inEdges"], f"{e} missing from the destination's inEdges"
        for e in n["inEdges"]:
            if e["origin"] in nodes:
                assert e in nodes[e["origin"]]["outEdges"], f"{e} missing from the origin's outEdges"
    return nodes


def edge(origin: str, destination: str) -> dict:
    return {"origin": origin, "destination": destination}


def test_marquez_lineage_graph(ol: Emitter, q: GraphQL, lineage_server: Endpoint):
    pg_ns, s3_ns = "postgres://db:5432", ns_s3()
    users = unique("public.users")
    raw = f"raw/{unique('users')}.parquet"
    clean = f"clean/{unique('users')}.parquet"
    job = (unique("ml"), unique("clean_users"))
    inputs = [InputDataset(namespace=pg_ns, name=users), InputDataset(namespace=s3_ns, name=raw)]
    outputs = [OutputDataset(namespace=s3_ns, name=clean)]
    for hour in (0, 1):  # two runs of one job: still one job node
        run_id = new_run_id()
        ol.emit(run_event(RunState.START, iso(T0 + timedelta(hours=hour)), job, run_id, inputs))
        ol.emit(run_event(RunState.COMPLETE, iso(T0 + timedelta(hours=hour, minutes=5)), job, run_id, inputs, outputs))

    users_id = f"dataset:{pg_ns}:{users}"
    raw_id = f"dataset:{s3_ns}:{raw}"
    clean_id = f"dataset:{s3_ns}:{clean}"
    job_id = f"job:{job[0]}:{job[1]}"

    # From an input whose namespace has '://' and a port.
    nodes = marquez_graph(lineage_server, users_id, 5)
    assert {users_id, job_id, clean_id} <= set(nodes), sorted(nodes)
    assert not [i for i in nodes if i.startswith("run:")]
    assert nodes[users_id]["type"] == "DATASET"
    assert nodes[job_id]["type"] == "JOB"
    assert nodes[clean_id]["type"] == "DATASET"
    assert edge(users_id, job_id) in nodes[users_id]["outEdges"]
    assert edge(users_id, job_id) in nodes[job_id]["inEdges"]
    assert edge(job_id, clean_id) in nodes[job_id]["outEdges"]
    assert edge(job_id, clean_id) in nodes[clean_id]["inEdges"]
    assert nodes[users_id]["inEdges"] == []
    assert nodes[clean_id]["outEdges"] == []
    assert nodes[job_id]["outEdges"] == [edge(job_id, clean_id)], "two runs collapse into one job edge"

    # From the output (an s3:// namespace, a name with '/'): upstream reaches both inputs.
    nodes = marquez_graph(lineage_server, clean_id, 5)
    assert {users_id, raw_id, job_id, clean_id} <= set(nodes), sorted(nodes)
    assert sorted(nodes[job_id]["inEdges"], key=lambda e: e["origin"]) == sorted(
        [edge(users_id, job_id), edge(raw_id, job_id)], key=lambda e: e["origin"]
    )
    assert nodes[clean_id]["inEdges"] == [edge(job_id, clean_id)]
    assert nodes[raw_id]["outEdges"] == [edge(raw_id, job_id)]


def test_marquez_lineage_unknown_node_is_404(lineage_server: Endpoint):
    r = marquez(lineage_server, f"dataset:s3://nowhere:{unique('missing')}.csv", 3)
    assert r.status_code == 404, r.text
    body = r.json()
    assert isinstance(body.get("code"), str) and body["code"], body
    assert isinstance(body.get("message"), str) and body["message"], body


# --------------------------------------------------------------------------- bad events


def valid_event() -> tuple[RunEvent, tuple[str, str], str, str]:
    """A valid START whose job, run and datasets are all new."""
    ns = ns_s3()
    job = (unique("ml"), unique("bad_job"))
    run_id = new_run_id()
    event = run_event(
        RunState.START,
        iso(T0),
        job,
        run_id,
        [
            InputDataset(namespace=ns, name="in-1.csv", facets={"schema": schema_facet(col("a", "int"))}),
            InputDataset(namespace=ns, name="in-2.csv"),
        ],
        [OutputDataset(namespace=ns, name="out.csv")],
    )
    return event, job, run_id, ns


def _drop_run_id(e: dict) -> None:
    del e["run"]["runId"]


def _set(path: list, value) -> Callable[[dict], None]:
    def mutate(e: dict) -> None:
        target = e
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _inputs_as_object(e: dict) -> None:
    e["inputs"] = e["inputs"][0]


BAD_EVENTS = [
    pytest.param("run.runId", _drop_run_id, id="missing-runId"),
    pytest.param("run.runId", _set(["run", "runId"], "not-a-uuid"), id="runId-not-uuid"),
    pytest.param("eventTime", _set(["eventTime"], "yesterday at noon"), id="eventTime-not-a-date"),
    pytest.param("inputs", _inputs_as_object, id="inputs-not-a-list"),
    pytest.param("eventType", _set(["eventType"], "FINISHED"), id="eventType-unknown"),
]


@pytest.mark.parametrize(("path", "mutate"), BAD_EVENTS)
def test_bad_event_is_400_naming_the_path_and_writes_nothing(
    ol: Emitter, q: GraphQL, lineage_server: Endpoint, path: str, mutate: Callable[[dict], None]
):
    good, job, run_id, ns = valid_event()
    bad = copy.deepcopy(Serde.to_dict(good))  # what the client serialises, then one field broken
    mutate(bad)
    before = totals(q)

    r = requests.post(
        f"{lineage_server.url}{LINEAGE_PATH}",
        data=json.dumps(bad),
        headers={"Content-Type": "application/json", **lineage_server.headers("EDITOR")},
        timeout=HTTP_TIMEOUT_S,
    )
    assert r.status_code == 400, f"{path}: {r.status_code} {r.text}\nevent: {json.dumps(bad)}"
    assert r.headers.get("Content-Type", "").split(";")[0].strip() == "application/json", r.headers
    body = r.json()
    assert isinstance(body.get("code"), str) and body["code"], body
    assert isinstance(body.get("message"), str), body
    assert path in body["message"], f"the error message does not name {path!r}: {body['message']!r}"

    assert totals(q) == before, "a rejected event wrote something"
    assert find_experiments(q, *job) == []
    assert find_runs(q, run_id, "id") == []
    assert datasets_in(q, ns) == []

    # Control: the same event unbroken is taken, so the checks above could have failed.
    ol.emit(good)
    assert len(find_experiments(q, *job)) == 1
    assert len(find_runs(q, run_id, "id")) == 1
    assert len(datasets_in(q, ns)) == 3
    after = totals(q)
    assert after["experiments"] == before["experiments"] + 1
    assert after["datasets"] == before["datasets"] + 3


# --------------------------------------------------------------------------- authentication


def assert_refused(r: requests.Response, status: int, code: str) -> dict:
    """A refusal: the status, a JSON {code, message} body and, for a 401, the
    `WWW-Authenticate: Bearer` challenge."""
    assert r.status_code == status, f"{r.request.method} {r.url} -> {r.status_code}, expected {status}: {r.text}"
    assert r.headers.get("Content-Type", "").split(";")[0].strip() == "application/json", r.headers
    body = r.json()
    assert body.get("code") == code, body
    assert isinstance(body.get("message"), str) and body["message"], body
    if status == 401:
        challenge = r.headers.get("WWW-Authenticate", "")
        assert challenge.split(" ")[0].lower() == "bearer", f"WWW-Authenticate: {challenge!r}"
    return body


def assert_nothing_written(server: Endpoint, q: GraphQL, before: int, job: tuple[str, str], run_id: str, ns: str):
    assert last_change(server) == before, "a refused event wrote something"
    assert find_experiments(q, *job) == []
    assert find_runs(q, run_id, "id") == []
    assert datasets_in(q, ns) == []


def assert_landed(q: GraphQL, job: tuple[str, str], run_id: str, ns: str) -> dict:
    """What valid_event() makes: its job, its run and its three datasets."""
    assert len(find_experiments(q, *job)) == 1
    run = one_run(q, run_id)
    assert len(datasets_in(q, ns)) == 3
    return run


def forged(token: str) -> str:
    """A token of the right shape that the server never issued."""
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def test_client_without_api_key_gets_401_and_writes_nothing(lineage_server: Endpoint, ol: Emitter, q: GraphQL):
    event, job, run_id, ns = valid_event()
    before = last_change(lineage_server)

    r, error = Emitter(lineage_server.url).send(event)
    assert "Authorization" not in r.request.headers, r.request.headers
    assert error is not None and error.response is r, "client.emit did not raise for the refusal"
    assert_refused(r, 401, "Unauthorized")

    # The same POST without the client: what the server answers, whatever a client makes of it.
    raw = requests.post(
        f"{lineage_server.url}{LINEAGE_PATH}",
        data=Serde.to_json(event),
        headers={"Content-Type": "application/json"},
        timeout=HTTP_TIMEOUT_S,
    )
    assert_refused(raw, 401, "Unauthorized")
    assert_nothing_written(lineage_server, q, before, job, run_id, ns)

    # Control: the same event with the EDITOR's api key is taken.
    r = ol.emit(event)
    assert r.request.headers["Authorization"] == f"Bearer {lineage_server.token('EDITOR')}"
    assert_landed(q, job, run_id, ns)


def test_bad_api_key_gets_401_and_writes_nothing(lineage_server: Endpoint, ol: Emitter, q: GraphQL):
    event, job, run_id, ns = valid_event()
    before = last_change(lineage_server)
    for key in ("not-a-token", forged(lineage_server.token("EDITOR"))):
        r, error = Emitter(lineage_server.url, api_key=key).send(event)
        assert error is not None, "client.emit did not raise for the refusal"
        assert r.request.headers["Authorization"] == f"Bearer {key}"
        assert_refused(r, 401, "Unauthorized")
    assert_nothing_written(lineage_server, q, before, job, run_id, ns)
    ol.emit(event)
    assert_landed(q, job, run_id, ns)


def test_reader_api_key_gets_403_and_writes_nothing(lineage_server: Endpoint, ol: Emitter, q: GraphQL):
    event, job, run_id, ns = valid_event()
    before = last_change(lineage_server)
    r, error = Emitter(lineage_server.url, api_key=lineage_server.token("READER")).send(event)
    assert error is not None, "client.emit did not raise for the refusal"
    body = assert_refused(r, 403, "Forbidden")
    assert "EDITOR" in body["message"], body
    assert_nothing_written(lineage_server, q, before, job, run_id, ns)
    ol.emit(event)
    assert_landed(q, job, run_id, ns)


def test_events_are_recorded_under_the_api_keys_subject(lineage_server: Endpoint, ol: Emitter, q: GraphQL):
    event, job, run_id, ns = valid_event()
    ol.emit(event)
    run = assert_landed(q, job, run_id, ns)
    changes = q(
        """query($ids: [ID!]) {
             changes(filter: {nodeIds: $ids}, first: 100) { nodes { actor via operation nodeId } }
           }""",
        ids=[run["id"]],
    )["changes"]["nodes"]
    assert changes, "the run has no change recorded"
    assert {(c["actor"], c["via"]) for c in changes} == {(lineage_server.subject("EDITOR"), "OPENLINEAGE")}, changes
    assert (run["id"], "CREATE") in {(c["nodeId"], c["operation"]) for c in changes}, changes


def test_client_configured_from_its_config_mapping(lineage_server: Endpoint, q: GraphQL):
    """The whole client built from a config mapping, as openlineage.yml spells it:
    transport type http, url, and `auth: {type: api_key, apiKey: ...}`."""
    client = OpenLineageClient(
        config={
            "transport": {
                "type": "http",
                "url": lineage_server.url,
                "endpoint": "api/v1/lineage",
                "auth": {"type": "api_key", "apiKey": lineage_server.token("EDITOR")},
            }
        }
    )
    assert isinstance(client.transport, HttpTransport), client.transport
    event, job, run_id, ns = valid_event()
    client.emit(event)  # raises on anything but a 2xx
    assert_landed(q, job, run_id, ns)


def test_marquez_read_needs_a_token(lineage_server: Endpoint, ol: Emitter):
    ns = ns_s3()
    job = (unique("ml"), unique("read_job"))
    ol.emit(run_event(RunState.COMPLETE, iso(T0), job, new_run_id(), [InputDataset(namespace=ns, name="in.csv")]))
    node = f"dataset:{ns}:in.csv"
    assert_refused(marquez(lineage_server, node, 2, role=None), 401, "Unauthorized")
    # an unknown node answers the same 401 without a token: nothing is told before the check
    assert_refused(marquez(lineage_server, f"dataset:{ns}:missing.csv", 2, role=None), 401, "Unauthorized")
    r = marquez(lineage_server, node, 2, role="READER")
    assert r.status_code == 200, r.text
    assert f"job:{job[0]}:{job[1]}" in {n["id"] for n in r.json()["graph"]}
