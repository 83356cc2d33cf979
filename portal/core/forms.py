"""Page forms parsed by the API's marshmallow schemas: one parse per action, whichever entry
point it comes through. A form posts strings, so they are shaped as the JSON body the API
would get first: a text is sent as typed (blank clears it); a blank choice or number is not
given (the schema's defaults and required checks apply), or ``None`` where allowed; a list
field takes repeated keys or one comma-separated value; an unticked checkbox posts
nothing, so a Boolean field a form shows is sent as ``False`` when ``checkboxes`` names it.
A schema error becomes ``ValidationFailed`` with the schema's messages per field, as the
API's 422 does."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate
from werkzeug.datastructures import MultiDict

from portal.core.errors import ValidationFailed


def form_data(schema: Schema, form: MultiDict, checkboxes: Iterable[str] = ()) -> dict[str, Any]:
    """``form`` as the JSON body ``schema`` expects (see the module docstring)."""
    boxes = set(checkboxes)
    data: dict[str, Any] = {}
    for name, field in schema.load_fields.items():
        key = field.data_key or name
        if isinstance(field, fields.Boolean) and key in boxes:
            data[key] = form.get(key, "") not in ("", "0", "false", "off")
            continue
        if key not in form:
            continue
        if isinstance(field, fields.List):
            values = form.getlist(key)
            if len(values) == 1:
                values = values[0].split(",")
            data[key] = [value.strip() for value in values if value.strip()]
            continue
        raw = form.get(key, "")
        if raw.strip() or _free_text(field):
            data[key] = raw
        elif field.allow_none:
            data[key] = None
    return data


def _free_text(field: fields.Field) -> bool:
    """A text the user typed (or cleared): sent as it is, so the services' own checks and
    messages apply ("Give the project a name") and a blank one clears the value. A blank
    choice or number is not given (or ``None`` where the schema allows it)."""
    return isinstance(field, fields.String) and not any(
        isinstance(check, validate.OneOf) for check in field.validators
    )


def load_form(schema: Schema, form: MultiDict, checkboxes: Iterable[str] = ()) -> dict[str, Any]:
    """The form loaded by ``schema``, or ``ValidationFailed`` naming each bad field."""
    try:
        return schema.load(form_data(schema, form, checkboxes))
    except ValidationError as exc:
        messages = exc.normalized_messages()
        first = next(iter(messages.items()), None)
        if first is None:
            raise ValidationFailed("The form has invalid fields.") from None
        name, problem = first
        text = problem[0] if isinstance(problem, list) and problem else str(problem)
        label = str(name).replace("_", " ").capitalize()
        raise ValidationFailed(f"{label}: {text}", details=messages) from None
