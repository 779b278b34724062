"""Property-based fuzzing of the GraphQL API with schemathesis's own GraphQL support.

The schema is the committed SDL (../../schema.graphql, kept current by the cargo test
`schema_graphql_is_current`), loaded with `schemathesis.graphql.from_path`;
`test_sdl_matches_the_served_schema` checks it against what the running binary answers
to introspection (`schemathesis.graphql.from_url`), so the fuzzing cannot drift from the
server. Every root field is one operation: each `Query.*` and `Mutation.*` field gets up
to MAX_EXAMPLES generated documents (random arguments and random selection sets,
positive and negative generation modes), sent to one server per backend (SQLite and
PostgreSQL, conftest's `module_server`: PostgreSQL refuses what SQLite lets through,
e.g. NUL characters and comparisons across types), seeded first with a small connected
graph (model, versions, artifacts, experiment, run, metric, parameter, serving
environment, inference service, serve model, lineage edge).

Generation is schemathesis's, with strategies for the custom scalars (JSON: mostly
custom-property objects; ID: mostly small ids, so that ids name seeded or created
objects; String: half printable, half any text) and a `flatmap_body` hook that gives
`filterQuery`, `after` and `before` text in their own syntax most of the time (grammar
expressions, cursor-shaped strings), so that lists get past argument validation to the
SQL they build.

One check, whatever the input: the server did not fail.
- no HTTP 5xx;
- no GraphQL error with `extensions.code` INTERNAL (the code every internal failure,
  panic included, is reported under; its details go to the server log);
- (and the answer is a JSON object at all).
Everything else is the client's fault and fine: INVALID_INPUT (including schema
validation of the negative cases), NOT_FOUND, ALREADY_EXISTS, CONFLICT, LIMIT_EXCEEDED.
A failing case prints the exact request body and the response.
`test_fuzzing_exercised_the_api` then proves the run was not vacuous: every operation ran
its cases, and enough reads, lists, creates, queries and mutations answered data
without errors.

Bounded for CI: MAX_EXAMPLES per operation, deterministic generation, no shrinking, a
per-request timeout and a wall-clock budget for the whole module (run.sh also wraps the
run in `timeout`).

No __init__.py here on purpose: tests/python is on sys.path (conftest.py), and a package
named `graphql` there would shadow graphql-core, which schemathesis imports.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections import Counter, defaultdict

import graphql as graphql_core
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.graphql import nodes

import harness
from harness import HTTP_TIMEOUT_S, REPO_ROOT

MAX_EXAMPLES = int(os.environ.get("MODELGRAPH_SCHEMATHESIS_MAX_EXAMPLES", "50"))
# The whole module, three backends: 255-272 s on the 2-core CI machines, so a 270 s budget
# ran out in MariaDB's last mutations on a slower one; then 540 s ran out the same way on
# a slower one still, with nothing else running (547 s, 13 of 214 cases left). About
# twice the slowest run seen, and under run.sh's `timeout` (1260 s) for the module.
BUDGET_S = float(os.environ.get("MODELGRAPH_SCHEMATHESIS_GRAPHQL_BUDGET_S", "1100"))
REQUEST_TIMEOUT_S = 10

SDL_PATH = REPO_ROOT / "schema.graphql"

# -- custom scalars ----------------------------------------------------------------------
# JSON (custom properties, property-filter values, parameter values, edge properties):
# half the time an object of typed values, the shape custom properties take (int,
# double, string, bool or a nested object); half the time any JSON value (arrays, null,
# bare scalars, anywhere), for the server to refuse or store. Object keys are GraphQL
# names: an object literal in a document cannot spell any other key.
_KEYS = st.from_regex(r"\A[_A-Za-z][_0-9A-Za-z]{0,11}\Z")


def _object(fields: dict) -> graphql_core.ObjectValueNode:
    return nodes.Object(
        [graphql_core.ObjectFieldNode(name=graphql_core.NameNode(value=k), value=v) for k, v in fields.items()]
    )


_TYPED_VALUES = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(nodes.Int),
    st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float),
    st.text(max_size=24).map(nodes.String),
    st.booleans().map(nodes.Boolean),
)
_ANY_JSON = st.recursive(
    st.one_of(_TYPED_VALUES, st.just(nodes.Null)),
    lambda inner: st.one_of(
        st.dictionaries(_KEYS, inner, max_size=4).map(_object),
        st.lists(inner, max_size=4).map(nodes.List),
    ),
    max_leaves=8,
)
_PROPERTIES = st.dictionaries(
    _KEYS, st.one_of(_TYPED_VALUES, st.dictionaries(_KEYS, _ANY_JSON, max_size=3).map(_object)), max_size=5
).map(_object)
schemathesis.graphql.scalar("JSON", st.one_of(_PROPERTIES, _ANY_JSON))

# ID: ids are decimal integers; the generator's default (any text or Int) would almost
# never name an object. Mostly small ids, as a string or an Int literal (both are IDs),
# so most id arguments name one of the seeded or freshly created objects; sometimes any
# integer or any text, which the server must refuse cleanly.
_SMALL_IDS = st.sampled_from(range(1, 21))  # evenly: integers() would favour 1 and 20
schemathesis.graphql.scalar(
    "ID",
    st.one_of(
        _SMALL_IDS.map(nodes.String),
        _SMALL_IDS.map(nodes.Int),
        st.integers().map(nodes.String),
        st.text(max_size=12).map(nodes.String),
    ),
)

# String: half the time text without control characters (which names, owners and the
# like refuse), so that writes get past input validation and reach the database; half the
# time any text, as the generator would draw it (NUL and controls included).
_PRINTABLE = st.characters(max_codepoint=0xFFFF, exclude_categories=("Cc", "Cs"))
schemathesis.graphql.scalar(
    "String",
    st.one_of(
        st.text(_PRINTABLE, min_size=1, max_size=40),
        st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs",))),
    ).map(nodes.String),
)

# -- arguments with a syntax of their own ------------------------------------------------
# Text drawn for these would almost never parse, and every list would stop at argument
# validation; `flatmap_body` below gives them, most of the time, text in their syntax:
# - `after`/`before`: cursor-shaped strings (URL-safe base64 of the JSON the server
#   encodes cursors as, with any order tag, key and id), so that paging reaches the
#   keyset query instead of stopping at "not a cursor";
# - `filterQuery`: expressions drawn from its grammar (src/registry/filter_query.rs):
#   built-in and custom property names, typed suffixes, every operator, IN lists,
#   AND/OR and parentheses, literals of every type; so that filters reach the SQL they
#   become.


def _cursor(parts) -> str:
    field, key, node_id = parts
    raw = json.dumps({"f": field, "k": key, "i": node_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_CURSORS = st.tuples(
    st.one_of(st.sampled_from("cuni"), st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs",))),
    st.one_of(st.integers(min_value=-(2**63), max_value=2**63 - 1), st.text(_PRINTABLE, max_size=20)),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
).map(_cursor)

_FILTER_PROPERTIES = st.one_of(
    st.sampled_from(
        [
            "id", "name", "externalId", "external_id", "description", "state", "desiredState",
            "lastKnownState", "owner", "author", "uri", "status", "createTimeSinceEpoch",
            "create_time_since_epoch", "lastUpdateTimeSinceEpoch", "last_update_time_since_epoch",
            "startTimeSinceEpoch", "endTimeSinceEpoch", "modelFormatName", "modelFormatVersion",
            "runtime", "digest", "sourceType", "source", "value", "step", "timestamp",
            "registeredModelId", "modelVersionId", "experimentId", "experimentRunId",
            "servingEnvironmentId", "inferenceServiceId", "parentResourceId", "artifactType",
            # the seeded custom properties, and a nested one
            "accuracy", "epochs", "tag", "ok", "meta", "meta.a",
        ]
    ),
    st.tuples(
        st.sampled_from(["accuracy", "epochs", "tag", "ok", "meta", "name"]),
        st.sampled_from(["string_value", "int_value", "double_value", "bool_value"]),
    ).map(".".join),
    _KEYS,
    st.text(_PRINTABLE, max_size=12).map(lambda t: "`" + t.replace("\\", "").replace("`", "") + "`"),
)


def _quoted(text: str, quote: str) -> str:
    return quote + text.replace("\\", "\\\\").replace(quote, "\\" + quote) + quote


_FILTER_LITERALS = st.one_of(
    st.tuples(st.text(_PRINTABLE, max_size=16), st.sampled_from(["'", '"'])).map(lambda tq: _quoted(*tq)),
    st.sampled_from(["'%'", "'%seed%'", "'seed-model'", "'LIVE'", "'MODEL_ARTIFACT'", "'DATASET'", "'1'"]),
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["true", "false", "TRUE", "0", "1", "-1", "2.5"]),
)
_FILTER_COMPARISONS = st.one_of(
    st.tuples(
        _FILTER_PROPERTIES,
        st.sampled_from(["=", "!=", "<>", ">", "<", ">=", "<=", "LIKE", "ILIKE"]),
        _FILTER_LITERALS,
    ).map(" ".join),
    st.tuples(_FILTER_PROPERTIES, st.lists(_FILTER_LITERALS, min_size=1, max_size=4)).map(
        lambda pv: f"{pv[0]} IN ({', '.join(pv[1])})"
    ),
)
_FILTER_QUERIES = st.recursive(
    _FILTER_COMPARISONS,
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from([" AND ", " OR ", " and ", " or "]), inner).map("".join),
        inner.map(lambda e: f"({e})"),
    ),
    max_leaves=5,
)

# -- schema ------------------------------------------------------------------------------
schema = schemathesis.graphql.from_path(SDL_PATH)
schema.config.generation.update(
    max_examples=MAX_EXAMPLES,
    no_shrink=True,  # a failure is reported as found; shrinking could blow the budget
    deterministic=True,  # the same cases every run: CI failures are reproducible
    database="none",  # no example database kept between runs
)
# Stateful sequences are left out to keep the run bounded: the seeded graph and the small
# ids give the generated documents real objects to read and update.
schema.config.phases.stateful.enabled = False

_KEEP, _DROP = object(), object()


def _weighted(*choices):
    """One of `choices` ((weight, strategy) pairs), in proportion to the weights."""
    pool = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.integers(min_value=0, max_value=len(pool) - 1).flatmap(lambda i: pool[i])


# filterQuery: a grammar expression most of the time, else left out or kept as drawn
# after/before: mostly left out (no random text is a cursor), else a cursor-shaped
#   string, sometimes kept as drawn
# last beside first (always refused together): left out half the time
_ARGUMENT_CHOICES = {
    "filterQuery": _weighted((5, _FILTER_QUERIES), (2, st.just(_DROP)), (1, st.just(_KEEP))),
    "after": _weighted((5, st.just(_DROP)), (2, _CURSORS), (1, st.just(_KEEP))),
    "before": _weighted((5, st.just(_DROP)), (2, _CURSORS), (1, st.just(_KEEP))),
    "last": _weighted((1, st.just(_DROP)), (1, st.just(_KEEP))),
}


def _tuned(argument: graphql_core.ArgumentNode, present: dict) -> bool:
    """Whether this argument, as drawn, is one `flatmap_body` may change: text where a
    syntax is expected, or `last` beside `first`. Values of another type (negative cases
    put them there on purpose) are left alone."""
    name, value = argument.name.value, argument.value
    if name == "last":
        return isinstance(value, graphql_core.IntValueNode) and isinstance(
            present.get("first"), graphql_core.IntValueNode
        )
    return name in _ARGUMENT_CHOICES and isinstance(value, graphql_core.StringValueNode)


class _Arguments(graphql_core.Visitor):
    """Visits every field's arguments in document order; with `choices`, applies one
    choice to each tuned argument (a node is immutable: the field is rebuilt)."""

    def __init__(self, choices=None):
        super().__init__()
        self.tuned: list[str] = []
        self.choices = iter(choices) if choices is not None else None

    def enter_field(self, node, *_):
        if not node.arguments:
            return None
        present = {a.name.value: a.value for a in node.arguments}
        kept = []
        for argument in node.arguments:
            if _tuned(argument, present):
                self.tuned.append(argument.name.value)
                if self.choices is not None:
                    choice = next(self.choices)
                    if choice is _DROP:
                        continue
                    if choice is not _KEEP:
                        argument = _rebuilt(argument, value=nodes.String(choice))
            kept.append(argument)
        if self.choices is None or len(kept) == len(node.arguments) and all(
            a is b for a, b in zip(kept, node.arguments)
        ):
            return None
        return _rebuilt(node, arguments=tuple(kept))


def _rebuilt(node, **changes):
    return type(node)(**{**{key: getattr(node, key) for key in node.keys}, **changes})


@schema.hook
def flatmap_body(context, document):
    """Draws a choice for each tuned argument of the generated document (see above)."""
    survey = _Arguments()
    graphql_core.visit(document, survey)
    if not survey.tuned:
        return st.just(document)
    return st.tuples(*(_ARGUMENT_CHOICES[name] for name in survey.tuned)).map(
        lambda choices: graphql_core.visit(document, _Arguments(choices))
    )


def _labels(loaded) -> set[str]:
    return {result.ok().label for result in loaded.get_all_operations()}


ALL_OPERATIONS = _labels(schema)

# -- seeded server -----------------------------------------------------------------------


# The fuzzer runs as an EDITOR on a server with authentication on: as ADMIN on an open
# server, a generated createApiToken would turn authentication on under it. The token
# and grant fields then answer FORBIDDEN, which the check allows.
EDITOR_HEADERS: dict[str, str] = {}


@pytest.fixture(scope="module")
def graphql_server(auth_module_server):
    """The module's server (one per backend), seeded with one object of every kind, linked."""
    url = auth_module_server.url
    EDITOR_HEADERS.clear()
    EDITOR_HEADERS.update(auth_module_server.headers("EDITOR"))
    token = auth_module_server.token("EDITOR")

    def gql(base_url, query, variables=None):
        return harness.gql(base_url, query, variables, token=token)

    reg = gql(
        url,
        """mutation($input: RegisterModelInput!) {
             registerModel(input: $input) { id registeredModel { id } artifacts { nodes { id } } } }""",
        {
            "input": {
                "name": "seed-model",
                "uri": "s3://seed/model.onnx",
                "modelFormatName": "onnx",
                "modelFormatVersion": "1",
                "author": "seed",
                "customProperties": {"accuracy": 0.9, "epochs": 3, "tag": "seed", "ok": True, "meta": {"a": [1]}},
            }
        },
    )["registerModel"]
    version_id, model_id = reg["id"], reg["registeredModel"]["id"]
    artifact_id = reg["artifacts"]["nodes"][0]["id"]
    doc_id = gql(
        url,
        "mutation($input: CreateDocArtifactInput!) { createDocArtifact(input: $input) { id } }",
        {"input": {"modelVersionId": version_id, "name": "readme", "uri": "s3://seed/README.md"}},
    )["createDocArtifact"]["id"]
    experiment_id = gql(
        url,
        "mutation($input: CreateExperimentInput!) { createExperiment(input: $input) { id } }",
        {"input": {"name": "seed-experiment", "owner": "seed", "customProperties": {"team": "ml"}}},
    )["createExperiment"]["id"]
    run = gql(
        url,
        "mutation($input: RecordRunInput!) { recordRun(input: $input) { id } }",
        {
            "input": {
                "experimentId": experiment_id,
                "name": "seed-run",
                "inputs": [artifact_id],
                "outputs": [{"artifactType": "DATASET", "name": "seed-data", "uri": "s3://seed/data.csv"}],
                "outputModelVersions": [{"registeredModelId": model_id, "uri": "s3://seed/model-2.onnx"}],
                "metrics": [{"name": "loss", "value": 0.25, "step": 1}],
                "parameters": [{"name": "lr", "value": 0.01}],
            }
        },
    )["recordRun"]
    environment_id = gql(
        url,
        "mutation($input: CreateServingEnvironmentInput!) { createServingEnvironment(input: $input) { id } }",
        {"input": {"name": "seed-env"}},
    )["createServingEnvironment"]["id"]
    service_id = gql(
        url,
        "mutation($input: CreateInferenceServiceInput!) { createInferenceService(input: $input) { id } }",
        {
            "input": {
                "servingEnvironmentId": environment_id,
                "registeredModelId": model_id,
                "modelVersionId": version_id,
                "name": "seed-service",
            }
        },
    )["createInferenceService"]["id"]
    gql(
        url,
        "mutation($input: CreateServeModelInput!) { createServeModel(input: $input) { id } }",
        {"input": {"inferenceServiceId": service_id, "modelVersionId": version_id, "name": "seed-serve"}},
    )
    gql(
        url,
        "mutation($edges: [LineageEdgeInput!]!) { addLineageEdges(edges: $edges) { id } }",
        {"edges": [{"source": doc_id, "target": run["id"], "kind": "INPUT"}]},
    )
    return url


# -- the check ---------------------------------------------------------------------------

_started: list[float] = []


def _within_budget() -> None:
    if not _started:
        _started.append(time.monotonic())
    spent = time.monotonic() - _started[0]
    if spent > BUDGET_S:
        pytest.fail(f"schemathesis budget of {BUDGET_S:.0f}s exhausted ({spent:.0f}s)", pytrace=False)


def server_failures(status: int, text: str) -> list[str]:
    """Why this answer shows a failing server (empty when it does not): a 5xx, an error
    coded INTERNAL, or an answer that is not a GraphQL response at all."""
    problems = []
    if status >= 500:
        problems.append(f"HTTP {status}")
    try:
        payload = json.loads(text)
    except ValueError:
        return problems + ["the body is not JSON"]
    if not isinstance(payload, dict):
        return problems + ["the body is not a GraphQL response object"]
    for error in payload.get("errors") or []:
        code = (error.get("extensions") or {}).get("code") if isinstance(error, dict) else None
        if code == "INTERNAL":
            problems.append(f"extensions.code INTERNAL: {error.get('message')!r} at {error.get('path')}")
    return problems


def test_the_check_flags_server_failures():
    """The check itself, on answers the server should never give."""
    internal = {"data": None, "errors": [{"message": "internal error", "extensions": {"code": "INTERNAL"}}]}
    assert server_failures(200, json.dumps(internal))
    assert server_failures(500, "")
    assert server_failures(502, json.dumps({"data": None}))
    assert server_failures(200, "<html>")
    refused = {"data": None, "errors": [{"message": "id: not a valid id", "extensions": {"code": "INVALID_INPUT"}}]}
    assert not server_failures(200, json.dumps(refused))
    assert not server_failures(413, json.dumps({"errors": [{"message": "big", "extensions": {"code": "LIMIT_EXCEEDED"}}]}))
    assert not server_failures(200, json.dumps({"data": {"node": None}}))


# Per backend, per operation: how many cases ran, how many answered data without any
# error, and the error codes and messages of the rest.
CASES: dict[str, Counter[str]] = defaultdict(Counter)
CLEAN: dict[str, Counter[str]] = defaultdict(Counter)
CODES: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
MESSAGES: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))


@schema.parametrize()
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_graphql(case, graphql_server, backend):
    _within_budget()
    response = case.call(
        base_url=f"{graphql_server}/graphql", headers=EDITOR_HEADERS, timeout=REQUEST_TIMEOUT_S
    )
    label = case.operation.label
    CASES[backend][label] += 1
    text = response.text
    try:
        payload = json.loads(text)
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        errors = payload.get("errors") or []
        if not errors and payload.get("data") is not None:
            CLEAN[backend][label] += 1
        for error in errors:
            if isinstance(error, dict):
                code = str((error.get("extensions") or {}).get("code"))
                CODES[backend][label][code] += 1
                MESSAGES[backend][label][f"{code}: {str(error.get('message'))[:100]}"] += 1
    problems = server_failures(response.status_code, text)
    if problems:
        # the exact body sent (schemathesis inlines every argument: no variables)
        request = json.dumps({"query": case.body})
        pytest.fail(
            f"{label} ({backend}): {'; '.join(problems)}\n"
            f"request: POST /graphql {request}\n"
            f"response: HTTP {response.status_code} {text[:4000]}",
            pytrace=False,
        )


# -- not vacuous -------------------------------------------------------------------------

# How many operations of each group must have answered data without any error at least
# once (a share of the group). Most answers are rejections, as expected: half the cases
# are negative (invalid documents), a random id rarely names an object of the kind an
# update wants, random paging and filter arguments are often refused together. Reads by
# id always get there (the seeded ids are among those drawn; node/nodes answer null for
# unknown ids), the rest only some of the time: a server that refused everything, or
# failed at every database call, would fail these.
_QUERIES = {op for op in ALL_OPERATIONS if op.startswith("Query.")}
_MUTATIONS = {op for op in ALL_OPERATIONS if op.startswith("Mutation.")}
MUST_ANSWER_CLEANLY = {
    "reads by id": (
        {
            "Query.node",
            "Query.nodes",
            "Query.registeredModel",
            "Query.modelVersion",
            "Query.artifact",
            "Query.experiment",
            "Query.experimentRun",
            "Query.servingEnvironment",
            "Query.inferenceService",
        },
        1.0,
    ),
    "model registration": ({"Mutation.registerModel"}, 1.0),
    "lists": (
        {
            "Query.registeredModels",
            "Query.modelVersions",
            "Query.artifacts",
            "Query.datasets",
            "Query.experiments",
            "Query.experimentRuns",
            "Query.servingEnvironments",
            "Query.inferenceServices",
        },
        0.5,
    ),
    "creates": (
        {
            "Mutation.createRegisteredModel",
            "Mutation.createModelVersion",
            "Mutation.createModelArtifact",
            "Mutation.createDocArtifact",
            "Mutation.createDataset",
            "Mutation.createMetric",
            "Mutation.createParameter",
            "Mutation.createExperiment",
            "Mutation.createServingEnvironment",
        },
        0.5,
    ),
    "queries": (_QUERIES, 0.6),
    "mutations": (_MUTATIONS, 0.25),
}
# Below this many cases per operation, only the reads by id are judged (the shares above
# hold from about 25 cases on).
JUDGED_FROM = 25


def test_sdl_matches_the_served_schema(graphql_server):
    """The committed SDL is what the binary serves (introspected through schemathesis's
    loader): same root fields, same arguments, same types."""
    served = schemathesis.graphql.from_url(
        f"{graphql_server}/graphql", headers=EDITOR_HEADERS, timeout=HTTP_TIMEOUT_S
    )

    def signatures(loaded) -> dict[str, list[str]]:
        out = {}
        for root in (loaded.client_schema.query_type, loaded.client_schema.mutation_type):
            for name, field in root.fields.items():
                args = sorted(f"{arg}: {a.type}" for arg, a in field.args.items())
                out[f"{root.name}.{name}"] = [*args, f"-> {field.type}"]
        return out

    assert signatures(served) == signatures(schema)
    assert _labels(served) == ALL_OPERATIONS


def test_fuzzing_exercised_the_api(backend):
    """Runs after test_graphql (file order; pytest groups the items by backend): every
    query and mutation ran its cases, and enough of them answered data without errors.
    Prints what each operation answered (shown with -s, or when this fails)."""
    cases, clean_answers, codes, messages = CASES[backend], CLEAN[backend], CODES[backend], MESSAGES[backend]
    assert cases, f"test_graphql did not run on {backend} before this test"
    print(f"\n{backend}: {sum(cases.values())} cases over {len(cases)} operations: cases, clean answers, error codes")
    for op in sorted(cases):
        print(f"  {op}: {cases[op]} cases, {clean_answers[op]} clean, {dict(codes[op])}")
        for message, count in messages[op].most_common(3):
            print(f"      {count} x {message}")
    # every root field of the schema as committed (update when the schema grows)
    assert (len(_QUERIES), len(_MUTATIONS)) == (27, 42), f"{len(_QUERIES)} queries, {len(_MUTATIONS)} mutations"
    # every operation ran its cases (hypothesis stops early only when it runs out of
    # distinct inputs, which none of these operations does)
    least = min(MAX_EXAMPLES, 10)
    short = {op: cases[op] for op in sorted(ALL_OPERATIONS) if cases[op] < least}
    assert not short, f"operations that ran fewer than {least} cases: {short}"
    if MAX_EXAMPLES < JUDGED_FROM:
        groups = {"reads by id": MUST_ANSWER_CLEANLY["reads by id"]}
    else:
        groups = MUST_ANSWER_CLEANLY
    for group, (ops, share) in groups.items():
        assert ops <= ALL_OPERATIONS, f"{group}: not in the schema: {sorted(ops - ALL_OPERATIONS)}"
        clean = sorted(op for op in ops if clean_answers[op])
        assert len(clean) >= share * len(ops), (
            f"{group}: only {len(clean)} of {len(ops)} operations ever answered data without errors "
            f"(at least {share:.0%} must): never: "
            f"{ {op: messages[op].most_common(3) for op in sorted(ops) if not clean_answers[op]} }"
        )
    if MAX_EXAMPLES < JUDGED_FROM:
        pytest.skip(
            f"only reads by id judged: with MODELGRAPH_SCHEMATHESIS_MAX_EXAMPLES={MAX_EXAMPLES} "
            f"(< {JUDGED_FROM}) too few cases reach lists, creates and updates to tell"
        )
