"""Calls per second of `add(2, 40)` three ways, one client each, one call
at a time: MCP over stdio ($MCP_SERVER, the command), MCP over streamable
HTTP ($MCP_URL) and serve's REST route ($SERVE_URL), all from this one
Python process with the official MCP SDK and the HTTP client it ships.
Prints one Markdown row per way: the median of ROUNDS rounds of CALLS calls.
"""

import json
import os
import statistics
import sys
import time

import anyio
import httpx2
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

CALLS = int(sys.argv[1]) if len(sys.argv) > 1 else 500
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
ARGS = {"a": 2, "b": 40}


async def rounds(call) -> float:
    rates = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(CALLS):
            await call()
        rates.append(CALLS / (time.perf_counter() - started))
    return statistics.median(rates)


async def over_mcp(transport) -> float:
    async with transport as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()

            async def call():
                result = await session.call_tool("add", ARGS)
                assert result.structured_content == {"result": 42}, result

            await call()
            return await rounds(call)


async def over_rest(url: str) -> float:
    async with httpx2.AsyncClient() as client:

        async def call():
            reply = await client.post(f"{url}/call/add", json=ARGS)
            assert reply.json() == 42, reply.text

        await call()
        return await rounds(call)


async def main() -> None:
    command = json.loads(os.environ["MCP_SERVER"])
    stdio = stdio_client(StdioServerParameters(command=command[0], args=command[1:], env=dict(os.environ)))
    rows = [
        ("MCP tool call over stdio (`snakebox mcp`)", await over_mcp(stdio)),
        ("MCP tool call over streamable HTTP (`serve`'s `/mcp`)",
         await over_mcp(streamable_http_client(os.environ["MCP_URL"]))),
        ("REST call, `POST /call/add` (`snakebox serve`)", await over_rest(os.environ["SERVE_URL"])),
    ]
    rest = rows[-1][1]
    print("| | calls per second | ÷ REST |")
    print("|---|---|---|")
    for name, rate in rows:
        print(f"| {name} | {rate:.0f}/s | {rate / rest:.2f} |")


anyio.run(main)
