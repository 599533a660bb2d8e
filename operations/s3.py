"""S3-compatible storage for backups with boto3 (pure: no Django imports; boto3 imported lazily).

Each file goes to ``<prefix>/<backup name>/<relative path>`` with its SHA-256 as object
metadata (``x-amz-meta-sha256``); large files go up in parts (``TransferConfig``). After each
upload the object is read back and hashed: the upload counts only when the bytes stored equal
the bytes sent. ``manifest.json`` goes last, so a backup without one is incomplete.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from operations.dumps import CHUNK, BackupError

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class S3Config:
    bucket: str
    prefix: str = "nusatrade/backups"
    endpoint_url: str = ""
    region: str = "us-east-1"
    access_key_id: str = ""
    secret_access_key: str = ""
    multipart_threshold: int = 16 * 2**20
    multipart_chunksize: int = 16 * 2**20
    connect_timeout: float = 5.0
    read_timeout: float = 60.0

    def key(self, *parts: str) -> str:
        return "/".join(p.strip("/") for p in (self.prefix, *parts) if p.strip("/"))


def s3_client(config: S3Config) -> Any:
    import boto3
    from botocore.config import Config

    credentials = ({"aws_access_key_id": config.access_key_id,
                    "aws_secret_access_key": config.secret_access_key}
                   if config.access_key_id else {})
    return boto3.client(
        "s3", endpoint_url=config.endpoint_url or None, region_name=config.region,
        config=Config(connect_timeout=config.connect_timeout, read_timeout=config.read_timeout,
                      retries={"max_attempts": 2, "mode": "standard"},
                      s3={"addressing_style": "path"}),
        **credentials)


def _transfer_config(config: S3Config) -> Any:
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(multipart_threshold=config.multipart_threshold,
                          multipart_chunksize=config.multipart_chunksize, use_threads=False)


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


def _stored_sha256(client: Any, bucket: str, key: str) -> str:
    digest = hashlib.sha256()
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    while chunk := body.read(CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def file_upload(client: Any, config: S3Config, path: Path, key: str, sha256: str) -> None:
    """Upload one file and prove the stored object has ``sha256`` (metadata and content)."""
    client.upload_file(str(path), config.bucket, key, Config=_transfer_config(config),
                       ExtraArgs={"Metadata": {"sha256": sha256}})
    head = client.head_object(Bucket=config.bucket, Key=key)
    if head.get("Metadata", {}).get("sha256") != sha256:
        raise BackupError(f"s3://{config.bucket}/{key}: stored SHA-256 metadata "
                          f"{head.get('Metadata', {}).get('sha256')!r} is not {sha256}")
    stored = _stored_sha256(client, config.bucket, key)
    if stored != sha256:
        raise BackupError(f"s3://{config.bucket}/{key}: the stored bytes hash to "
                          f"{stored[:12]}..., not {sha256[:12]}... (upload corrupted)")


def backup_upload(config: S3Config, local_dir: Path, name: str,
                  files: dict[str, dict[str, Any]]) -> str:
    """Upload a backup directory (its manifest last); returns the backup's key prefix."""
    try:
        client = s3_client(config)
        for rel, meta in sorted(files.items()):
            file_upload(client, config, local_dir / rel, config.key(name, rel), meta["sha256"])
        from operations.dumps import sha256_file

        manifest_sha, _ = sha256_file(local_dir / MANIFEST)
        file_upload(client, config, local_dir / MANIFEST, config.key(name, MANIFEST),
                    manifest_sha)
    except BackupError:
        raise
    except Exception as exc:  # botocore: endpoint down, credentials, bucket missing...
        raise BackupError(f"upload to s3://{config.bucket}/{config.key(name)} failed: "
                          f"{_describe(exc)}") from exc
    return config.key(name)


def backup_download(config: S3Config, name: str, dest: Path) -> None:
    """Download every object of backup ``name`` into ``dest``, each checked against its
    SHA-256 metadata (the manifest check that follows compares them with the manifest)."""
    try:
        client = s3_client(config)
        prefix = config.key(name) + "/"
        keys = [obj["Key"] for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=config.bucket, Prefix=prefix) for obj in page.get("Contents", [])]
        if config.key(name, MANIFEST) not in keys:
            raise BackupError(f"s3://{config.bucket}/{prefix}: no {MANIFEST} (not a complete "
                              "backup, or a wrong key)")
        for key in keys:
            rel = key[len(prefix):]
            target = dest / rel
            if ".." in Path(rel).parts:
                raise BackupError(f"s3://{config.bucket}/{key}: path escapes the backup")
            target.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(config.bucket, key, str(target),
                                 Config=_transfer_config(config))
            expected = client.head_object(Bucket=config.bucket, Key=key)["Metadata"].get(
                "sha256")
            from operations.dumps import sha256_file

            if expected and sha256_file(target)[0] != expected:
                raise BackupError(f"s3://{config.bucket}/{key}: downloaded bytes do not match "
                                  "the SHA-256 stored with the object")
    except BackupError:
        raise
    except Exception as exc:
        raise BackupError(f"download of s3://{config.bucket}/{config.key(name)} failed: "
                          f"{_describe(exc)}") from exc


def backup_names(config: S3Config) -> list[str]:
    """Names of the complete backups (those with a manifest) under the prefix."""
    client = s3_client(config)
    prefix = config.key() + "/"
    names = []
    for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=config.bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            rel = obj["Key"][len(prefix):]
            if rel.count("/") == 1 and rel.endswith("/" + MANIFEST):
                names.append(rel.split("/")[0])
    return sorted(names)


def backup_delete(config: S3Config, name: str) -> int:
    """Delete every object of backup ``name``; returns how many."""
    client = s3_client(config)
    prefix = config.key(name) + "/"
    keys = [{"Key": obj["Key"]} for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=config.bucket, Prefix=prefix) for obj in page.get("Contents", [])]
    for start in range(0, len(keys), 1000):
        client.delete_objects(Bucket=config.bucket,
                              Delete={"Objects": keys[start:start + 1000], "Quiet": True})
    return len(keys)
