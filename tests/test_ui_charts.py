"""The UI in a real browser: a render's `dg dev`, two days materialized as the README teaches,
and headless Chromium (the system's, driven by Playwright) showing the day's chart decoded and
the trend numbers drawn in the asset's Plots view.

The screenshots are saved in the test's temp directory; with UPDATE_SCREENSHOTS=1 (`make
screenshots`) they are also copied to docs/images/ (this README) and template/docs/images/ (the
generated README).
"""

import os
import re
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import TEMPLATE_ROOT, Render, installed_render, run_uv, ui_server

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("defaults")]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ("ui-chart.png", "ui-plots.png")
SCREENSHOT_DIRS = (
    TEMPLATE_ROOT / "docs" / "images",
    TEMPLATE_ROOT / "template" / "docs" / "images",
)
# The day the README's command materializes, and one more so the Plots view has a series.
OTHER_DAY = "2024-01-09"
UI_TIMEOUT_MS = 60_000
MIN_DRAWN_PIXELS = 500
NO_COMMUNITY_DIALOG = "window.localStorage.setItem('communityNux', JSON.stringify('1'))"
COMMUNITY_DIALOG_TITLE = "Join the Dagster community"
OPAQUE_PIXELS_OVER = """([canvas, least]) => {
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let opaque = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) opaque++;
    return opaque > least;
}"""


def readme_charts_command(render: Render) -> str:
    """The `dg launch` line of the generated README's section on charts."""
    section = (render.path / "README.md").read_text().split("## Charts and trends in the UI", 1)[1]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    (command,) = [line for line in block.splitlines() if " dg launch " in line]
    return command.split("#", 1)[0].strip()


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[Render, int]]:
    """The default render with two days materialized, served by `dg dev`."""
    render = installed_render("defaults", tmp_path_factory)
    command = readme_charts_command(render)
    words = shlex.split(command)
    assert words[:2] == ["uv", "run"], command
    day = words[words.index("--partition") + 1]
    for partition in (OTHER_DAY, day):  # the README's day last: the latest materialization
        words[words.index("--partition") + 1] = partition
        run_uv(render.path, "run", "--frozen", *words[2:])
    log = tmp_path_factory.mktemp("ui-charts") / "dg-dev.log"
    with ui_server(render.path, ["dg", "dev"], log) as port:
        yield render, port


@pytest.fixture(scope="module")
def browser() -> Iterator:
    assert CHROMIUM.is_file(), (
        f"{CHROMIUM} is missing: install Debian's Chromium with "
        "`make browser` (apt-get install -y chromium)."
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


def open_page(browser, port: int, path: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(UI_TIMEOUT_MS)
    # On localhost, Dagster's UI asks a first visitor to join its community: a dialog over the
    # page, opened a second after load, that takes every click. The browser's answer (its
    # CommunityNux reads localStorage "communityNux") is given before any script runs.
    page.add_init_script(NO_COMMUNITY_DIALOG)
    page.goto(f"http://127.0.0.1:{port}{path}", wait_until="networkidle")
    return page


def assert_no_community_dialog(page) -> None:
    """The community dialog (opened a second after load, if at all) does not cover the page."""
    assert page.get_by_text(COMMUNITY_DIALOG_TITLE).count() == 0


def keep_screenshot(path: Path) -> None:
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        for directory in SCREENSHOT_DIRS:
            directory.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, directory / path.name)


def test_the_days_chart_is_decoded_on_its_materialization(served, browser, tmp_path) -> None:
    render, port = served
    symbol = render.answers["symbols"][0]
    page = open_page(browser, port, "/assets/market/ohlcv_features?view=events")
    row = page.locator("tr", has=page.get_by_text(f"chart {symbol}", exact=True))
    row.get_by_text("[Show Markdown]").click()
    image = page.locator(f'img[alt^="{symbol} "]')
    image.wait_for()
    page.wait_for_function(
        "element => element.complete && element.naturalWidth > 0", arg=image.element_handle()
    )
    width, height = image.evaluate("element => [element.naturalWidth, element.naturalHeight]")
    assert (width, height) == (640, 360)
    shown = image.bounding_box()
    assert shown and shown["width"] > 100 and shown["height"] > 50, shown
    assert_no_community_dialog(page)
    page.screenshot(path=tmp_path / SCREENSHOTS[0])
    keep_screenshot(tmp_path / SCREENSHOTS[0])


def test_the_plots_view_draws_the_trend_numbers(served, browser, tmp_path) -> None:
    render, port = served
    page = open_page(browser, port, "/assets/market/ohlcv_features?view=overview")
    page.get_by_role("button", name="Plots").click()
    page.get_by_role("button", name="Events").click()  # x axis: one point per materialization
    series = [
        "candles",
        "missing_candles",
        "dagster/partition_row_count",
        *(
            f"{name} {exchange} {symbol}"
            for exchange in render.answers["exchanges"]
            for symbol in render.answers["symbols"]
            for name in ("return", "volatility")
        ),
    ]
    from playwright.sync_api import TimeoutError as NotDrawn

    canvases = page.locator("canvas")
    canvases.nth(len(series) - 1).wait_for()
    titles = [
        canvases.nth(index).locator("xpath=ancestor::div[3]").inner_text().strip()
        for index in range(canvases.count())
    ]
    # Other tests on this render may have added metrics of their own (a range run's
    # rows_written, say); the series this asset writes per day must all be there.
    missing = sorted(set(series) - set(titles))
    assert not missing, f"the Plots view has no plot for {missing}; it shows {sorted(titles)}"
    for name in series:
        index = titles.index(name)
        canvas = canvases.nth(index)
        canvas.scroll_into_view_if_needed()
        # Something is drawn: the canvas gets opaque pixels (axes, grid and the series' line).
        # The charts animate in, so the count is polled until it is reached, not read once.
        try:
            page.wait_for_function(
                OPAQUE_PIXELS_OVER, arg=[canvas.element_handle(), MIN_DRAWN_PIXELS]
            )
        except NotDrawn:
            pytest.fail(f"plot {name!r} drew {MIN_DRAWN_PIXELS} opaque pixels or fewer")
    page.get_by_role("button", name="Plots").scroll_into_view_if_needed()
    page.mouse.wheel(0, 250)  # the plots, below the Metadata heading
    assert_no_community_dialog(page)
    page.screenshot(path=tmp_path / SCREENSHOTS[1])
    keep_screenshot(tmp_path / SCREENSHOTS[1])


def test_both_readmes_show_the_committed_screenshots() -> None:
    readmes = {
        TEMPLATE_ROOT / "README.md": "docs/images/",
        TEMPLATE_ROOT / "template" / "README.md.jinja": "docs/images/",
    }
    for readme, prefix in readmes.items():
        text = readme.read_text()
        for name in SCREENSHOTS:
            assert re.search(rf"!\[[^\]]+\]\({re.escape(prefix + name)}\)", text), (readme, name)
    for directory in SCREENSHOT_DIRS:
        for name in SCREENSHOTS:
            image = directory / name
            assert image.read_bytes().startswith(b"\x89PNG\r\n\x1a\n"), image
