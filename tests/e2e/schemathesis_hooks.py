"""A fix for schemathesis 4.32.5, loaded through SCHEMATHESIS_HOOKS.

It rewrites a response schema's Draft 2020-12 tuple (`prefixItems`) into the
Draft 4 array form of `items` before it checks the schema as OpenAPI 3.1,
which that form is not, and then reports a valid document's tuple results
as schema errors. Request schemas already keep `prefixItems` for 3.1. This
keeps them for responses too; nothing else changes.
"""

import functools

from schemathesis.specs.openapi.adapter import responses

_convert = responses.to_json_schema


@functools.wraps(_convert)
def _keep_prefix_items(*args, **kwargs):
    kwargs.setdefault("convert_prefix_items", False)
    return _convert(*args, **kwargs)


responses.to_json_schema = _keep_prefix_items
