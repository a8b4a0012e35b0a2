# directory.pyi: what the host provides
from dataclasses import dataclass

@dataclass
class Person:
    id: int
    name: str

async def find_person(id: int) -> Person: ...
def audit(event: str) -> None: ...
