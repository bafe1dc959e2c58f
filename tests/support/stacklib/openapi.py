"""Checks the hub's answers against docs/openapi.yaml.

Every answer the test stack's API client receives goes through check_answer():
the operation is found from the method and the path (a path no operation
matches must answer an Error), then the JSON body is validated against the
schema of its status, or of `default`. A mismatch raises OpenApiMismatch, so
a test that gets an answer the document does not describe fails.
"""

import functools
import re
from pathlib import Path

import jsonschema
import yaml

DOCUMENT = Path(__file__).resolve().parents[3] / "docs" / "openapi.yaml"


class OpenApiMismatch(AssertionError):
    pass


@functools.lru_cache(maxsize=1)
def _spec():
    spec = yaml.safe_load(DOCUMENT.read_text())
    operations = []
    for template, item in spec["paths"].items():
        pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$")
        for method, op in item.items():
            if method != "parameters":
                operations.append((pattern, method.upper(), op))
    return spec, operations


def _schema_for(method, path, status):
    spec, operations = _spec()
    path = "/" + "/".join(p for p in path.split("?", 1)[0].split("/") if p)  # as the router reads it
    error = {"$ref": "#/components/schemas/Error"}
    for pattern, op_method, op in operations:
        if pattern.match(path) and op_method == method:
            responses = op["responses"]
            answer = responses.get(str(status)) or responses.get("default")
            if answer is None:
                raise OpenApiMismatch(f"{method} {path}: status {status} is not in docs/openapi.yaml")
            if "$ref" in answer:
                return error
            content = answer.get("content", {})
            schema = content.get("application/json", {}).get("schema")
            return schema if schema is not None else {}
    return error  # no operation: 404 or 405, an Error


def check_answer(method, path, status, body):
    """Raises OpenApiMismatch when a JSON answer does not match the document."""
    spec, _ = _spec()
    schema = _schema_for(method, path, status)
    if not schema:
        return
    validator = jsonschema.Draft202012Validator(schema, resolver=jsonschema.RefResolver.from_schema(spec))
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        where = "/".join(map(str, e.path)) or "(the body)"
        raise OpenApiMismatch(f"{method} {path} -> {status}: {where}: {e.message} (docs/openapi.yaml)")
