# greeter.py
import directory

async def greet(id: int) -> str:
    person = await directory.find_person(id)
    directory.audit(f"greeted {person.id}")
    return f"Hello, {person.name}"
