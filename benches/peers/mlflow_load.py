#!/usr/bin/env python3
"""Helper for benches/peers/mlflow.sh: loads the same models into MLflow and modelgraph,
verifies the counts, and checks one page of each read before it is timed.

    python3 mlflow_load.py load-mlflow     --url http://127.0.0.1:PORT --models N --versions V
    python3 mlflow_load.py load-modelgraph --url http://127.0.0.1:PORT --models N --versions V
    python3 mlflow_load.py check {mlflow|graphql|rest} FILE --expect 100

Both stores get exactly the same data, from the same function (`dataset`):
N registered models `model-0000`.. with 3 string properties (MLflow: tags) `team`,
`task`, `stage`, each with V versions "1".."V" with 2 string properties `framework`,
`dataset` and a source `s3://bucket/model-0000/v1` (MLflow: the version's `source`;
modelgraph: the uri of the version's model artifact, which is where `registerModel`
keeps it, as Kubeflow's `register_model` does).

Standard library only, so it runs under any Python 3.10+ (the mlflow venv's or the
system's). Exits non-zero, saying why, when a write fails or a count is off.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import sys
import threading
import time
import urllib.parse

TEAMS = ["vision", "nlp", "ranking", "fraud", "speech"]
TASKS = ["classification", "regression", "detection", "ranking"]
STAGES = ["dev", "staging", "production"]
FRAMEWORKS = ["pytorch", "tensorflow", "sklearn", "xgboost"]


def dataset(models: int, versions: int):
    """Yields (model name, model props, [(version name, source, version props)])."""
    for i in range(models):
        name = f"model-{i:04d}"
        props = {
            "team": TEAMS[i % len(TEAMS)],
            "task": TASKS[i % len(TASKS)],
            "stage": STAGES[i % len(STAGES)],
        }
        vers = []
        for v in range(1, versions + 1):
            vers.append(
                (
                    str(v),
                    f"s3://bucket/{name}/v{v}",
                    {
                        "framework": FRAMEWORKS[(i + v) % len(FRAMEWORKS)],
                        "dataset": f"events-2026-{(v % 12) + 1:02d}",
                    },
                )
            )
        yield name, props, vers


class Client:
    """One kept-alive HTTP/1.1 connection per thread (1,000s of requests: no reconnects)."""

    def __init__(self, url: str):
        parsed = urllib.parse.urlsplit(url)
        self.host, self.port = parsed.hostname, parsed.port
        self.local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
            self.local.conn = conn
        return conn

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        for attempt in range(2):
            conn = self._conn()
            try:
                conn.request(method, path, body=data, headers=headers)
                resp = conn.getresponse()
                text = resp.read()
                break
            except (ConnectionError, http.client.HTTPException):
                # The server closed a kept-alive connection: retry once on a new one.
                conn.close()
                self.local.conn = None
                if attempt:
                    raise
        try:
            parsed = json.loads(text) if text else {}
        except ValueError:
            parsed = {"raw": text[:500].decode(errors="replace")}
        return resp.status, parsed


def die(msg: str) -> None:
    print(f"mlflow_load.py: {msg}", file=sys.stderr)
    sys.exit(1)


# --- MLflow -------------------------------------------------------------------------


def load_mlflow(url: str, models: int, versions: int, threads: int) -> None:
    client = Client(url)

    def one_model(item) -> None:
        name, props, vers = item
        status, body = client.request(
            "POST",
            "/api/2.0/mlflow/registered-models/create",
            {"name": name, "tags": [{"key": k, "value": v} for k, v in props.items()]},
        )
        if status != 200:
            die(f"MLflow registered-models/create {name}: {status} {body}")
        # Versions one after another within a model, so MLflow numbers them 1..V in order.
        for vname, source, vprops in vers:
            status, body = client.request(
                "POST",
                "/api/2.0/mlflow/model-versions/create",
                {
                    "name": name,
                    "source": source,
                    "tags": [{"key": k, "value": v} for k, v in vprops.items()],
                },
            )
            if status != 200:
                die(f"MLflow model-versions/create {name} v{vname}: {status} {body}")
            got = body.get("model_version", {}).get("version")
            if got != vname:
                die(f"MLflow numbered {name}'s version {got!r}, expected {vname!r}")

    start = time.monotonic()
    # A few models at once (the SQLite store serialises the writes; this only overlaps
    # the Python request handling). Failures raise out of the pool via .result().
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        for fut in [pool.submit(one_model, item) for item in dataset(models, versions)]:
            fut.result()
    took = time.monotonic() - start

    # Verify: page through every model and every version.
    def count(path: str, key: str) -> int:
        total, token = 0, ""
        while True:
            q = {"max_results": 1000}
            if token:
                q["page_token"] = token
            status, body = client.request("GET", f"{path}?{urllib.parse.urlencode(q)}")
            if status != 200:
                die(f"MLflow {path}: {status} {body}")
            total += len(body.get(key, []))
            token = body.get("next_page_token", "")
            if not token:
                return total

    n_models = count("/api/2.0/mlflow/registered-models/search", "registered_models")
    n_versions = count("/api/2.0/mlflow/model-versions/search", "model_versions")
    if (n_models, n_versions) != (models, models * versions):
        die(f"MLflow holds {n_models} models / {n_versions} versions, expected "
            f"{models} / {models * versions}")
    print(f"MLflow: loaded {n_models} models, {n_versions} versions in {took:.1f} s "
          f"({models * (1 + versions)} requests)")


# --- modelgraph -----------------------------------------------------------------------


def gql_string(s: str) -> str:
    return json.dumps(s)  # a JSON string literal is a valid GraphQL string literal here


def gql_object(d: dict) -> str:
    return "{" + ", ".join(f"{k}: {gql_string(v)}" for k, v in d.items()) + "}"


def load_modelgraph(url: str, models: int, versions: int, chunk: int) -> None:
    client = Client(url)
    items = list(dataset(models, versions))

    def mutate(fields: list[str]) -> dict:
        status, body = client.request("POST", "/graphql", {"query": "mutation { " + " ".join(fields) + " }"})
        if status != 200 or body.get("errors"):
            die(f"modelgraph mutation: {status} {json.dumps(body)[:1000]}")
        return body["data"]

    start = time.monotonic()
    requests = 0
    # Many mutations per request, as aliases of one operation (GraphQL runs them in
    # order, each in its own transaction), `chunk` per request: well inside the default
    # --max-complexity and --max-body-bytes whatever --versions is. First the models,
    # then the versions: registerModel reuses the model of that name and keeps the
    # source as the uri of the version's model artifact.
    fields = [
        f"m{j}: createRegisteredModel(input: {{name: {gql_string(name)}, "
        f"customProperties: {gql_object(props)}}}) {{ id }}"
        for j, (name, props, _) in enumerate(items)
    ]
    fields += [
        f"v{j}_{k}: registerModel(input: {{name: {gql_string(name)}, "
        f"version: {gql_string(vname)}, uri: {gql_string(source)}, "
        f"customProperties: {gql_object(vprops)}}}) {{ id }}"
        for j, (name, _, vers) in enumerate(items)
        for k, (vname, source, vprops) in enumerate(vers)
    ]
    for lo in range(0, len(fields), chunk):
        mutate(fields[lo : lo + chunk])
        requests += 1
    took = time.monotonic() - start

    status, body = client.request(
        "POST", "/graphql",
        {"query": "{ registeredModels { totalCount } modelVersions { totalCount } }"},
    )
    if status != 200 or body.get("errors"):
        die(f"modelgraph count query: {status} {body}")
    n_models = body["data"]["registeredModels"]["totalCount"]
    n_versions = body["data"]["modelVersions"]["totalCount"]
    if (n_models, n_versions) != (models, models * versions):
        die(f"modelgraph holds {n_models} models / {n_versions} versions, expected "
            f"{models} / {models * versions}")
    print(f"modelgraph: loaded {n_models} models, {n_versions} versions in {took:.1f} s "
          f"({requests} GraphQL requests)")


# --- checking one response before timing ----------------------------------------------


def check(kind: str, path: str, expect: int, versions: int) -> None:
    """The body curl saved: `expect` models, each with its 3 properties and (where the
    read asks for it) its latest version with 2 properties."""
    with open(path) as f:
        body = json.load(f)
    if kind == "mlflow":
        models = body.get("registered_models", [])
        for m in models:
            if len(m.get("tags", [])) != 3:
                die(f"MLflow {m.get('name')}: tags {m.get('tags')}")
            latest = m.get("latest_versions", [])
            if not latest or latest[0].get("version") != str(versions) or len(latest[0].get("tags", [])) != 2:
                die(f"MLflow {m.get('name')}: latest_versions {latest}")
    elif kind == "graphql":
        if body.get("errors"):
            die(f"GraphQL errors: {body['errors']}")
        models = body["data"]["registeredModels"]["nodes"]
        for m in models:
            latest = m.get("latestVersion")
            if len(m["customProperties"]) != 3 or not latest or latest["name"] != str(versions) \
                    or len(latest["customProperties"]) != 2:
                die(f"GraphQL {m['name']}: {m}")
    elif kind == "rest":
        models = body.get("items", [])
        if body.get("size") != len(models):
            die(f"REST size {body.get('size')} but {len(models)} items")
        for m in models:
            if len(m.get("customProperties", {})) != 3:
                die(f"REST {m.get('name')}: {m}")
    else:
        die(f"unknown kind {kind}")
    if len(models) != expect:
        die(f"{kind}: {len(models)} models in the page, expected {expect}")
    print(f"check {kind}: {len(models)} models, properties and latest versions present")


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("load-mlflow", "load-modelgraph"):
        p = sub.add_parser(name)
        p.add_argument("--url", required=True)
        p.add_argument("--models", type=int, required=True)
        p.add_argument("--versions", type=int, required=True)
        p.add_argument("--threads", type=int, default=4, help="MLflow: models loaded at once")
        p.add_argument("--chunk", type=int, default=250, help="modelgraph: mutations per request")
    p = sub.add_parser("check")
    p.add_argument("kind", choices=["mlflow", "graphql", "rest"])
    p.add_argument("file")
    p.add_argument("--expect", type=int, required=True)
    p.add_argument("--versions", type=int, required=True)
    args = ap.parse_args()
    if args.cmd == "load-mlflow":
        load_mlflow(args.url, args.models, args.versions, args.threads)
    elif args.cmd == "load-modelgraph":
        load_modelgraph(args.url, args.models, args.versions, args.chunk)
    else:
        check(args.kind, args.file, args.expect, args.versions)


if __name__ == "__main__":
    main()
