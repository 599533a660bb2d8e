"""Model files: skops + manifest, SHA-256 verified, trusted directory only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from sklearn.ensemble import RandomForestClassifier

from mlops.artifacts import (
    ArtifactError,
    ArtifactIntegrityError,
    load_artifact,
    read_manifest,
    save_artifact,
)


class Sneaky:
    """A type skops does not trust: it must never be loaded from a model file."""


@pytest.fixture
def fitted() -> RandomForestClassifier:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 3))
    return RandomForestClassifier(10, random_state=0).fit(X, np.where(X[:, 0] > 0, 1, -1))


def test_round_trip_gives_the_same_predictions_and_a_manifest(tmp_path: Path,
                                                             fitted: RandomForestClassifier,
                                                             ) -> None:
    saved = save_artifact(fitted, {"threshold": 0.6, "feature_set_id": "fs:abc"}, tmp_path, "m1")
    loaded = load_artifact("m1.skops", saved.sha256, tmp_path)
    X = np.random.default_rng(2).normal(size=(20, 3))
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
    manifest = read_manifest("m1.skops", tmp_path)
    assert manifest["sha256"] == saved.sha256 and manifest["threshold"] == 0.6
    assert json.loads(saved.manifest_path.read_text())["artifact"] == "m1.skops"


def test_a_changed_file_is_refused_loudly(tmp_path: Path, fitted: RandomForestClassifier,
                                          ) -> None:
    saved = save_artifact(fitted, {}, tmp_path, "m1")
    with open(saved.path, "ab") as fh:
        fh.write(b"tampered")
    with pytest.raises(ArtifactIntegrityError, match=r"REFUSING TO LOAD m1\.skops: its SHA-256"):
        load_artifact("m1.skops", saved.sha256, tmp_path)


def test_paths_outside_the_trusted_directory_are_refused(tmp_path: Path,
                                                         fitted: RandomForestClassifier) -> None:
    outside = tmp_path / "outside"
    saved = save_artifact(fitted, {}, outside, "m1")
    trusted = tmp_path / "trusted"
    trusted.mkdir()
    with pytest.raises(ArtifactIntegrityError, match="outside the trusted directory"):
        load_artifact("../outside/m1.skops", saved.sha256, trusted)
    with pytest.raises(ArtifactIntegrityError, match="outside the trusted directory"):
        load_artifact(str(saved.path), saved.sha256, trusted)
    (trusted / "link.skops").symlink_to(saved.path)
    with pytest.raises(ArtifactIntegrityError, match="outside the trusted directory"):
        load_artifact("link.skops", saved.sha256, trusted)


def test_a_file_with_untrusted_types_is_refused_even_with_the_right_hash(tmp_path: Path,
                                                                         ) -> None:
    path = tmp_path / "evil.skops"
    sio.dump({"payload": Sneaky()}, path)
    from mlops.artifacts import sha256_file

    with pytest.raises(ArtifactIntegrityError, match="untrusted types"):
        load_artifact("evil.skops", sha256_file(path), tmp_path)


def test_saving_never_overwrites_an_existing_model(tmp_path: Path,
                                                   fitted: RandomForestClassifier) -> None:
    save_artifact(fitted, {}, tmp_path, "m1")
    with pytest.raises(ArtifactError, match="already exists"):
        save_artifact(fitted, {}, tmp_path, "m1")


def test_saving_refuses_an_estimator_with_unexpected_types(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="outside TRUSTED_TYPES"):
        save_artifact({"x": Sneaky()}, {}, tmp_path, "m2")
    assert not (tmp_path / "m2.skops").exists()


def test_estimator_digest_is_equal_for_equal_models_and_differs_otherwise(
        fitted: RandomForestClassifier) -> None:
    from mlops.artifacts import estimator_digest

    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 3))
    y = np.where(X[:, 0] > 0, 1, -1)
    again = RandomForestClassifier(10, random_state=0).fit(X, y)
    other = RandomForestClassifier(10, random_state=1).fit(X, y)
    assert estimator_digest(fitted) == estimator_digest(fitted) == estimator_digest(again)
    assert estimator_digest(other) != estimator_digest(fitted)
    assert len(estimator_digest(fitted)) == 64
