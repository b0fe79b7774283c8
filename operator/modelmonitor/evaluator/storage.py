"""Where data lives: local paths and any S3-compatible store, behind one small surface.

botocore (boto3's core) does what needs the S3 API itself (listing a prefix, telling a missing bucket from a
missing key or a refused request, writing results) because its errors carry codes we can name to the user;
pyarrow's S3 filesystem does the reading, because it streams Parquet row groups and CSV / JSON blocks without a full
download. Both take endpoint, region and credentials from the standard AWS environment variables, so MinIO,
Ceph or AWS itself work alike. Every failure leaves here as a :class:`StorageError` or :class:`DataError`
naming the bucket and key.

One client serves the whole process (per endpoint, region, credentials and time budget): the first costs
~0.08 CPU s (the S3 service model and endpoint rules parsed from JSON), and a run makes a dozen requests
(listings, the cached profile, stored step profiles, results). Clients are thread-safe; the session that
creates them is not, so each client gets its own session, created under a lock.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import urlparse

import pyarrow.fs as pafs

from modelmonitor.evaluator.errors import ConfigError, DataError, StorageError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = [
    "DEFAULT_STORAGE_TIMEOUT",
    "STORAGE_TIMEOUT_ENV",
    "Location",
    "ResolvedFiles",
    "endpoint_name",
    "join_uri",
    "list_files",
    "parse_location",
    "read_bytes_if_exists",
    "s3_client",
    "s3_filesystem",
    "storage_timeout",
    "write_bytes",
]

T = TypeVar("T")


@dataclass(frozen=True)
class Location:
    """A parsed URI: ``bucket`` is ``None`` for a local path, ``key`` is the path inside."""

    uri: str
    bucket: str | None
    key: str

    @property
    def is_s3(self) -> bool:
        return self.bucket is not None


@dataclass(frozen=True)
class ResolvedFiles:
    """The files behind a URI, ready for ``pyarrow.dataset`` on ``filesystem``."""

    location: Location
    filesystem: pafs.FileSystem
    paths: tuple[str, ...]
    total_bytes: int
    versions: tuple[str, ...] = ()

    @property
    def fingerprint(self) -> str:
        """A digest of the files' names, sizes and versions (ETag or mtime): it changes when the data does."""
        text = "\n".join(f"{path}\t{version}" for path, version in zip(self.paths, self.versions, strict=False))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def parse_location(uri: str) -> Location:
    if uri.startswith("s3://"):
        parsed = urlparse(uri)
        return Location(uri=uri, bucket=parsed.netloc, key=parsed.path.lstrip("/"))
    return Location(uri=uri, bucket=None, key=uri)


def join_uri(base: str, *parts: str) -> str:
    joined = base.rstrip("/")
    for part in parts:
        joined = f"{joined}/{part.strip('/')}"
    return joined


#: Seconds within which an unreachable or silent S3 endpoint fails an evaluation (``--storage-timeout``).
STORAGE_TIMEOUT_ENV = "MODELMONITOR_STORAGE_TIMEOUT"
DEFAULT_STORAGE_TIMEOUT = 30.0
#: Attempts of one S3 request; each gets a fifth of the budget to connect and a fifth to answer, so the
#: attempts and their back-off stay within the budget.
STORAGE_ATTEMPTS = 2


def storage_timeout() -> float:
    """The storage time budget in seconds: ``$MODELMONITOR_STORAGE_TIMEOUT``, else 30."""
    text = os.environ.get(STORAGE_TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_STORAGE_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not (0 < seconds <= 3600):
        raise ConfigError(
            f"{STORAGE_TIMEOUT_ENV} (--storage-timeout): must be a number of seconds in (0, 3600], not {text!r}",
            reason="BadArguments",
        )
    return seconds


def _endpoint_url() -> str | None:
    """The S3 endpoint from the environment (set from ``spec.data.store.endpoint``), checked to be a URL."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None
    if endpoint is None:
        return None
    parsed = urlparse(endpoint)
    try:
        port_ok = parsed.port is None or parsed.port > 0
    except ValueError:
        port_ok = False
    if (
        parsed.scheme not in ("http", "https")
        or not parsed.hostname
        or not port_ok
        or any(c.isspace() for c in endpoint)
    ):
        raise ConfigError(
            f"spec.data.store.endpoint: {endpoint!r} (AWS_ENDPOINT_URL_S3) is not an http:// or https:// URL "
            "of an S3 endpoint, such as http://minio.storage:9000",
            reason="InvalidEndpoint",
        )
    return endpoint


def endpoint_name() -> str:
    """The S3 endpoint in use, for messages."""
    return _endpoint_url() or f"AWS S3 ({_region()})"


def _region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


#: The clients made so far, by :func:`_client_key`; a few at most (tests change the environment).
_CLIENTS: dict[str, S3Client] = {}
_CLIENTS_LOCK = threading.Lock()
_CLIENTS_KEPT = 8


def _client_key(endpoint: str | None, region: str, budget: float) -> str:
    """What a client is made from: endpoint, region, budget and every ``AWS_*`` variable (credentials,
    profile, web identity, ...), as a digest so that no secret is kept in the key itself."""
    settings = sorted((name, value) for name, value in os.environ.items() if name.startswith("AWS_"))
    text = repr((endpoint, region, budget, settings))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def s3_client() -> S3Client:
    """A boto3 S3 client configured from the environment (endpoint, region, credentials, time budget).

    The same client is returned while that configuration is unchanged (see the module docstring).
    """
    budget = storage_timeout()
    endpoint = _endpoint_url()
    region = _region()
    key = _client_key(endpoint, region, budget)
    client = _CLIENTS.get(key)
    if client is not None:
        return client
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            client = _new_client(endpoint, region, budget)
            while len(_CLIENTS) >= _CLIENTS_KEPT:
                del _CLIENTS[next(iter(_CLIENTS))]
            _CLIENTS[key] = client
    return client


def _new_client(endpoint: str | None, region: str, budget: float) -> S3Client:
    # botocore's own session, not boto3's: boto3 adds resources and s3transfer (~0.05 CPU s to import) for
    # methods this module does not call. A session of its own per client: a shared session keeps the
    # credentials it resolved first.
    import botocore.session
    from botocore.config import Config

    client = botocore.session.Session().create_client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        config=Config(
            retries={"total_max_attempts": STORAGE_ATTEMPTS, "mode": "standard"},
            connect_timeout=budget / 5,
            read_timeout=budget / 5,
        ),
    )
    return cast("S3Client", client)


def s3_filesystem() -> pafs.S3FileSystem:
    """A pyarrow S3 filesystem with the same endpoint, region and credentials as :func:`s3_client`."""
    budget = storage_timeout()
    options: dict[str, Any] = {
        "region": _region(),
        "connect_timeout": budget / 5,
        "request_timeout": budget / 5,
        "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=STORAGE_ATTEMPTS),
    }
    endpoint = _endpoint_url()
    if endpoint:
        parsed = urlparse(endpoint)
        if parsed.scheme in ("http", "https"):
            options["scheme"] = parsed.scheme
            options["endpoint_override"] = parsed.netloc + parsed.path.rstrip("/")
        else:
            options["endpoint_override"] = endpoint
    access_key = os.environ.get("AWS_ACCESS_KEY_ID")
    secret_key = os.environ.get("AWS_SECRET_ACCESS_KEY")
    if access_key and secret_key:
        options["access_key"] = access_key
        options["secret_key"] = secret_key
        token = os.environ.get("AWS_SESSION_TOKEN")
        if token:
            options["session_token"] = token
    return pafs.S3FileSystem(**options)


def _storage_call(location: Location, action: str, call: Callable[[], T]) -> T:
    """Run one boto3 call and turn its failure into a StorageError naming the bucket and key."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    try:
        return call()
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", "ClientError"))
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        raise _client_error(location, action, code, status) from None
    except NoCredentialsError:
        raise StorageError(
            f"cannot {action} {location.uri}: no S3 credentials (set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)",
            reason="NoCredentials",
        ) from None
    except (ConnectTimeoutError, ReadTimeoutError) as error:
        side = "connect" if isinstance(error, ConnectTimeoutError) else "answer"
        raise StorageError(
            f"cannot {action} {location.uri}: the S3 endpoint {endpoint_name()} did not {side} within "
            f"{storage_timeout() / 5:g} s ({STORAGE_ATTEMPTS} attempts; the budget {storage_timeout():g} s is "
            f"{STORAGE_TIMEOUT_ENV} / --storage-timeout)",
            reason="EndpointTimeout",
        ) from None
    except EndpointConnectionError:
        raise StorageError(
            f"cannot {action} {location.uri}: the S3 endpoint {endpoint_name()} is unreachable",
            reason="EndpointUnreachable",
        ) from None
    except BotoCoreError as error:
        raise StorageError(
            f"cannot {action} {location.uri}: {type(error).__name__}", reason="StorageUnavailable"
        ) from None


def _client_error(location: Location, action: str, code: str, status: object) -> StorageError:
    if code == "NoSuchBucket":
        return StorageError(f"bucket {location.bucket!r} does not exist ({location.uri})", reason="NoSuchBucket")
    if code in ("NoSuchKey", "404", "NotFound"):
        return StorageError(f"object s3://{location.bucket}/{location.key} does not exist", reason="NoSuchKey")
    if code in ("AccessDenied", "403", "Forbidden", "AllAccessDisabled"):
        return StorageError(
            f"access denied to {location.uri} (cannot {action}); "
            "check the credentials' permissions on bucket "
            f"{location.bucket!r}",
            reason="AccessDenied",
        )
    if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken"):
        return StorageError(
            f"the S3 store rejected the credentials ({code}) while trying to {action} {location.uri}",
            reason="InvalidCredentials",
        )
    return StorageError(f"cannot {action} {location.uri}: S3 error {code} (HTTP {status})", reason=code)


def _is_data_file(name: str) -> bool:
    base = name.rstrip("/").rsplit("/", 1)[-1]
    return bool(base) and not base.startswith((".", "_")) and not name.endswith("/")


def _list_s3(location: Location, field_path: str) -> ResolvedFiles:
    client = s3_client()
    bucket = location.bucket or ""
    key = location.key
    files: list[tuple[str, int, str]] = []

    def list_prefix(prefix: str) -> list[tuple[str, int, str]]:
        found: list[tuple[str, int, str]] = []
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                object_key = item.get("Key", "")
                if item.get("Size", 0) > 0 and _is_data_file(object_key):
                    version = f"{item.get('Size', 0)}:{item.get('ETag', '')}:{item.get('LastModified', '')}"
                    found.append((object_key, int(item.get("Size", 0)), version))
        return found

    if key and not key.endswith("/"):
        # One object, or a prefix written without its trailing slash.
        candidates = _storage_call(location, "list", lambda: list_prefix(key))
        exact = [item for item in candidates if item[0] == key]
        if exact:
            files = exact
        else:
            files = [item for item in candidates if item[0].startswith(key + "/")]
            if not files:
                raise StorageError(
                    f"{field_path}.uri: object s3://{bucket}/{key} does not exist (and no objects under "
                    f"s3://{bucket}/{key}/)",
                    reason="NoSuchKey",
                )
    else:
        files = _storage_call(location, "list", lambda: list_prefix(key))
        if not files:
            raise DataError(f"{field_path}.uri: no data files under {location.uri}", reason="NoFiles")
    files.sort()
    return ResolvedFiles(
        location=location,
        filesystem=s3_filesystem(),
        paths=tuple(f"{bucket}/{object_key}" for object_key, _, _ in files),
        total_bytes=sum(size for _, size, _ in files),
        versions=tuple(version for _, _, version in files),
    )


def _list_local(location: Location, field_path: str) -> ResolvedFiles:
    path = Path(location.key)
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(
            candidate
            for candidate in path.rglob("*")
            if candidate.is_file() and _is_data_file(str(candidate.relative_to(path))) and candidate.stat().st_size > 0
        )
        if not files:
            raise DataError(f"{field_path}.uri: no data files under {location.uri}", reason="NoFiles")
    else:
        raise StorageError(f"{field_path}.uri: path {location.uri!r} does not exist", reason="NoSuchFile")
    return ResolvedFiles(
        location=location,
        filesystem=pafs.LocalFileSystem(),
        paths=tuple(str(file.resolve()) for file in files),
        total_bytes=sum(file.stat().st_size for file in files),
        versions=tuple(f"{file.stat().st_size}:{file.stat().st_mtime_ns}" for file in files),
    )


def list_files(uri: str, field_path: str) -> ResolvedFiles:
    """The data files behind ``uri`` (one object or every object under a prefix), never empty."""
    location = parse_location(uri)
    if location.is_s3:
        return _list_s3(location, field_path)
    return _list_local(location, field_path)


def read_bytes_if_exists(uri: str) -> bytes | None:
    """One small object (a cached profile), or ``None`` when it does not exist."""
    location = parse_location(uri)
    if location.is_s3:
        client = s3_client()
        from botocore.exceptions import ClientError

        def fetch() -> bytes | None:
            try:
                response = client.get_object(Bucket=location.bucket or "", Key=location.key)
            except ClientError as error:
                if str(error.response.get("Error", {}).get("Code")) in ("NoSuchKey", "404", "NotFound"):
                    return None
                raise
            body: bytes = response["Body"].read()
            return body

        return _storage_call(location, "read", fetch)
    path = Path(location.key)
    return path.read_bytes() if path.is_file() else None


def write_bytes(uri: str, payload: bytes, content_type: str) -> None:
    """Write one output object (result JSON, HTML report) to a local path or an S3 key."""
    location = parse_location(uri)
    if location.is_s3:
        client = s3_client()
        _storage_call(
            location,
            "write",
            lambda: client.put_object(
                Bucket=location.bucket or "", Key=location.key, Body=payload, ContentType=content_type
            ),
        )
        return
    path = Path(location.key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".partial")
        temporary.write_bytes(payload)
        temporary.replace(path)
    except OSError as error:
        raise StorageError(f"cannot write {uri}: {error.strerror}", reason="WriteFailed") from None
