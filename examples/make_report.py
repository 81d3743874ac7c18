"""Write the demo report: Bayesian softmax regression vs scikit-learn on the wine data.

Fits a Bayesian softmax regression (NUTS) and scikit-learn's LogisticRegression on a
stratified 65/35 split of the bundled wine data (3 classes, no network) and writes one
self-contained HTML report with ``bs.report``. With ``--screenshot`` it also renders the top
of the page in headless Chromium (``apt-get install chromium``), which is how
docs/report.png was made:

    python examples/make_report.py --out out/report.html --screenshot docs/report.png

About 15 s on 2 cores.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import bayescore as bs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/report.html"))
    parser.add_argument("--screenshot", type=Path, help="PNG of the top of the page")
    parser.add_argument("--height", type=int, default=1800, help="screenshot height (px)")
    args = parser.parse_args()

    ds = bs.load_dataset("wine")
    X_train, X_test, y_train, y_test = train_test_split(
        ds.X, ds.y, test_size=0.35, random_state=0, stratify=ds.y
    )
    models = {
        "Bayesian softmax (NUTS)": bs.BayesianSoftmaxClassifier(random_seed=0).fit(
            X_train, y_train
        ),
        "scikit-learn LogisticRegression": make_pipeline(
            StandardScaler(), LogisticRegression(max_iter=5000)
        ).fit(X_train, y_train),
    }
    path = bs.report(
        models,
        X_test,
        y_test,
        args.out,
        title="Wine: Bayesian softmax vs LogisticRegression",
        # In-sample beside held-out; scikit-learn keeps no training rows: say it held out.
        train=(X_train, y_train),
        held_out={"scikit-learn LogisticRegression": True},
    )
    print(f"wrote {path}")
    if args.screenshot is not None:
        browser = shutil.which("chromium") or shutil.which("chromium-browser")
        if browser is None:
            raise SystemExit("--screenshot needs Chromium: apt-get install chromium")
        with tempfile.TemporaryDirectory() as profile:
            subprocess.run(
                [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                 f"--user-data-dir={profile}", f"--screenshot={args.screenshot.resolve()}",
                 f"--window-size=1200,{args.height}", path.as_uri()],
                check=True, capture_output=True, timeout=120,
            )  # fmt: skip
        print(f"wrote {args.screenshot}")


if __name__ == "__main__":
    main()
