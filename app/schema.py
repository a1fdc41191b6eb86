"""Schema helpers for what LangServe shows in its playground."""

from typing import Annotated, Any

from pydantic import Field, TypeAdapter, WithJsonSchema


def _drop_null_default(schema: dict[str, Any]) -> None:
    if schema.get("default", ...) is None:
        del schema["default"]


def optional(annotation: Any) -> Any:
    """`annotation | None`, advertised in JSON schema as plain `annotation` with no default.

    The LangServe playground's form library cannot render `anyOf [..., {"type": "null"}]` (a
    blank page) and flags a `null` default as invalid; an omitted field still validates as None.
    """
    return Annotated[
        annotation | None,
        WithJsonSchema(TypeAdapter(annotation).json_schema()),
        Field(json_schema_extra=_drop_null_default),
    ]
