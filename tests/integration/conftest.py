import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


_OPEN_CONTEXTS: list = []


@pytest.fixture(autouse=True)
def _quiet_after_test(request, transactional_db):
    """After each test (and before its tables are flushed): close its pages, so no htmx poll
    hits the server, and let the worker finish what the test queued."""
    yield
    while _OPEN_CONTEXTS:
        _OPEN_CONTEXTS.pop().close()
    if "celery_worker" in request.fixturenames:
        from tests.conftest import wait_for_idle_worker

        wait_for_idle_worker()


def login(browser, live_server, username: str, password: str):
    context = browser.new_context()
    _OPEN_CONTEXTS.append(context)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return page
