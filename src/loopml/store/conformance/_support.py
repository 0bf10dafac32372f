"""What the conformance suites share: assertions that name what broke, racing threads, and the
``(name, check)`` pairs a suite yields."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import NoReturn, TypeVar

__all__ = [
    "THREADS",
    "expect",
    "expect_equal",
    "expect_raises",
    "fail",
    "named_checks",
    "run_threads",
]

#: How many threads a concurrency check races by default.
THREADS = 8

_Store = TypeVar("_Store")


def fail(message: str) -> NoReturn:
    raise AssertionError(message)


def expect(condition: bool, message: str) -> None:
    if not condition:
        fail(message)


def expect_equal(got: object, want: object, what: str) -> None:
    if got != want:
        fail(f"{what}: expected {want!r}; got {got!r}")


def expect_raises(error: type[Exception], action: Callable[[], object], what: str) -> Exception:
    """Run ``action`` and return the ``error`` it raised; any other outcome fails the check."""
    try:
        result = action()
    except error as exc:
        return exc
    except Exception as exc:
        fail(f"{what} should raise {error.__name__}; raised {type(exc).__name__}: {exc}")
    fail(f"{what} should raise {error.__name__}; returned {result!r}")


def run_threads(target: Callable[[int], None], count: int = THREADS) -> list[BaseException]:
    """Run ``target(i)`` in ``count`` threads released together; return what they raised."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []
    lock = threading.Lock()

    def body(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            target(index)
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    expect(not any(t.is_alive() for t in threads), "a thread was still running after 120 s")
    return errors


def named_checks(
    checks: Iterable[Callable[[Callable[[], _Store]], None]],
    make_store: Callable[[], _Store],
) -> Iterator[tuple[str, Callable[[], None]]]:
    """``(name, check)`` for each ``_check_<name>`` function, bound to ``make_store``."""
    for check in checks:
        yield check.__name__.removeprefix("_check_"), functools.partial(check, make_store)
