"""The command reference in docs/cli.md, generated from the commands themselves.

A test compares the file with :func:`render` so the docs never drift from the code;
``python -m paceline.cli.reference > docs/cli.md`` refreshes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer.main

from paceline.cli.main import app

HEADER = """# Command reference

Generated from the commands by `python -m paceline.cli.reference > docs/cli.md`; a test keeps it
current. Every command accepts `--help`. Exit codes: 0 success, 1 a check failed, 2 unusable
input or usage error (nothing changed), 3 partial success (some rows quarantined).
"""


# Typer vendors its own copy of click, so commands are inspected by duck typing.
Command = Any


def _walk(cmd: Command, path: list[str]) -> Iterator[tuple[list[str], Command]]:
    if hasattr(cmd, "commands"):
        for name in sorted(cmd.commands):
            yield from _walk(cmd.commands[name], [*path, name])
    else:
        yield path, cmd


def _option_row(param: Any) -> str:
    is_option = param.param_type_name == "option"
    name = param.metavar or (param.name or "").upper()
    names = ", ".join(f"`{n}`" for n in param.opts) if is_option else f"`{name}`"
    help_text = (param.help or "").replace("|", "\\|")
    is_flag = bool(getattr(param, "is_flag", False))
    default = None if is_flag else param.default
    if is_option and hasattr(default, "value"):
        members: Any = type(default)
        choices = "/".join(str(m.value) for m in members)
        help_text += f" One of {choices}."
    shown = "" if default in (None, "", (), False) else f" Default: `{getattr(default, 'value', default)}`."
    flag = " (flag)" if is_flag else ""
    required = " **Required.**" if param.required else ""
    return f"| {names}{flag} | {help_text}{shown}{required} |"


def _section(path: list[str], cmd: Command) -> str:
    ctx = cmd.context_class(cmd, info_name="paceline " + " ".join(path))
    usage = " ".join(cmd.collect_usage_pieces(ctx))
    lines = [
        f"## paceline {' '.join(path)}",
        "",
        (cmd.help or "").strip(),
        "",
        "```",
        f"{ctx.info_name} {usage}",
        "```",
        "",
    ]
    params = [p for p in cmd.params if p.name != "help"]
    if params:
        lines += ["| parameter | meaning |", "|---|---|", *map(_option_row, params), ""]
    return "\n".join(lines)


def render() -> str:
    """The whole reference as Markdown."""
    root = typer.main.get_command(app)
    sections = [_section(path, cmd) for path, cmd in _walk(root, [])]
    return HEADER + "\n" + "\n".join(sections)


if __name__ == "__main__":
    print(render(), end="")
