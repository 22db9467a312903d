#!/bin/sh
# Runs once when the PostgreSQL volume is new: a second database for Dagster's own storage,
# beside the warehouse database (POSTGRES_DB) that the container creates itself.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v dagster_db="$DAGSTER_POSTGRES_DB" <<'SQL'
SELECT format('CREATE DATABASE %I', :'dagster_db')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'dagster_db')\gexec
SQL
