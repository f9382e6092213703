"""Drive the real page in headless Chromium: tissue -> cell line -> drug, see the prediction and the ranking.

Uses Debian's chromium (`apt-get install chromium`) through Playwright's Python package; skipped
when that browser is not installed. Leaves screenshots in test-artifacts/.
"""

import os
import shutil
from pathlib import Path

import pytest

from drugresponse.serve.app import create, launch

from .test_serve_app import free_port
from .test_serve_uploads import long_csv

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed"),
]


def choose(page, label: str, option: str) -> None:
    box = page.get_by_role("combobox", name=label)
    box.click()
    box.fill(option)
    page.get_by_role("option", name=option, exact=True).click()


def test_pick_tissue_cell_line_and_drug_then_rank(assets_dir, bundle, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    app = create(assets_dir, provider="cpu")
    port = free_port()
    launch(app, "127.0.0.1", port, prevent_thread_lock=True, quiet=True)
    cells = bundle.cell_lines
    tissue = cells["tissue"][5]
    cell_line = cells.filter(cells["tissue"] == tissue)["cell_line"][-1]
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"])
            page = browser.new_page(viewport={"width": 1300, "height": 1200})
            page.goto(f"http://127.0.0.1:{port}/")
            choose(page, "Tissue", tissue)
            choose(page, "Cell line (type to search)", cell_line)
            choose(page, "Drugs", "Oxaliplatin")
            grid = page.get_by_role("grid", name="Predictions")
            expect(grid.get_by_role("gridcell", name="Oxaliplatin", exact=True)).to_be_visible(timeout=15000)
            expect(page.get_by_role("combobox", name="Cell line (type to search)")).to_have_value(cell_line)
            # the error-bar figure and the "why" figure are drawn
            expect(page.locator(".js-plotly-plot")).to_have_count(2, timeout=20000)
            expect(page.get_by_text("contributions sum to")).to_be_visible(timeout=20000)
            page.screenshot(path=str(ARTIFACTS / "predict.png"), full_page=True)
            page.get_by_role("tab", name="Rank drugs").click()
            expect(page.locator(".vega-embed").first).to_be_visible(timeout=15000)
            ranking = page.get_by_role("grid", name="All drugs, most to least sensitive")
            # each drug once, whichever screen measured it
            expect(ranking.get_by_role("row")).to_have_count(bundle.responses["drug"].n_unique() + 1, timeout=15000)
            page.wait_for_timeout(1000)
            page.screenshot(path=str(ARTIFACTS / "rank_drugs.png"), full_page=True)
            page.get_by_role("tab", name="Your sample").click()
            upload = tmp_path / "my_samples.csv"
            upload.write_bytes(long_csv(bundle, 2, name="my sample"))
            page.locator("#profiles-upload input[type=file]").set_input_files(str(upload))
            expect(page.get_by_role("cell", name="my_samples.csv")).to_be_visible(timeout=20000)
            page.get_by_role("button", name="Predict for uploaded samples").click()
            results = page.get_by_role("grid", name="Predictions for every drug")
            # every output of both screens
            expect(results.get_by_role("row")).to_have_count(
                bundle.responses.select("dataset", "drug").unique().height + 1, timeout=30000)
            expect(page.get_by_text("contributions sum to").last).to_be_visible(timeout=30000)
            page.screenshot(path=str(ARTIFACTS / "your_sample.png"), full_page=True)
            page.get_by_role("tab", name="New compound").click()
            page.get_by_role("button", name="Predict", exact=True).click()
            lines = page.get_by_role("grid", name="Every GDSC cell line, most sensitive first")
            expect(lines.get_by_role("row").nth(10)).to_be_visible(timeout=30000)  # rows render (the grid is virtual)
            expect(page.get_by_text("Nearest known drug: Tanimoto")).to_be_visible(timeout=15000)
            expect(page.get_by_text("How far to trust this")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "new_compound.png"), full_page=True)
            page.get_by_role("tab", name="Drug", exact=True).click()
            expect(page.get_by_role("grid", name="Strongest features (held-out lines)")).to_be_visible(timeout=15000)
            page.screenshot(path=str(ARTIFACTS / "drug.png"), full_page=True)
            page.get_by_role("tab", name="Model").click()
            page.wait_for_timeout(2000)
            page.screenshot(path=str(ARTIFACTS / "model.png"), full_page=True)
            browser.close()
    finally:
        app.close()
