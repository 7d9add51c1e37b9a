"""The web console in a real browser: Playwright for Python driving Debian's Chromium
against `automations serve --http` in a subprocess on a free loopback port.

No browser is downloaded: the test uses the system's Chromium (`apt-get install
chromium`; `.ci/run` installs it when it is missing) and is skipped, with that reason,
where there is none. Every wait is on page state (`expect`), never a bare sleep.

`AUTOMATIONS_CONSOLE_SCREENSHOT=docs/console.png` also takes the README's screenshot.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest

import automations as am
from automations.model import Scope, from_builtins
from automations.persistence import SaveAutomation, open_store

CHROMIUM = Path(os.environ.get("AUTOMATIONS_CHROMIUM", "/usr/bin/chromium"))
if not CHROMIUM.exists():
    pytest.skip(
        f"no Chromium at {CHROMIUM}: install Debian's `chromium` package (apt-get install "
        "chromium) or set AUTOMATIONS_CHROMIUM to run the console's browser test",
        allow_module_level=True,
    )
pytest.importorskip("hypercorn", reason="the http extra is not installed")
httpx = pytest.importorskip("httpx", reason="httpx is not installed")
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed (pip install playwright)"
)
expect = sync_api.expect

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
EXECUTORS = [f"{name}=tests.http.console_executors:{name}" for name in ("ask", "write", "instant")]
READY_DEADLINE = 30.0
TIMEOUT_MS = 20_000
XSS = "<img src=x onerror=alert(1)>"


@dataclass
class Server:
    url: str
    token: str | None
    directory: Path

    def call(self, method: str, path: str, body: object = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = httpx.request(method, self.url + path, json=body, headers=headers, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def create(self, title: str, **fields: Any) -> Any:
        body = {
            "title": title,
            "prompt": fields.pop("prompt", title),
            "timezone": "UTC",
            "schedule": {"type": "interval", "every": 3_600_000},
            "executor": "ask",
            **fields,
        }
        return self.call("POST", "/automation", body)

    def retitle_unchecked(self, created: Any, title: str) -> None:
        """Store `title` as an older version, which did not check titles, would have."""
        automation = from_builtins(created, am.Automation)
        evil = msgspec.structs.replace(automation, title=title, revision=automation.revision + 1)
        scope = Scope("console-tests", os.path.realpath(self.directory))

        async def write() -> None:
            async with open_store(self.directory / "console.db") as store:
                write = SaveAutomation(scope, evil, expected_revision=automation.revision)
                await store.write(write)

        with ThreadPoolExecutor(1) as thread:  # Playwright's loop runs in this thread
            thread.submit(anyio.run, write).result()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serving(
    directory: Path, *, token: str | None = None, port: int | None = None
) -> Iterator[Server]:
    """`automations serve --http` with the test executors until the block ends; then
    stopped with SIGINT and checked to have stopped cleanly. The database is the
    directory's, so a second server on it (and on the same port) is a restart."""
    port = port or _free_port()
    log = directory / f"server-{time.monotonic_ns()}.log"
    command = [sys.executable, "-m", "automations", "--db", str(directory / "console.db")]
    command += ["serve", "--http", f"127.0.0.1:{port}"]
    for spec in EXECUTORS:
        command += ["--executor", spec]
    if token:
        command += ["--token", token]
    env = dict(os.environ)
    paths = [str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")]
    env.update(
        PYTHONPATH=os.pathsep.join(p for p in paths if p),
        AUTOMATIONS_BACKEND="asyncio",
        AUTOMATIONS_PROJECT="console-tests",
        COLUMNS="200",
    )
    env.pop("AUTOMATIONS_TOKEN", None)
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=env, cwd=directory, stdout=sink, stderr=sink)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_DEADLINE
        while True:  # ready once anything answers (a 401 too)
            if process.poll() is not None:
                raise AssertionError(f"the server exited:\n{log.read_text(errors='replace')}")
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise AssertionError("the server was not ready in time") from None
                time.sleep(0.05)
        yield Server(url, token, directory)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    output = log.read_text(errors="replace")
    assert process.returncode == 0, output
    assert "Traceback" not in output, output


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("console")) as running:
        yield running


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="UTC")
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    errors: list[str] = []
    dialogs: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))

    def on_dialog(dialog: Any) -> None:  # an alert() would mean markup ran
        dialogs.append(dialog.message)
        dialog.dismiss()

    opened.on("dialog", on_dialog)
    try:
        yield opened
    finally:
        context.close()
    assert errors == [], errors
    assert dialogs == [], dialogs


def _open(page: Any, server: Server) -> None:
    page.goto(server.url + "/")
    expect(page.locator("#live")).to_have_text("live")
    page.evaluate("window.__notReloaded = true")


def _not_reloaded(page: Any) -> None:
    assert page.evaluate("window.__notReloaded") is True


def _answer_and_succeed(page: Any, card: Any, title: str) -> None:
    """Run now, answer the question with a button, see the run succeed."""
    card.get_by_role("button", name="Run now").click()
    waiting = page.locator("li.waiting-run", has_text=title)
    expect(waiting.locator(".question")).to_have_text("Ship it?")
    waiting.get_by_role("button", name="yes", exact=True).click()
    expect(waiting).to_have_count(0)
    expect(card.locator(".last-run")).to_contain_text("succeeded")
    card.get_by_role("button", name="Runs").click()
    row = card.locator("table.runs tbody tr").first
    expect(row).to_have_attribute("data-state", "succeeded")
    expect(row.locator("td.summary")).to_have_text("answer: yes")


def test_create_run_and_answer_in_the_console(page: Any, server: Server) -> None:
    _open(page, server)
    page.get_by_role("button", name="Create").click()  # the server's 422, by field
    expect(page.locator('.field-error[data-field="title"]')).to_have_text("title required")
    expect(page.locator('.field-error[data-field="prompt"]')).to_have_text("prompt required")

    page.fill("#f-title", "Ship the release")
    page.fill("#f-prompt", "Ask before shipping")
    page.fill("#f-expression", "0 9 * *")  # the live preview shows the schedule's error
    expression_error = page.locator('.field-error[data-field="schedule.expression"]')
    expect(expression_error).to_have_text("invalid cron expression")
    expect(page.locator("#preview li")).to_have_count(0)
    page.fill("#f-expression", "30 8 * * 1-5")
    expect(expression_error).to_have_text("")
    expect(page.locator("#preview li")).to_have_count(5)

    expect(page.locator("#preview li").first).to_contain_text("08:30")
    page.check("input[name=kind][value=interval]")
    page.fill("#f-every", "2")
    # Not the wall-clock hour: at 08:30 "every 2 hours from now" starts at 08:30 too.
    expect(page.locator("#preview li")).to_have_count(5)
    page.wait_for_function(
        "() => { const at = [...document.querySelectorAll('#preview li')]"
        ".map((li) => Number(li.dataset.at));"
        " return at.length === 5 && at.every((t, i) => i === 0 || t - at[i - 1] === 7200000); }"
    )
    page.fill("#f-executor", "ask")
    page.get_by_role("button", name="Create").click()

    card = page.locator("article.automation", has_text="Ship the release")
    expect(card.locator(".schedule")).to_have_text("every 2 hours")
    expect(card.locator(".next")).not_to_have_text("—")
    expect(page.locator("#f-title")).to_have_value("")
    _answer_and_succeed(page, card, "Ship the release")

    card.get_by_role("button", name="Pause").click()
    expect(card.locator(".pill-paused")).to_be_visible()
    card.get_by_role("button", name="Resume").click()
    expect(card.locator(".pill-paused")).to_be_hidden()
    _not_reloaded(page)


def test_a_one_shot_from_the_form(page: Any, server: Server) -> None:
    _open(page, server)
    page.fill("#f-title", "Once only")
    page.fill("#f-prompt", "Just once")
    page.check("input[name=kind][value=once]")
    page.fill("#f-at", "2020-01-02T03:04")  # the past: the server says so at the field
    page.get_by_role("button", name="Create").click()
    expect(page.locator('.field-error[data-field="schedule.at"]')).to_have_text(
        "fireAt must be future"
    )
    page.fill("#f-at", "2099-01-02T03:04")  # the viewer's local time (UTC here)
    expect(page.locator("#preview li")).to_have_count(1)
    expect(page.locator("#preview li")).to_contain_text("2099")
    page.get_by_role("button", name="Create").click()
    card = page.locator("article.automation", has_text="Once only")
    expect(card.locator(".schedule")).to_contain_text("once, ")
    expect(card.locator(".schedule")).to_contain_text("03:04")
    expect(page.locator('.field-error[data-field="schedule.at"]')).to_have_text("")


def test_changes_made_elsewhere_arrive_live(page: Any, server: Server) -> None:
    _open(page, server)
    made = server.create("Made by another client", executor="write")
    card = page.locator("article.automation", has_text="Made by another client")
    expect(card).to_be_visible()

    server.call("POST", f"/automation/{made['id']}/run")  # a free-text question, then a permission
    waiting = page.locator("li.waiting-run", has_text="Made by another client")
    expect(waiting.locator(".question")).to_have_text("What should the release note say?")
    waiting.locator("input.reply").fill("all fixed")
    waiting.get_by_role("button", name="Send").click()
    expect(waiting.locator(".question")).to_contain_text("git push")
    waiting.get_by_role("button", name="Allow").click()
    expect(waiting).to_have_count(0)
    expect(card.locator(".last-run")).to_contain_text("succeeded")

    server.call("POST", f"/automation/{made['id']}/run")  # then cancelled from its card
    expect(waiting.locator(".question")).to_have_text("What should the release note say?")
    waiting.get_by_role("button", name="Cancel run").click()
    expect(waiting).to_have_count(0)
    expect(card.locator(".last-run")).to_contain_text("stopped")

    server.call("POST", f"/automation/{made['id']}/pause")
    expect(card.locator(".pill-paused")).to_be_visible()
    card.get_by_role("button", name="Delete").click()
    card.get_by_role("button", name="Really delete?").click()
    expect(card).to_have_count(0)
    _not_reloaded(page)


def test_the_ledger_pages_with_next_cursor(page: Any, server: Server) -> None:
    made = server.create("Busy", executor="instant")
    for _ in range(23):  # more than a page (20)
        server.call("POST", f"/automation/{made['id']}/run")
    _open(page, server)
    card = page.locator("article.automation", has_text="Busy")
    card.get_by_role("button", name="Runs").click()
    rows = card.locator("table.runs tbody tr")
    expect(rows).to_have_count(20)
    card.get_by_role("button", name="Older runs").click()
    expect(rows).to_have_count(23)
    expect(card.get_by_role("button", name="Older runs")).to_have_count(0)
    expect(card.locator(".ledger")).not_to_contain_text("null")


def test_markup_in_a_title_shows_as_text(page: Any, server: Server) -> None:
    server.create(XSS, prompt=f"<script>alert(2)</script>{XSS}")
    # Refused today, but stored by older versions: shown inert.
    server.retitle_unchecked(server.create("bell"), "bell\x07 and \u202eevil\x1b[31m")
    _open(page, server)
    title = page.locator("article.automation h3.title", has_text="onerror")
    expect(title).to_have_text(XSS)
    expect(page.locator("article.automation h3.title", has_text="bell")).to_have_text(
        "bell\ufffd and \ufffdevil\ufffd[31m"
    )
    assert page.locator("#automations img").count() == 0
    assert page.locator("#automations script").count() == 0


def test_the_stream_reconnects_by_itself(page: Any, tmp_path: Path) -> None:
    port = _free_port()
    with serving(tmp_path, port=port) as server:
        _open(page, server)
        server.create("Before the restart")
        expect(page.locator("article.automation", has_text="Before the restart")).to_be_visible()
    expect(page.locator("#live")).not_to_have_text("live")
    with serving(tmp_path, port=port) as server:  # the same database: a restart
        server.create("After the restart")
        expect(page.locator("article.automation", has_text="After the restart")).to_be_visible()
        expect(page.locator("#live")).to_have_text("live")
    expect(page.locator("article.automation")).to_have_count(2)
    _not_reloaded(page)


def test_a_server_with_a_token(browser: Any, tmp_path: Path) -> None:
    with serving(tmp_path, token="s3cret-token") as server:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        try:
            page.goto(server.url + "/")
            page.fill("#token", "wrong")
            page.get_by_role("button", name="Use token").click()
            expect(page.locator("#token-error")).to_have_text("That token was refused.")
            page.fill("#token", "s3cret-token")
            page.get_by_role("button", name="Use token").click()
            expect(page.locator("#live")).to_have_text("live")  # the stream read with fetch()
            expect(page.locator("#preview li")).to_have_count(5)
            page.evaluate("window.__notReloaded = true")

            server.create("Behind a token")  # arrives over the stream
            card = page.locator("article.automation", has_text="Behind a token")
            _answer_and_succeed(page, card, "Behind a token")
            _not_reloaded(page)
        finally:
            context.close()


@pytest.mark.skipif(
    not os.environ.get("AUTOMATIONS_CONSOLE_SCREENSHOT"),
    reason="set AUTOMATIONS_CONSOLE_SCREENSHOT=docs/console.png to take the README's screenshot",
)
def test_screenshot(browser: Any, tmp_path: Path) -> None:
    target = Path(os.environ["AUTOMATIONS_CONSOLE_SCREENSHOT"])
    with serving(tmp_path) as server:
        server.create(
            "Nightly dependency audit",
            schedule={"type": "cron", "expression": "0 2 * * *"},
            executor="demo",
        )
        weekly = server.create(
            "Weekly report",
            schedule={"type": "cron", "expression": "0 9 * * 1"},
            timezone="Europe/Paris",
            executor="demo",
        )
        server.call("POST", f"/automation/{weekly['id']}/pause")
        triage = server.create("Triage new issues", schedule={"type": "interval", "every": 900_000})
        release = server.create(  # another worktree: it runs beside the triage
            "Draft the release notes",
            executor="write",
            where={"project": "console-tests", "worktree": "release"},
        )
        server.call("POST", f"/automation/{triage['id']}/run")
        server.call("POST", f"/automation/{release['id']}/run")
        context = browser.new_context(viewport={"width": 1280, "height": 860}, timezone_id="UTC")
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        try:
            _open(page, server)
            expect(page.locator("li.waiting-run")).to_have_count(2)
            card = page.locator("article.automation", has_text="Triage new issues")
            card.get_by_role("button", name="Runs").click()
            expect(card.locator("table.runs tbody tr")).to_have_count(1)
            page.fill("#f-title", "Summarise yesterday's alerts")
            page.fill("#f-prompt", "Read the alert channel and summarise it")
            page.fill("#f-expression", "0 8 * * 1-5")
            expect(page.locator("#preview li")).to_have_count(5)
            expect(page.locator("#preview li").first).to_contain_text("08:00")
            target.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(target), full_page=True)
        finally:
            context.close()
