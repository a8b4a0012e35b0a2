"""Guest → host calls for the benchmark. snakebox builds it with
`--imports hostfns.pyi`; PyO3 imports it with a native `hostfns` module of
Rust functions registered first."""

import asyncio

import hostfns


def sync_calls(n: int) -> int:
    x = 0
    for _ in range(n):
        x = hostfns.bump(x)
    return x


async def async_calls(n: int) -> int:
    x = 0
    for _ in range(n):
        x = await hostfns.bump_async(x)
    return x


async def host_naps(n: int, ms: int) -> int:
    done = await asyncio.gather(*(hostfns.nap(ms) for _ in range(n)))
    return len(done)
