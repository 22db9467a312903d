"""Benchmarks of the generated IO managers against their peers (run: make bench)."""
