"""``ml_demo``: train the three algorithms with walk-forward validation and tuned thresholds,
pick the best on pooled walk-forward out-of-sample results (nested: each fold tuned its
threshold on its own inner window), check it for look-ahead, and activate it only when its
out-of-sample net expectancy is positive at the configured confidence. Called by
``make demo``.

Sized to finish in a couple of minutes on 2 cores over ~21 years of H1 bars (~130k): lighter
forests and boosting than the production defaults, 3 expanding walk-forward folds, permutation
importance with 3 repeats on the 3,000 most recent validation rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlops import lookahead, pipeline
from mlops.algorithms import ALGORITHMS, DEMO_PARAMS
from mlops.models import MLModel
from mlops.pipeline import FeatureSet, TrainConfig
from mlops.services.lookahead import model_check_lookahead
from mlops.services.registry import ActivationRefused, model_activate
from mlops.services.training import model_train

DEMO_WALK_FORWARD = 3

Say = Callable[[str], None]
ProgressFactory = Callable[[str], pipeline.Progress]


@dataclass
class DemoResult:
    models: list[MLModel] = field(default_factory=list)
    best: MLModel | None = None
    report: lookahead.LookaheadReport | None = None
    activated: bool = False
    refused: str = ""


def validation_expectancy(model: MLModel) -> float:
    """Net expectancy per trade on the validation window at the model's threshold."""
    trades = model.metrics.get("validation", {}).get("trades", {})
    value = trades.get("expectancy")
    return float("-inf") if value is None else float(value)


def oos_expectancy(model: MLModel) -> float:
    """Pooled walk-forward out-of-sample net expectancy per trade (``metrics["selection"]``;
    the test window's when trained without walk-forward)."""
    value = ((model.metrics.get("selection") or {}).get("oos") or {}).get("expectancy")
    return float("-inf") if value is None else float(value)


def pick_best(models: Sequence[MLModel]) -> MLModel:
    """Best pooled walk-forward out-of-sample net expectancy; ties by validation log loss.

    Not the validation figure: each model's threshold was maximised on it, so it grades its
    own homework. The final test window is not consulted either, so it stays an unbiased
    check of the chosen model."""
    return max(models, key=lambda m: (oos_expectancy(m),
                                      -m.metrics.get("validation", {}).get("log_loss", 1e9)))


def selection_optimism(best: MLModel) -> dict[str, float | None]:
    """The choice's own optimism: the chosen model's walk-forward figure (the best of the
    candidates) minus its untouched test window's."""
    test = best.metrics.get("test", {}).get("trades", {}).get("expectancy")
    oos = oos_expectancy(best)
    return {"chosen_oos": None if oos == float("-inf") else oos, "test": test,
            "optimism": None if test is None or oos == float("-inf") else oos - test}


def ml_demo(*, symbol: str = "XAUUSD", timeframe: str = "H1",
            walk_forward: int = DEMO_WALK_FORWARD, points: int = 50, window: int = 1000,
            algorithms: Sequence[str] = ALGORITHMS, seed: int = 42, user: Any = None,
            say: Say = print, progress_factory: ProgressFactory | None = None,
            feature_set: FeatureSet | None = None, activate_best: bool = True,
            start: Any = None, end: Any = None) -> DemoResult:
    """Train every algorithm on bars in [start, end] (None: all stored), pick and check the best.

    ``end`` leaves the later bars unseen, so a backtest can use them honestly (the seed held
    out 2023-2025).
    """
    result = DemoResult()
    for i, algorithm in enumerate(algorithms, start=1):
        say(f"[{i}/{len(algorithms)}] training {algorithm} with {walk_forward}-fold "
            "walk-forward and a tuned threshold")
        config = TrainConfig(algorithm=algorithm, params=DEMO_PARAMS[algorithm],
                             walk_forward=walk_forward, tune=True, importance_repeats=3,
                             importance_rows=3000, seed=seed)
        progress = progress_factory(algorithm) if progress_factory else None
        model = model_train(symbol=symbol, timeframe=timeframe, config=config, user=user,
                            progress=progress, start=start, end=end, feature_set=feature_set,
                            name=f"{symbol}-{timeframe}-{algorithm}-demo")
        result.models.append(model)
        say(f"      model #{model.pk}: threshold {model.threshold:.2f} tuned on validation, "
            f"fit {model.metrics['timing']['fit_seconds']:.1f}s, "
            f"total {model.metrics['timing']['total_seconds']:.1f}s")
    result.best = pick_best(result.models)
    say(f"best on pooled walk-forward out-of-sample net expectancy: model #{result.best.pk} "
        f"({result.best.algorithm}); "
        f"look-ahead check on {points} random bars + its trades in the last {window} bars")
    progress = progress_factory("check_lookahead") if progress_factory else None
    result.report = model_check_lookahead(
        result.best, points=points, window=window, seed=seed, user=user, feature_set=feature_set,
        progress=(lambda done, total: progress("cut-off runs", done, total)) if progress else None)
    if activate_best and result.report.clean:
        try:
            model_activate(result.best, user, "ml_demo: best walk-forward out-of-sample net "
                                              "expectancy, look-ahead check clean",
                           automatic=True)
            result.activated = True
        except ActivationRefused as exc:
            result.refused = str(exc)
        result.best.refresh_from_db()
    return result
