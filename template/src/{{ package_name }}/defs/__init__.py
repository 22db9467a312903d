"""Definitions scaffolded with `dg scaffold defs ...` land here and load in every environment.

    uv run dg scaffold defs dagster.asset my_asset.py    # writes defs/my_asset.py
    uv run dg list defs                                  # my_asset is listed with the rest

The project's own assets stay in assets/ (built from settings.py) and their resources in
environments/ (one module per environment); see docs/architecture.md.
"""
