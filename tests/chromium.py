"""Headless Chromium for the tests that open pages (the report, the documentation site).

``make test`` runs ``.ci/ensure-chromium`` first, which installs Debian's chromium where it
can and otherwise stops before the suite; this module finds the browser the same way
(``$CHROMIUM``, else ``chromium``, ``chromium-browser`` or ``google-chrome`` on PATH) and
starts it with the flags a machine without network needs: no background networking, no
component updates, no sync, no first-run tasks, and a fresh empty profile each time.

A probe script collects what a page did; it is put at the top of ``<head>`` (before any
Content-Security-Policy of the page), so it runs first and sees every later event:

- every ``error`` event (script errors and failed loads of images, scripts, style sheets,
  caught in the capture phase) and every CSP violation;
- after ``load`` (and after MathJax finished typesetting, when the page has MathJax), the
  ``naturalWidth`` of every image, the URLs of every resource loaded (Resource Timing), the
  page's visible text, and the number of typeset formulas, written as JSON into a hidden
  ``<pre id="probe">`` that ``--dump-dom`` carries back.

Console messages come back on stderr with ``--enable-logging=stderr --v=0`` as
``:CONSOLE`` lines.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

NAMES = ("chromium", "chromium-browser", "google-chrome")

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--hide-scrollbars",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
)

PROBE = """<script>
window.__probe = {errors: [], violations: []};
addEventListener("error", e => __probe.errors.push(String(e.message ||
  (e.target && (e.target.src || e.target.href)) || e.type)), true);
addEventListener("securitypolicyviolation", e => __probe.violations.push(e.blockedURI));
addEventListener("load", async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
    if (MathJax.typesetPromise) { await MathJax.typesetPromise(); }
  }
  const out = document.createElement("pre");
  out.id = "probe"; out.hidden = true;
  out.textContent = JSON.stringify({
    widths: Array.from(document.images).map(i => i.naturalWidth),
    resources: performance.getEntriesByType("resource").map(r => r.name),
    text: document.body.innerText,
    formulas: document.querySelectorAll(".arithmatex").length,
    typeset: document.querySelectorAll(".arithmatex mjx-container").length,
    errors: __probe.errors, violations: __probe.violations});
  document.body.appendChild(out);
});
</script>"""


def chromium() -> str:
    """The browser's path; AssertionError saying what to install when there is none."""
    override = os.environ.get("CHROMIUM")
    if override:
        return override
    for name in NAMES:
        path = shutil.which(name)
        if path:
            return path
    raise AssertionError(
        "Chromium is needed: apt-get install chromium (`make test` does it as root)."
    )


def run(url: str, *args: str, profile: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """Open ``url`` in headless Chromium with ``args``; the profile directory starts empty."""
    return subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={profile}", *args, url],
        capture_output=True, text=True, timeout=timeout, check=True,
    )  # fmt: skip


def with_probe(page: str) -> str:
    """The page with :data:`PROBE` as the first element of ``<head>``."""
    head = re.search(r"<head[^>]*>", page)
    assert head, "no <head> in the page"
    return page[: head.end()] + PROBE + page[head.end() :]


def probe(
    url: str, *, profile: Path, extra: Sequence[str] = (), budget_ms: int = 20000
) -> tuple[dict[str, Any], list[str]]:
    """Open a page that carries :data:`PROBE`; its findings and the console lines.

    ``--virtual-time-budget`` lets the page's own timers and loads run to their end (MathJax
    loads its fonts and typesets asynchronously) before the DOM is dumped.
    """
    done = run(
        url,
        "--dump-dom",
        "--enable-logging=stderr",
        "--v=0",
        f"--virtual-time-budget={budget_ms}",
        *extra,
        profile=profile,
    )
    found = re.search(r'<pre id="probe" hidden="">(.*?)</pre>', done.stdout, re.S)
    assert found, f"the probe did not report on {url}: {done.stdout[-2000:]}"
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return json.loads(html.unescape(found.group(1))), console
