"""The curated public surface: every name in ``__all__`` exists, nothing private leaks."""

from __future__ import annotations

import inspect

import paceline
from paceline import errors


def test_all_names_exist_and_are_sorted() -> None:
    names = [n for n in paceline.__all__ if n != "__version__"]
    assert names == sorted(names)
    for name in paceline.__all__:
        assert hasattr(paceline, name), name


def test_public_members_are_exactly_all() -> None:
    """Besides submodules (imported by whoever needs them), only ``__all__`` is public."""
    public = {n for n, v in vars(paceline).items() if not n.startswith("_") and not inspect.ismodule(v)}
    helpers = {"annotations", "version", "PackageNotFoundError"}
    assert public - helpers == set(paceline.__all__) - {"__version__"}


def test_every_error_has_the_one_json_shape() -> None:
    for cls in vars(errors).values():
        if isinstance(cls, type) and issubclass(cls, errors.PacelineError):
            err = cls("message", fix="do this")
            body = err.to_dict()
            assert set(body) == {"error"}
            assert body["error"] == {"code": cls.code, "message": "message", "details": {"fix": "do this"}}
            assert 400 <= cls.http_status < 600 and cls.exit_code in (1, 2)
