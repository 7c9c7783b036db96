"""The leaderboard page in a real headless browser (Debian's Chromium driven by playwright).

Served by the flask app of ``empg-leaderboard serve`` on 127.0.0.1: the page loads, shows every entry, and
sorts when a header is clicked. A screenshot goes to ``artifacts/test/leaderboard.png`` (gitignored).
Skips when playwright or Chromium is missing, unless ``EMPG_REQUIRE_BROWSER=1`` (CI sets it), then fails.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import pytest

from .helpers import guess_entry, reported_entry

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "test"
TYPES = ["pick_and_place_simple"] * 8 + ["look_at_obj_in_light"] * 8


def _chromium() -> str | None:
    for cand in (
        os.environ.get("EMPG_CHROMIUM"),
        "/usr/lib/chromium/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
        shutil.which("google-chrome"),
    ):
        if cand and Path(cand).is_file():
            return cand
    return None


def _need(reason: str):
    if os.environ.get("EMPG_REQUIRE_BROWSER") == "1":
        pytest.fail(f"EMPG_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture
def server(tmp_path):
    pytest.importorskip("flask")
    from werkzeug.serving import make_server

    from empg_gym.eval.leaderboard import make_app

    entries = {
        "mid": guess_entry("mid-agent", [True] * 8 + [False] * 8, task_type=TYPES),
        "top": guess_entry("top-agent", [True] * 14 + [False] * 2, task_type=TYPES),
        "low": guess_entry("low-agent", [True] * 2 + [False] * 14, task_type=TYPES),
        "paper": reported_entry(0.95),
    }
    for name, e in entries.items():
        p = tmp_path / "results" / e["env"]["id"] / f"{name}.json"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(e))
    srv = make_server("127.0.0.1", 0, make_app(tmp_path))
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_port}/"
    srv.shutdown()
    t.join(timeout=10)


def test_page_in_headless_chromium(server):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need("playwright is not installed (pip install playwright; no browser download needed)")
    exe = _chromium()
    if exe is None:
        _need("no Chromium found (apt-get install chromium, or set EMPG_CHROMIUM)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 700})
            page.goto(server)
            assert page.title() == "empg-gym leaderboard"
            # measured rows in one table; the paper's reported row in a table of its own
            assert page.locator("table.board").count() == 2
            board = "table.board >> nth=0"
            agents = page.locator(f"{board} >> tbody td.agent").all_inner_texts()
            assert agents == ["top-agent", "mid-agent", "low-agent"]
            assert page.locator("table.board >> nth=1 >> tbody td.agent").all_inner_texts() == [
                "Paper method (reported)"
            ]
            headers = page.locator(f"{board} >> th").all_inner_texts()
            assert "Pick" in headers and "Look" in headers  # per-type columns
            # sort by success: ascending on the first click, descending on the second
            page.locator(f"{board} >> th", has_text="success %").click()
            assert page.locator(f"{board} >> tbody td.agent").all_inner_texts() == [
                "low-agent",
                "mid-agent",
                "top-agent",
            ]
            page.locator(f"{board} >> th", has_text="success %").click()
            assert page.locator(f"{board} >> tbody td.agent").all_inner_texts()[0] == "top-agent"
            page.locator(f"{board} >> th", has_text="agent").click()
            assert page.locator(f"{board} >> tbody td.agent").all_inner_texts()[0] == "low-agent"
            assert page.locator(".bar .ci").count() >= 6
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "leaderboard.png"), full_page=True)
            api = page.request.get(server + "api/entries").json()
            assert len(api) == 4
        finally:
            browser.close()
    assert (ARTIFACTS / "leaderboard.png").stat().st_size > 1000
