"""The console in a real browser: log in, read the leaderboard, open an LP page, recalibrate
a profile as a calibrator (preview, save, audit entry, new ranking), see a routing decision
appear while the decisions page is open, and be refused the same change as a viewer. A
screenshot per step goes to the test's tmp dir (screens/)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from e2e.console_data import PASSWORD, Server, fresh_copy, serve_console, shared_data_dir
from lpscore.config import RoutingConfig
from lpscore.model.enums import Side
from lpscore.routing import DecisionLog, Router, RouteRequest, Spray

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
NEW_WEIGHTS = {"ack_latency_ms_p50": "0", "fill_rate": "1", "pi_bps": "0", "impact_bps_5s": "0"}

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    built = shared_data_dir(tmp_path_factory)
    with serve_console(fresh_copy(built, tmp_path_factory.mktemp("e2e") / "data")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield launched
        launched.close()


class Steps:
    """Screenshots numbered in the order taken."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.taken: list[Path] = []
        directory.mkdir(parents=True, exist_ok=True)

    def shot(self, page: Page, name: str) -> None:
        path = self.directory / f"{len(self.taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)


def log_in(page: Page, server: Server, user: str) -> None:
    page.goto(server.url + "/")
    page.fill("#login-form input[name=username]", user)
    page.fill("#login-form input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#who")).to_contain_text(user)


def ranking(page: Page, table: str) -> list[str]:
    return [str(x) for x in page.locator(f"{table} tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.lp)")]


def set_weights(page: Page) -> None:
    for kpi, value in NEW_WEIGHTS.items():
        page.fill(f"#weights input[data-kpi='{kpi}']", value)
    expect(page.locator("#weights-sum")).to_have_text("sum 1.0000")


def test_calibrator_recalibrates_and_viewer_is_refused(server: Server, browser: Browser,
                                                      tmp_path: Path) -> None:
    steps = Steps(tmp_path / "screens")
    errors: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text)
            if msg.type == "error" and "401" not in msg.text else None)  # 401: before login

    page.goto(server.url + "/")
    expect(page.locator("#login-form")).to_be_visible()
    steps.shot(page, "login")
    log_in(page, server, "cal")

    # the leaderboard of the block profile, LP level
    rows = page.locator("#leaderboard tbody tr")
    expect(rows).to_have_count(4)
    expect(page.locator("#snapshot-meta")).to_contain_text("block version 1")
    before = ranking(page, "#leaderboard")
    assert sorted(before) == ["LP_A", "LP_B", "LP_C", "LP_D"]
    expect(rows.first.locator("svg")).to_have_count(2)  # interval and contribution bars
    steps.shot(page, "leaderboard")

    # an LP page: KPIs against peers and its charts
    page.click(f"#leaderboard a:text-is('{before[0]}')")
    expect(page.locator("#lp-page h1")).to_have_text(f"LP {before[0]}")
    expect(page.locator("#lp-kpis tbody tr")).to_have_count(8)
    expect(page.locator("#markouts svg path")).to_have_count(4)  # one curve per LP
    expect(page.locator("#lp-page .card")).to_have_count(7)
    expect(page.locator("#lp-page .card svg").first).to_be_visible()
    steps.shot(page, "lp-page")

    # two LPs side by side
    page.click("#lp-page a:text-is('Compare with peers')")
    expect(page.locator("#compare thead th")).to_have_count(5)  # KPI + the four LPs
    page.goto(server.url + "/#/compare?lp=LP_A&lp=LP_C")
    expect(page.locator("#compare thead th")).to_have_text(["KPI", "LP_A", "LP_C"])
    expect(page.locator("#compare-page svg path")).to_have_count(2)
    steps.shot(page, "compare")

    # the weights editor: change, preview, save
    page.goto(server.url + "/#/weights/block")
    expect(page.locator("#weights tbody tr")).to_have_count(4)
    set_weights(page)
    page.click("#preview-btn")
    expect(page.locator("#preview tbody tr")).to_have_count(4)
    proposed = ranking(page, "#preview")
    assert proposed != before, "the new weights should change the ranking"
    steps.shot(page, "preview")
    page.fill("#comment", "block desk asks for fills first")
    page.click("#save-btn")
    expect(page.locator("#save-status")).to_contain_text("saved as version 2 (was 1)")
    steps.shot(page, "saved")

    # the audit log names who, what, old -> new and why
    page.goto(server.url + "/#/audit")
    entry = page.locator("#audit tbody tr").first
    expect(entry).to_contain_text("profile.save")
    expect(entry).to_contain_text("cal")
    expect(entry).to_contain_text("block desk asks for fills first")
    expect(entry).to_contain_text("v1: ack_latency_ms_p50 0.100")
    expect(entry).to_contain_text("v2: ack_latency_ms_p50 0.000, fill_rate 1.000")
    steps.shot(page, "audit")

    # the leaderboard shows the republished ranking
    page.goto(server.url + "/#/")
    expect(page.locator("#snapshot-meta")).to_contain_text("block version 2")
    assert ranking(page, "#leaderboard") == proposed
    steps.shot(page, "new-ranking")

    # the decisions page: a decision journaled while it is open appears by itself
    page.goto(server.url + "/#/decisions")
    expect(page.locator("#decisions-empty")).to_be_visible()
    plan = Router(server.console.cache, "block", RoutingConfig()).plan(
        RouteRequest("AMZN", Side.SELL, 20_000), Spray(3))
    assert plan.children
    with DecisionLog(server.console.data.path / "decisions.jsonl") as journal:
        journal.write(plan, ts_ns=time.time_ns(), symbol="AMZN", side="sell", qty=20_000)
    row = page.locator("#decisions tbody tr")
    expect(row).to_have_count(1)
    for text in ("AMZN", "sell", "20,000", "spray", "block", "symbol=AMZN"):
        expect(row).to_contain_text(text)
    children = row.locator(".children li")
    expect(children).to_have_count(len(plan.children))
    expect(children.first).to_contain_text(plan.children[0].reason)
    steps.shot(page, "decisions")
    assert not errors, errors
    context.close()

    # a viewer can read and preview, but the server refuses the save
    viewer = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    log_in(viewer, server, "vic")
    viewer.goto(server.url + "/#/weights/block")
    expect(viewer.locator("#weights tbody tr")).to_have_count(4)
    expect(viewer.locator("#weights input[data-kpi='fill_rate']")).to_have_value("1")
    viewer.fill("#weights input[data-kpi='fill_rate']", "0.5")
    viewer.fill("#weights input[data-kpi='pi_bps']", "0.5")
    viewer.click("#preview-btn")
    expect(viewer.locator("#preview tbody tr")).to_have_count(4)
    viewer.fill("#comment", "viewer tries")
    viewer.click("#save-btn")
    expect(viewer.locator("#save-status")).to_contain_text("403: role calibrator or higher "
                                                           "needed; vic is viewer")
    steps.shot(viewer, "viewer-refused")
    latest = server.console.db.latest("block")
    assert latest is not None
    assert latest.version == 2
    assert latest.weights == {k: float(v) for k, v in NEW_WEIGHTS.items()}
    assert [p.name for p in steps.taken] == [
        "01-login.png", "02-leaderboard.png", "03-lp-page.png", "04-compare.png",
        "05-preview.png", "06-saved.png", "07-audit.png", "08-new-ranking.png",
        "09-decisions.png", "10-viewer-refused.png"]
    assert all(p.stat().st_size > 5000 for p in steps.taken)
