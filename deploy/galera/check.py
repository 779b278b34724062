"""The Galera checks run.sh starts once its three nodes are synced (standard library only).

1. Three modelgraph servers, one per node, each version created through any of them:
   concurrent creates (half unnamed) all land, with distinct numbers and no duplicate
   names, and every server lists all of them.
2. Certification conflicts are retried, not surfaced: concurrent updates of one model
   through every node all succeed, while the nodes count the conflicts they refused.
3. Node 3 is killed (SIGKILL) while writers write through every server: nothing that was
   acknowledged is lost, and the servers on nodes 1 and 2 keep serving writes.
4. Node 3 starts again, rejoins and catches up: it holds every row the others hold, and
   its server answers again.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

NODES = (1, 2, 3)


def sql(base: Path, node: int, statement: str) -> str:
    out = subprocess.run(
        ["mariadb", "--no-defaults", "-S", str(base / f"node{node}" / "mariadb.sock"), "-u", "root", "-N", "-B", "-e", statement],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if out.returncode != 0:
        raise RuntimeError(f"node {node}: {statement}: {out.stderr.strip()}")
    return out.stdout.strip()


def status(base: Path, node: int, name: str) -> str:
    return sql(base, node, f"SHOW STATUS LIKE '{name}'").split("\t")[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`modelgraph serve` on one node."""

    def __init__(self, base: Path, node: int):
        self.node = node
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        log = open(base / f"server{node}.log", "wb")  # noqa: SIM115 (lives as long as the process)
        env = dict(os.environ, RUST_LOG="warn")
        self.proc = subprocess.Popen(
            [
                os.environ["MODELGRAPH_BIN"],
                "serve",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--database-url",
                f"mysql://modelgraph@127.0.0.1:{23305 + node}/modelgraph",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        with open(base / "servers.pids", "a") as pids:
            pids.write(f"{self.proc.pid}\n")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"the server on node {node} did not become ready (see server{node}.log)")

    def gql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(f"{self.url}/graphql", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as r:
            return json.load(r)

    def ok(self, query: str, variables: dict | None = None) -> dict:
        answer = self.gql(query, variables)
        if answer.get("errors"):
            raise AssertionError(f"node {self.node}: {query}: {answer['errors']}")
        return answer["data"]


CREATE = "mutation($m: ID!, $n: String) { createModelVersion(input: {registeredModelId: $m, name: $n}) { id name } }"
VERSIONS = "query($m: ID!) { registeredModel(id: $m) { versions(first: 1000) { nodes { name } } } }"


def names_on(server: Server, model: str) -> list[str]:
    return [v["name"] for v in server.ok(VERSIONS, {"m": model})["registeredModel"]["versions"]["nodes"]]


def reads_follow_writes(servers: list[Server], rounds: int) -> None:
    """A model created through one node is there at once through the next: a node
    acknowledges a commit once the cluster has certified it, but the others apply it a
    moment later, so without causal reads (wsrep_sync_wait) the next node could miss it."""

    def round_trip(i: int) -> dict:
        writer, reader = servers[i % len(servers)], servers[(i + 1) % len(servers)]
        made = writer.ok('mutation($n: String!) { createRegisteredModel(input: {name: $n}) { id } }', {"n": f"causal-{i}"})
        return reader.gql(CREATE, {"m": made["createRegisteredModel"]["id"], "n": "first"})

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(round_trip, range(rounds)))
    failed = [a for a in answers if a.get("errors")]
    assert not failed, f"{len(failed)} of {rounds} models were missing on the next node, e.g. {failed[0]['errors']}"
    print(f"   {rounds} models created through one node, each used at once through the next: none missing")


def concurrent_creates(servers: list[Server], writes: int) -> str:
    model = servers[0].ok('mutation { createRegisteredModel(input: {name: "galera"}) { id } }')["createRegisteredModel"]["id"]

    def create(i: int) -> dict:
        name = None if i % 2 == 0 else f"named-{i}"
        return servers[i % len(servers)].gql(CREATE, {"m": model, "n": name})

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(create, range(writes)))
    failed = [a for a in answers if a.get("errors")]
    assert not failed, f"{len(failed)} of {writes} creates failed, e.g. {failed[0]['errors']}"
    made = [a["data"]["createModelVersion"]["name"] for a in answers]
    numbers = [n for n in made if n.isdigit()]
    assert len(set(numbers)) == len(numbers) == (writes + 1) // 2, f"numbers: {sorted(numbers, key=int)}"
    for server in servers:
        listed = names_on(server, model)
        assert sorted(listed) == sorted(made), f"node {server.node} lists {len(listed)} of {len(made)}"
        assert len(set(listed)) == len(listed), f"node {server.node} lists a name twice"
    print(f"   {writes} concurrent creates through {len(servers)} nodes: 0 lost, 0 duplicates")
    return model


def conflicts_are_retried(base: Path, servers: list[Server], model: str) -> None:
    def refused() -> int:
        return sum(int(status(base, n, "wsrep_local_cert_failures")) + int(status(base, n, "wsrep_local_bf_aborts")) for n in NODES)

    before = refused()
    update = "mutation($m: ID!, $d: String) { updateRegisteredModel(id: $m, input: {description: $d}) { revision } }"

    def write(i: int) -> dict:
        return servers[i % len(servers)].gql(update, {"m": model, "d": f"update {i}"})

    rounds = 0
    while True:
        rounds += 1
        with ThreadPoolExecutor(max_workers=12) as pool:
            answers = list(pool.map(write, range(60)))
        failed = [a for a in answers if a.get("errors")]
        assert not failed, f"{len(failed)} of 60 updates surfaced an error, e.g. {failed[0]['errors']}"
        conflicts = refused() - before
        if conflicts > 0 or rounds == 5:
            break
    assert conflicts > 0, "no certification conflict happened: the check proved nothing"
    print(f"   {60 * rounds} concurrent updates of one model: {conflicts} certification conflicts, all retried")


def node_killed_mid_write(base: Path, servers: list[Server], model: str) -> None:
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(w: int) -> None:
        server = servers[w % len(servers)]
        i = 0
        while not stop.is_set():
            name = f"w{w}-{i}"
            i += 1
            try:
                answer = server.gql(CREATE, {"m": model, "n": name})
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                continue
            if not answer.get("errors"):
                with lock:
                    acknowledged.append(name)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    pid = int((base / "node3" / "mariadbd.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    killed_at = len(acknowledged)
    time.sleep(1.5)
    stop.set()
    for t in threads:
        t.join()
    survivors = [s for s in servers if s.node != 3]
    after = [f"after-kill-{s.node}" for s in survivors]
    for server, name in zip(survivors, after):
        server.ok(CREATE, {"m": model, "n": name})
    for server in survivors:
        listed = set(names_on(server, model))
        lost = [n for n in acknowledged + after if n not in listed]
        assert not lost, f"node {server.node} lost acknowledged writes: {lost[:5]}"
    print(
        f"   node 3 killed after {killed_at} acknowledged writes; {len(acknowledged)} acknowledged in all, "
        "0 lost, nodes 1 and 2 kept serving"
    )


def node_rejoins(base: Path, servers: list[Server], model: str) -> None:
    subprocess.Popen(
        ["mariadbd", f"--defaults-file={base / 'node3.cnf'}"],
        stdout=open(base / "node3" / "stdout.log", "ab"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if status(base, 3, "wsrep_local_state_comment") == "Synced":
                break
        except (RuntimeError, subprocess.TimeoutExpired):
            pass
        time.sleep(0.3)
    else:
        raise AssertionError("node 3 did not rejoin within 120 s")
    counts = {n: sql(base, n, 'SELECT COUNT(*) FROM modelgraph.node') for n in NODES}
    changes = {n: sql(base, n, 'SELECT MAX(sequence) FROM modelgraph.`change`') for n in NODES}
    assert len(set(counts.values())) == 1, f"nodes hold different node counts: {counts}"
    assert len(set(changes.values())) == 1, f"nodes end their change logs differently: {changes}"
    third = next(s for s in servers if s.node == 3)
    deadline = time.monotonic() + 30
    while True:
        try:
            listed = names_on(third, model)
            break
        except (AssertionError, urllib.error.URLError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    assert sorted(listed) == sorted(names_on(servers[0], model)), "node 3's server answers differently"
    third.ok(CREATE, {"m": model, "n": "after-rejoin"})
    print(f"   node 3 rejoined and caught up: {counts[3]} nodes, change log to {changes[3]}, its server writes again")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", type=Path, required=True)
    parser.add_argument("--writes", type=int, default=300)
    args = parser.parse_args()
    started = time.monotonic()
    servers = [Server(args.base, 1)]  # the first migrates the database
    servers += [Server(args.base, n) for n in (2, 3)]
    print("== galera: a modelgraph server on each node")
    reads_follow_writes(servers, 300)
    model = concurrent_creates(servers, args.writes)
    conflicts_are_retried(args.base, servers, model)
    node_killed_mid_write(args.base, servers, model)
    node_rejoins(args.base, servers, model)
    print(f"== galera: every check passed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
