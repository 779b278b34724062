"""GraphQL subscriptions over WebSocket, driven by a real client: `gql` with its
websockets transport, protocol `graphql-transport-ws`, at `ws://HOST/graphql/ws`.

One authenticated server per backend for this module (conftest's `auth_module_server`:
SQLite and PostgreSQL), and an open one for the last test. The subscriber connects with
the READER token in its connection_init payload (`{"Authorization": "Bearer <token>"}`),
which is all a subscription needs; every write goes over HTTP (`POST /graphql`) with the EDITOR token,
so each change's `actor` is the editor's subject, not the subscriber's. The gql client
fetches the schema over the socket first (introspection as a `subscribe` operation) and
validates every subscription document against it.

What is checked:
- `changes(filter: {operations: [CREATE]})` delivers each created registered model, in
  commit order, once, with the sequence the change log gave it (read back over HTTP),
  consecutive for consecutive creates, actor = the editor, via GRAPHQL, the node
  resolved; an UPDATE in between is filtered out (the sequence after it skips one);
- a client that disconnects and reconnects with `afterSequence` = the last sequence it
  saw gets exactly the changes it missed (the filter applied to the replay too), in
  order, then live ones, none twice;
- an authenticated server refuses a connection_init without a credential, or with a
  bad one: gql raises TransportConnectionFailed, caused by the server's close frame,
  whose reason says why (the READER token on the same client settings is accepted);
- `lineageChanged(start: dataset, direction: DOWNSTREAM)` sees the dataset's own
  changes, not unrelated ones nor a run outside the walk; an edge added from the
  dataset to a run (INPUT) arrives as EDGE_ADD, and from then on the run's changes
  arrive too (the walk is taken again as the graph changes);
- an open server (conftest's `module_server`, no token in its store) accepts a
  connection_init without a credential, or with one it ignores, and serves on it.

A subscription without `afterSequence` starts "from now", and the protocol has no
message saying when the server has started it. So a test goes live with probes: it
makes one matching write at a time until one arrives (each probe that arrives proves
every later write will be seen); probes written before the start are simply not
delivered, and any other message fails the test.

Nothing can hang: every wait for a message has MESSAGE_TIMEOUT_S, connecting and the
connection_ack have gql's own 10 s timeouts, each test body has TEST_TIMEOUT_S, and
run.sh wraps the suite in `timeout`. Results are pumped from gql's async generator into
a queue by a task of their own, so a wait that times out does not cancel the
subscription. The tests are plain functions running `asyncio.run` (no pytest plugin);
HTTP writes run in a worker thread so the event loop keeps reading the socket.

No __init__.py here on purpose (see test_schemathesis_graphql.py): a package named
`graphql` would shadow graphql-core, which gql imports.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportConnectionFailed
from gql.transport.websockets import WebsocketsTransport

import harness
from harness import Endpoint, last_change, unique

MESSAGE_TIMEOUT_S = 10.0
# How long a probe waits for its own change before the next probe is written.
PROBE_WAIT_S = 1.0
MAX_PROBES = 10
TEST_TIMEOUT_S = 90.0

CHANGE_FIELDS = """
  id sequence at actor via operation nodeId otherNodeId before after
  node { id ... on RegisteredModel { name } ... on Dataset { name } ... on ExperimentRun { name } }
"""
CHANGES = GraphQLRequest(
    f"""subscription Creates($after: Int) {{
          changes(filter: {{operations: [CREATE]}}, afterSequence: $after) {{ {CHANGE_FIELDS} }}
        }}"""
)
LINEAGE = GraphQLRequest(
    f"""subscription Lineage($start: ID!) {{
          lineageChanged(start: $start, direction: DOWNSTREAM) {{ {CHANGE_FIELDS} }}
        }}"""
)

_END = object()  # the subscription's generator finished


def ws_url(server: Endpoint) -> str:
    assert server.url.startswith("http://"), server.url
    return "ws://" + server.url[len("http://") :] + "/graphql/ws"


def transport(server: Endpoint, init_payload: dict[str, Any] | None) -> WebsocketsTransport:
    return WebsocketsTransport(
        url=ws_url(server),
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        init_payload=init_payload,
        connect_timeout=MESSAGE_TIMEOUT_S,
        ack_timeout=MESSAGE_TIMEOUT_S,
        close_timeout=MESSAGE_TIMEOUT_S,
    )


def run(coroutine: Awaitable[None]) -> None:
    """Runs one test body, bounded by TEST_TIMEOUT_S."""
    asyncio.run(asyncio.wait_for(coroutine, TEST_TIMEOUT_S))


class Subscription:
    """One subscription on a connection of its own (gql Client over WebsocketsTransport),
    as `async with`; `next()` is the next result's root field, failing after
    MESSAGE_TIMEOUT_S. Everything received is kept in `received` for failure messages."""

    def __init__(self, server: Endpoint, request: GraphQLRequest, variables: dict[str, Any], role: str = "READER"):
        self.client = Client(
            transport=transport(server, {"Authorization": f"Bearer {server.token(role)}"}),
            fetch_schema_from_transport=True,
        )
        self.request = GraphQLRequest(request, variable_values=variables)
        self.field = "lineageChanged" if "lineageChanged" in request.payload["query"] else "changes"
        self.received: list[dict[str, Any]] = []
        self._queue: asyncio.Queue = asyncio.Queue()
        self._pump: asyncio.Task | None = None

    async def __aenter__(self) -> Subscription:
        session = await self.client.connect_async()
        self._pump = asyncio.create_task(self._read(session))
        return self

    async def _read(self, session) -> None:
        try:
            async for result in session.subscribe(self.request):
                self._queue.put_nowait(result)
        except Exception as e:  # handed to the test: next() raises it
            self._queue.put_nowait(e)
        else:
            self._queue.put_nowait(_END)

    async def next(self, timeout: float = MESSAGE_TIMEOUT_S) -> dict[str, Any]:
        item = await self.poll(timeout)
        if item is None:
            pytest.fail(f"no {self.field} message within {timeout}s; received so far: {self.received}", pytrace=False)
        return item

    async def poll(self, timeout: float) -> dict[str, Any] | None:
        """The next change, or None when none came within `timeout`."""
        try:
            item = await asyncio.wait_for(self._queue.get(), timeout)
        except asyncio.TimeoutError:
            return None
        if item is _END:
            pytest.fail(f"the {self.field} subscription ended; received: {self.received}", pytrace=False)
        if isinstance(item, BaseException):
            raise AssertionError(f"the {self.field} subscription failed: {item!r}; received: {self.received}") from item
        change = item[self.field]
        self.received.append(change)
        return change

    async def __aexit__(self, *exc) -> None:
        if self._pump is not None:
            self._pump.cancel()  # the generator sends `complete` as it closes
            try:
                await self._pump
            except asyncio.CancelledError:
                pass
        await asyncio.wait_for(self.client.close_async(), MESSAGE_TIMEOUT_S)


async def write(server: Endpoint, query: str, variables: dict[str, Any] | None = None) -> tuple[dict, int]:
    """One mutation over HTTP with the EDITOR token (in a worker thread), and the change
    log's newest sequence right after it (read with the ADMIN token): the sequence of the
    write's last change, as nothing else writes to this module's server meanwhile."""

    def go():
        data = harness.gql(server.url, query, variables, token=server.token("EDITOR"))
        return data, last_change(server)

    return await asyncio.to_thread(go)


async def create_model(server: Endpoint) -> tuple[str, str, int]:
    """A registered model (one CREATE change): its id, name and the change's sequence."""
    name = unique("sub-model")
    data, seq = await write(
        server,
        "mutation($name: String!) { createRegisteredModel(input: {name: $name}) { id name } }",
        {"name": name},
    )
    return data["createRegisteredModel"]["id"], name, seq


async def update_model(server: Endpoint, model_id: str) -> int:
    """An UPDATE of a registered model (not a CREATE): the change's sequence."""
    _, seq = await write(
        server,
        "mutation($id: ID!, $d: String!) { updateRegisteredModel(id: $id, input: {description: $d}) { id } }",
        {"id": model_id, "d": unique("description")},
    )
    return seq


async def go_live(sub: Subscription, probe: Callable[[], Awaitable[tuple[str, int]]]) -> dict[str, Any]:
    """Makes probe writes (each returns the node id and sequence of one change the
    subscription matches) until one arrives; then every later probe must arrive, in
    order. Probes written before the subscription started are not delivered; anything
    else is a failure. Returns the last probe's change."""
    probes: list[tuple[str, int]] = []
    first = None
    for _ in range(MAX_PROBES):
        probes.append(await probe())
        first = await sub.poll(PROBE_WAIT_S)
        if first is not None:
            break
    if first is None:
        first = await sub.next()
    sequences = [seq for _, seq in probes]
    assert first["sequence"] in sequences, (
        f"the first change delivered is not one written after subscribing: {first}; probes (node, sequence): {probes}"
    )
    last = first
    for node_id, seq in probes[sequences.index(first["sequence"]) :]:
        change = last if seq == first["sequence"] else await sub.next()
        assert (change["sequence"], change["nodeId"]) == (seq, node_id), (
            f"expected probe {node_id} at sequence {seq}, got {change}; probes: {probes}"
        )
        last = change
    return last


def assert_change(change: dict[str, Any], server: Endpoint, *, sequence: int, operation: str, node_id: str, **more):
    """The fields every change of these tests has, and `more` (e.g. name, otherNodeId)."""
    name = more.pop("name", None)
    expected = {
        "id": str(sequence),
        "sequence": sequence,
        "actor": server.subject("EDITOR"),
        "via": "GRAPHQL",
        "operation": operation,
        "nodeId": node_id,
        "otherNodeId": None,
        **more,
    }
    assert {k: change.get(k) for k in expected} == expected, f"change: {change}"
    assert change["node"] is not None and change["node"]["id"] == node_id, f"node not resolved: {change}"
    datetime.fromisoformat(change["at"].replace("Z", "+00:00"))  # a DateTime
    if operation == "CREATE":
        assert change["before"] is None, f"a creation has no `before`: {change}"
        assert isinstance(change["after"], dict) and change["after"].get("name") == name, change
        assert change["node"].get("name") == name, change


# --------------------------------------------------------------------------- tests


def test_changes_arrive_in_order_once_from_the_editor(auth_module_server: Endpoint):
    server = auth_module_server

    async def body():
        before_id, _, _ = await create_model(server)  # written before subscribing: never delivered

        async def probe():
            model_id, _, seq = await create_model(server)
            return model_id, seq

        async with Subscription(server, CHANGES, {"after": None}) as sub:
            last = await go_live(sub, probe)
            assert before_id not in {c["nodeId"] for c in sub.received}

            created = [await create_model(server) for _ in range(3)]
            skipped = await update_model(server, created[0][0])  # filtered out: not a CREATE
            created.append(await create_model(server))

            # the log's own numbering: consecutive, then one skipped for the update
            assert [seq for _, _, seq in created] == [last["sequence"] + i for i in (1, 2, 3, 5)], created
            assert skipped == last["sequence"] + 4
            for model_id, name, seq in created:
                change = await sub.next()
                assert_change(change, server, sequence=seq, operation="CREATE", node_id=model_id, name=name)
            # nothing more: not the update, not a duplicate
            extra = await sub.poll(PROBE_WAIT_S)
            assert extra is None, f"unexpected change after the last create: {extra}"

    run(body())


def test_reconnecting_after_a_sequence_replays_what_was_missed_then_goes_live(auth_module_server: Endpoint):
    server = auth_module_server

    async def body():
        async def probe():
            model_id, _, seq = await create_model(server)
            return model_id, seq

        async with Subscription(server, CHANGES, {"after": None}) as sub:
            seen = (await go_live(sub, probe))["sequence"]

        # disconnected: two creates (and an update, which the filter leaves out)
        missed = [await create_model(server)]
        await update_model(server, missed[0][0])
        missed.append(await create_model(server))
        assert [seq for _, _, seq in missed] == [seen + 1, seen + 3], missed

        async with Subscription(server, CHANGES, {"after": seen}) as sub:
            for model_id, name, seq in missed:
                change = await sub.next()
                assert_change(change, server, sequence=seq, operation="CREATE", node_id=model_id, name=name)
            live_id, live_name, live_seq = await create_model(server)
            change = await sub.next()
            assert_change(change, server, sequence=live_seq, operation="CREATE", node_id=live_id, name=live_name)
            extra = await sub.poll(PROBE_WAIT_S)
            assert extra is None, f"unexpected change after the live one: {extra}"
            assert [c["sequence"] for c in sub.received] == [seen + 1, seen + 3, live_seq]

    run(body())


@pytest.mark.parametrize(
    ("init_payload", "reason"),
    [
        pytest.param(None, "credential is required", id="no-payload"),
        pytest.param({}, "credential is required", id="empty-payload"),
        pytest.param({"Authorization": "Bearer not-a-token"}, "not valid", id="bad-token"),
    ],
)
def test_connection_init_without_a_valid_credential_is_refused(auth_module_server: Endpoint, init_payload, reason):
    server = auth_module_server

    async def body():
        client = Client(transport=transport(server, init_payload))
        with pytest.raises(TransportConnectionFailed) as refused:
            await client.connect_async()
        # gql's exception is caused by the server's close frame (websockets'
        # ConnectionClosed, `rcvd` = the frame the server sent)
        close = getattr(refused.value.__cause__, "rcvd", None)
        assert close is not None, (
            f"no close frame from the server: {refused.value!r} (cause {refused.value.__cause__!r})"
        )
        # graphql-transport-ws: a refused connection_init closes with 4403 Forbidden
        assert close.code == 4403, f"close frame: {close}"
        assert reason in close.reason, f"close frame: {close}"
        await client.close_async()

        # the same client settings with a credential are accepted
        ok = Client(transport=transport(server, {"Authorization": f"Bearer {server.token('READER')}"}))
        await ok.connect_async()
        await ok.close_async()

    run(body())


def test_lineage_changed_follows_an_edge_added_to_the_watched_dataset(auth_module_server: Endpoint):
    server = auth_module_server

    async def body():
        data, _ = await write(
            server,
            "mutation($name: String!) { createDataset(input: {name: $name, uri: \"s3://sub/data.csv\"}) { id } }",
            {"name": unique("sub-dataset")},
        )
        dataset_id = data["createDataset"]["id"]
        data, _ = await write(
            server,
            "mutation($name: String!) { createExperiment(input: {name: $name}) { id } }",
            {"name": unique("sub-experiment")},
        )
        run_name = unique("sub-run")
        data, _ = await write(
            server,
            "mutation($e: ID!, $name: String!) { createExperimentRun(input: {experimentId: $e, name: $name}) { id } }",
            {"e": data["createExperiment"]["id"], "name": run_name},
        )
        run_id = data["createExperimentRun"]["id"]
        counter = itertools.count()

        async def touch_dataset() -> tuple[str, int]:
            _, seq = await write(
                server,
                "mutation($id: ID!, $d: String!) { updateDataset(id: $id, input: {description: $d}) { id } }",
                {"id": dataset_id, "d": f"probe {next(counter)}"},
            )
            return dataset_id, seq

        async def touch_run() -> int:
            _, seq = await write(
                server,
                "mutation($id: ID!, $d: String!) { updateExperimentRun(id: $id, input: {description: $d}) { id } }",
                {"id": run_id, "d": unique("run")},
            )
            return seq

        async with Subscription(server, LINEAGE, {"start": dataset_id}) as sub:
            await go_live(sub, touch_dataset)

            # outside the walk: an unrelated model, and the run before any edge links it;
            # the dataset's next change, delivered next, proves both were passed over
            await create_model(server)
            await touch_run()
            _, seq = await touch_dataset()
            change = await sub.next()
            assert_change(change, server, sequence=seq, operation="UPDATE", node_id=dataset_id)

            data, seq = await write(
                server,
                "mutation($edges: [LineageEdgeInput!]!) { addLineageEdges(edges: $edges) { id } }",
                {"edges": [{"source": dataset_id, "target": run_id, "kind": "INPUT"}]},
            )
            assert len(data["addLineageEdges"]) == 1, data
            change = await sub.next()
            assert_change(change, server, sequence=seq, operation="EDGE_ADD", node_id=dataset_id, otherNodeId=run_id)

            # the run is downstream of the dataset now: its changes arrive
            seq = await touch_run()
            change = await sub.next()
            assert_change(change, server, sequence=seq, operation="UPDATE", node_id=run_id)
            assert change["node"]["name"] == run_name, change
            extra = await sub.poll(PROBE_WAIT_S)
            assert extra is None, f"unexpected change: {extra}"

    run(body())


@pytest.mark.parametrize(
    "init_payload",
    [None, {"Authorization": "Bearer not-a-token"}],
    ids=["no-payload", "ignored-credential"],
)
def test_an_open_server_accepts_any_connection_init(module_server: str, init_payload):
    """An open server (no token in its store) accepts a connection_init with no
    credential, or with one it ignores, and serves subscriptions on it: here the replay
    from sequence 0 of a model created without a token."""
    url = module_server

    async def body():
        name = unique("open-model")
        data = await asyncio.to_thread(
            harness.gql, url, "mutation($n: String!) { createRegisteredModel(input: {name: $n}) { id } }", {"n": name}
        )
        model_id = data["createRegisteredModel"]["id"]
        client = Client(transport=transport(Endpoint(url=url), init_payload))
        session = await client.connect_async()
        try:
            request = GraphQLRequest(CHANGES, variable_values={"after": 0})
            agen = session.subscribe(request)
            seen = []
            while model_id not in seen:
                change = (await asyncio.wait_for(agen.__anext__(), MESSAGE_TIMEOUT_S))["changes"]
                assert change["operation"] == "CREATE", change
                seen.append(change["nodeId"])
            await agen.aclose()
        finally:
            await asyncio.wait_for(client.close_async(), MESSAGE_TIMEOUT_S)

    run(body())
