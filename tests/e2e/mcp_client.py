"""Drives `snakebox mcp` with the official MCP Python SDK's client.

Usage: mcp_client.py PLAN, where PLAN is a JSON list of steps; the command
that starts the server comes in $MCP_SERVER (a JSON list), for stdio, or
the server's endpoint in $MCP_URL, for streamable HTTP. Prints one JSON
object per step, in order, for the Rust test to check:

- {"list": true}: the tools, each with its name, description and schemas;
- {"call": NAME, "arguments": {...}}: the result (is_error, text content,
  structured content);
- {"together": [step, ...]}: call steps run at once, with their results and
  the wall time of all of them;
- {"cancel": NAME, "arguments": {...}, "after": SECONDS}: a call cancelled
  after SECONDS, then reports that it did not finish;
- {"poll": step, "until": VALUE, "within": SECONDS}: the call step again
  until its structured result is {"result": VALUE}, or SECONDS pass; the
  last result.
"""

import json
import os
import sys
import time

import anyio
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client


def result_json(result) -> dict:
    return {
        "is_error": bool(result.is_error),
        "text": "".join(getattr(block, "text", "") for block in result.content),
        "structured": result.structured_content,
    }


async def call(session, step) -> dict:
    """With "progress": true in the step, the progress notifications too."""
    notes = []

    async def note(progress, total, message):
        notes.append({"progress": progress, "message": message})

    callback = note if step.get("progress") else None
    result = await session.call_tool(
        step["call"], step.get("arguments", {}), progress_callback=callback
    )
    out = result_json(result)
    if callback is not None:
        out["progress"] = notes
    return out


def transport():
    if "MCP_URL" in os.environ:
        return streamable_http_client(os.environ["MCP_URL"])
    command = json.loads(os.environ["MCP_SERVER"])
    params = StdioServerParameters(command=command[0], args=command[1:], env=dict(os.environ))
    return stdio_client(params)


async def run(plan) -> None:
    async with transport() as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            for step in plan:
                if "list" in step:
                    tools = (await session.list_tools()).tools
                    out = [
                        {
                            "name": tool.name,
                            "description": tool.description,
                            "input": tool.input_schema,
                            "output": tool.output_schema,
                        }
                        for tool in tools
                    ]
                elif "together" in step:
                    results = [None] * len(step["together"])
                    started = time.monotonic()

                    async def one(index, inner):
                        results[index] = await call(session, inner)

                    async with anyio.create_task_group() as group:
                        for index, inner in enumerate(step["together"]):
                            group.start_soon(one, index, inner)
                    out = {"results": results, "seconds": time.monotonic() - started}
                elif "cancel" in step:
                    finished = False
                    with anyio.move_on_after(step["after"]):
                        await session.call_tool(step["cancel"], step.get("arguments", {}))
                        finished = True
                    out = {"finished": finished}
                elif "poll" in step:
                    deadline = time.monotonic() + step["within"]
                    while True:
                        out = await call(session, step["poll"])
                        done = out["structured"] == {"result": step["until"]}
                        if done or time.monotonic() > deadline:
                            break
                        await anyio.sleep(0.05)
                else:
                    out = await call(session, step)
                print(json.dumps(out), flush=True)


anyio.run(run, json.loads(sys.argv[1]))
