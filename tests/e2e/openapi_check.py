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


def main():
    with open(sys.argv[1]) as file:
        document = json.load(file)
    with open(sys.argv[2]) as file:
        samples = json.load(file)
    validate(document)
    failures = []
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
