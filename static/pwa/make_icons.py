"""Render the app icons from icon.svg with headless Chromium (no image library needed).

Run once after changing icon.svg; the PNGs are committed:
    /work/main/.venv/bin/python static/pwa/make_icons.py
"""

from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).parent
SVG = (HERE / "icon.svg").read_text()
# The rounded icon leaves a margin; the maskable one is full bleed (the OS cuts the shape).
ROUNDED = SVG.replace('<rect width="512" height="512"', '<rect width="512" height="512" rx="96"')
ICONS = {
    "icon-192.png": (192, ROUNDED),
    "icon-512.png": (512, ROUNDED),
    "icon-maskable-512.png": (512, SVG),
    "apple-touch-icon.png": (180, SVG),  # iOS rounds the corners itself
}

with sync_playwright() as playwright:
    browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
    for name, (size, svg) in ICONS.items():
        page = browser.new_page(viewport={"width": size, "height": size})
        page.set_content(
            f'<html><body style="margin:0;background:transparent">'
            f'<div style="width:{size}px;height:{size}px">{svg.replace("<svg ", f"<svg width={size} height={size} ", 1)}</div>'
            f"</body></html>"
        )
        page.screenshot(path=str(HERE / name), omit_background=True)
        page.close()
    browser.close()
