#!/usr/bin/env python3
"""Concurrent writers against a running server: creates/s, errors and the server's RSS.

    python3 benches/write_load.py --url http://127.0.0.1:8080 --pid PID \
        [--door graphql|rest|openlineage] [--writers 64] [--each 50] [--segments N]
        [--token TOKEN] [--no-settle]

Each writer creates `--each` model versions (GraphQL: unnamed, numbered by the server;
REST: named) under one model, or posts that many OpenLineage COMPLETE events; the server's
RSS (from /proc/PID/status) is sampled every 50 ms. Prints idle RSS, creates/s, errors,
peak RSS, and RSS 12 s after the load stops (not with --no-settle). With --segments N it
also prints creates/s over each Nth of the run: flat numbers mean a create costs the same
however many versions the model already has. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import urllib.error
import urllib.request
import uuid


def rss_mb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) // 1024
    return 0


TOKEN: list[str] = []


def post(url: str, body: dict) -> tuple[int, dict]:
    headers = {"content-type": "application/json"}
    if TOKEN:
        headers["authorization"] = f"Bearer {TOKEN[0]}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            text = response.read()
            return response.status, json.loads(text) if text else {}
    except urllib.error.HTTPError as err:
        return err.code, {}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--door", choices=["graphql", "rest", "openlineage"], default="graphql")
    ap.add_argument("--writers", type=int, default=64)
    ap.add_argument("--each", type=int, default=50)
    ap.add_argument("--segments", type=int, default=0)
    ap.add_argument("--token", default="")
    ap.add_argument("--no-settle", action="store_true")
    a = ap.parse_args()
    if a.token:
        TOKEN.append(a.token)

    tag = uuid.uuid4().hex[:8]
    _, made = post(
        a.url + "/graphql",
        {"query": f'mutation {{ createRegisteredModel(input: {{name: "load-{tag}"}}) {{ id }} }}'},
    )
    model = made["data"]["createRegisteredModel"]["id"]

    def one(writer: int, i: int) -> bool:
        if a.door == "graphql":
            query = "mutation($m: ID!) { createModelVersion(input: {registeredModelId: $m}) { id } }"
            status, body = post(a.url + "/graphql", {"query": query, "variables": {"m": model}})
            return status == 200 and not body.get("errors")
        if a.door == "rest":
            body = {"registeredModelId": model, "name": f"w{writer}-{i}"}
            status, _ = post(a.url + "/api/model_registry/v1/model_versions", body)
            return status == 201
        event = {
            "eventType": "COMPLETE",
            "eventTime": "2026-01-01T10:00:00Z",
            "producer": "https://example.com/load",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json",
            "run": {"runId": str(uuid.uuid4())},
            "job": {"namespace": f"load-{tag}", "name": f"job-{writer}"},
            "inputs": [{"namespace": "s3://load", "name": f"in-{writer}"}],
            "outputs": [{"namespace": "s3://load", "name": f"out-{writer}-{i}"}],
        }
        status, _ = post(a.url + "/api/v1/lineage", event)
        return status == 201

    errors = [0]
    done: list[float] = []
    lock = threading.Lock()

    def writer(n: int) -> None:
        for i in range(a.each):
            ok = one(n, i)
            with lock:
                done.append(time.time())
                if not ok:
                    errors[0] += 1

    print(f"door {a.door}, {a.writers} writers x {a.each}; idle RSS {rss_mb(a.pid)} MB")
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(a.writers)]
    peak = 0
    start = time.time()
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        peak = max(peak, rss_mb(a.pid))
        time.sleep(0.05)
    seconds = time.time() - start
    total = a.writers * a.each
    print(f"{total} creates in {seconds:.1f} s = {total / seconds:.0f}/s, errors {errors[0]}, peak RSS {peak} MB")
    if a.segments > 0:
        done.sort()
        size = max(1, len(done) // a.segments)
        rates = []
        previous = start
        for k in range(a.segments):
            end = done[min(len(done) - 1, (k + 1) * size - 1)]
            rates.append(f"{size / max(end - previous, 1e-9):.0f}")
            previous = end
        print(f"creates/s by segment: {' '.join(rates)}")
    if not a.no_settle:
        time.sleep(12)
        print(f"RSS 12 s later {rss_mb(a.pid)} MB")


if __name__ == "__main__":
    main()
