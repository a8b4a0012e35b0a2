"""Host functions of the benchmark: each answers at once, except `nap`."""


def bump(x: int) -> int: ...


async def bump_async(x: int) -> int: ...


async def nap(ms: int) -> int: ...
