"""Artifacts in S3 or any S3-compatible store (MinIO, R2, Ceph), through boto3.

Configuration is boto3's own (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, ...),
plus AWS_ENDPOINT_URL or MLFLOW_S3_ENDPOINT_URL for S3-compatible endpoints. Uploads stream
through boto3's managed multipart transfer, so memory stays bounded whatever the file size."""

from __future__ import annotations

import os
from typing import BinaryIO, Iterator
from urllib.parse import urlparse

from swan_server.artifacts.base import ArtifactStore, FileInfo
from swan_server.artifacts.paths import join
from swan_server.errors import TEMPORARILY_UNAVAILABLE, SwanError, invalid, not_found

READ_CHUNK = 1 << 20
PART_SIZE = 8 * 1024 * 1024


class _CountingReader:
    """Counts the bytes boto3 pulls from a (non-seekable) request stream."""

    def __init__(self, stream: BinaryIO):
        self.stream = stream
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(size)
        self.size += len(chunk)
        return chunk


def endpoint_url() -> str | None:
    return os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("MLFLOW_S3_ENDPOINT_URL") or None


# S3 answers that mean "try again later" rather than "this request is wrong".
_RETRYABLE_CODES = {"500", "502", "503", "504", "InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout"}


def _unavailable(method):
    """An unreachable or overloaded endpoint is transient: the client gets a 503 it retries
    (after boto3's own retries), not a 500."""
    import functools

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        from botocore.exceptions import ClientError, ConnectionError as BotoConnectionError, HTTPClientError

        try:
            return method(*args, **kwargs)
        except (BotoConnectionError, HTTPClientError) as exc:
            raise SwanError(f"Artifact store temporarily unavailable: {exc}", TEMPORARILY_UNAVAILABLE) from exc
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _RETRYABLE_CODES:
                raise SwanError(f"Artifact store temporarily unavailable: {code}", TEMPORARILY_UNAVAILABLE) from exc
            raise

    return wrapper


class S3ArtifactStore(ArtifactStore):
    def __init__(self, uri: str, client=None):
        parsed = urlparse(uri)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ValueError(f"Not an S3 URI: {uri}")
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        if client is None:
            import boto3
            from botocore.config import Config

            endpoint = endpoint_url()
            config = Config(
                signature_version="s3v4",
                retries={"max_attempts": 5, "mode": "standard"},
                s3={"addressing_style": "path"} if endpoint else {},
            )
            client = boto3.client("s3", endpoint_url=endpoint, config=config)
        self.client = client
        from boto3.s3.transfer import TransferConfig

        self.transfer = TransferConfig(
            multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE, max_concurrency=4, use_threads=True
        )

    def _key(self, path: str) -> str:
        return join(self.prefix, path)

    def check(self) -> None:
        """Fail fast (with boto3's reason) when the bucket is unreachable or missing."""
        self.client.head_bucket(Bucket=self.bucket)

    def _missing(self, exc) -> bool:
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        return code in ("404", "NoSuchKey", "NotFound")

    @_unavailable
    def write(self, path, stream, chunk_size=1 << 20):
        if self._is_prefix(path):
            raise invalid(f"Cannot write artifact '{path}': a directory exists at that path")
        reader = _CountingReader(stream)
        # A failed transfer aborts its multipart upload, so no partial object becomes visible.
        self.client.upload_fileobj(reader, self.bucket, self._key(path), Config=self.transfer)
        return reader.size

    def _head(self, path: str):
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=self._key(path))
        except ClientError as exc:
            if self._missing(exc):
                return None
            raise

    def _is_prefix(self, path: str) -> bool:
        resp = self.client.list_objects_v2(Bucket=self.bucket, Prefix=self._key(path) + "/", MaxKeys=1)
        return resp.get("KeyCount", 0) > 0

    @_unavailable
    def open_read(self, path):
        head = self._head(path)
        if head is None:
            raise not_found(f"Artifact '{path}' not found")
        size = head["ContentLength"]

        def chunks() -> Iterator[bytes]:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(path))["Body"]
            try:
                yield from body.iter_chunks(READ_CHUNK)
            finally:
                body.close()

        return chunks(), size

    @_unavailable
    def list_dir(self, path):
        prefix = self._key(path)
        prefix = prefix + "/" if prefix else ""
        out: list[FileInfo] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                name = common["Prefix"][len(prefix):].rstrip("/")
                if name and not name.startswith("."):
                    out.append(FileInfo(name, True, None))
            for obj in page.get("Contents", []):
                name = obj["Key"][len(prefix):]
                if name and "/" not in name:
                    out.append(FileInfo(name, False, obj["Size"]))
        return sorted(out, key=lambda f: f.path)

    @_unavailable
    def is_file(self, path):
        return self._head(path) is not None

    @_unavailable
    def delete(self, path):
        if not path:
            raise invalid("Refusing to delete the artifact root")
        deleted = 0
        if self._head(path) is not None:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(path))
            deleted += 1
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(path) + "/"):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
                deleted += len(keys)
        if deleted == 0:
            raise not_found(f"Artifact '{path}' not found")

    # -- direct uploads: real S3 presigned URLs ------------------------------------------------------
    def presign_put(self, path, expires_in):
        return self.client.generate_presigned_url(
            "put_object", Params={"Bucket": self.bucket, "Key": self._key(path)}, ExpiresIn=int(expires_in)
        )

    def presign_get(self, path: str, expires_in: int) -> str:
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._key(path)}, ExpiresIn=int(expires_in)
        )

    def presign_multipart(self, path, part_count, expires_in):
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=self._key(path))["UploadId"]
        urls = [
            self.client.generate_presigned_url(
                "upload_part",
                Params={"Bucket": self.bucket, "Key": self._key(path), "UploadId": upload_id, "PartNumber": n},
                ExpiresIn=int(expires_in),
            )
            for n in range(1, part_count + 1)
        ]
        return upload_id, urls

    def complete_multipart(self, path, upload_id, parts):
        self.client.complete_multipart_upload(
            Bucket=self.bucket,
            Key=self._key(path),
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etag} for n, etag in sorted(parts)]},
        )
        return True
