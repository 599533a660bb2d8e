"""Model files: skops + a JSON manifest, SHA-256 verified, trusted directory only (no Django).

A model is saved as ``<name>.skops`` with ``<name>.json`` beside it (feature-set name and hash,
the model fingerprint and its components, params, training window, label spec, threshold,
metrics, the file's SHA-256); the registry records both files' SHA-256. Loading checks, in
order, and refuses loudly (``ArtifactIntegrityError``) when any check fails:

1. the file resolves inside the trusted directory (no ``..``, absolute path or symlink escape);
2. its SHA-256 equals the one the registry recorded (a changed or swapped file is refused);
3. skops finds no type outside ``TRUSTED_TYPES`` (skops never unpickles arbitrary objects).

The file is read ONCE: its bytes are hashed, checked and deserialised from the same buffer, so
nothing can swap the file between the hash check and the load. The manifest is read the same
way (``read_verified_manifest``).

The trusted directory is passed in (``settings.ARTIFACTS_DIR`` in the services), so this module
stays pure.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import skops.io as sio

from nusatrade.errors import NusaTradeError

MODEL_SUFFIX = ".skops"
MANIFEST_SUFFIX = ".json"
# Types skops does not trust by default but our estimators contain. Anything else is refused.
TRUSTED_TYPES = (
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
    "sklearn.utils._bunch.Bunch",
)


class ArtifactError(NusaTradeError):
    """A model file cannot be saved or found."""


class ArtifactIntegrityError(ArtifactError):
    """A model file failed verification: it must not be used."""


@dataclass(frozen=True)
class SavedArtifact:
    path: Path
    manifest_path: Path
    sha256: str
    size: int
    manifest_sha256: str = ""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def estimator_digest(estimator: Any) -> str:
    """SHA-256 of a fitted estimator's state: equal for equal models, so it identifies a model
    kept in memory (the retrain-every backtest's segment models) across runs. The state is
    pickled only to be hashed, never loaded; skops bytes would not do (their member names are
    object ids and the zip carries timestamps: two dumps of one model differ)."""
    return hashlib.sha256(pickle.dumps(estimator, protocol=5)).hexdigest()


def save_artifact(estimator: Any, manifest: dict[str, Any], directory: Path,
                  name: str) -> SavedArtifact:
    """Write ``name.skops`` and ``name.json`` atomically under ``directory``; never overwrite."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = _inside(directory, name + MODEL_SUFFIX)
    manifest_path = path.with_suffix(MANIFEST_SUFFIX)
    if path.exists() or manifest_path.exists():
        raise ArtifactError(f"artifact {path.name} already exists; model files are immutable")
    data = sio.dumps(estimator)
    untrusted = set(sio.get_untrusted_types(data=data)) - set(TRUSTED_TYPES)
    if untrusted:
        raise ArtifactError(f"estimator holds types outside TRUSTED_TYPES: {sorted(untrusted)}")
    _atomic_write(path, lambda fh: fh.write(data))
    digest = hashlib.sha256(data).hexdigest()
    body = json.dumps({**manifest, "artifact": path.name, "sha256": digest}, indent=2,
                      sort_keys=True, default=str).encode()
    _atomic_write(manifest_path, lambda fh: fh.write(body))
    return SavedArtifact(path, manifest_path, digest, len(data),
                         hashlib.sha256(body).hexdigest())


def read_verified(relative_path: str, expected_sha256: str, trusted_dir: Path,
                  what: str = "model file") -> bytes:
    """The bytes of ``trusted_dir/relative_path``, read once, after checks 1 and 2."""
    path = _inside(Path(trusted_dir), relative_path)
    if not path.is_file():
        raise ArtifactError(f"{what} {relative_path} is missing from {trusted_dir}")
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise ArtifactIntegrityError(
            f"REFUSING TO LOAD {relative_path}: its SHA-256 is {actual} but the registry "
            f"recorded {expected_sha256}. The {what} was changed or replaced after training. "
            "Restore the original file or retrain; do not edit the registry to match."
        )
    return data


def verify_artifact(relative_path: str, expected_sha256: str, trusted_dir: Path) -> Path:
    """The file's path once checks 1 and 2 of the module doc pass; raises otherwise."""
    read_verified(relative_path, expected_sha256, trusted_dir)
    return _inside(Path(trusted_dir), relative_path)


def load_bytes(data: bytes, relative_path: str) -> Any:
    """The estimator in ``data`` (already hash-verified) after the skops type check (3)."""
    untrusted = set(sio.get_untrusted_types(data=data)) - set(TRUSTED_TYPES)
    if untrusted:
        raise ArtifactIntegrityError(
            f"REFUSING TO LOAD {relative_path}: it contains untrusted types {sorted(untrusted)}"
        )
    return sio.loads(data, trusted=list(TRUSTED_TYPES))


def load_artifact(relative_path: str, expected_sha256: str, trusted_dir: Path) -> Any:
    """The estimator in ``trusted_dir/relative_path`` after every check in the module doc,
    deserialised from the very bytes that were hashed."""
    return load_bytes(read_verified(relative_path, expected_sha256, trusted_dir), relative_path)


def manifest_path(relative_path: str) -> str:
    """The manifest's path (relative, like the model file's) beside ``relative_path``."""
    return str(Path(relative_path).with_suffix(MANIFEST_SUFFIX))


def read_manifest(relative_path: str, trusted_dir: Path) -> dict[str, Any]:
    path = _inside(Path(trusted_dir), relative_path).with_suffix(MANIFEST_SUFFIX)
    return json.loads(path.read_text())


def read_verified_manifest(relative_path: str, expected_sha256: str,
                           trusted_dir: Path) -> dict[str, Any]:
    """The manifest beside the model file ``relative_path``, read once and hash-verified."""
    data = read_verified(manifest_path(relative_path), expected_sha256, trusted_dir,
                         what="manifest")
    return json.loads(data)


def _inside(directory: Path, relative: str) -> Path:
    """``directory/relative`` resolved, refusing anything that ends up outside ``directory``."""
    root = directory.resolve()
    candidate = (root / relative).resolve()
    if Path(relative).is_absolute() or not candidate.is_relative_to(root):
        raise ArtifactIntegrityError(
            f"REFUSING artifact path {relative!r}: it is outside the trusted directory {root}"
        )
    return candidate


def _atomic_write(path: Path, write: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
