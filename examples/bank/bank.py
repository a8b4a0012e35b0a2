"""A small bank: accounts are objects that stay in the sandbox."""

import asyncio
import weakref

# Every account alive in this interpreter; an account leaves when Rust drops it.
_open: "weakref.WeakSet[Account]" = weakref.WeakSet()


class Account:
    """One account and its history."""

    def __init__(self, owner: str, balance: int = 0) -> None:
        if not owner:
            raise ValueError("an account needs an owner")
        self.owner = owner
        self.balance = balance
        self.history: list[int] = []
        _open.add(self)

    def deposit(self, amount: int, note: str = "") -> int:
        """Adds `amount`, and gives the new balance."""
        if amount <= 0:
            raise ValueError(f"cannot deposit {amount}")
        self.balance += amount
        self.history.append(amount)
        return self.balance

    async def settle(self, delay: float) -> int:
        """Waits for the bank to settle, then gives the balance."""
        await asyncio.sleep(delay)
        return self.balance

    @staticmethod
    def currency() -> str:
        return "EUR"


def open_account(owner: str) -> Account:
    """Opens an account with nothing in it."""
    return Account(owner)


def transfer(source: Account, target: Account, amount: int) -> int:
    """Moves `amount` between two accounts, and gives the target's balance."""
    if source.balance < amount:
        raise ValueError(f"{source.owner} has only {source.balance}")
    source.balance -= amount
    target.balance += amount
    return target.balance


def open_accounts() -> int:
    """How many accounts are open in this interpreter."""
    return len(_open)
