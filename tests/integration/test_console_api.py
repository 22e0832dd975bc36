"""The console API over a data directory built by the real pipeline: every change endpoint
refuses the anonymous (401), the wrong role (403), a missing or wrong CSRF token (403) and
invalid input (422), and leaves users, versions, audit log and published scores unchanged;
what is allowed is saved, audited and republished."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from e2e.console_data import (
    PASSWORD,
    fresh_copy,
    running_console,
    shared_data_dir,
)
from lpscore.cli import app as cli_app
from lpscore.console import DB_NAME, Console, ConsoleDB, create_console_app, hash_password
from lpscore.console.auth import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE
from lpscore.console.data import DataDir
from lpscore.errors import InputError
from serving import SERVE, lpscore_serve

BLOCK = {"ack_latency_ms_p50": 0.1, "fill_rate": 0.4, "pi_bps": 0.2, "impact_bps_5s": 0.3}
GOOD = {"weights": {"fill_rate": 0.6, "pi_bps": 0.4}, "comment": "fills and price"}

# (method, path, a valid body, invalid bodies) for every endpoint that changes something,
# with the lowest role allowed to call it
CHANGES: list[tuple[str, str, str, dict[str, Any], list[dict[str, Any]]]] = [
    ("calibrator", "POST", "/api/profiles/block/versions", GOOD, [
        {"weights": {"fill_rate": -0.5, "pi_bps": 1.5}, "comment": "negative"},
        {"weights": {"fill_rat": 1.0}, "comment": "unknown KPI"},
        {"weights": {"fill_rate": 0.5, "pi_bps": 0.4}, "comment": "sums to 0.9"},
        {"weights": {"fill_rate": 0.0}, "comment": "no weight at all"},
        {"weights": {}, "comment": "empty"},
        {"weights": {"fill_rate": "lots"}, "comment": "not a number"},
        {"weights": {"fill_rate": 1.0}, "comment": ""},
        {"weights": {"fill_rate": 1.0}},
        {"weights": {"fill_rate": 1.0}, "comment": "x", "normalize": True},
    ]),
    ("calibrator", "POST", "/api/profiles/block/rollback", {"version": 1, "comment": "back"}, [
        {"version": 0}, {"version": "first"}, {}]),
    ("admin", "POST", "/api/users", {"username": "newbie", "password": "a long password",
                                     "role": "viewer"}, [
        {"username": "newbie", "password": "short", "role": "viewer"},
        {"username": "newbie", "password": "a long password", "role": "root"},
        {"username": "no spaces", "password": "a long password", "role": "viewer"}]),
    ("admin", "PATCH", "/api/users/vic", {"role": "calibrator"}, [
        {"role": "boss"}, {"password": "short"}, {"name": "x"}]),
    ("viewer", "POST", "/api/logout", {}, []),
]
IDS = [f"{c[1]} {c[2]}" for c in CHANGES]
LOWER = {"calibrator": "vic", "admin": "cal", "viewer": None}
ALLOWED = {"calibrator": "cal", "admin": "ada", "viewer": "vic"}


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    data = fresh_copy(shared_data_dir(tmp_path_factory),
                      tmp_path_factory.mktemp("api") / "data")
    with running_console(data) as running:
        yield running


@pytest.fixture(scope="module")
def clients(console: Console) -> dict[str, TestClient]:
    """A logged-in client per user (argon2 makes logins slow: once each), and ``anon``."""
    app = create_console_app(console.cache, console)
    out = {"anon": TestClient(app)}
    for user in ("ada", "cal", "vic"):
        client = TestClient(app)
        assert client.post("/api/login", json={"username": user, "password": PASSWORD}
                           ).status_code == 200
        out[user] = client
    return out


def csrf(client: TestClient) -> dict[str, str]:
    return {CSRF_HEADER: client.cookies[CSRF_COOKIE]}


def snapshot_of(console: Console) -> tuple[Any, ...]:
    """Everything a refused change must leave as it was."""
    db = console.db
    versions = {p: [v.to_json() for v in db.versions(p)] for p in console.profiles}
    users = [(u.name, u.role, u.password_hash) for u in db.users()]
    published = {(p, c): console.store.get(p, c) for p in console.profiles
                 for c in console.store.contexts(p)}
    return versions, users, db.audit_log(limit=500), published


def call(client: TestClient, method: str, path: str, body: dict[str, Any],
         headers: dict[str, str] | None = None) -> Any:
    return client.request(method, path, json=body, headers=headers or {})


@pytest.mark.parametrize(("role", "method", "path", "good", "bad"), CHANGES, ids=IDS)
def test_change_endpoints_refuse_and_change_nothing(
        console: Console, clients: dict[str, TestClient], role: str, method: str, path: str,
        good: dict[str, Any], bad: list[dict[str, Any]]) -> None:
    before = snapshot_of(console)
    allowed = clients[ALLOWED[role]]

    got = call(clients["anon"], method, path, good)
    assert got.status_code == 401, got.text
    assert "log in" in got.json()["detail"]

    lower = LOWER[role]
    if lower is not None:
        got = call(clients[lower], method, path, good, csrf(clients[lower]))
        assert got.status_code == 403, got.text
        assert f"role {role} or higher needed" in got.json()["detail"]

    for headers in ({}, {CSRF_HEADER: ""}, {CSRF_HEADER: "forged"},
                    csrf(clients["ada" if allowed is not clients["ada"] else "cal"])):
        got = call(allowed, method, path, good, headers)
        assert got.status_code == 403, (headers, got.text)
        assert CSRF_HEADER in got.json()["detail"]

    for body in bad:
        got = call(allowed, method, path, body, csrf(allowed))
        assert got.status_code == 422, (body, got.text)
        assert got.json()["detail"][0]["msg"]

    assert snapshot_of(console) == before


def test_invalid_weights_say_what_is_wrong(clients: dict[str, TestClient]) -> None:
    cal = clients["cal"]

    def message(weights: dict[str, Any]) -> str:
        got = cal.post("/api/profiles/block/versions", headers=csrf(cal),
                       json={"weights": weights, "comment": "test"})
        assert got.status_code == 422
        return str(got.json()["detail"][0]["msg"])

    assert "greater than or equal to 0" in message({"fill_rate": -1.0, "pi_bps": 2.0})
    assert "unknown KPI 'fill_rat'; did you mean fill_rate" in message({"fill_rat": 1.0})
    assert "sum to 0.9, not 1" in message({"fill_rate": 0.5, "pi_bps": 0.4})
    assert "Normalise" in message({"fill_rate": 0.5, "pi_bps": 0.4})
    preview = cal.post("/api/profiles/block/preview", json={"weights": {"nope": 1.0}})
    assert preview.status_code == 422
    assert "unknown KPI 'nope'" in preview.json()["detail"][0]["msg"]
    unknown = cal.post("/api/profiles/block/preview", json={
        "weights": {"fill_rate": 1.0}, "context": "foo=bar"}).json()["detail"][0]
    assert unknown["loc"] == ["body", "context"]    # it was the weights, "--context: ..."
    assert unknown["msg"].startswith("context 'foo=bar': unknown key(s) foo; use symbol")
    for weight in ('"1"', "true"):                  # taken for 1.0
        got = cal.post("/api/profiles/block/preview", content=f'{{"weights": {{"fill_rate": '
                       f'{weight}}}}}', headers={"Content-Type": "application/json"})
        assert got.status_code == 422 and "valid number" in got.text, got.text
    # NaN and infinities are refused with a 422 that echoes them as text: FastAPI's own
    # answer could not write them back as JSON and was a 500
    for path, body in (("preview", '{"weights": {"fill_rate": NaN}}'),
                       ("versions", '{"weights": {"fill_rate": Infinity}, "comment": "x"}'),
                       ("versions", '{"weights": {"fill_rate": 1e309}, "comment": "x"}'),
                       ("rollback", '{"version": 1e400, "comment": "x"}')):
        got = cal.post(f"/api/profiles/block/{path}", content=body, headers={
            **csrf(cal), "Content-Type": "application/json"})
        assert got.status_code == 422, (path, body, got.text)
        assert {"nan", "inf"} & set(re.findall(r"nan|inf", got.text)), got.text  # echoed


def test_reads_need_a_login_but_router_endpoints_do_not(clients: dict[str, TestClient]
                                                        ) -> None:
    anon = clients["anon"]
    for path in ("/api/profiles", "/api/kpis", "/api/lps", "/api/lps/LP_A",
                 "/api/lps/LP_A/series", "/api/compare?lp=LP_A&lp=LP_B", "/api/decisions",
                 "/api/audit", "/api/events", "/api/session", "/api/users",
                 "/api/profiles/block/versions"):
        assert anon.get(path).status_code == 401, path
    assert anon.get("/api/health").status_code == 200
    assert anon.get("/api/scores/block").status_code == 200
    assert clients["cal"].get("/api/users").status_code == 403  # admin only
    assert anon.get("/").status_code == 200  # the page itself, which shows the login form


def test_kpi_views(clients: dict[str, TestClient]) -> None:
    vic = clients["vic"]
    lps = vic.get("/api/lps", params={"limit": 2, "offset": 1}).json()
    assert (lps["total"], lps["limit"], lps["offset"]) == (4, 2, 1)
    assert [r["lp"] for r in lps["items"]] == ["LP_B", "LP_C"]
    assert vic.get("/api/lps", params={"lp": "LP_D"}).json()["items"][0]["lp"] == "LP_D"
    detail = vic.get("/api/lps/LP_A").json()
    assert detail["kpis"]["n_orders"] == sum(r["n_orders"] for r in vic.get(
        "/api/lps").json()["items"] if r["lp"] == "LP_A")
    assert set(detail["markouts"]) == {"LP_A", "LP_B", "LP_C", "LP_D"}
    assert detail["horizons"] == list(detail["markouts"]["LP_A"])
    ack = detail["latency"]["ack_latency_ms"]
    assert len(ack["edges"]) == 21
    assert sum(ack["counts"]["LP_A"]) <= detail["kpis"]["n_orders"]
    assert {r["size_bucket"] for r in detail["fill_by_size"]} >= {"10k-100k"}
    assert detail["scores"]["block"]["lp"] == "LP_A"
    daily = vic.get("/api/lps/LP_A/series", params={"bucket": "1d"}).json()
    assert [r["period"] for r in daily["items"]] == ["2012-06-21T00:00:00Z"]
    assert daily["items"][0]["n_orders"] == detail["kpis"]["n_orders"]
    minutes = vic.get("/api/lps/LP_A/series", params={"bucket": "1m"}).json()["items"]
    assert len(minutes) > 5
    assert sum(r["n_orders"] for r in minutes) == detail["kpis"]["n_orders"]
    assert vic.get("/api/lps/NOPE").status_code == 404
    assert vic.get("/api/lps/LP_A/series", params={"bucket": "2d"}).status_code == 422
    both = vic.get("/api/compare", params={"lp": ["LP_B", "LP_A"]}).json()
    assert [r["lp"] for r in both["rows"]] == ["LP_B", "LP_A"]
    assert vic.get("/api/decisions").json() == {"items": [], "total": 0, "limit": 50,
                                                "offset": 0, "malformed": 0}


def test_a_version_number_past_what_sqlite_holds_is_a_422(clients: dict[str, TestClient]
                                                          ) -> None:
    vic = clients["vic"]
    assert vic.get("/api/profiles/block/versions/1").json()["version"] == 1
    for version in ("0", str(2**64)):   # schemathesis found 2**64 a 500 (SQLite overflow)
        assert vic.get(f"/api/profiles/block/versions/{version}").status_code == 422


def test_decisions_are_read_from_the_data_dir(tmp_path: Path) -> None:
    (tmp_path / "decisions.jsonl").write_text(
        '{"policy": "spray", "profile": "block", "children": [{"lp": "LP_A", "qty": 5}]}\n'
        '{"policy": "primary", "profile": "hft", "children": [{"lp": "LP_B", "qty": 9}]}\n'
        '{"policy": "cut short\n', encoding="utf-8")   # a malformed line: skipped, counted
    ConsoleDB(tmp_path / DB_NAME).add_user("vic", hash_password(PASSWORD), "viewer")
    with running_console(tmp_path) as console:  # no KPI tables: decisions, profiles, audit
        client = TestClient(create_console_app(console.cache, console))
        assert client.post("/api/login", json={"username": "vic", "password": PASSWORD}
                           ).status_code == 200
        page = client.get("/api/decisions", params={"lp": "LP_B"}).json()
        assert client.get("/api/lps").json()["total"] == 0
        preview = client.post("/api/profiles/block/preview", json={"weights": BLOCK})
    assert (page["total"], page["items"][0]["policy"], page["malformed"]) == (1, "primary", 1)
    assert preview.status_code == 409
    assert "lpscore kpis" in preview.json()["detail"]


def test_save_is_audited_republished_and_announced(console: Console,
                                                   clients: dict[str, TestClient]) -> None:
    cal = clients["cal"]
    before = console.store.get("block", "*")
    assert before is not None
    received: list[str] = []

    def listen() -> None:
        with cal.stream("GET", "/api/events", params={"max_s": 2.0}) as stream:
            received.extend(stream.iter_lines())

    listener = threading.Thread(target=listen)
    listener.start()
    time.sleep(0.4)
    saved = cal.post("/api/profiles/block/versions", json=GOOD, headers=csrf(cal))
    listener.join()
    assert saved.status_code == 201, saved.text
    body = saved.json()
    assert (body["previous_version"], body["weights"]) == (1, GOOD["weights"])
    assert body["published"] > 0 and body["publish_error"] is None
    after = console.store.get("block", "*")
    assert after is not None and after.version == before.version + 1
    assert after.scores != before.scores
    entry = cal.get("/api/audit", params={"action": "profile.save"}).json()["items"][0]
    assert (entry["user"], entry["target"], entry["comment"]) == ("cal", "block",
                                                                  "fills and price")
    assert entry["old"] == {"version": 1, "weights": BLOCK}
    assert entry["new"] == {"version": body["version"], "weights": GOOD["weights"]}
    assert "event: score" in received
    assert "event: change" in received
    assert any('"profile": "block", "context": "*"' in line for line in received)

    # roll back: a new version with the old weights, audited as such
    back = cal.post("/api/profiles/block/rollback", json={"version": 1, "comment": ""},
                    headers=csrf(cal)).json()
    assert back["weights"] == BLOCK and back["version"] == body["version"] + 1
    entry = cal.get("/api/audit", params={"target": "block"}).json()["items"][0]
    assert (entry["action"], entry["comment"]) == ("profile.rollback", "rollback to version 1")
    assert console.store.get("block", "*").scores == before.scores  # type: ignore[union-attr]
    versions = cal.get("/api/profiles/block/versions", params={"limit": 1}).json()
    assert versions["total"] == back["version"] and len(versions["items"]) == 1
    assert cal.post("/api/profiles/block/rollback", json={"version": 999},
                    headers=csrf(cal)).status_code == 404


def test_users_admin(console: Console, clients: dict[str, TestClient]) -> None:
    ada = clients["ada"]
    made = ada.post("/api/users", headers=csrf(ada), json={
        "username": "dora", "password": "another long one", "role": "calibrator"})
    assert made.status_code == 201, made.text
    stored = console.db.user("dora")
    assert stored is not None and stored.password_hash.startswith("$argon2id$")
    assert ada.post("/api/users", headers=csrf(ada), json={
        "username": "dora", "password": "another long one", "role": "viewer"}
        ).status_code == 409
    # in another case, the same user to a reader of the audit log
    assert "exists already (as 'dora')" in ada.post("/api/users", headers=csrf(ada), json={
        "username": "Dora", "password": "another long one", "role": "viewer"}).json()["detail"]
    for password, said in (("", "at least 10 characters"), (" " * 12, "spaces only")):
        weak = ada.post("/api/users", headers=csrf(ada), json={
            "username": "eve", "password": password, "role": "viewer"})
        assert weak.status_code == 422 and said in weak.text, weak.text
    empty = ada.patch("/api/users/dora", headers=csrf(ada), json={})   # audited nothing
    assert empty.status_code == 422 and "give role, password or both" in empty.text
    last_admin = ada.patch("/api/users/ada", headers=csrf(ada), json={"role": "viewer"})
    assert last_admin.status_code == 409
    assert "last admin" in last_admin.json()["detail"]
    assert ada.patch("/api/users/ghost", headers=csrf(ada), json={"role": "viewer"}
                     ).status_code == 404
    listed = ada.get("/api/users")
    assert listed.status_code == 200, listed.text
    names = {u["username"]: u["role"] for u in listed.json()}
    assert names["dora"] == "calibrator"
    assert "password_hash" not in str(ada.get("/api/users").json())


def test_cookies_and_login_rate_limit(tmp_path_factory: pytest.TempPathFactory) -> None:
    data = fresh_copy(shared_data_dir(tmp_path_factory),
                      tmp_path_factory.mktemp("limit") / "data")
    with running_console(data) as console:
        app = create_console_app(console.cache, console)
        tls = TestClient(app, base_url="https://testserver")
        ok = tls.post("/api/login", json={"username": "vic", "password": PASSWORD})
        cookies = {c.split("=", 1)[0]: c.lower() for c in ok.headers.get_list("set-cookie")}
        assert "httponly" in cookies[SESSION_COOKIE]
        assert "samesite=strict" in cookies[SESSION_COOKIE]
        assert "secure" in cookies[SESSION_COOKIE] and "secure" in cookies[CSRF_COOKIE]
        assert "httponly" not in cookies[CSRF_COOKIE]  # the page reads it
        assert ok.json()["csrf"] == tls.cookies[CSRF_COOKIE]
        plain = TestClient(app).post("/api/login", json={"username": "vic",
                                                          "password": PASSWORD})
        assert "secure" not in plain.headers["set-cookie"].lower()
        assert "content-security-policy" in TestClient(app).get("/").headers

        client = TestClient(app)
        for _ in range(5):
            wrong = client.post("/api/login", json={"username": "cal", "password": "guess"})
            assert wrong.status_code == 401
            assert wrong.json()["detail"] == "wrong user name or password"
        locked = client.post("/api/login", json={"username": "cal", "password": PASSWORD})
        assert locked.status_code == 429
        assert int(locked.headers["Retry-After"]) > 0
        unknown = client.post("/api/login", json={"username": "nobody", "password": "x"})
        assert unknown.status_code == 429  # the address is locked too


def test_users_command(tmp_path: Path) -> None:
    runner = CliRunner()
    done = runner.invoke(cli_app, ["users", "add", "root", "--role", "admin", "--data",
                                   str(tmp_path), "--password-stdin"],
                         input="a very long secret\n")
    assert done.exit_code == 0, done.output
    user = ConsoleDB(tmp_path / DB_NAME).user("root")
    assert user is not None and user.role == "admin"
    assert user.password_hash.startswith("$argon2id$")
    short = runner.invoke(cli_app, ["users", "add", "bob", "--role", "viewer", "--data",
                                    str(tmp_path), "--password-stdin"], input="short\n")
    assert short.exit_code == 2
    bad_role = runner.invoke(cli_app, ["users", "add", "bob", "--role", "root", "--data",
                                       str(tmp_path), "--password-stdin"], input="x" * 12)
    assert bad_role.exit_code == 2
    assert ConsoleDB(tmp_path / DB_NAME).user("bob") is None
    listed = runner.invoke(cli_app, ["users", "list", "--data", str(tmp_path)])
    assert "root" in listed.output and "admin" in listed.output




def test_serve_data_starts_the_console(tmp_path_factory: pytest.TempPathFactory) -> None:
    data = fresh_copy(shared_data_dir(tmp_path_factory),
                      tmp_path_factory.mktemp("serve") / "data")
    with lpscore_serve("--data", str(data)) as served:
        base = served.base
        assert set(served.health["profiles"]) == {"hft", "block", "best_price"}
        assert httpx.get(f"{base}/api/scores/block").json()["scores"]  # published at start
        assert "lpscore console" in httpx.get(f"{base}/").text
        assert httpx.get(f"{base}/static/app.js").status_code == 200
        assert httpx.get(f"{base}/api/profiles").status_code == 401
        spec = httpx.get(f"{base}/openapi.json").json()
        assert {"/api/login", "/api/profiles/{name}/versions", "/api/audit",
                "/api/scores/{profile}"} <= set(spec["paths"])
    assert served.returncode == 0, served.err
    assert f"console: http://127.0.0.1:{served.port}/" in served.err


def test_serve_needs_a_store_or_data() -> None:
    done = subprocess.run([sys.executable, "-c", SERVE], check=False, capture_output=True,
                          text=True, timeout=30, env={**os.environ, "COLUMNS": "1000"})
    assert done.returncode == 2
    assert "give --store URI" in done.stderr


def test_kpi_tables_of_another_version_are_served_or_refused_with_what_to_do(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """fills.parquet written before pi_amount was kept crashed `serve --data` with a
    traceback; a table lacking what the console needs stops it with what to do."""
    data = fresh_copy(shared_data_dir(tmp_path_factory), tmp_path_factory.mktemp("old") / "d")
    fills = pl.read_parquet(data / "fills.parquet", glob=False)
    fills.drop("pi_amount").write_parquet(data / "fills.parquet")
    new = DataDir.open(shared_data_dir(tmp_path_factory)).summary(["lp"])
    old = DataDir.open(data).summary(["lp"])     # pi_amount from pi_bps, m0 and q
    assert [r["pi_amount"] for r in old] == pytest.approx([r["pi_amount"] for r in new],
                                                          rel=1e-9)
    fills.drop("pi_amount", "q").write_parquet(data / "fills.parquet")
    with pytest.raises(InputError, match=r"cannot be read .*run `lpscore kpis"):
        DataDir.open(data)
