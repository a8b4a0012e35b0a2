"""Checks a served OpenAPI document with a real validator, and real request
bodies and replies against the JSON Schemas in it.

Usage: openapi_check.py DOCUMENT.json SAMPLES.json

Each sample names a path, a body, whether that body must fit the request
schema, and (for a call that was made) the status and one reply body or
NDJSON line, which must fit that status's schema.
"""

import json
import sys

from jsonschema import Draft202012Validator
from openapi_spec_validator import validate


def schema_errors(document, schema, value):
    # The schema's `$ref`s point into the document's components.
    root = dict(schema)
    root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    root["components"] = document["components"]
    return [error.message for error in Draft202012Validator(root).iter_errors(value)]


def schemas(document):
    """Every schema of the document: named ones and each body's and reply's."""
    yield from document["components"]["schemas"].values()
    for path in document["paths"].values():
        for operation in path.values():
            for content in operation.get("requestBody", {}).get("content", {}).values():
                yield content["schema"]
            for reply in operation["responses"].values():
                for content in reply.get("content", {}).values():
                    yield content["schema"]


def shape_errors(schema, where="#"):
    """What client generators stumble on though JSON Schema allows it: a
    boolean `items` (openapi-python-client cannot read it) and an empty
    `prefixItems` (2020-12 forbids it)."""
    if isinstance(schema, dict):
        if isinstance(schema.get("items"), bool):
            yield f"{where}: a boolean `items`"
        if schema.get("prefixItems") == []:
            yield f"{where}: an empty `prefixItems`"
        for key, value in schema.items():
            yield from shape_errors(value, f"{where}/{key}")
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            yield from shape_errors(value, f"{where}/{index}")


def main():
    with open(sys.argv[1]) as file:
        document = json.load(file)
    with open(sys.argv[2]) as file:
        samples = json.load(file)
    validate(document)
    failures = []
    for schema in schemas(document):
        try:
            Draft202012Validator.check_schema(schema)
        except Exception as exc:  # the validator's SchemaError, with its path
            failures.append(f"not a JSON Schema 2020-12 schema: {exc}")
    failures.extend(shape_errors(document))
    for sample in samples:
        operation = document["paths"][sample["path"]]["post"]
        body_schema = operation["requestBody"]["content"]["application/json"]["schema"]
        errors = schema_errors(document, body_schema, sample["body"])
        if sample["body_fits"] and errors:
            failures.append(f"{sample['path']} body {sample['body']!r}: {errors}")
        if not sample["body_fits"] and not errors:
            failures.append(f"{sample['path']} body {sample['body']!r} fits, but the host refused it")
        if "status" in sample:
            reply = operation["responses"][str(sample["status"])]
            (media,) = reply["content"].values()
            errors = schema_errors(document, media["schema"], sample["reply"])
            if errors:
                failures.append(f"{sample['path']} {sample['status']} {sample['reply']!r}: {errors}")
    for failure in failures:
        print(failure)
    print(f"{len(samples)} samples checked, {len(failures)} failed")
    sys.exit(1 if failures else 0)


main()
