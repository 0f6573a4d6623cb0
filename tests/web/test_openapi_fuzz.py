"""Every operation of the OpenAPI document fuzzed with schemathesis, as an admin with data.

Two properties for each generated request, valid (positive) or not (negative): the
server never answers 5xx, and every 4xx carries the one error shape
``{"error": {"code", "message", "details"}}``. The examples per operation and mode
are bounded (``PACELINE_FUZZ_EXAMPLES``, default 4) so the whole API runs in about
two minutes on a small machine. (schemathesis' pytest plugin does not run on
pytest 9, and its own ASGI client leaves engine threads that abort the interpreter at
exit, so the cases are driven through hypothesis and sent with the app's TestClient.)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from paceline.bootstrap import Workspace
from paceline.services.access import operator
from paceline.web.app import create_app
from tests.web.web_helpers import TestClient, make_workspace, token_for

EXAMPLES = int(os.environ.get("PACELINE_FUZZ_EXAMPLES", "4"))


def _with_records(ws: Workspace) -> None:
    """Give the fuzzer something to find: a use case, an audit export, a checkpoint."""
    with ws.lifecycle() as lc:
        lc.create(operator(), {"key": "claims-triage", "title": "Claims triage", "owner": "ada"})
    ws.audit_export().run(operator(), "fuzz", f"file:{ws.home / 'fuzz-export.jsonl'}")
    ws.audit_checkpoints().checkpoint(operator())


@pytest.fixture(scope="module")
def fuzz_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    ws = make_workspace(tmp_path_factory.mktemp("fuzz") / "ws")
    _with_records(ws)
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def fuzz_app(fuzz_ws: Workspace) -> FastAPI:
    return create_app(fuzz_ws)


@pytest.fixture(scope="module")
def admin_headers(fuzz_ws: Workspace) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(fuzz_ws, 'ada')}"}


def assert_error_shape(status: int, body: Any, where: str) -> None:
    assert isinstance(body, dict) and set(body) == {"error"}, f"{where}: {status} without the error shape"
    error = body["error"]
    assert isinstance(error, dict) and {"code", "message", "details"} <= set(error), where
    assert isinstance(error["code"], str) and isinstance(error["message"], str) and error["message"], where
    assert isinstance(error["details"], dict), where


def _send(client: TestClient, case: Any, headers: dict[str, str]) -> Any:
    """Send *case* through the app's test client (one client, like the other web tests)."""
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
    args = {k: kwargs[k] for k in ("method", "url", "headers", "params", "json", "files") if k in kwargs}
    data = kwargs.get("data")
    if isinstance(data, (bytes, str)):
        args["content"] = data
    elif data is not None:
        args["data"] = data
    if kwargs.get("cookies"):
        client.cookies.update(kwargs["cookies"])
    try:
        return client.request(**args)
    finally:
        client.cookies.clear()


def _check(client: TestClient, case: Any, headers: dict[str, str]) -> None:
    try:
        response = _send(client, case, headers)
    except Exception as exc:  # the test client re-raises what the app did not handle: a 500
        raise AssertionError(f"{case.method} {case.formatted_path} -> raised {exc!r}") from None
    where = f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
    assert response.status_code < 500, where
    if 400 <= response.status_code < 500:
        assert_error_shape(response.status_code, response.json(), where)


def _fuzz(client: TestClient, operation: Any, mode: GenerationMode, headers: dict[str, str]) -> str | None:
    """The first failure of *operation* under *mode*, or ``None``."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
    )
    def run(case: Any) -> None:
        _check(client, case, headers)

    try:
        run()
    except AssertionError as exc:
        return f"{mode.value}: {exc}"
    except Unsatisfiable:
        return None  # an operation without parameters has no invalid variant
    return None


def test_no_5xx_and_the_error_shape_on_every_4xx(fuzz_app: FastAPI, admin_headers: dict[str, str]) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20
    failures: list[str] = []
    with TestClient(fuzz_app, raise_server_exceptions=False) as client:
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                failure = _fuzz(client, operation, mode, admin_headers)
                if failure:
                    failures.append(f"{operation.method.upper()} {operation.path} {failure}")
    assert not failures, "\n".join(failures)


def test_the_fuzzed_workspace_is_still_consistent(fuzz_ws: Workspace) -> None:
    """After the fuzzing (the test above runs first), the audit chain still verifies."""
    assert fuzz_ws.verify_audit().ok


def test_the_fuzz_check_catches_a_5xx_and_a_bare_4xx() -> None:
    """The two properties fail where they should (on a throwaway app, not Paceline's)."""
    toy = FastAPI()

    @toy.get("/boom/{n}")
    def boom(n: int) -> dict[str, int]:
        if n > 5:
            raise RuntimeError("bug")
        return {"n": n}

    @toy.get("/bare", response_model=None)
    def bare() -> Any:
        return JSONResponse({"detail": "no"}, status_code=400)

    ops = {
        op.path: op
        for op in (r.ok() for r in schemathesis.openapi.from_asgi("/openapi.json", toy).get_all_operations())
    }
    with TestClient(toy, raise_server_exceptions=False) as client:
        with pytest.raises(AssertionError, match="500"):
            _check(client, ops["/boom/{n}"].Case(path_parameters={"n": 9}), {})
        _check(client, ops["/boom/{n}"].Case(path_parameters={"n": 1}), {})
        with pytest.raises(AssertionError, match="error shape"):
            _check(client, ops["/bare"].Case(), {})
