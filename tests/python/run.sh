#!/usr/bin/env bash
# Python interop suites against the real modelgraph binary, on SQLite, PostgreSQL and
# MySQL/MariaDB:
#   1. the real Kubeflow client, model-registry 0.3.18 (calls /api/model_registry/v1)
#   2. the real Kubeflow client, model-registry 0.3.14 (calls /api/model_registry/v1alpha3)
#   3. the REST contract against the published OpenAPI spec (both prefixes)
#   4. schemathesis fuzzing of every REST operation (SQLite, bounded), then of every GraphQL
#      query and mutation (SQLite and PostgreSQL, bounded)
#   5. the real OpenLineage client (openlineage-python) feeding events, read back over GraphQL
#   6. GraphQL subscriptions over WebSocket (graphql-transport-ws) with the real gql client
# Each client version gets its own venv (tests/python/.venv-<version>, not in git).
#
# Needs: the server built (target/debug/modelgraph, or $CARGO_TARGET_DIR/debug/modelgraph,
# or $MODELGRAPH_BIN), MODELGRAPH_TEST_POSTGRES_URL, psql, MODELGRAPH_TEST_MYSQL_URL, the
# mariadb client, python3 (>= 3.10).
# Exits non-zero when any suite fails or runs no test. Ends with one "N passed, N failed"
# line summed over all suites.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON="${PYTHON:-python3}"
CLIENT_VERSIONS=(0.3.18 0.3.14)
MAIN_VERSION=0.3.18 # the venv that also runs the contract and schemathesis suites

# Hard wall-clock limits per suite (seconds): a hung server must not hang CI.
CLIENT_TIMEOUT=420
CONTRACT_TIMEOUT=600
SCHEMATHESIS_TIMEOUT=1260

# -- preconditions: fail fast and loudly ------------------------------------------------
repo_root="$(cd ../.. && pwd)"
if [ -z "${MODELGRAPH_BIN:-}" ]; then
  for candidate in "${CARGO_TARGET_DIR:+$CARGO_TARGET_DIR/debug/modelgraph}" "$repo_root/target/debug/modelgraph"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then
      MODELGRAPH_BIN="$candidate"
      break
    fi
  done
fi
if [ -z "${MODELGRAPH_BIN:-}" ] || [ ! -x "$MODELGRAPH_BIN" ]; then
  echo "run.sh: modelgraph binary not found (build it with 'cargo build' or set MODELGRAPH_BIN)" >&2
  exit 1
fi
export MODELGRAPH_BIN
if [ -z "${MODELGRAPH_TEST_POSTGRES_URL:-}" ]; then
  echo "run.sh: MODELGRAPH_TEST_POSTGRES_URL is not set (every suite runs on PostgreSQL too)" >&2
  exit 1
fi
if ! psql "$MODELGRAPH_TEST_POSTGRES_URL" -qAt -c 'SELECT 1' >/dev/null; then
  echo "run.sh: PostgreSQL at MODELGRAPH_TEST_POSTGRES_URL is unreachable" >&2
  exit 1
fi
if [ -z "${MODELGRAPH_TEST_MYSQL_URL:-}" ]; then
  echo "run.sh: MODELGRAPH_TEST_MYSQL_URL is not set (every suite runs on MySQL/MariaDB too)" >&2
  exit 1
fi
spec="$repo_root/../shared/reference/kubeflow-model-registry.openapi.yaml"
if [ -z "${MODELGRAPH_OPENAPI_SPEC:-}" ] && [ ! -f "$spec" ]; then
  echo "run.sh: OpenAPI spec not found at $spec" >&2
  exit 1
fi

# -- venvs: rebuilt only when requirements.txt or the pinned client changes -------------
venv_for() { echo ".venv-$1"; }

ensure_venv() {
  local version="$1" venv stamp want
  venv="$(venv_for "$version")"
  stamp="$venv/.modelgraph-stamp"
  want="$(cat requirements.txt openlineage/requirements.txt | sha256sum | cut -d' ' -f1) model-registry==$version"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/python" ]; then
    echo "== venv $venv is up to date"
    return
  fi
  echo "== creating $venv"
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r requirements.txt -r openlineage/requirements.txt "model-registry==$version"
  "$venv/bin/python" -m pip check
  echo "$want" >"$stamp"
}

for v in "${CLIENT_VERSIONS[@]}"; do
  ensure_venv "$v"
done

# -- suites ------------------------------------------------------------------------------
reports="$(mktemp -d)"
trap 'rm -rf "$reports"' EXIT
# hypothesis (under schemathesis) keeps a cache directory: not in the work tree
export HYPOTHESIS_STORAGE_DIRECTORY="$reports/hypothesis"
failed_suites=()

# run_suite NAME VENV_VERSION TIMEOUT PYTEST_ARGS...
run_suite() {
  local name="$1" version="$2" limit="$3"
  shift 3
  local venv rc
  venv="$(venv_for "$version")"
  echo
  echo "== $name (model-registry $version)"
  set +e
  timeout --kill-after=30 "$limit" "$venv/bin/python" -m pytest \
    --junitxml="$reports/$name.xml" "$@"
  rc=$?
  set -e
  case "$rc" in
    0) ;;
    5) echo "== $name: no tests ran (pytest exit 5): counted as a failure" >&2 ;;
    124 | 137) echo "== $name: killed after ${limit}s" >&2 ;;
    *) echo "== $name: pytest exit $rc" >&2 ;;
  esac
  if [ "$rc" -ne 0 ]; then
    failed_suites+=("$name")
  fi
}

for v in "${CLIENT_VERSIONS[@]}"; do
  run_suite "client-$v" "$v" "$CLIENT_TIMEOUT" kubeflow/test_model_registry_client.py \
    kubeflow/test_readme_example.py
done
run_suite contract "$MAIN_VERSION" "$CONTRACT_TIMEOUT" kubeflow/test_contract.py
run_suite schemathesis "$MAIN_VERSION" "$SCHEMATHESIS_TIMEOUT" kubeflow/test_schemathesis.py
run_suite schemathesis-graphql "$MAIN_VERSION" "$SCHEMATHESIS_TIMEOUT" graphql/test_schemathesis_graphql.py
run_suite openlineage "$MAIN_VERSION" "$CLIENT_TIMEOUT" openlineage/test_openlineage_client.py
run_suite gql-subscriptions "$MAIN_VERSION" "$CLIENT_TIMEOUT" graphql/test_gql_subscription.py

# -- one closing line over every suite (from the JUnit reports) --------------------------
"$(venv_for "$MAIN_VERSION")/bin/python" - "$reports" "${failed_suites[@]}" <<'PY'
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

reports, failed_suites = Path(sys.argv[1]), sys.argv[2:]
total = failures = skipped = 0
def suites(report):
    try:
        return list(ET.parse(report).getroot().iter("testsuite"))
    except (ET.ParseError, OSError):  # a run killed mid-write
        return []


for report in sorted(reports.glob("*.xml")):
    for suite in suites(report):
        total += int(suite.get("tests", 0))
        failures += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skipped += int(suite.get("skipped", 0))
passed = total - failures - skipped
# a suite that failed without recording a failed test (killed, no tests, crashed) counts once
for name in failed_suites:
    report = reports / f"{name}.xml"
    recorded = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites(report))
    if not recorded:
        failures += 1
print()
print(f"{passed} passed, {failures} failed" + (f", {skipped} skipped" if skipped else ""))
PY

if [ "${#failed_suites[@]}" -ne 0 ]; then
  echo "FAILED suites: ${failed_suites[*]}" >&2
  exit 1
fi
