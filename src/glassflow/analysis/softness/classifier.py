"""The softness classifier: a hyperplane in standardised feature space (physics.md §7).

``Pipeline(StandardScaler, LogisticRegression(class_weight="balanced"))`` on a stratified
train/test split with a fixed ``random_state`` (grouped by ion so that the windows of
one ion are all train or all test). Softness of an ion is its signed distance to the
hyperplane in the standardised feature space: ``S = (w . z + b) / ||w||`` =
``decision_function / ||w||`` (z standardised features, w the coefficients); S > 0 on the
"rearranging" side. A shuffled-label control (labels permuted before the same split and
fit) gives the chance level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from glassflow.analysis.softness.settings import SoftnessSettings

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


@dataclass
class SoftnessModel:
    """Fitted softness classifier and its scores (NaN + ``reason`` when not fitted)."""

    pipeline: Any | None
    n_train: int = 0
    n_test: int = 0
    train_accuracy: float = float("nan")
    test_accuracy: float = float("nan")
    test_balanced_accuracy: float = float("nan")
    shuffled_test_accuracy: float = float("nan")
    reason: str = ""
    split: str = ""
    feature_mask: npt.NDArray[np.bool_] | None = None
    train_index: IntArray = field(default_factory=lambda: np.zeros(0, np.intp))
    test_index: IntArray = field(default_factory=lambda: np.zeros(0, np.intp))

    @property
    def fitted(self) -> bool:
        return self.pipeline is not None

    def softness(self, features: npt.ArrayLike) -> FloatArray:
        """Signed distance to the hyperplane in standardised feature space (S > 0: soft)."""
        x = np.asarray(features, dtype=np.float64)
        if self.pipeline is None:
            return np.full(x.shape[0], np.nan)
        if self.feature_mask is not None:
            x = x[:, self.feature_mask]
        return softness_from_pipeline(self.pipeline, x)


def _pipeline(c: float, random_state: int) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline(
        [
            ("scale", StandardScaler()),
            (
                "logit",
                LogisticRegression(
                    C=c, class_weight="balanced", max_iter=5000, random_state=random_state
                ),
            ),
        ]
    )


def softness_from_pipeline(pipeline: Any, features: npt.ArrayLike) -> FloatArray:
    """``decision_function / ||w||``: signed hyperplane distance (standardised units)."""
    w = np.asarray(pipeline.named_steps["logit"].coef_, dtype=np.float64).ravel()
    norm = float(np.linalg.norm(w))
    dec = np.asarray(pipeline.decision_function(np.asarray(features, float)), dtype=np.float64)
    return dec / norm if norm > 0 else np.full(dec.shape, np.nan)


def _split_fit(
    x: FloatArray,
    y: npt.NDArray[np.int8],
    s: SoftnessSettings,
    groups: npt.NDArray[np.int64] | None = None,
) -> tuple[Any, IntArray, IntArray, str]:
    """Stratified train/test split (grouped by ``groups`` when possible) and fit.

    With groups (the ion index), all windows of one ion fall on the same side
    (``StratifiedGroupKFold`` with k = round(1/test_fraction), first fold = test), so
    near-identical samples of a slow ion cannot leak from train to test; falls back to a
    plain stratified split when there are too few groups per class. Returns
    (pipeline, train rows, test rows, split kind).
    """
    from sklearn.model_selection import StratifiedGroupKFold, train_test_split

    idx = np.arange(y.size)
    tr = te = None
    kind = "stratified"
    if groups is not None:
        k = max(2, round(1.0 / s.test_fraction))
        per_class = min(np.unique(groups[y == c]).size for c in (0, 1))
        if per_class >= k:
            cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=s.random_state)
            tr, te = next(cv.split(idx, y, groups))
            if np.unique(y[tr]).size < 2 or np.unique(y[te]).size < 2:
                tr = te = None
            else:
                kind = "stratified_grouped_by_ion"
    if tr is None or te is None:
        tr, te = train_test_split(
            idx, test_size=s.test_fraction, stratify=y, random_state=s.random_state
        )
    pipe = _pipeline(s.C, s.random_state).fit(x[tr], y[tr])
    return pipe, np.sort(tr), np.sort(te), kind


def fit_softness(
    features: npt.ArrayLike,
    labels: npt.ArrayLike,
    settings: SoftnessSettings | None = None,
    groups: npt.ArrayLike | None = None,
) -> SoftnessModel:
    """Fit the softness hyperplane on samples with labels 0/1 (others are ignored).

    Returns a :class:`SoftnessModel` with train/test accuracies, the balanced test
    accuracy, and the test accuracy of the same pipeline fitted on permuted labels
    (chance level). Feature columns that are (almost) never occupied are dropped first
    (:func:`occupied_features`; the mask is kept in the model). ``groups`` (e.g. the ion
    index of each row) keeps all samples of one group on one side of the split (see
    :func:`_split_fit`); ``train_index``/``test_index`` index the rows of ``features``. When a
    class has fewer than ``min_class_size`` samples nothing is fitted and ``reason`` says
    why (never raises on degenerate data).
    """
    from sklearn.metrics import accuracy_score, balanced_accuracy_score

    s = settings or SoftnessSettings()
    x = np.asarray(features, dtype=np.float64)
    lab = np.asarray(labels)
    rows = np.flatnonzero((lab == 0) | (lab == 1))
    ok = rows[np.all(np.isfinite(x[rows]), axis=1)] if x.ndim == 2 and x.shape[1] else rows[:0]
    y = lab[ok].astype(np.int8)
    n1, n0 = int(np.count_nonzero(y == 1)), int(np.count_nonzero(y == 0))
    if x.ndim != 2 or x.shape[1] == 0:
        return SoftnessModel(None, reason="no features")
    if min(n0, n1) < s.min_class_size:
        return SoftnessModel(
            None,
            reason=f"too few samples per class (rearranging {n1}, non-rearranging {n0}; "
            f"need >= {s.min_class_size} each)",
        )
    mask = occupied_features(x[ok], s.min_feature_occupancy)
    if not mask.any():
        return SoftnessModel(None, reason="no occupied features")
    xs = x[ok][:, mask]
    g = None if groups is None else np.asarray(groups)[ok]
    pipe, tr, te, kind = _split_fit(xs, y, s, g)
    model = SoftnessModel(
        pipe,
        n_train=int(tr.size),
        n_test=int(te.size),
        train_accuracy=float(accuracy_score(y[tr], pipe.predict(xs[tr]))),
        test_accuracy=float(accuracy_score(y[te], pipe.predict(xs[te]))),
        test_balanced_accuracy=float(balanced_accuracy_score(y[te], pipe.predict(xs[te]))),
        train_index=ok[tr],
        test_index=ok[te],
        split=kind,
        feature_mask=mask,
    )
    rng = np.random.default_rng(s.random_state)
    y_shuf = rng.permutation(y)
    pipe_s, _, te_s, _ = _split_fit(xs, y_shuf, s, g)
    model.shuffled_test_accuracy = float(accuracy_score(y_shuf[te_s], pipe_s.predict(xs[te_s])))
    return model


def occupied_features(
    features: npt.ArrayLike, min_occupancy: float = 0.02, floor: float = 1e-3
) -> npt.NDArray[np.bool_]:
    """Columns where at least ``min_occupancy`` of the samples exceed ``floor``.

    Shells a species (almost) never reaches (e.g. Na-Na below 2 Å) carry only Gaussian tails
    ~1e-12; standardising such a column blows those tails up to huge z values and a few
    samples would get absurd softness. They are dropped before the fit.
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        return np.zeros(x.shape[-1] if x.ndim == 2 else 0, dtype=bool)
    return np.mean(x > floor, axis=0) >= min_occupancy


def chance_band(n_test: int, p: float = 0.5, z: float = 3.0) -> tuple[float, float]:
    """Accuracy band p +- z sqrt(p(1-p)/n) of a chance classifier on n test samples."""
    half = z * math.sqrt(p * (1.0 - p) / max(n_test, 1))
    return p - half, p + half
