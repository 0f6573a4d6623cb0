"""The docs stay honest: the command reference is generated, every doc link resolves."""

from __future__ import annotations

import re
from pathlib import Path

from paceline.cli.reference import render

ROOT = Path(__file__).resolve().parents[1]


def test_cli_reference_is_current() -> None:
    assert (ROOT / "docs" / "cli.md").read_text(encoding="utf-8") == render(), (
        "docs/cli.md is stale: run `python -m paceline.cli.reference > docs/cli.md`"
    )


def test_links_between_docs_resolve() -> None:
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#:]+\.md)\)", doc.read_text(encoding="utf-8")):
            assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"


def test_every_setting_is_documented() -> None:
    from paceline.settings import Settings

    text = (ROOT / "docs" / "workspace.md").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"`{name}`" in text, f"setting {name} is not in docs/workspace.md"


def test_the_role_table_lists_each_roles_actions() -> None:
    from paceline.domain.roles import ROLE_ACTIONS, Action, Role

    rows = {}
    for line in (ROOT / "docs" / "access.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0].strip("`")] = set(re.findall(r"`([a-z_.]+)`", cells[2]))
    assert set(rows) == {r.value for r in Role}
    everyone = {Action.READ, Action.TOKEN_CREATE_OWN}
    for role in Role:
        if role is not Role.ADMIN:
            assert rows[role.value] == {a.value for a in ROLE_ACTIONS[role] - everyone}, role
