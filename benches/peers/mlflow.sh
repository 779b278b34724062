#!/usr/bin/env bash
# Read throughput of modelgraph against MLflow's model registry, on the same data, in one
# run, on this machine.
#
#   MODELGRAPH_BIN=target/release/modelgraph bash benches/peers/mlflow.sh \
#       [--models 200] [--versions 5] [--seconds 10] [--connections 8] \
#       [--venv /tmp/mlflow-venv] [--mlflow-workers 4]
#
# What it does, in order:
#   1. installs mlflow==3.17.2 into a venv (pip) and wrk (apt-get) when missing;
#   2. starts `mlflow server` (SQLite backend) and `modelgraph serve` (a fresh SQLite
#      file), each on a free loopback port, and stops both on exit;
#   3. loads N models x 3 tags/properties, each with V versions x 2 tags/properties and
#      a source URI, into both (mlflow_load.py), and checks the counts on both;
#   4. checks one response of each read (200, 100 models, properties and latest version
#      present), so errors are never timed, then times each read with wrk after a 2 s
#      warm-up; a non-2xx answer or a socket error during a run fails the script;
#   5. prints a markdown table and the versions of everything involved.
#
# The reads, each one page of 100 models:
#   MLflow            GET  /api/2.0/mlflow/registered-models/search?max_results=100
#                     (each model with its tags and latest_versions, with their tags)
#   modelgraph GraphQL POST /graphql  registeredModels(first: 100) { nodes { id name
#                     customProperties latestVersion { id name customProperties } } }
#                     (the same content as MLflow's answer)
#   modelgraph REST   GET  /api/model_registry/v1alpha3/registered_models?pageSize=100
#                     (Kubeflow's list: models with their properties, no versions, so
#                     it answers less than MLflow's search does)
#
# Both servers run with their defaults otherwise (modelgraph logs one access line per
# request at info level; uvicorn logs its access lines too), the logs going to files.
# Needs: python3 (3.10+, with venv), curl, and root for apt-get if wrk is missing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

MODELGRAPH_BIN="${MODELGRAPH_BIN:-$repo/target/release/modelgraph}"
MLFLOW_VERSION=3.17.2
models=200
versions=5
seconds=10
connections=8
venv=/tmp/mlflow-venv
# MLflow's own default (`mlflow server --help`): its server as its users run it
mlflow_workers=4

usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [[ $# -gt 0 ]]; do
    case "$1" in
        --models) models="$2"; shift 2 ;;
        --versions) versions="$2"; shift 2 ;;
        --seconds) seconds="$2"; shift 2 ;;
        --connections) connections="$2"; shift 2 ;;
        --venv) venv="$2"; shift 2 ;;
        --mlflow-workers) mlflow_workers="$2"; shift 2 ;;
        -h|--help) usage 0 ;;
        *) echo "unknown argument: $1" >&2; usage 2 >&2 ;;
    esac
done
for n in models versions seconds connections mlflow_workers; do
    [[ "${!n}" =~ ^[1-9][0-9]*$ ]] || { echo "--${n//_/-} must be a positive integer, got '${!n}'" >&2; exit 2; }
done
# The timed reads ask for 100 models; with fewer, a page holds them all.
page=$(( models < 100 ? models : 100 ))

[[ -x "$MODELGRAPH_BIN" ]] || { echo "MODELGRAPH_BIN=$MODELGRAPH_BIN is not an executable (build it: cargo build --release)" >&2; exit 1; }
MODELGRAPH_BIN="$(cd "$(dirname "$MODELGRAPH_BIN")" && pwd)/$(basename "$MODELGRAPH_BIN")"

log() { printf '[mlflow.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# --- 1. tools ----------------------------------------------------------------------------

# MLflow in its own venv, pinned, so the run says exactly what it compared against.
if [[ ! -x "$venv/bin/python" ]]; then
    log "creating venv $venv"
    python3 -m venv "$venv"
fi
installed="$("$venv/bin/pip" show mlflow 2>/dev/null | awk '/^Version:/ {print $2}' || true)"
if [[ "$installed" != "$MLFLOW_VERSION" ]]; then
    log "installing mlflow==$MLFLOW_VERSION into $venv (found: ${installed:-none}); this takes a few minutes"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "mlflow==$MLFLOW_VERSION"
fi
py="$venv/bin/python"
mlflow="$venv/bin/mlflow"

if ! command -v wrk >/dev/null 2>&1; then
    log "installing wrk with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
command -v curl >/dev/null || { echo "curl is needed" >&2; exit 1; }

# --- 2. servers --------------------------------------------------------------------------

tmp="$(mktemp -d /tmp/mlflow-peer.XXXXXX)"
mlflow_pid=""
mg_pid=""
cleanup() {
    local status=$?
    # Each server runs in its own process group (setsid), so this stops the server and
    # whatever it spawned (mlflow server runs uvicorn/gunicorn as children), nothing else.
    for pid in "$mlflow_pid" "$mg_pid"; do
        [[ -n "$pid" ]] && kill -TERM -- "-$pid" 2>/dev/null || true
    done
    for pid in "$mlflow_pid" "$mg_pid"; do
        [[ -n "$pid" ]] && wait "$pid" 2>/dev/null || true
    done
    if [[ $status -ne 0 ]]; then
        for f in mlflow.log modelgraph.log; do
            [[ -f "$tmp/$f" ]] && { echo "--- last lines of $f:" >&2; tail -n 30 "$tmp/$f" >&2; }
        done
    fi
    if [[ -n "${KEEP_TMP:-}" ]]; then log "kept $tmp"; else rm -rf "$tmp"; fi
    exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Two free ports, asked of the kernel (bind to port 0) in one process so they differ.
read -r mlflow_port mg_port < <("$py" -c '
import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])')
mlflow_url="http://127.0.0.1:$mlflow_port"
mg_url="http://127.0.0.1:$mg_port"

# `--workers` is passed only if this MLflow has it (4, its default, unless
# --mlflow-workers says otherwise). The help text also tells which server it runs.
mlflow_help="$("$mlflow" server --help 2>&1 || true)"
mlflow_args=(server --backend-store-uri "sqlite:///$tmp/mlflow.db"
             --default-artifact-root "$tmp/mlartifacts"
             --host 127.0.0.1 --port "$mlflow_port")
if grep -qE -- '(^|[ ,])--workers' <<<"$mlflow_help"; then
    mlflow_args+=(--workers "$mlflow_workers")
    mlflow_workers_note="--workers $mlflow_workers"
else
    mlflow_workers_note="defaults (no --workers option)"
fi
log "starting mlflow server on $mlflow_url ($mlflow_workers_note)"
# cd: anything MLflow writes next to itself (mlruns/, mlartifacts/) lands in $tmp.
(cd "$tmp" && exec setsid "$mlflow" "${mlflow_args[@]}" >"$tmp/mlflow.log" 2>&1) &
mlflow_pid=$!

# modelgraph: a fresh SQLite file and the defaults otherwise. A fresh store has no
# token, so authentication is off and, on a loopback address, every caller may write
# (README, "Teams and tokens"): no token to mint.
log "starting modelgraph serve on $mg_url"
(cd "$tmp" && exec setsid "$MODELGRAPH_BIN" serve --bind "127.0.0.1:$mg_port" \
    --database-url "sqlite://$tmp/modelgraph.db?mode=rwc" >"$tmp/modelgraph.log" 2>&1) &
mg_pid=$!

# Wait until each answers (MLflow migrates its SQLite schema first: tens of seconds).
wait_up() {
    local name="$1" url="$2" pid="$3" limit=180
    for ((i = 0; i < limit * 2; i++)); do
        curl -sf -o /dev/null "$url" && { log "$name is up"; return 0; }
        kill -0 "$pid" 2>/dev/null || { echo "$name exited before answering" >&2; return 1; }
        sleep 0.5
    done
    echo "$name did not answer $url within ${limit}s" >&2
    return 1
}
wait_up modelgraph "$mg_url/readyz" "$mg_pid"
wait_up mlflow "$mlflow_url/health" "$mlflow_pid"
# modelgraph's resident memory, idle (just started, empty store); its peak comes at the end
rss_kb() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status" 2>/dev/null || echo "?"; }
mg_idle_kb="$(rss_kb "$mg_pid" VmRSS)"

# --- 3. the same data into both -------------------------------------------------------

log "loading $models models x $versions versions into each"
"$py" "$here/mlflow_load.py" load-mlflow --url "$mlflow_url" --models "$models" --versions "$versions"
"$py" "$here/mlflow_load.py" load-modelgraph --url "$mg_url" --models "$models" --versions "$versions"

# --- 4. the reads ------------------------------------------------------------------------

gql_body='{"query":"{ registeredModels(first: 100) { nodes { id name customProperties latestVersion { id name customProperties } } } }"}'

# One wrk Lua script per read. Every thread counts non-2xx answers in response(); done()
# sums them over the threads (each has its own Lua state, reached through setup()) and,
# with socket errors too, exits 1, so a run that timed errors never yields a number.
# GraphQL answers its errors with 200, so for it a body holding an "errors" key counts
# as a failure too.
write_lua() {
    local file="$1" method="$2" path="$3" body="${4:-}"
    {
        echo "wrk.method = \"$method\""
        echo "wrk.path = \"$path\""
        if [[ -n "$body" ]]; then
            # A Lua long string holds the JSON body verbatim.
            echo "wrk.body = [==[$body]==]"
            echo 'wrk.headers["Content-Type"] = "application/json"'
        fi
        [[ "$path" == /graphql ]] && echo 'graphql = true' || echo 'graphql = false'
        cat <<'LUA'
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) failed = 0 end
function response(status, headers, body)
  if status < 200 or status > 299 then
    failed = failed + 1
  elseif graphql and body:find('"errors":', 1, true) then
    failed = failed + 1
  end
end
function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + t:get("failed") end
  local e = summary.errors
  local sock = e.connect + e.read + e.write + e.timeout
  io.write(string.format("lua: %d requests, %d failed (non-2xx%s), %d socket errors, p50 %.2f ms, p99 %.2f ms\n",
    summary.requests, bad, graphql and " or GraphQL errors" or "", sock,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
  if bad > 0 or sock > 0 then
    io.write("FAILED: failed answers or socket errors\n")
    os.exit(1)
  end
end
LUA
    } >"$file"
}
write_lua "$tmp/mlflow.lua" GET "/api/2.0/mlflow/registered-models/search?max_results=100"
write_lua "$tmp/graphql.lua" POST "/graphql" "$gql_body"
write_lua "$tmp/rest.lua" GET "/api/model_registry/v1alpha3/registered_models?pageSize=100"

# Before timing anything: each read answers 200 with a full page (checked by the helper:
# the models, their properties, their latest version where the read asks for it).
check_read() {
    local kind="$1" code
    shift
    code="$(curl -s -o "$tmp/$kind.json" -w '%{http_code}' "$@")"
    [[ "$code" == 200 ]] || { echo "$kind read answered $code: $(head -c 500 "$tmp/$kind.json")" >&2; exit 1; }
    "$py" "$here/mlflow_load.py" check "$kind" "$tmp/$kind.json" --expect "$page" --versions "$versions"
}
check_read mlflow "$mlflow_url/api/2.0/mlflow/registered-models/search?max_results=100"
check_read graphql -H 'Content-Type: application/json' --data "$gql_body" "$mg_url/graphql"
check_read rest "$mg_url/api/model_registry/v1alpha3/registered_models?pageSize=100"

# A 2 s warm-up (discarded: connections, caches, MLflow's lazy imports), then the run.
# --timeout 10s: a slow answer under load is a slow answer, not a socket error.
bench() {
    local kind="$1" url="$2" out="$tmp/wrk-$1.txt"
    log "wrk $kind: warm-up 2 s, then ${seconds} s"
    wrk -t2 -c"$connections" -d2s --timeout 10s -s "$tmp/$kind.lua" "$url" >"$tmp/wrk-$kind-warmup.txt" 2>&1 \
        || { cat "$tmp/wrk-$kind-warmup.txt" >&2; echo "wrk warm-up of $kind failed" >&2; exit 1; }
    wrk -t2 -c"$connections" -d"${seconds}s" --timeout 10s -s "$tmp/$kind.lua" "$url" >"$out" 2>&1 \
        || { cat "$out" >&2; echo "wrk run of $kind failed" >&2; exit 1; }
    cat "$out" >&2
    awk '/^Requests\/sec:/ {print $2}' "$out"
}
rps_mlflow="$(bench mlflow "$mlflow_url")"
rps_graphql="$(bench graphql "$mg_url")"
rps_rest="$(bench rest "$mg_url")"
for v in rps_mlflow rps_graphql rps_rest; do
    [[ -n "${!v}" ]] || { echo "no Requests/sec in wrk's output for ${v#rps_}" >&2; exit 1; }
done

# --- 5. report ---------------------------------------------------------------------------

mg_peak_kb="$(rss_kb "$mg_pid" VmHWM)"
mlflow_ver="$("$mlflow" --version 2>&1 | tail -n 1)"
mg_ver="$("$MODELGRAPH_BIN" --version 2>&1 | head -n 1)"
wrk_ver="$(wrk -v 2>&1 | head -n 1 || true)"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }

echo
echo "| read (one page of $page models) | MLflow req/s | modelgraph req/s | ratio (modelgraph / MLflow) |"
echo "|---|---|---|---|"
echo "| MLflow REST registered-models/search vs modelgraph GraphQL registeredModels (with latest version) | $rps_mlflow | $rps_graphql | $(ratio "$rps_graphql" "$rps_mlflow") |"
echo "| MLflow REST registered-models/search vs modelgraph Kubeflow REST registered_models (no versions) | $rps_mlflow | $rps_rest | $(ratio "$rps_rest" "$rps_mlflow") |"
echo
echo "- data: $models models x 3 tags/properties, $versions versions each x 2 tags/properties, on SQLite in both"
echo "- wrk: -t2 -c$connections -d${seconds}s (after a 2 s warm-up); no non-2xx answer, GraphQL error or socket error in any run"
echo "- mlflow: $mlflow_ver, \`mlflow server\` with $mlflow_workers_note"
echo "- modelgraph: $mg_ver ($MODELGRAPH_BIN), \`serve\` with its defaults"
echo "- modelgraph resident memory: $((mg_idle_kb / 1024)) MB idle after start, peak $((mg_peak_kb / 1024)) MB over the load and the runs (VmRSS, VmHWM)"
echo "- wrk: $wrk_ver"
echo "- machine: $(nproc) cores, $(uname -sr)"
