"""NUTS's compiled kernels without a writable cache: a private cache and one notice.

numba caches next to the source, then in NUMBA_CACHE_DIR or the user's cache directory;
with none writable (a read-only install and HOME) every kernel used to fail with "no
locator available". The package is copied onto a read-only filesystem (a tmpfs mounted
read-only in a private mount namespace, as root) or into directories the user cannot
write (otherwise), and a fresh process imports the kernels and evaluates one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import bayescore

# A fresh process that compiles the kernels without a cache: tens of seconds.
pytestmark = pytest.mark.slow

SCRIPT = """
import warnings
warnings.simplefilter("always")
import numpy as np
import bayescore
assert bayescore.__file__.startswith({pkg!r}), bayescore.__file__
from bayescore.inference import kernels
ZT = np.vstack([np.ones(4), [0.0, 1.0, 2.0, 3.0]])
grad = np.zeros(2)
print(kernels.logistic_value_grad(ZT, np.array([0, 0, 1, 1]), np.array([0.5, 1.0]), grad))
print(grad[0], grad[1])
"""


def _run_read_only(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    pkg, home = tmp_path / "pkg", tmp_path / "home"
    pkg.mkdir()
    home.mkdir()
    source = Path(bayescore.__file__).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_CACHE")}
    env.update(HOME=str(home), PYTHONPATH=str(pkg), PYTHONDONTWRITEBYTECODE="1")
    code = SCRIPT.format(pkg=str(pkg))
    ignore = shutil.ignore_patterns("__pycache__")
    if os.geteuid() == 0:  # root writes anywhere: make the filesystems read-only instead
        shell = (
            f"mount -t tmpfs tmpfs {pkg} && cp -r {source} {pkg}/ && "
            f"find {pkg} -name __pycache__ -prune -exec rm -rf {{}} + ; "
            f"mount -o remount,ro {pkg} && mount -t tmpfs -o ro tmpfs {home} && "
            f'exec {sys.executable} -c "$CODE"'
        )
        env["CODE"] = code
        return subprocess.run(
            ["unshare", "-m", "sh", "-c", shell],
            env=env,
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
    shutil.copytree(source, pkg / "bayescore", ignore=ignore)
    for path in [pkg, home, *pkg.rglob("*")]:
        if path.is_dir():
            path.chmod(0o555)
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path
    )


def test_kernels_run_with_a_private_cache_and_one_notice(tmp_path):
    result = _run_read_only(tmp_path)
    assert result.returncode == 0, result.stderr
    notices = [line for line in result.stderr.splitlines() if "CacheWarning" in line]
    assert len(notices) == 1 and "no writable cache location" in notices[0], result.stderr
    value, grads = result.stdout.splitlines()
    # log p(y | theta) of 4 rows at logits 0.5 + x, by hand; and its gradient Z^T (y - p)
    eta = 0.5 + np.arange(4.0)
    y = np.array([0, 0, 1, 1])
    p = 1 / (1 + np.exp(-eta))
    loglik = np.sum(y * np.log(p) + (1 - y) * np.log1p(-p))
    np.testing.assert_allclose(float(value), loglik, rtol=1e-12)
    resid = y - p
    np.testing.assert_allclose(
        [float(g) for g in grads.split()],
        [resid.sum(), (resid * np.arange(4.0)).sum()],
        rtol=1e-12,
    )
