"""The tests' calendar: with TEST_CALENDAR_SHIFT_DAYS=N (N may be negative) a Python process's wall clock reads
N days away from the machine's, so a run of the suite on another calendar finds the tests and the code that
work only on some days (a date hard-coded as "the future", a clock injected in one process and read from the
machine in another).

scripts/venv.sh links this file and calendar_shift.pth into .venv's site-packages (as
service_orders_calendar_shift.*), so every Python process of the environment starts shifted: pytest, and the
bot and CLI processes the tests start, which inherit the variable. Unset or empty, the .pth imports nothing.
Only the wall clock moves (time-machine patches time.time, datetime.now and the like); monotonic clocks and
sleeps stay as they are. Debian's faketime is no substitute: it shifts sleeps too and hangs Socket Mode."""

from __future__ import annotations

import os
import sys
from datetime import timedelta

VARIABLE = "TEST_CALENDAR_SHIFT_DAYS"
MOST_DAYS = 10_000  # about 27 years either way: past 2038, and not back before 1970
_shifted = False  # site may run a .pth twice in one process (a venv's site-packages is added twice)


def shift_days(text: str) -> int | None:
    """`text` as a whole number of days, negative with a leading minus; None when it is not one."""
    # the editable install's finder, which makes workflow importable here, is set up by its own .pth:
    # ours sorts after it (service_orders_... > __editable__...)
    from workflow.numbers import parse_id

    text = text.strip()
    days = parse_id(text.removeprefix("-"), least=0, most=MOST_DAYS)
    return None if days is None else -days if text.startswith("-") else days


def travel() -> None:
    """Shift this process's wall clock by the variable's days (it ticks on from there), once."""
    global _shifted
    if _shifted:
        return
    text = os.environ.get(VARIABLE, "")
    days = shift_days(text)
    if days is None:
        refuse(f"{VARIABLE} must be a whole number of days from -{MOST_DAYS} to {MOST_DAYS} "
               f"(e.g. 400 or -400), not {text[:40]!r}")
    if days:
        try:
            import time_machine
        except ImportError:
            refuse(f"{VARIABLE} needs time-machine: install the dev extra (scripts/venv.sh does)")
        time_machine.travel(timedelta(days=days)).start()
    _shifted = True


def refuse(message: str) -> None:
    print(f"service-orders: {message}", file=sys.stderr, flush=True)
    # site runs .pth files before the program: a SystemExit there is a fatal error with a traceback
    os._exit(2)
