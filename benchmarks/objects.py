"""File and object stores: Parquet frames on disk and S3, JSON dicts on S3, against peers."""

from __future__ import annotations

import io
import json
import os
from typing import Any

import dagster as dg
import polars as pl

from .common import Contender, input_context, package_module, same_rows
from .config import Inputs, Setup
from .tables import KEY, OutputContexts

DICT_KEY = ["raw", "binance_klines"]


def _collect(loaded: Any) -> pl.DataFrame:
    return loaded.collect() if isinstance(loaded, pl.LazyFrame) else loaded


def _unavailable(name: str, error: BaseException) -> Contender:
    def fail() -> None:
        raise error

    return Contender(name, "peer", write=fail, read=fail)


def _polars_parquet_peer(
    name: str, base_dir: str, inputs: Inputs, storage_options: dict[str, Any] | None = None
) -> Contender:
    try:
        from dagster_polars import PolarsParquetIOManager

        options = {"storage_options": storage_options} if storage_options else {}
        resources = inputs.stack.enter_context(
            dg.build_resources({"io_manager": PolarsParquetIOManager(base_dir=base_dir, **options)})
        )
    except Exception as error:  # noqa: BLE001 - a peer that cannot start is reported
        return _unavailable(name, error)
    peer = resources.io_manager
    reading = input_context(KEY, resources)
    contexts = OutputContexts(resources, KEY)
    return Contender(
        name,
        "peer",
        write=lambda: peer.handle_output(contexts(), inputs.frame),
        read=lambda: _collect(peer.load_input(reading)),
        note="zstd, no column statistics (its defaults)",
    )


# ---------------------------------------------------------------------------- filesystem


def filesystem_contenders(setup: Setup, inputs: Inputs) -> list[Contender]:
    frame, resources = inputs.frame, inputs.resources
    directory = setup.directory("filesystem")
    ours = package_module(setup.package, "io_managers.filesystem").FilesystemIOManager(
        base_path=str(directory / "ours")
    )
    reading = input_context(KEY, resources)
    contexts = OutputContexts(resources, KEY)
    raw_path = directory / "raw.parquet"
    durable_path = directory / "durable.parquet"

    def durable_write() -> None:
        # The same durability as ours: temp file, fsync, rename, fsync of the directory.
        temp = durable_path.with_suffix(".tmp")
        with open(temp, "wb") as handle:
            frame.write_parquet(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, durable_path)
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    contenders = [
        Contender(
            "FilesystemIOManager",
            "ours",
            write=lambda: ours.handle_output(contexts(), frame),
            read=lambda: ours.load_input(reading),
            note="atomic: temp file, fsync, rename",
        ),
        _polars_parquet_peer(
            "dagster-polars PolarsParquetIOManager", str(directory / "peer"), inputs
        ),
        Contender(
            "raw polars write_parquet / read_parquet",
            "raw",
            write=lambda: frame.write_parquet(raw_path),
            read=lambda: pl.read_parquet(raw_path),
            note="no fsync",
        ),
        Contender(
            "raw polars + fsync and rename",
            "raw",
            write=durable_write,
            read=lambda: pl.read_parquet(durable_path),
            note="same durability as ours",
        ),
    ]
    for contender in contenders:
        contender.check = same_rows(frame)
    return contenders


# ---------------------------------------------------------------------------- S3


def _s3_client(settings: dict[str, Any]) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3",
        endpoint_url=settings["endpoint_url"],
        aws_access_key_id=settings["access_key"],
        aws_secret_access_key=settings["secret_key"],
        region_name=settings["region"],
        config=Config(s3={"addressing_style": "path"}),
    )


def _ours_s3(setup: Setup, bucket: str) -> Any:
    settings = setup.s3
    assert settings is not None, "the S3 sections need a server"
    return package_module(setup.package, "io_managers.s3").S3IOManager(
        endpoint_url=settings["endpoint_url"],
        access_key=settings["access_key"],
        secret_key=settings["secret_key"],
        region=settings["region"],
        bucket=bucket,
    )


def _ensure_bucket(client: Any, bucket: str) -> None:
    try:
        client.head_bucket(Bucket=bucket)
    except Exception:  # noqa: BLE001 - any failure of the HEAD: try to create it
        client.create_bucket(Bucket=bucket)


def s3_frame_contenders(setup: Setup, inputs: Inputs) -> list[Contender]:
    frame, resources = inputs.frame, inputs.resources
    settings = setup.s3
    assert settings is not None, "the S3 sections need a server"
    client = _s3_client(settings)
    for bucket in ("bench-ours", "bench-peer", "bench-raw"):
        _ensure_bucket(client, bucket)
    ours = _ours_s3(setup, "bench-ours")
    reading = input_context(KEY, resources)
    contexts = OutputContexts(resources, KEY)

    def encode() -> bytes:
        buffer = io.BytesIO()
        frame.write_parquet(buffer)
        return buffer.getvalue()

    parquet = encode()

    def raw_write() -> None:
        client.put_object(Bucket="bench-raw", Key="ohlcv.parquet", Body=encode())

    def raw_read() -> pl.DataFrame:
        body = client.get_object(Bucket="bench-raw", Key="ohlcv.parquet")["Body"].read()
        return pl.read_parquet(io.BytesIO(body))

    def transfer_write() -> None:
        client.put_object(Bucket="bench-raw", Key="bytes.parquet", Body=parquet)

    def transfer_read() -> bytes:
        return client.get_object(Bucket="bench-raw", Key="bytes.parquet")["Body"].read()

    storage_options = {
        "key": settings["access_key"],
        "secret": settings["secret_key"],
        "client_kwargs": {
            "endpoint_url": settings["endpoint_url"],
            "region_name": settings["region"],
        },
    }
    contenders = [
        Contender(
            "S3IOManager",
            "ours",
            write=lambda: ours.handle_output(contexts(), frame),
            read=lambda: ours.load_input(reading),
            check=same_rows(frame),
        ),
        _polars_parquet_peer(
            "dagster-polars PolarsParquetIOManager (s3fs)",
            "s3://bench-peer/peer",
            inputs,
            storage_options,
        ),
        Contender(
            "raw polars + boto3 put_object / get_object",
            "raw",
            write=raw_write,
            read=raw_read,
            check=same_rows(frame),
        ),
        Contender(
            "raw boto3 put/get of the Parquet bytes (transfer only)",
            "raw",
            write=transfer_write,
            read=transfer_read,
            note="no encode/decode",
        ),
    ]
    contenders[1].check = same_rows(frame)
    return contenders


def s3_dict_contenders(setup: Setup, inputs: Inputs) -> list[Contender]:
    payload, resources = inputs.payload, inputs.resources
    settings = setup.s3
    assert settings is not None, "the S3 sections need a server"
    client = _s3_client(settings)
    for bucket in ("bench-ours", "bench-peer", "bench-raw"):
        _ensure_bucket(client, bucket)
    ours = _ours_s3(setup, "bench-ours")
    reading = input_context(DICT_KEY, resources, python_type=dict)
    contexts = OutputContexts(resources, DICT_KEY, python_type=dict)

    def raw_write() -> None:
        body = json.dumps(payload).encode()
        client.put_object(Bucket="bench-raw", Key="klines.json", Body=body)

    def raw_read() -> Any:
        return json.loads(client.get_object(Bucket="bench-raw", Key="klines.json")["Body"].read())

    contenders = [
        Contender(
            "S3IOManager (JSON)",
            "ours",
            write=lambda: ours.handle_output(contexts(), payload),
            read=lambda: ours.load_input(reading),
        )
    ]
    try:
        from dagster_aws.s3 import S3PickleIOManager, S3Resource

        manager = S3PickleIOManager(
            s3_resource=S3Resource(
                endpoint_url=settings["endpoint_url"],
                aws_access_key_id=settings["access_key"],
                aws_secret_access_key=settings["secret_key"],
                region_name=settings["region"],
            ),
            s3_bucket="bench-peer",
        )
        peer_resources = inputs.stack.enter_context(dg.build_resources({"io_manager": manager}))
        peer = peer_resources.io_manager
        peer_reading = input_context(DICT_KEY, peer_resources, python_type=dict)
        peer_contexts = OutputContexts(peer_resources, DICT_KEY, python_type=dict)
        contenders.append(
            Contender(
                "dagster-aws S3PickleIOManager (pickle)",
                "peer",
                write=lambda: peer.handle_output(peer_contexts(), payload),
                read=lambda: peer.load_input(peer_reading),
            )
        )
    except Exception as error:  # noqa: BLE001 - a peer that cannot start is reported
        contenders.append(_unavailable("dagster-aws S3PickleIOManager (pickle)", error))
    contenders.append(
        Contender("raw json.dumps + boto3 put/get", "raw", write=raw_write, read=raw_read)
    )

    def same_payload(loaded: Any) -> None:
        if len(loaded["data"][0]["klines"]) != len(payload["data"][0]["klines"]):
            raise AssertionError("the payload read back differs from the one written")

    for contender in contenders:
        contender.check = same_payload
    return contenders
