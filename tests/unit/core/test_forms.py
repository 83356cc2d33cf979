"""Page forms load through the API's schemas (portal/core/forms.py)."""

from __future__ import annotations

import pytest
from marshmallow import Schema, fields, validate
from werkzeug.datastructures import MultiDict

from portal.core.errors import ValidationFailed
from portal.core.forms import form_data, load_form


class Example(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 10))
    notes = fields.String(allow_none=True)
    kind = fields.String(load_default="A", validate=validate.OneOf(["A", "B"]))
    licence = fields.String(allow_none=True, validate=validate.OneOf(["MIT"]))
    tags = fields.List(fields.String(), load_default=list)
    publish = fields.Boolean(load_default=False)
    shots = fields.Integer()


def test_texts_pass_as_typed_blank_choices_and_numbers_are_not_given():
    form = MultiDict({"name": "Bell", "notes": "", "kind": "", "licence": "", "shots": ""})
    assert form_data(Example(), form) == {"name": "Bell", "notes": "", "licence": None}
    assert load_form(Example(), form) == {
        "name": "Bell", "notes": "", "kind": "A", "licence": None, "tags": [], "publish": False,
    }  # fmt: skip


def test_lists_take_commas_or_repeated_keys_and_checkboxes_post_nothing_when_unticked():
    commas = MultiDict({"name": "x", "tags": " a, b ,, c "})
    assert load_form(Example(), commas)["tags"] == ["a", "b", "c"]
    repeated = MultiDict([("name", "x"), ("tags", "a"), ("tags", "b")])
    assert load_form(Example(), repeated)["tags"] == ["a", "b"]
    unticked = MultiDict({"name": "x"})
    assert form_data(Example(), unticked, checkboxes=("publish",))["publish"] is False
    ticked = MultiDict({"name": "x", "publish": "1", "shots": "100"})
    assert load_form(Example(), ticked, checkboxes=("publish",))["publish"] is True
    assert load_form(Example(), ticked)["shots"] == 100


@pytest.mark.parametrize(
    ("form", "field", "words"),
    [
        ({"name": ""}, "name", "Name:"),
        ({"name": "x", "kind": "C"}, "kind", "Kind: Must be one of"),
        ({"name": "x", "shots": "many"}, "shots", "Shots: Not a valid integer"),
    ],
)
def test_a_schema_error_names_the_field_with_the_schemas_message(form, field, words):
    with pytest.raises(ValidationFailed) as refused:
        load_form(Example(), MultiDict(form))
    assert refused.value.message.startswith(words)
    assert field in refused.value.details
