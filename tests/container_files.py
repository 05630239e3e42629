"""The Dockerfile's instructions, read simply: enough for tests/test_container.py to run what the image runs."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: RUN, CMD, COPY, …
    arguments: str  # as written, continuations joined


def instructions(dockerfile: Path) -> list[Instruction]:
    """Each instruction with its backslash-continued lines joined; comments and blank lines dropped."""
    found: list[Instruction] = []
    pending = ""
    for line in dockerfile.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        found.append(Instruction(keyword.upper(), arguments.strip()))
        pending = ""
    return found


def command(arguments: str) -> list[str]:
    """A RUN/CMD command as the engine runs it: exec form (a JSON array) as is, shell form through /bin/sh -c."""
    if arguments.startswith("["):
        return json.loads(arguments)
    return ["/bin/sh", "-c", arguments]


def healthcheck_command(arguments: str) -> list[str]:
    """HEALTHCHECK [--option=value …] CMD <command>: the command."""
    found = re.fullmatch(r"(?:--[a-z-]+=\S+\s+)*CMD\s+(.+)", arguments, re.DOTALL)
    if found is None:
        raise ValueError(f"HEALTHCHECK without CMD: {arguments!r}")
    return command(found.group(1).strip())


def environment(found: list[Instruction]) -> dict[str, str]:
    """The ENV key=value pairs (the form this Dockerfile uses)."""
    values: dict[str, str] = {}
    for instruction in found:
        if instruction.keyword == "ENV":
            for pair in shlex.split(instruction.arguments):
                key, _, value = pair.partition("=")
                values[key] = value
    return values
