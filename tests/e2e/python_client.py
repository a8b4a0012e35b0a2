"""Calls a served contract.py through the client openapi-python-client
generated from its OpenAPI document, as a user of that tool would.

Usage: python_client.py BASE_URL  (with the generated `contract_client` and
its dependencies on PYTHONPATH)
"""

import sys

from contract_client import Client
from contract_client.api.default import echo_point, echo_temperature, fetch_url, greet, join
from contract_client.models import (
    CelsiusOrFahrenheitType3,
    EchoPointBodyType1,
    EchoTemperatureBodyType1,
    Fahrenheit,
    FetchUrlBodyType1,
    GreetBodyType1,
    JoinBodyType1,
    Point,
)


def expect(name, got, want):
    if got != want:
        sys.exit(f"{name}: expected {want!r}, got {got!r}")
    print(f"{name}: {got!r}")


def main():
    client = Client(base_url=sys.argv[1], raise_on_unexpected_status=True)
    calls = 0

    # A record, in and out.
    point = echo_point.sync(client=client, body=EchoPointBodyType1(value=Point(x=1.5, y=-2.0)))
    expect("echo_point", point, Point(x=1.5, y=-2.0))
    calls += 1

    # An Optional with a default: left out, then None.
    expect("greet()", greet.sync(client=client, body=GreetBodyType1()), "hello world")
    expect("greet(None)", greet.sync(client=client, body=GreetBodyType1(name=None)), "hello None")
    calls += 1

    # A defaulted parameter, left out and given.
    expect("join", join.sync(client=client, body=JoinBodyType1(items=["a", "b"])), "a,b")
    expect("join -", join.sync(client=client, body=JoinBodyType1(items=["a", "b"], joiner="-")), "a-b")
    calls += 1

    # A union of two records of the same shape: the second comes back tagged.
    tagged = CelsiusOrFahrenheitType3(fahrenheit=Fahrenheit(value=98.5))
    expect(
        "echo_temperature",
        echo_temperature.sync(client=client, body=EchoTemperatureBodyType1(value=tagged)),
        tagged,
    )
    calls += 1

    # camelCase parameter names, as Python wrote them.
    expect("fetch_url", fetch_url.sync(client=client, body=FetchUrlBodyType1(page_url="x", retry_count=2)), "x x2")
    calls += 1

    print(f"{calls} calls answered")


main()
