"""The base of the public forms: every field's text loses its control characters (digest.clean) before
any other filter or validator sees it, so a NUL in a field never reaches the database."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import Form
from wtforms.fields.core import UnboundField

from digest.clean import strip_filter


class CleanForm(FlaskForm):
    class Meta:
        def bind_field(self, form: Form, unbound_field: UnboundField, options: dict[str, Any]) -> Any:
            filters = [strip_filter, *unbound_field.kwargs.get("filters", ())]  # a copy: the class's list stays
            return unbound_field.bind(form=form, filters=filters, **options)
