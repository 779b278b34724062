"""Fixtures that start real modelgraph servers for the Python interop suites.

Every server is the real binary (`modelgraph serve`) on a free loopback port, against a
fresh database: a SQLite file in a temp dir, or a PostgreSQL schema of its own (created
with psql, passed through `search_path`, dropped afterwards). PostgreSQL is not optional:
the postgres half fails loudly when MODELGRAPH_TEST_POSTGRES_URL is unset or unreachable.

Scopes:
- `server`: one per backend for the whole session, for tests that only add uniquely
  named objects and read them back;
- `module_server`: one per backend per test module;
- `fresh_server`: one per test, for tests that need an empty registry (list ordering,
  paging, counts). A server starts in well under a second, so this is cheap.

Those are open servers (no token in their store: every caller is ADMIN) and yield the
base URL. `auth_server`, `auth_module_server` and `auth_fresh_server` are the same scopes
with authentication on: before `serve`, `modelgraph token create` made an ADMIN, an EDITOR
and a READER token in the server's database, so every request needs a Bearer token. They
yield a `harness.Endpoint` (`.url`, `.token(role)`, `.headers(role)`), as does
`auth_sqlite_module_server`, an authenticated SQLite-only server per module (the REST
schemathesis run).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import BACKENDS, ServerProcess  # noqa: E402


def _spawn(backend: str, tmp_path_factory: pytest.TempPathFactory, label: str, auth: bool = False):
    srv = ServerProcess(backend=backend, workdir=tmp_path_factory.mktemp(f"mg-{backend}-{label}"), auth=auth)
    try:
        srv.start()
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    return srv


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend under test; every server fixture follows it, so a test that
    uses several servers gets them all on the same backend."""
    return request.param


@pytest.fixture(scope="session")
def server(backend: str, tmp_path_factory: pytest.TempPathFactory):
    """Base URL of a server shared by the whole session (per backend)."""
    srv = _spawn(backend, tmp_path_factory, "session")
    yield srv.url
    srv.stop()


@pytest.fixture(scope="module")
def module_server(backend: str, tmp_path_factory: pytest.TempPathFactory):
    """Base URL of a server shared by one test module (per backend)."""
    srv = _spawn(backend, tmp_path_factory, "module")
    yield srv.url
    srv.stop()


@pytest.fixture
def fresh_server(backend: str, tmp_path_factory: pytest.TempPathFactory):
    """Base URL of a server with an empty registry, for this test alone."""
    srv = _spawn(backend, tmp_path_factory, "fresh")
    yield srv.url
    srv.stop()


# --------------------------------------------------------------------------- authenticated


@pytest.fixture(scope="session")
def auth_server(backend: str, tmp_path_factory: pytest.TempPathFactory):
    """An authenticated server shared by the whole session (per backend)."""
    srv = _spawn(backend, tmp_path_factory, "auth-session", auth=True)
    yield srv.endpoint
    srv.stop()


@pytest.fixture(scope="module")
def auth_module_server(backend: str, tmp_path_factory: pytest.TempPathFactory):
    """An authenticated server shared by one test module (per backend)."""
    srv = _spawn(backend, tmp_path_factory, "auth-module", auth=True)
    yield srv.endpoint
    srv.stop()


@pytest.fixture
def auth_fresh_server(backend: str, tmp_path_factory: pytest.TempPathFactory):
    """An authenticated server with an empty registry, for this test alone."""
    srv = _spawn(backend, tmp_path_factory, "auth-fresh", auth=True)
    yield srv.endpoint
    srv.stop()


@pytest.fixture(scope="module")
def auth_sqlite_module_server(tmp_path_factory: pytest.TempPathFactory):
    """An authenticated SQLite-only server for one module (the REST schemathesis run)."""
    srv = _spawn("sqlite", tmp_path_factory, "auth-sqlite-module", auth=True)
    yield srv.endpoint
    srv.stop()
