"""bayescore demo: Bayesian classifiers vs scikit-learn on bundled real data (no network).

Fits a Bayesian logistic regression (breast cancer, 2 classes) and a Bayesian softmax
regression (wine, 3 classes) with NUTS on a stratified 75/25 split, then prints held-out log
loss, accuracy, ECE and convergence diagnostics beside scikit-learn's LogisticRegression
on the same split. Writes reliability diagrams to ``out/``.

Run with ``make demo`` (or ``python examples/demo.py``); about a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import bayescore as bs

JOBS = [
    ("breast_cancer", bs.BayesianLogisticClassifier, "Bayesian logistic (NUTS)"),
    ("wine", bs.BayesianSoftmaxClassifier, "Bayesian softmax (NUTS)"),
]


def held_out_row(name, label, model, X_test, y_test, seconds, diagnosis=None):
    probs = model.predict_proba(X_test)
    labels = model.classes_
    row = {
        "data": name,
        "model": label,
        "log loss": bs.log_loss(y_test, probs, labels=labels),
        "accuracy": float(np.mean(model.predict(X_test) == np.asarray(y_test))),
        "ECE": bs.expected_calibration_error(y_test, probs, labels=labels),
        "seconds": seconds,
    }
    if diagnosis is not None:
        row["max R-hat"] = diagnosis["r_hat_max"]
        row["min ESS"] = diagnosis["ess_bulk_min"]
        row["divergences"] = int(diagnosis["divergences"])
        row["ok"] = "yes" if diagnosis.ok else "no"
    return row


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=Path("out"))
    args = parser.parse_args(argv)
    console = Console(width=130)
    rows = []
    args.out.mkdir(parents=True, exist_ok=True)
    for name, cls, label in JOBS:
        ds = bs.load_dataset(name)
        X_train, X_test, y_train, y_test = train_test_split(
            ds.X, ds.y, test_size=0.25, stratify=ds.y, random_state=0
        )
        console.print(
            f"[bold]{name}[/]: {len(X_train)} train / {len(X_test)} test rows, "
            f"{ds.X.shape[1]} features, classes {sorted(ds.y.unique())}"
        )
        start = time.perf_counter()
        clf = cls(draws=args.draws, tune=args.tune, chains=2, random_seed=0).fit(X_train, y_train)
        seconds = time.perf_counter() - start
        rows.append(held_out_row(name, label, clf, X_test, y_test, seconds, bs.diagnose(clf)))

        start = time.perf_counter()
        ref = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
        ref.fit(X_train, y_train)
        rows.append(
            held_out_row(
                name,
                "sklearn LogisticRegression",
                ref,
                X_test,
                y_test,
                time.perf_counter() - start,
            )
        )

        from bayescore.plots import reliability_diagram

        ax = reliability_diagram(y_test, clf.predict_proba(X_test), labels=clf.classes_, n_bins=10)
        ax.set_title(f"{label}, held-out {name}")
        path = args.out / f"reliability_{name}.png"
        ax.figure.savefig(path, dpi=110, bbox_inches="tight")
        console.print(f"  reliability diagram: {path}")

    table = Table(title="Held-out scores (lower log loss / ECE is better)")
    columns = [
        "data",
        "model",
        "log loss",
        "accuracy",
        "ECE",
        "max R-hat",
        "min ESS",
        "divergences",
        "ok",
        "seconds",
    ]
    for col in columns:
        table.add_column(col, justify="left" if col in ("data", "model") else "right")
    for row in rows:
        cells = []
        for col in columns:
            value = row.get(col, "-")
            if isinstance(value, float):
                value = (
                    f"{value:.0f}"
                    if col == "min ESS"
                    else f"{value:.4f}"
                    if col != "seconds"
                    else f"{value:.1f}"
                )
            cells.append(str(value))
        table.add_row(*cells)
    console.print(table)
    return rows


if __name__ == "__main__":
    main()
