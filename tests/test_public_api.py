"""The curated public surface: every name in ``__all__`` exists, nothing private leaks."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

import paceline
from paceline import errors


def test_all_names_exist_and_are_sorted() -> None:
    names = [n for n in paceline.__all__ if n != "__version__"]
    assert names == sorted(names)
    for name in paceline.__all__:
        assert hasattr(paceline, name), name


def test_public_members_are_exactly_all() -> None:
    """Besides submodules (imported by whoever needs them), only ``__all__`` is public."""
    names = [n for n in dir(paceline) if not n.startswith("_")]
    public = {n for n in names if not inspect.ismodule(getattr(paceline, n))}
    helpers = {"annotations", "version", "PackageNotFoundError", "import_module", "TYPE_CHECKING", "Any"}
    assert public - helpers == set(paceline.__all__) - {"__version__"}


def test_importing_paceline_loads_nothing_heavy() -> None:
    """Names load on first use: a script calling only ``paceline.drift`` never loads the workspace."""
    code = (
        "import sys, paceline; heavy = {'sqlalchemy', 'duckdb', 'ibis', 'scipy', 'fastapi'}; "
        "print(sorted(heavy & set(sys.modules))); paceline.drift; print('sqlalchemy' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[:2] == ["[]", "False"]


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        paceline.nope  # noqa: B018


def test_every_error_has_the_one_json_shape() -> None:
    for cls in vars(errors).values():
        if isinstance(cls, type) and issubclass(cls, errors.PacelineError):
            err = cls("message", fix="do this")
            body = err.to_dict()
            assert set(body) == {"error"}
            assert body["error"] == {"code": cls.code, "message": "message", "details": {"fix": "do this"}}
            assert 400 <= cls.http_status < 600 and cls.exit_code in (1, 2)
