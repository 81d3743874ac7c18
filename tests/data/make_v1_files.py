"""Write the format-1 model file in this folder with bayescore 0.1 (the previous release).

Run in an environment with bayescore 0.1.0 installed (Python 3.11, PyMC 5.28, ArviZ 0.23),
e.g. a checkout of commit ba09b92:  python tests/data/make_v1_files.py
Made on 2026-11-25 with bayescore 0.1.0, PyMC 5.28.5, ArviZ 0.23.4, Python 3.11.7. The file
holds a mean-field ADVI fit of the softmax model to iris (40 draws); the text file beside it
holds that release's predict_proba for the first five rows, which the loaded model of the
current release must reproduce.
"""

from pathlib import Path

import numpy as np

import bayescore as bs


def main() -> None:
    """Fit and save (only when run as a script: importing this file writes nothing)."""
    if bs.__version__ != "0.1.0":
        raise SystemExit(f"run this with bayescore 0.1.0, not {bs.__version__}")
    here = Path(__file__).parent
    iris = bs.load_dataset("iris")
    clf = bs.BayesianSoftmaxClassifier(method="advi", draws=40, random_seed=0)
    clf.fit(iris.X, iris.y).save(here / "v1_softmax_iris.nc")
    proba = clf.predict_proba(iris.X.iloc[:5])
    np.savetxt(here / "v1_softmax_iris_proba.txt", proba, fmt="%.17g")


if __name__ == "__main__":
    main()
