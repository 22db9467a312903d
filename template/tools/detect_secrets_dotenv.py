"""A detect-secrets plugin for dotenv files: `.env`, `.env.example`, `.env.prod`, ...

detect-secrets reads only quoted values in files it has no parser for, and dotenv values are
usually unquoted: `POSTGRES_PASSWORD=hunter2` would pass unseen. This plugin reports the value of
every variable whose name sounds secret (PASSWORD, SECRET, TOKEN, API_KEY, ...) in those files.
A value that is no secret (a local default that `.env.example` publishes on purpose) is allowed
by a comment line `# pragma: allowlist nextline secret` right above it.

The pre-commit hook loads it: `detect-secrets-hook --plugin tools/detect_secrets_dotenv.py`.
"""

import re
from collections.abc import Iterator
from pathlib import PurePath
from typing import Any

from detect_secrets.core.potential_secret import PotentialSecret
from detect_secrets.plugins.base import BasePlugin

SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|PWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL", re.IGNORECASE
)
# NAME=value, NAME="value" or NAME='value', optionally after `export`.
ASSIGNMENT = re.compile(
    r"""^\s*(?:export\s+)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*"""
    r"""(?:"(?P<double>[^"]*)"|'(?P<single>[^']*)'|(?P<bare>[^\s#]*))"""
)


def is_dotenv_file(filename: str) -> bool:
    return PurePath(filename).name.startswith(".env")


class DotenvSecretDetector(BasePlugin):
    """Values of secret-sounding variables in dotenv files; `${OTHER}` references are skipped."""

    secret_type = "Dotenv Secret"  # pragma: allowlist secret (the name of what it finds)

    def analyze_string(self, string: str, **kwargs: Any) -> Iterator[str]:
        match = ASSIGNMENT.match(string)
        if not match or not SECRET_NAME.search(match["name"]):
            return
        value = match["double"] or match["single"] or match["bare"] or ""
        if value and not value.startswith("$"):
            yield value

    def analyze_line(
        self, filename: str, line: str, line_number: int = 0, context: Any = None, **kwargs: Any
    ) -> set[PotentialSecret]:
        if not is_dotenv_file(filename):
            return set()
        return super().analyze_line(
            filename=filename, line=line, line_number=line_number, context=context, **kwargs
        )
