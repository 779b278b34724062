#!/usr/bin/env python3
"""Subscription fan-out: N changes delivered to S subscribers, on each store.

    python3 benches/subscriptions.py --bin target/release/modelgraph \
        [--changes 10000] [--subscribers 100] [--writers 4] \
        [--postgres postgres://postgres@127.0.0.1:5432/test]

For each store (SQLite in a temporary file; PostgreSQL in a schema of its own when
--postgres is given) it starts `modelgraph serve`, then:

1. writes --changes models with --writers concurrent GraphQL clients and no subscriber:
   the write rate alone;
2. opens --subscribers WebSocket clients (graphql-transport-ws), each subscribed to
   `changes { sequence at }`, writes --changes more models the same way, and waits until
   every subscriber has every change. Delivery latency is the time a subscriber reads a
   change minus the change's commit time (`at`, the server's clock, on this machine).

Prints the write rate without and with subscribers, and p50 / p99 / max delivery latency
over every (change, subscriber) pair; checks that each subscriber got every change once,
in sequence order. Needs `websockets` (pip install websockets==17.4).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from datetime import datetime

import websockets

SUBSCRIPTION = "subscription { changes(filter: {operations: [CREATE]}) { sequence at } }"
CREATE = "mutation($n: String!) { createRegisteredModel(input: {name: $n}) { id } }"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(binary: str, database_url: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, MODELGRAPH_DATABASE_URL=database_url, RUST_LOG="warn")
    proc = subprocess.Popen(
        [binary, "serve", "--bind", f"127.0.0.1:{port}", "--max-websockets", "1024"],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(400):
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1):
                return proc, base
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit(f"the server on {database_url} did not come up")


def write(base: str, count: int, writers: int) -> float:
    """Creates `count` models with `writers` threads; creates per second."""
    names = [f"m-{uuid.uuid4().hex}" for _ in range(count)]
    chunks = [names[i::writers] for i in range(writers)]

    def run(chunk: list[str]) -> None:
        import http.client

        conn = http.client.HTTPConnection(base.removeprefix("http://"), timeout=60)
        for name in chunk:
            body = json.dumps({"query": CREATE, "variables": {"n": name}})
            conn.request("POST", "/graphql", body, {"content-type": "application/json"})
            answer = json.loads(conn.getresponse().read())
            if answer.get("errors"):
                raise SystemExit(f"write failed: {answer}")

    threads = [threading.Thread(target=run, args=(c,)) for c in chunks]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return count / (time.perf_counter() - started)


async def subscriber(base: str, expect: int, ready: asyncio.Event, opened: list, out: list) -> None:
    url = base.replace("http://", "ws://") + "/graphql/ws"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"], max_size=None) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}}))
        opened.append(1)
        ready.set()
        seqs: list[int] = []
        latencies: list[float] = []
        while len(seqs) < expect:
            msg = json.loads(await ws.recv())
            now = time.time()
            if msg["type"] == "ping":
                await ws.send(json.dumps({"type": "pong"}))
                continue
            if msg["type"] != "next":
                raise SystemExit(f"subscription ended: {msg}")
            change = msg["payload"]["data"]["changes"]
            seqs.append(change["sequence"])
            at = datetime.fromisoformat(change["at"]).timestamp()
            latencies.append(now - at)
        out.append((seqs, latencies))


async def fan_out(base: str, changes: int, subscribers: int, writers: int) -> tuple[float, list]:
    out: list = []
    opened: list = []
    ready = asyncio.Event()
    tasks = [
        asyncio.create_task(subscriber(base, changes, ready, opened, out))
        for _ in range(subscribers)
    ]
    while len(opened) < subscribers:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # the subscriptions start reading from the log's end
    rate = await asyncio.to_thread(write, base, changes, writers)
    await asyncio.gather(*tasks)
    return rate, out


def pct(sorted_values: list[float], p: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p))]


def bench(binary: str, name: str, url: str, args) -> None:
    proc, base = start(binary, url)
    try:
        alone = write(base, args.changes, args.writers)
        rate, out = asyncio.run(fan_out(base, args.changes, args.subscribers, args.writers))
    finally:
        proc.terminate()
        proc.wait()
    latencies = []
    for seqs, lat in out:
        if seqs != sorted(seqs) or len(set(seqs)) != args.changes:
            raise SystemExit(f"{name}: a subscriber got {len(set(seqs))} distinct changes, out of order or repeated")
        latencies.extend(lat)
    latencies.sort()
    print(
        f"| {name} | {args.changes:,} | {args.subscribers} | {alone:,.0f} | {rate:,.0f} | "
        f"{pct(latencies, 0.50) * 1000:.0f} | {pct(latencies, 0.99) * 1000:.0f} | "
        f"{latencies[-1] * 1000:.0f} |",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--changes", type=int, default=10_000)
    ap.add_argument("--subscribers", type=int, default=100)
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--postgres", default="")
    args = ap.parse_args()
    print("| store | changes | subscribers | writes/s alone | writes/s with subscribers | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        bench(args.bin, "SQLite", f"sqlite://{tmp}/fanout.db?mode=rwc", args)
    if args.postgres:
        schema = f"fanout_{uuid.uuid4().hex[:12]}"
        subprocess.run(["psql", args.postgres, "-qc", f"CREATE SCHEMA {schema}"], check=True)
        sep = "&" if "?" in args.postgres else "?"
        try:
            bench(args.bin, "PostgreSQL", f"{args.postgres}{sep}options=-c%20search_path%3D{schema}", args)
        finally:
            subprocess.run(["psql", args.postgres, "-qc", f"DROP SCHEMA {schema} CASCADE"], check=True, env=dict(os.environ, PGOPTIONS="--client-min-messages=warning"))


if __name__ == "__main__":
    main()
