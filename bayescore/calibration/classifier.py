"""A meta-estimator: any scikit-learn classifier plus a recalibrator on a held-out split."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from bayescore._inputs import resolve_labels
from bayescore._validation import Options
from bayescore.calibration.recalibrate import (
    IsotonicCalibration,
    PlattScaling,
    TemperatureScaling,
)

__all__ = ["CalibratedBayesianClassifier"]

#: Recalibrators by name (one signature: ``fit(probs, y)``, ``transform(probs)``).
RECALIBRATORS: dict[str, type[TemperatureScaling | PlattScaling | IsotonicCalibration]] = {
    "temperature": TemperatureScaling,
    "platt": PlattScaling,
    "isotonic": IsotonicCalibration,
}


class CalibratedBayesianClassifier(ClassifierMixin, BaseEstimator):
    """A classifier and a recalibrator fitted on separate splits of the training data.

    Parameters
    ----------
    estimator : classifier with ``predict_proba`` and ``classes_``
        A bayescore estimator or any scikit-learn classifier (cloned before fitting).
    method : {"temperature", "platt", "isotonic"}, default "temperature"
    calibration_size : float or int, default 0.25
        Share (or number) of the training rows (stratified) held out to fit the
        recalibrator.
    random_state : int, default 0

    Attributes
    ----------
    estimator_ : the fitted classifier
    calibrator_ : the fitted recalibrator
    classes_ : ndarray
        The estimator's classes; calibration labels are matched to them by value.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> import bayescore as bs
    >>> ds = bs.load_dataset("breast_cancer")
    >>> clf = CalibratedBayesianClassifier(LogisticRegression(max_iter=5000)).fit(ds.X, ds.y)
    >>> clf.predict_proba(ds.X.iloc[:2]).shape
    (2, 2)
    """

    def __init__(
        self,
        estimator: Any = None,
        method: str = "temperature",
        calibration_size: float = 0.25,
        random_state: int | None = 0,
    ) -> None:
        self.estimator = estimator
        self.method = method
        self.calibration_size = calibration_size
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> CalibratedBayesianClassifier:
        """Fit the estimator on one split and the recalibrator on the other."""
        from sklearn.model_selection import train_test_split

        Options(tuple(RECALIBRATORS)).check("method", self.method, type(self).__name__)
        if self.estimator is None:
            raise ValueError("CalibratedBayesianClassifier needs an estimator.")
        X_fit, X_cal, y_fit, y_cal = train_test_split(
            X, y, test_size=self.calibration_size, stratify=y, random_state=self.random_state
        )
        self.estimator_ = clone(self.estimator).fit(X_fit, y_fit)
        self.classes_ = np.asarray(self.estimator_.classes_)
        # By value through the estimator's classes; a label it never saw raises.
        y_cal_idx = resolve_labels(y_cal, self.classes_.size, self.classes_, name="y")
        self.calibrator_ = RECALIBRATORS[self.method]().fit(
            self.estimator_.predict_proba(X_cal), y_cal_idx
        )
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Recalibrated class probabilities, shape (n_obs, n_classes)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "calibrator_")
        return np.asarray(self.calibrator_.transform(self.estimator_.predict_proba(X)))

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class after recalibration."""
        return np.asarray(self.classes_[np.argmax(self.predict_proba(X), axis=1)])
