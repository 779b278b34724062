"""The README's Kubeflow example, run as written against a fresh open server, after the
README's GraphQL session has registered its own model: the two no longer clash, and
what the Python client registered reads back through GraphQL."""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
import warnings
from pathlib import Path

README = Path(__file__).resolve().parents[3] / "README.md"


def readme_python_example() -> str:
    section = README.read_text().split("\n## Kubeflow Model Registry REST API", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the Kubeflow section has no python example"
    return match.group(1)


def readme_first_graphql_mutation() -> str:
    section = README.read_text().split("\n### A first session", 1)[1]
    match = re.search(r"```graphql\n(.*?)```", section, re.S)
    assert match, "the first GraphQL session has no example"
    return match.group(1)


def graphql(base_url: str, query: str) -> dict:
    request = urllib.request.Request(
        f"{base_url}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def test_the_readme_kubeflow_example_runs_after_the_graphql_session(fresh_server):
    # the README read top to bottom: its GraphQL session first
    first = graphql(fresh_server, readme_first_graphql_mutation())
    assert "errors" not in first, first

    parts = urllib.parse.urlsplit(fresh_server)
    code = readme_python_example()
    assert 'ModelRegistry("http://127.0.0.1", 8080' in code
    code = code.replace('"http://127.0.0.1", 8080', f'"http://{parts.hostname}", {parts.port}')
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "User access token is missing": an open server
        exec(compile(code, "README.md (Kubeflow example)", "exec"), {})

    answer = graphql(
        fresh_server,
        '{ modelVersion(modelName: "fraud-detector", name: "v1") { name customProperties '
        "artifacts { nodes { ... on ModelArtifact { uri } } } } }",
    )
    assert "errors" not in answer, answer
    version = answer["data"]["modelVersion"]
    assert version["artifacts"]["nodes"] == [{"uri": "s3://models/fraud.onnx"}]
    assert version["customProperties"]["epochs"] == 3
