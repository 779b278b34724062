"""Property-based fuzzing of the REST API with schemathesis, from the published spec.

Every operation of ../shared/reference/kubeflow-model-registry.openapi.yaml (the
v1alpha3 paths) is exercised against a fresh SQLite server: its explicit examples, the
coverage phase (boundary and negative values, malformed content types) and up to
MAX_EXAMPLES random valid requests. Two checks only:
- not_a_server_error: no 5xx, whatever the input;
- response_schema_conformance: a documented status answers a body of the documented
  schema (schemathesis pins the artifactType/metadataType discriminators).
Most random requests name ids that do not exist, so 404s (documented, with an Error
body) are expected and fine.

The server is authenticated (conftest's `auth_sqlite_module_server`) and every request
carries the EDITOR token. The spec declares Bearer security, so schemathesis generates a
random `Authorization: Bearer ...` value for each case; the real token replaces it: random
credentials would only ever be 401 (and a server slows down an address that keeps sending
bad ones), so no case would reach the API. The contract suite checks the refusals.

Bounded for CI: MAX_EXAMPLES per operation, no shrinking, per-request timeout, and a
hard wall-clock budget for the whole module (run.sh also wraps the run in `timeout`).
"""

from __future__ import annotations

import os
import time
from collections import defaultdict

import pytest
import schemathesis
from hypothesis import settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from harness import load_spec, pin_discriminators

MAX_EXAMPLES = int(os.environ.get("MODELGRAPH_SCHEMATHESIS_MAX_EXAMPLES", "25"))
BUDGET_S = float(os.environ.get("MODELGRAPH_SCHEMATHESIS_BUDGET_S", "480"))
REQUEST_TIMEOUT_S = 10

# Read from ../shared/reference, with the discriminators spelled out as JSON Schema
# (see harness.pin_discriminators: schemathesis would otherwise reject every artifact
# body as matching several artifact schemas at once).
_spec = pin_discriminators(load_spec())
# the token goes in by hand (below); left in, the Bearer requirement has schemathesis
# generate credential cases whose negations it cannot build for some operations
_spec.pop("security", None)
schema = schemathesis.openapi.from_dict(_spec)
schema.config.generation.update(
    max_examples=MAX_EXAMPLES,
    no_shrink=True,  # a failure is reported as found; shrinking could blow the budget
    deterministic=True,  # the same cases every run: CI failures are reproducible
    database="none",  # no example database kept between runs
)
# Stateful (link-following) sequences are left out to keep the run bounded; the contract
# suite chains real parents and children instead.
schema.config.phases.stateful.enabled = False

_started: list[float] = []


def _within_budget() -> None:
    if not _started:
        _started.append(time.monotonic())
    spent = time.monotonic() - _started[0]
    if spent > BUDGET_S:
        pytest.fail(f"schemathesis budget of {BUDGET_S:.0f}s exhausted ({spent:.0f}s)", pytrace=False)


def test_spec_loaded_all_operations():
    assert len(schema) == 56, f"schemathesis sees {len(schema)} operations"


# Status codes seen per operation, to prove the fuzzing reached a working API (a server
# that answered 404 to everything would pass both checks).
SEEN: dict[str, set[int]] = defaultdict(set)


@schema.parametrize()
@settings(deadline=None)
def test_api(case, auth_sqlite_module_server):
    _within_budget()
    server = auth_sqlite_module_server
    # explicit headers win over the generated ones
    response = case.call(base_url=server.url, headers=server.headers("EDITOR"), timeout=REQUEST_TIMEOUT_S)
    SEEN[case.operation.label].add(response.status_code)
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])


P = "/api/model_registry/v1alpha3"
MUST_SUCCEED = {
    **{
        f"GET {P}{path}": 200
        for path in (
            "/artifacts",
            "/experiment_runs",
            "/experiments",
            "/inference_services",
            "/model_artifacts",
            "/model_versions",
            "/registered_models",
            "/serving_environments",
        )
    },
    f"POST {P}/registered_models": 201,
    f"POST {P}/experiments": 201,
    f"POST {P}/serving_environments": 201,
}


def test_fuzzing_reached_a_working_api():
    """Runs after test_api (file order): the plain list operations answered 200 and the
    parentless creates answered 201 at least once among the generated requests."""
    assert SEEN, "test_api did not run before this test"
    missing = {op: code for op, code in MUST_SUCCEED.items() if code not in SEEN.get(op, set())}
    assert not missing, f"never answered: {missing}; seen: { {op: sorted(SEEN[op]) for op in missing} }"
