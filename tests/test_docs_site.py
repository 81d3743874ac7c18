"""The built documentation site works offline: every page opened in headless Chromium.

The site is built here, from the current sources, with the same command as ``make docs``
(``mkdocs build --strict``) into a temporary folder, and served on 127.0.0.1 by a small
server that puts the probe of ``tests/chromium.py`` at the top of each page's ``<head>``.
Chromium runs with the network off: ``--host-resolver-rules`` resolves every host name but
127.0.0.1 to nothing, besides the usual ``--disable-background-networking``.

Every page must then:

- load nothing from another host (every Resource Timing entry is on the local server), and
  raise no error event, no CSP violation, no console message;
- have its formulas typeset (each ``arithmatex`` span holds MathJax output) and no TeX left
  in its visible text (``\\(``, ``\\)``, ``\\[``, ``\\]``, ``$$``);
- show no private class name (``_BayesianClassifier`` as a base class or return type).
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from chromium import probe, with_probe

ROOT = Path(__file__).resolve().parents[1]
NETWORK_OFF = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
TEX_LEFT = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$")
PRIVATE_CLASS = re.compile(r"(?<![\w.])_[A-Z][A-Za-z]+")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, check=True, capture_output=True, text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )  # fmt: skip
    return out


class _ProbingHandler(http.server.SimpleHTTPRequestHandler):
    """Static files of the site; HTML pages with the probe inserted."""

    def log_message(self, format, *args):  # quiet
        pass

    def do_GET(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        if path.suffix != ".html" or not path.is_file():
            return super().do_GET()
        body = with_probe(path.read_text(encoding="utf-8")).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return None


@pytest.fixture(scope="module")
def server(site) -> Iterator[str]:
    handler = functools.partial(_ProbingHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


def _problems(found: dict, console: list[str], origin: str) -> list[str]:
    out = [f"console: {line}" for line in console]
    out += [f"error event: {e}" for e in found["errors"]]
    out += [f"CSP violation: {v}" for v in found["violations"]]
    out += [f"loaded from elsewhere: {r}" for r in found["resources"] if not r.startswith(origin)]
    if found["typeset"] != found["formulas"]:
        out.append(f"typeset {found['typeset']} of {found['formulas']} formulas")
    out += [f"TeX left in the text: ...{found['text'][max(m.start() - 40, 0) : m.end() + 40]!r}"
            for m in TEX_LEFT.finditer(found["text"])]  # fmt: skip
    out += [f"private class shown: {m.group(0)}" for m in PRIVATE_CLASS.finditer(found["text"])]
    return out


def test_every_page_renders_offline_with_its_formulas_typeset(site, server, tmp_path):
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html"))
    # Every Markdown page of docs/ became a page (and 404.html): none escapes the check.
    sources = [p for p in (ROOT / "docs").rglob("*.md") if "templates" not in p.parts]
    assert len(pages) == len(sources) + 1

    def check(i: int, page: str) -> tuple[str, int, list[str]]:
        found, console = probe(f"{server}/{page}", profile=tmp_path / f"p{i}", extra=[NETWORK_OFF])
        return page, found["typeset"], _problems(found, console, server)

    # Two browsers at a time (2 cores): each page is its own process and profile.
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(check, range(len(pages)), pages))
    formulas = {page: n for page, n, _ in results}
    problems = {page: bad for page, _, bad in results if bad}
    assert problems == {}
    # The check has teeth: the API pages hold the docstrings' formulas (17 on Scoring today).
    assert formulas["api/scoring/index.html"] >= 10
    assert formulas["api/calibration/index.html"] >= 10


def test_the_probe_sees_a_formula_left_as_tex_and_a_blocked_load(site, server, tmp_path):
    """A page whose formula MathJax cannot reach, and which asks another host for a file,
    fails every check it should: the test above can fail."""
    broken = site / "broken.html"
    broken.write_text(
        "<!DOCTYPE html><html><head><title>t</title>"
        '<link rel="stylesheet" href="https://example.org/x.css"></head>'
        '<body><p><span class="arithmatex">\\(x^2\\)</span></p></body></html>'
    )
    try:
        found, console = probe(
            f"{server}/broken.html", profile=tmp_path / "p", extra=[NETWORK_OFF]
        )
    finally:
        broken.unlink()
    problems = _problems(found, console, server)
    assert any(p.startswith("TeX left in the text") for p in problems)
    assert any(p.startswith("typeset 0 of 1") for p in problems)
    assert any("example.org" in p for p in problems)
