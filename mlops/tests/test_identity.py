"""A model is bound to the exact feature code it was trained with (mlops.identity + registry).

The scenario of the issue: a model trained on a leaky feature keeps its feature-set id after
the code is fixed; it must then be refused everywhere (prediction, activation, backtest, the
look-ahead check), listed by ``models_check``, and activation must require a clean look-ahead
check on the current fingerprint.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import io
import json
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from mlops import artifacts, identity, services
from mlops.features import CODE_MODULES
from mlops.identity import FingerprintMismatch
from mlops.models import MLModel, ModelStatus
from mlops.pipeline import FeatureSet, default_feature_set
from mlops.services import ActivationRefused
from mlops.tests.conftest import small_config
from mlops.tests.factories import leaky_features, lookahead_checked, tiny_features

REPO = Path(__file__).resolve().parents[2]
NOW = pd.Timestamp("2031-01-01", tz="UTC")


# --- pure: what the fingerprint hashes -------------------------------------------------------

CODE = '''
"""Module doc."""
WINDOW = 20


def feature(x):
    """Doc."""
    return x.rolling(WINDOW).mean()  # trailing


def other(x):
    return x
'''


def test_code_digest_follows_code_but_not_comments_or_docstrings() -> None:
    base = identity.source_digests(CODE, "m")
    assert set(base) == {"m.feature", "m.other", f"m.{identity.MODULE_BODY}"}
    cosmetic = CODE.replace('"""Doc."""', '"""Another doc."""').replace("# trailing", "")
    assert identity.source_digests(cosmetic, "m") == base
    leaky = CODE.replace("x.rolling(WINDOW).mean()", "x.rolling(WINDOW, center=True).mean()")
    changed = identity.source_digests(leaky, "m")
    assert [k for k in base if base[k] != changed[k]] == ["m.feature"]
    constant = identity.source_digests(CODE.replace("WINDOW = 20", "WINDOW = 21"), "m")
    assert [k for k in base if base[k] != constant[k]] == [f"m.{identity.MODULE_BODY}"]


def test_changes_are_named_component_by_component() -> None:
    stored = identity.components(
        feature_set={"id": "fs:1", "options": {"day_boundary": "ny17"}},
        feature_code={"m.f": "aa", "m.g": "bb"}, label={"kind": "next_bar"},
        bars={"symbol": "XAUUSD", "synthetic": True}, libraries={"numpy": "2.4.6"})
    current = {**stored, "feature_code": {"m.f": "cc", "m.h": "dd"},
               "libraries": {"numpy": "2.5.0"}, "label": {"kind": "triple_barrier"}}
    assert identity.describe_changes(stored, current) == [
        "feature code: m.f changed", "feature code: m.g removed", "feature code: m.h added",
        "library: numpy '2.4.6' -> '2.5.0'",
        "label spec: kind 'next_bar' -> 'triple_barrier'"]
    assert identity.describe_changes(stored, stored) == []
    assert identity.fingerprint_hash(stored) != identity.fingerprint_hash(current)


def _project_imports(module: str) -> set[str]:
    try:
        tree = ast.parse(inspect.getsource(__import__(module, fromlist=["_"])))
    except OSError:  # an empty package __init__
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return {n for n in names if n.split(".")[0] in {"mlops", "marketdata", "nusatrade",
                                                    "trading"}}


def test_every_project_module_the_features_import_is_fingerprinted() -> None:
    # Not feature code: the error classes only name what is wrong with the input.
    excused = {"nusatrade.errors"}
    seen, todo = set(), ["mlops.features"]
    while todo:
        module = todo.pop()
        for name in _project_imports(module):
            try:
                __import__(name)
            except ImportError:  # "from package import NAME": a name, not a module
                continue
            if name not in seen and name != "mlops.features":
                seen.add(name)
                todo.append(name)
    packages = {m for m in seen if hasattr(sys.modules[m], "__path__")}  # their own files
    modules = seen - excused - packages
    assert modules <= set(CODE_MODULES), sorted(modules - set(CODE_MODULES))


# --- registered models -----------------------------------------------------------------------

def test_a_registered_model_stores_its_fingerprint_components_and_hashed_manifest(
        trained_model: MLModel, artifacts_dir: Path) -> None:
    parts = trained_model.fingerprint_components
    assert set(parts) == set(identity.COMPONENTS)
    assert trained_model.fingerprint == identity.fingerprint_hash(parts)
    assert "mlops.features.htf.d1_features" in parts["feature_code"]
    assert "marketdata.calendar.trading_days" in parts["feature_code"]
    assert set(parts["libraries"]) >= {"numpy", "ta-lib", "ta-lib C"}
    assert parts["label"] == trained_model.label_spec
    assert parts["bars"]["symbol"] == "XAUUSD" and parts["bars"]["synthetic"] is True
    assert parts["bars"]["data_fingerprint"] == trained_model.data_fingerprint
    assert parts["feature_set"]["options"] == {"day_boundary": "ny17"}
    manifest_file = artifacts_dir / artifacts.manifest_path(trained_model.artifact_path)
    manifest = json.loads(manifest_file.read_text())
    assert manifest["fingerprint"] == trained_model.fingerprint
    assert manifest["fingerprint_components"] == parts
    assert artifacts.sha256_file(manifest_file) == trained_model.manifest_sha256
    assert services.model_identity_changes(trained_model) == []


def _edit_feature_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """Simulate a fix inside a formula: same names, same parameters, same feature-set id."""
    real = inspect.getsource

    def getsource(obj: Any) -> str:
        text = real(obj)
        if getattr(obj, "__name__", "") == "mlops.features.htf":
            text = text.replace("S.D1_RSI)", "S.D1_RSI + 1)")
        return text

    monkeypatch.setattr(identity.inspect, "getsource", getsource)


def test_changed_feature_code_is_refused_everywhere_naming_the_function(
        trained_model: MLModel, stored_bars: pd.DataFrame,
        monkeypatch: pytest.MonkeyPatch) -> None:
    lookahead_checked(trained_model)
    services.model_activate(trained_model, None, "before the code changed")
    _edit_feature_code(monkeypatch)
    assert default_feature_set().id == trained_model.feature_set_id  # the id did not move
    expected = "feature code: mlops.features.htf.d1_features changed"
    with pytest.raises(FingerprintMismatch, match="REFUSING model") as error:
        services.model_estimator(trained_model)
    assert error.value.changes == [expected]
    with pytest.raises(FingerprintMismatch, match=expected):  # prediction
        services.prediction_make("XAUUSD", "H1", now=NOW)
    with pytest.raises(FingerprintMismatch, match=expected):
        services.model_predict_latest(trained_model, last=3, now=NOW)
    with pytest.raises(FingerprintMismatch, match=expected):  # the look-ahead check
        services.model_check_lookahead(trained_model, points=2, window=10, per_kind=1)
    from backtests.signals import model_probabilities

    with pytest.raises(FingerprintMismatch, match=expected):  # backtest
        model_probabilities(trained_model, stored_bars.index[-200].date(),
                            stored_bars.index[-1].date())
    out = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("models_check", stdout=out)
    assert failed.value.returncode == 1
    assert f"model #{trained_model.pk}" in out.getvalue() and expected in out.getvalue()


def test_activation_refuses_changed_feature_code(trained_model: MLModel,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    lookahead_checked(trained_model)
    _edit_feature_code(monkeypatch)
    with pytest.raises(FingerprintMismatch, match="d1_features changed"):
        services.model_activate(trained_model, None, "after the code changed")
    trained_model.refresh_from_db()
    assert trained_model.status == ModelStatus.CANDIDATE


def test_a_new_library_version_is_named(trained_model: MLModel,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    real = identity.library_versions()
    monkeypatch.setattr(identity, "library_versions", lambda: {**real, "ta-lib": "9.9.9"})
    assert services.model_identity_changes(trained_model) == [
        f"library: ta-lib {real['ta-lib']!r} -> '9.9.9'"]


def test_edited_registry_rows_and_manifests_are_refused(trained_model: MLModel,
                                                        artifacts_dir: Path) -> None:
    MLModel.objects.filter(pk=trained_model.pk).update(
        label_spec={**trained_model.label_spec, "kind": "triple_barrier"})
    trained_model.refresh_from_db()
    assert services.model_identity_changes(trained_model) == [
        "label spec: kind 'next_bar' -> 'triple_barrier'"]
    parts = trained_model.fingerprint_components
    MLModel.objects.filter(pk=trained_model.pk).update(
        label_spec=parts["label"], fingerprint_components={**parts, "label": {"kind": "x"}})
    trained_model.refresh_from_db()
    assert any("do not hash to the model's fingerprint" in c
               for c in services.model_identity_changes(trained_model))
    MLModel.objects.filter(pk=trained_model.pk).update(fingerprint_components=parts)
    trained_model.refresh_from_db()
    manifest = artifacts_dir / artifacts.manifest_path(trained_model.artifact_path)
    manifest.write_text(manifest.read_text().replace('"threshold": 0.6', '"threshold": 0.51'))
    with pytest.raises(FingerprintMismatch, match="manifest was changed or replaced"):
        services.model_estimator(trained_model)


def test_the_issue_scenario_leaky_model_is_refused_after_the_fix_keeps_its_id(
        stored_bars: pd.DataFrame, artifacts_dir: Path) -> None:
    leaky = FeatureSet("demo-set-v1", leaky_features, lookback_bars=100)

    def fixed_features(bars: pd.DataFrame) -> pd.DataFrame:  # the leak removed, same columns
        out = tiny_features(bars)
        out["next_body_LEAK"] = (bars["close"] - bars["open"]).shift(1)
        return out

    fixed = FeatureSet("demo-set-v1", fixed_features, lookback_bars=100)
    model = services.model_train(symbol="XAUUSD", timeframe="H1", config=small_config(),
                                 cost=0.3, feature_set=leaky)
    assert services.model_identity_changes(model, leaky) == []
    with pytest.raises(FingerprintMismatch) as error:
        services.model_check_lookahead(model, points=5, window=20, feature_set=fixed)
    removed, added = error.value.changes
    assert removed == "feature code: mlops.tests.factories.leaky_features removed"
    assert added.startswith("feature code: mlops.tests.test_identity.")
    assert added.endswith(".fixed_features added")
    with pytest.raises(FingerprintMismatch):
        services.model_activate(model, None, "the fix is in", feature_set=fixed)


def test_activation_requires_a_clean_lookahead_check_on_the_current_fingerprint(
        trained_model: MLModel) -> None:
    with pytest.raises(ActivationRefused, match="has no look-ahead check"):
        services.model_activate(trained_model, None, "unchecked")
    lookahead_checked(trained_model)
    assert trained_model.metrics["lookahead"]["fingerprint"] == trained_model.fingerprint
    check = trained_model.metrics["lookahead"]
    MLModel.objects.filter(pk=trained_model.pk).update(
        metrics={**trained_model.metrics, "lookahead": {**check, "fingerprint": "0" * 64}})
    trained_model.refresh_from_db()
    with pytest.raises(ActivationRefused, match="not on the model's current fingerprint"):
        services.model_activate(trained_model, None, "checked on other code")
    MLModel.objects.filter(pk=trained_model.pk).update(
        metrics={**trained_model.metrics, "lookahead": {**check, "clean": False}})
    trained_model.refresh_from_db()
    with pytest.raises(ActivationRefused, match="found look-ahead"):
        services.model_activate(trained_model, None, "leaky")
    assert MLModel.objects.get(pk=trained_model.pk).status == ModelStatus.CANDIDATE
    services.model_activate(lookahead_checked(trained_model), None, "clean on this code")
    assert MLModel.objects.get(pk=trained_model.pk).status == ModelStatus.ACTIVE


def test_models_check_is_clean_and_json_lists_mismatches(
        trained_model: MLModel, monkeypatch: pytest.MonkeyPatch) -> None:
    out = StringIO()
    call_command("models_check", stdout=out)
    assert "1 model(s) checked, 0 no longer match" in out.getvalue()
    _edit_feature_code(monkeypatch)
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("models_check", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["checked"] == 1
    (row,) = data["mismatched"]
    assert row["id"] == trained_model.pk
    assert row["changes"] == ["feature code: mlops.features.htf.d1_features changed"]


def test_a_model_without_a_fingerprint_is_listed_and_refused(trained_model: MLModel) -> None:
    MLModel.objects.filter(pk=trained_model.pk).update(fingerprint="")
    trained_model.refresh_from_db()
    with pytest.raises(FingerprintMismatch, match="no fingerprint"):
        services.model_estimator(trained_model)


# --- the model file is hashed and loaded from the same bytes ---------------------------------

def test_the_model_file_is_read_once_and_loaded_from_the_hashed_bytes(
        trained_model: MLModel, artifacts_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = (artifacts_dir / trained_model.artifact_path).resolve()
    opened: list[str] = []
    real_open = io.open

    def counting_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, str | Path) and Path(file).resolve() == target:
            opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(io, "open", counting_open)
    monkeypatch.setattr(builtins, "open", counting_open)
    estimator = artifacts.load_artifact(trained_model.artifact_path,
                                        trained_model.artifact_sha256, artifacts_dir)
    assert hasattr(estimator, "predict_proba")
    assert len(opened) == 1  # no second read between the hash check and the load
