"""Schemathesis against the console's OpenAPI spec, logged in as the admin (so every endpoint
is reached past its login): no input it generates makes the server answer 5xx. Bounded: a
few examples per operation, so it runs in seconds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from e2e.console_data import PASSWORD, fresh_copy, running_console, shared_data_dir
from lpscore.console.auth import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE

EXAMPLES = 6
KNOWN = {"name": ["block", "hft"], "profile": ["block"], "lp": ["LP_A", "LP_D"],
         "version": [1, 2], "username": ["vic", "cal"]}  # not ada: the session in use
SKIPPED = {
    ("GET", "/api/events"): "an endless stream by design (tested in test_console_api)",
    ("POST", "/api/logout"): "would end the session the other operations run in",
}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    from lpscore.console import create_console_app  # noqa: PLC0415

    data = fresh_copy(shared_data_dir(tmp_path_factory),
                      tmp_path_factory.mktemp("schema") / "data")
    with running_console(data) as console:
        yield create_console_app(console.cache, console)


def test_no_input_makes_a_server_error(app: FastAPI) -> None:
    login = TestClient(app).post("/api/login", json={"username": "ada", "password": PASSWORD})
    assert login.status_code == 200
    cookies = {SESSION_COOKIE: login.cookies[SESSION_COOKIE],
               CSRF_COOKIE: login.cookies[CSRF_COOKIE]}
    headers = {CSRF_HEADER: login.cookies[CSRF_COOKIE]}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    tested = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue
        tested.append(f"{operation.method.upper()} {operation.path}")

        @given(case=operation.as_strategy(), data=st.data())
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        def run(case: Any, data: st.DataObject) -> None:
            for key, known in KNOWN.items():  # reach past the 404s too
                if key in (case.path_parameters or {}):
                    case.path_parameters[key] = data.draw(st.sampled_from(
                        [*known, case.path_parameters[key]]))
            if case.operation.path == "/api/compare" and data.draw(st.booleans()):
                case.query = {"lp": data.draw(st.lists(st.sampled_from(KNOWN["lp"]),
                                                       min_size=1, max_size=4))}
            response = case.call(headers=headers, cookies=cookies)
            case.validate_response(response, checks=[not_a_server_error])

        run()
    assert {"POST /api/profiles/{name}/versions", "POST /api/login", "GET /api/lps/{lp}",
            "GET /api/scores/{profile}", "PATCH /api/users/{username}"} <= set(tested)
