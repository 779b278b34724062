"""Shared support for the Python interop suites: spawning a real modelgraph server,
reading the Kubeflow OpenAPI spec, and small HTTP helpers.

Nothing here fakes the server: every suite talks HTTP to the real binary, started on a
free loopback port against a fresh database (a SQLite file or a PostgreSQL schema of
its own). A server is either open (no token in its store: every caller is ADMIN) or
authenticated: before `serve`, the binary's own `token create` makes an ADMIN, an EDITOR
and a READER token in that database, and from then on every request needs
`Authorization: Bearer <token>`.
"""

from __future__ import annotations

import copy
import functools
import os
import socket
import subprocess
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]

# The spec is read where the project keeps it, beside the repository (../shared/reference),
# never copied into the repo. MODELGRAPH_OPENAPI_SPEC overrides the path.
SPEC_PATH = Path(
    os.environ.get(
        "MODELGRAPH_OPENAPI_SPEC",
        REPO_ROOT.parent / "shared" / "reference" / "kubeflow-model-registry.openapi.yaml",
    )
)

# The spec lists every path under v1alpha3; the server serves the same API under v1 too
# (model-registry 0.3.18 calls v1, 0.3.14 calls v1alpha3).
SPEC_PREFIX = "/api/model_registry/v1alpha3"
PREFIXES = ("/api/model_registry/v1alpha3", "/api/model_registry/v1")
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

BACKENDS = ("sqlite", "postgres", "mysql")

READY_TIMEOUT_S = 30.0
HTTP_TIMEOUT_S = 30.0

# The tokens an authenticated server is started with: role -> subject. ADMIN comes first
# (the first token of a store must be an ADMIN's).
TOKEN_SUBJECTS = {"ADMIN": "pytest-admin", "EDITOR": "pytest-editor", "READER": "pytest-reader"}

# Loopback traffic must never go through a proxy taken from the environment (aiohttp in
# the Kubeflow client is created with trust_env=True, and requests honours it too).
for _var in ("NO_PROXY", "no_proxy"):
    _hosts = [h for h in os.environ.get(_var, "").split(",") if h]
    for _h in ("127.0.0.1", "localhost"):
        if _h not in _hosts:
            _hosts.append(_h)
    os.environ[_var] = ",".join(_hosts)


# --------------------------------------------------------------------------- binary


def server_binary() -> Path:
    """The modelgraph binary: $MODELGRAPH_BIN, else the debug build (honouring
    $CARGO_TARGET_DIR, as .ci/run may point cargo at a shared target dir)."""
    if env := os.environ.get("MODELGRAPH_BIN"):
        return Path(env)
    candidates = []
    if target := os.environ.get("CARGO_TARGET_DIR"):
        candidates.append(Path(target) / "debug" / "modelgraph")
    candidates.append(REPO_ROOT / "target" / "debug" / "modelgraph")
    for c in candidates:
        if c.exists():
            return c
    return candidates[-1]


# --------------------------------------------------------------------------- PostgreSQL


def postgres_url() -> str:
    url = os.environ.get("MODELGRAPH_TEST_POSTGRES_URL")
    if not url:
        raise RuntimeError(
            "MODELGRAPH_TEST_POSTGRES_URL is not set: every suite runs on PostgreSQL too "
            "(e.g. postgres://postgres@127.0.0.1:5432/test)"
        )
    return url


def psql(url: str, sql: str) -> None:
    """Run one statement through psql; raise with psql's own message on failure."""
    res = subprocess.run(
        ["psql", url, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if res.returncode != 0:
        raise RuntimeError(f"psql {sql!r} failed against {url}: {res.stderr.strip() or res.stdout.strip()}")


# --------------------------------------------------------------------------- MySQL / MariaDB


def mysql_url() -> str:
    url = os.environ.get("MODELGRAPH_TEST_MYSQL_URL")
    if not url:
        raise RuntimeError(
            "MODELGRAPH_TEST_MYSQL_URL is not set: every suite runs on MySQL/MariaDB too "
            "(e.g. mysql://root@127.0.0.1:3306/test)"
        )
    return url


def mysql(url: str, sql: str) -> None:
    """Run one statement through the mariadb client; raise with its message on failure."""
    parts = urllib.parse.urlsplit(url)
    args = ["mariadb", "-h", parts.hostname or "127.0.0.1", "-P", str(parts.port or 3306)]
    args += ["-u", urllib.parse.unquote(parts.username or "root")]
    env = dict(os.environ)
    if parts.password:
        env["MYSQL_PWD"] = urllib.parse.unquote(parts.password)
    res = subprocess.run(args + ["-e", sql], capture_output=True, text=True, timeout=60, env=env)
    if res.returncode != 0:
        raise RuntimeError(f"mariadb {sql!r} failed against {url}: {res.stderr.strip() or res.stdout.strip()}")


def mysql_database_url(database: str) -> str:
    parts = urllib.parse.urlsplit(mysql_url())
    return urllib.parse.urlunsplit(parts._replace(path=f"/{database}"))


# --------------------------------------------------------------------------- server


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the test process dies, so a pytest
    killed by a timeout leaves no server behind (Linux prctl PR_SET_PDEATHSIG)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux/glibc: teardown still stops the server on a normal exit


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def create_token(database_url: str, subject: str, role: str, expires_in: str | None = None) -> str:
    """`modelgraph token create` against a database; the token is the last line of stdout."""
    cmd = [str(server_binary()), "token", "create", "--subject", subject, "--role", role]
    if expires_in:
        cmd += ["--expires-in", expires_in]
    cmd += ["--database-url", database_url]
    env = dict(os.environ)
    env["RUST_LOG"] = "warn"  # the CLI logs to stdout too: keep the output to what it prints
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    if res.returncode != 0:
        raise RuntimeError(
            f"modelgraph token create --subject {subject} --role {role} exited with {res.returncode}:\n"
            f"{res.stdout}{res.stderr}"
        )
    lines = [line.strip() for line in res.stdout.splitlines() if line.strip()]
    token = lines[-1] if lines else ""
    if not token or any(c.isspace() for c in token):
        raise RuntimeError(f"modelgraph token create printed no token on its last line:\n{res.stdout}")
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Endpoint:
    """What a test needs of a running server: its base URL and, when authentication is
    on, one token per role (ADMIN, EDITOR, READER; empty for an open server)."""

    url: str
    tokens: dict[str, str] = field(default_factory=dict)
    database_url: str = ""

    def token(self, role: str = "ADMIN") -> str:
        if role not in self.tokens:
            raise KeyError(f"no {role} token: this server was started {'with' if self.tokens else 'without'} auth")
        return self.tokens[role]

    def headers(self, role: str = "ADMIN") -> dict[str, str]:
        return bearer(self.token(role))

    def subject(self, role: str) -> str:
        return TOKEN_SUBJECTS[role]


@dataclass
class ServerProcess:
    """One running `modelgraph serve` on a fresh database; with `auth`, tokens are made
    in that database first (see TOKEN_SUBJECTS), so the server starts authenticated."""

    backend: str
    workdir: Path
    auth: bool = False
    url: str = ""
    port: int = 0
    database_url: str = ""
    tokens: dict[str, str] = field(default_factory=dict)
    _proc: subprocess.Popen | None = None
    _schema: str | None = None
    _database: str | None = None
    _log_path: Path | None = None
    _log_file: Any = field(default=None, repr=False)

    def start(self) -> ServerProcess:
        binary = server_binary()
        if not binary.exists():
            raise RuntimeError(f"modelgraph binary not found at {binary}: build it (cargo build) or set MODELGRAPH_BIN")
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.backend == "sqlite":
            db_path = (self.workdir / "test.db").resolve()
            self.database_url = f"sqlite://{db_path}?mode=rwc"
        elif self.backend == "postgres":
            base = postgres_url()
            try:
                psql(base, "SELECT 1")
            except (RuntimeError, FileNotFoundError, subprocess.TimeoutExpired) as e:
                raise RuntimeError(f"PostgreSQL at MODELGRAPH_TEST_POSTGRES_URL is unreachable: {e}") from e
            self._schema = f"mg_py_{uuid.uuid4().hex[:16]}"
            psql(base, f"CREATE SCHEMA {self._schema}")
            sep = "&" if "?" in base else "?"
            self.database_url = f"{base}{sep}options=-c%20search_path%3D{self._schema}"
        elif self.backend == "mysql":
            try:
                mysql(mysql_url(), "SELECT 1")
            except (RuntimeError, FileNotFoundError, subprocess.TimeoutExpired) as e:
                raise RuntimeError(f"MySQL/MariaDB at MODELGRAPH_TEST_MYSQL_URL is unreachable: {e}") from e
            self._database = f"mg_py_{uuid.uuid4().hex[:16]}"
            mysql(mysql_url(), f"CREATE DATABASE {self._database} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
            self.database_url = mysql_database_url(self._database)
        else:
            raise ValueError(f"unknown backend {self.backend!r}")

        if self.auth:
            try:
                for role, subject in TOKEN_SUBJECTS.items():
                    self.tokens[role] = create_token(self.database_url, subject, role)
            except (RuntimeError, OSError, subprocess.TimeoutExpired):
                self._drop_schema()
                raise

        # A free port can be taken between probing and binding: retry a few times.
        last_error = ""
        for _attempt in range(3):
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            self._log_path = self.workdir / f"server-{self.port}.log"
            self._log_file = open(self._log_path, "wb")  # noqa: SIM115 (closed in stop)
            env = dict(os.environ)
            env.setdefault("RUST_LOG", "warn")
            self._proc = subprocess.Popen(
                [
                    str(binary),
                    "serve",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--database-url",
                    self.database_url,
                ],
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.workdir,
                preexec_fn=_die_with_parent,
            )
            ok, last_error = self._wait_ready()
            if ok:
                return self
            self._terminate()
        self._drop_schema()
        raise RuntimeError(f"modelgraph did not become ready ({self.backend}): {last_error}")

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(url=self.url, tokens=dict(self.tokens), database_url=self.database_url)

    def _wait_ready(self) -> tuple[bool, str]:
        deadline = time.monotonic() + READY_TIMEOUT_S
        last = "no answer"
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                return False, f"exited with {self._proc.returncode}; log:\n{self.log_tail()}"
            try:
                r = requests.get(f"{self.url}/readyz", timeout=2)
                if r.status_code == 200:
                    return True, ""
                last = f"/readyz answered {r.status_code}"
            except requests.RequestException as e:
                last = str(e)
            time.sleep(0.05)
        return False, f"not ready after {READY_TIMEOUT_S}s ({last}); log:\n{self.log_tail()}"

    def log_tail(self, lines: int = 40) -> str:
        if not self._log_path or not self._log_path.exists():
            return "<no log>"
        text = self._log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def _terminate(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        self._proc = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def _drop_schema(self) -> None:
        if self._schema:
            psql(postgres_url(), f"DROP SCHEMA IF EXISTS {self._schema} CASCADE")
            self._schema = None
        if self._database:
            mysql(mysql_url(), f"DROP DATABASE IF EXISTS {self._database}")
            self._database = None

    def stop(self) -> None:
        # A server that died under the tests is a failure worth seeing, not a quiet teardown.
        died = self._proc is not None and self._proc.poll() is not None
        code = self._proc.returncode if died and self._proc else None
        tail = self.log_tail() if died else ""
        self._terminate()
        self._drop_schema()
        if died:
            raise RuntimeError(f"modelgraph ({self.backend}) exited during the tests with {code}:\n{tail}")


# --------------------------------------------------------------------------- HTTP helpers


def gql(base_url: str, query: str, variables: dict | None = None, token: str | None = None) -> dict:
    """POST one GraphQL operation (with `token` as a bearer credential when given);
    return `data`, failing on any error."""
    r = requests.post(
        f"{base_url}/graphql",
        json={"query": query, "variables": variables or {}},
        headers=bearer(token) if token else {},
        timeout=HTTP_TIMEOUT_S,
    )
    assert r.status_code == 200, f"GraphQL HTTP {r.status_code}: {r.text}"
    body = r.json()
    assert not body.get("errors"), f"GraphQL errors: {body['errors']}\nquery: {query}"
    return body["data"]


def last_change(server: Endpoint) -> int:
    """The sequence of the newest change in the server's change log (0 when empty), read
    with the ADMIN token: every committed write appends one, so an unchanged value means
    nothing was written in between."""
    nodes = gql(server.url, "{ changes(first: 1) { nodes { sequence } } }", token=server.token("ADMIN"))["changes"][
        "nodes"
    ]
    return nodes[0]["sequence"] if nodes else 0


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# --------------------------------------------------------------------------- spec


@functools.cache
def _raw_spec() -> dict:
    if not SPEC_PATH.exists():
        raise RuntimeError(f"OpenAPI spec not found at {SPEC_PATH} (expected ../shared/reference beside the repo)")
    with open(SPEC_PATH, encoding="utf-8") as f:
        return yaml.safe_load(f)


def load_spec() -> dict:
    """A private deep copy of the spec as published (v1alpha3 paths only)."""
    return copy.deepcopy(_raw_spec())


def spec_operations(spec: dict | None = None) -> list[tuple[str, str, dict]]:
    """(method, path, operation) for every operation of the spec, in file order."""
    spec = spec or _raw_spec()
    out = []
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                out.append((method, path, item[method]))
    return out


def pin_discriminators(spec: dict) -> dict:
    """Spell each `discriminator` out as plain JSON Schema, in place: every oneOf branch
    `{$ref: X}` becomes `{allOf: [{$ref: X}, {required: [prop], properties: {prop:
    {enum: [value]}}}]}`, value taken from the discriminator's mapping.

    That is what the discriminator means (the property names the schema that applies).
    Validators that ignore `discriminator` otherwise see, e.g., a model-artifact body as
    valid under all five loosely typed artifact schemas and reject it as an ambiguous
    oneOf (schemathesis 4's response check does exactly that on this spec)."""

    def walk(node):
        if isinstance(node, dict):
            disc = node.get("discriminator")
            if isinstance(disc, dict) and isinstance(node.get("oneOf"), list):
                prop = disc["propertyName"]
                value_of = {ref: value for value, ref in (disc.get("mapping") or {}).items()}
                pinned = []
                for branch in node["oneOf"]:
                    value = value_of.get(branch.get("$ref")) if isinstance(branch, dict) else None
                    if value is None:
                        pinned.append(branch)
                        continue
                    pin = {"type": "object", "required": [prop], "properties": {prop: {"type": "string", "enum": [value]}}}
                    pinned.append({"allOf": [branch, pin]})
                node["oneOf"] = pinned
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(spec)
    return spec


# The v1 API documents one success code differently from the v1alpha3 spec above:
# createInferenceService answers 201 there (the model-registry 0.3.18 client, generated
# from the v1 spec, maps only 201 for it), while the v1alpha3 spec says 200.
V1_EXTRA_SUCCESS = {"createInferenceService": "201"}


def spec_for_both_prefixes() -> dict:
    """The spec with each v1alpha3 path also listed under v1 (same operations, same
    schemas; v1 operationIds get a `V1` suffix to stay unique). The global `security`
    requirement (a Bearer token) is kept: requests are validated with the token sent."""
    spec = load_spec()
    v1_paths = {}
    for path, item in spec["paths"].items():
        assert path.startswith(SPEC_PREFIX), path
        twin = copy.deepcopy(item)
        for method in HTTP_METHODS:
            if method in twin:
                op = twin[method]
                extra = V1_EXTRA_SUCCESS.get(op["operationId"])
                if extra:
                    success = next(c for c in op["responses"] if c.startswith("2"))
                    op["responses"][extra] = copy.deepcopy(op["responses"][success])
                op["operationId"] += "V1"
        v1_paths["/api/model_registry/v1" + path[len(SPEC_PREFIX) :]] = twin
    spec["paths"].update(v1_paths)
    return spec


def success_codes(operation: dict, prefix: str) -> set[int]:
    codes = {int(c) for c in operation["responses"] if c.startswith("2")}
    if prefix.endswith("/v1") and (extra := V1_EXTRA_SUCCESS.get(operation["operationId"])):
        codes.add(int(extra))
    return codes
