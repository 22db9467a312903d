"""Settings of the project's IO managers and resources: an unknown name is an error, not ignored.

Dagster's configurable resources are pydantic models that drop keyword arguments they do not
know, so a misspelt or borrowed setting (``db_schema="analytics"`` where the field is
``schema``) would silently leave the default in place. :class:`KnownSettings` refuses it when
the object is built, naming the nearest known setting.

Example::

    class MyIOManager(dg.ConfigurableIOManager, KnownSettings):
        db_path: str

    MyIOManager(db_path="x.duckdb", db_paht="y")  # UnknownSettingError: ... did you mean 'db_path'?
"""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, model_validator

from .errors import IOManagerError


class UnknownSettingError(IOManagerError, TypeError):
    """A constructor argument that is not a setting of the IO manager or resource.

    A ``TypeError``, like Python's own "unexpected keyword argument", so pydantic lets it
    through as is (its validation errors would print every value given, secrets included).

    Example::

        DuckDBIOManager(db_path="data/crypto.duckdb", db_schema="analytics")
        # UnknownSettingError: DuckDBIOManager has no setting 'db_schema'; did you mean 'schema'?
    """


def setting_names(model: type[BaseModel]) -> list[str]:
    """The names a model's settings are passed by (a field's alias where it has one)."""
    return sorted(field.alias or name for name, field in model.model_fields.items())


def check_known_settings(model: type[BaseModel], given: dict[str, Any]) -> None:
    """Raise :class:`UnknownSettingError` for a name in ``given`` that ``model`` does not know."""
    known = setting_names(model)
    # An aliased field is passed by its alias only (``schema``): pydantic would drop its
    # attribute name (``schema_``) as silently as any other unknown argument.
    unknown = [name for name in given if name not in known]
    if not unknown:
        return
    owner = model.__name__
    problems = []
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else "."
        problems.append(f"{owner} has no setting {name!r}{hint}")
    raise UnknownSettingError(
        f"{' '.join(problems)} Its settings: {', '.join(known)}. Rename or remove the "
        f"argument{'s' if len(unknown) > 1 else ''}."
    )


class KnownSettings(BaseModel):
    """Mixin of the project's configurable IO managers and resources: unknown arguments fail.

    Put it among the bases after Dagster's class.

    Example::

        class S3IOManager(ConfigurableIOManager, KnownSettings):
            bucket: str
    """

    @model_validator(mode="before")
    @classmethod
    def _known_settings_only(cls, data: Any) -> Any:
        if isinstance(data, dict):
            check_known_settings(cls, data)
        return data


def endpoint_with_scheme(endpoint_url: str | None, *, use_ssl: bool) -> str | None:
    """An object store's ``endpoint_url`` with its scheme, as S3 clients need it.

    A scheme in the URL wins; a bare host gets ``https://`` or, with ``use_ssl=False``,
    ``http://``. ``None`` or blank: ``None`` (the client's own default endpoint).

    Example::

        endpoint_with_scheme("localhost:9000", use_ssl=False)  # "http://localhost:9000"
    """
    url = (endpoint_url or "").strip()
    if not url:
        return None
    if "://" not in url:
        url = ("https://" if use_ssl else "http://") + url
    return url
