"""Real servers for tests and benchmarks: an S3 gateway (SeaweedFS) and PostgreSQL."""
