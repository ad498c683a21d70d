"""The submission's fields and their rules, shared by the form (/submit) and the JSON API, so both
accept and refuse exactly the same things with the same messages.

One-line fields lose any markup (the collectors' `plain_text`); the summary is plain text or a small
Markdown subset made into sanitised HTML; links must be absolute http(s) addresses (canonicalised
like collected links); times are read in the submission's time zone (an IANA name) and stored in UTC.
Only the fields of the chosen kind count: an event's dates, an open call's deadline.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit
from zoneinfo import ZoneInfo, available_timezones

from email_validator import EmailNotValidError, validate_email
from werkzeug.datastructures import MultiDict
from wtforms import (
    BooleanField,
    EmailField,
    Field,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
    URLField,
    ValidationError,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired

from digest.models import TEXT_LIMITS, utcnow
from digest.rendering.markdown import summary_html, summary_source
from digest.rendering.sanitise import canonical_url
from digest.rendering.text import plain_text
from digest.submissions.status import KIND_LABELS
from digest.web.forms import CleanForm
from sources.submissions import SubmittedItem

TITLE_MAX = 200
SUMMARY_MAX = 3000
MAX_AHEAD = timedelta(days=3 * 366)  # an event or a deadline further away than this is a typo
LONGEST_EVENT = timedelta(days=366)
URL_SAFE = "/:@!$&'()*+,;=~%?"  # what stays as it is in a path or query (RFC 3986), and existing %XX
HONEYPOT = "website"  # hidden from people; robots fill it in
KIND_ALIASES = {"open call": "call", "open_call": "call", "opencall": "call", "open-call": "call"}
FIELDS_OF_KIND = {
    "event": ("starts_at", "ends_at", "all_day", "timezone", "location"),
    "call": ("deadline", "timezone"),
}
DATE_ONLY = 10  # len("2027-01-07"): a date without a time

FieldError = dict[str, str]


@functools.cache
def timezone_names() -> tuple[str, ...]:
    return tuple(sorted(name for name in available_timezones() if "/" in name or name == "UTC"))


@functools.cache
def timezone_choices() -> list[SelectChoice]:
    return [SelectChoice(name, name) for name in timezone_names()]


LINE_BREAKS = ("\r", "\n", "\u2028", "\u2029")


def one_line(value: str | None) -> str:
    """A one-line field's text; a line break inside is refused (WTForms reports the ValueError as the
    field's error), never silently joined into something the person did not write."""
    text = (value or "").strip()
    if any(mark in text for mark in LINE_BREAKS):
        raise ValueError("Write this on one line: it holds a line break.")
    return plain_text(text)


def stripped(value: str | None) -> str:
    return (value or "").strip()


def at_most(limit: int, what: str) -> Callable[[Any, Field], None]:
    def check(_form: Any, field: Field) -> None:
        if field.data and len(field.data) > limit:
            raise ValidationError(f"{what} can have at most {limit:,} characters (it has {len(field.data):,}).")

    return check


def web_address(_form: Any, field: Field) -> None:
    if not field.data:
        return
    url = canonical_url(field.data)
    if url is None or not field.data.lower().startswith(("http://", "https://")):
        raise ValidationError("Enter a full web address starting with http:// or https://.")
    field.data = percent_encoded(url)
    if len(field.data) > TEXT_LIMITS["url"]:
        raise ValidationError(f"This address is too long: at most {TEXT_LIMITS['url']:,} characters once encoded.")


def percent_encoded(url: str) -> str:
    """Quotes, spaces and angle brackets in the path and query written as %XX, as a URL should carry them."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=quote(parts.path, safe=URL_SAFE), query=quote(parts.query, safe=URL_SAFE)))


def email_address(_form: Any, field: Field) -> None:
    if not field.data:
        return
    try:
        field.data = validate_email(field.data, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise ValidationError(f"Enter a valid email address: {error}") from None


def known_kind(_form: Any, field: Field) -> None:
    field.data = KIND_ALIASES.get((field.data or "").strip().lower(), (field.data or "").strip().lower())
    if field.data not in KIND_LABELS:
        raise ValidationError("Choose what you are sending: news, an event, an open call or an achievement.")


class SubmissionForm(CleanForm):
    """Declared in the order the checks run: the kind and time zone first, as the dates depend on them."""

    kind = RadioField(
        "What are you sending?",
        choices=[SelectChoice(kind, label) for kind, label in KIND_LABELS.items()],
        validate_choice=False,
        validators=[known_kind],
    )
    title = StringField(
        "Title",
        filters=[one_line],
        validators=[DataRequired("Enter a title."), at_most(TITLE_MAX, "The title")],
        description=f"One line, at most {TITLE_MAX} characters.",
    )
    summary = TextAreaField(
        "Summary",
        filters=[summary_source],
        validators=[DataRequired("Write a short summary."), at_most(SUMMARY_MAX, "The summary")],
        description=(
            f"Plain text, at most {SUMMARY_MAX:,} characters. You may use **bold**, *italics*, "
            "lists (lines starting with -) and links written [like this](https://example.org)."
        ),
    )
    url = URLField(
        "Link",
        filters=[stripped],
        validators=[at_most(TEXT_LIMITS["url"], "The link"), web_address],
        description="Where readers can find out more (optional), starting with https://.",
    )
    image_url = URLField(
        "Image link",
        filters=[stripped],
        validators=[at_most(TEXT_LIMITS["url"], "The image link"), web_address],
        description="The address of a picture to show with it (optional).",
    )
    organisation = StringField(
        "Organisation",
        filters=[one_line],
        validators=[DataRequired("Enter your organisation's name."), at_most(TEXT_LIMITS["organisation"], "The name")],
        description="The cluster or organisation this comes from.",
    )
    country = StringField(
        "Country",
        filters=[one_line],
        validators=[at_most(TEXT_LIMITS["country"], "The country")],
        description="Optional.",
    )
    contact_name = StringField(
        "Your name",
        filters=[one_line],
        validators=[DataRequired("Enter your name."), at_most(200, "Your name")],
        description="For the editors only; never published.",
    )
    contact_email = EmailField(
        "Your email address",
        filters=[stripped],
        validators=[DataRequired("Enter your email address."), at_most(320, "The address"), email_address],
        description="We send you a confirmation and tell you when the editors decide. Never published.",
    )
    timezone = SelectField(
        "Time zone", validate_choice=False, filters=[stripped], description="The times above are read in this zone."
    )
    starts_at = StringField(
        "Starts", filters=[stripped], description="Date and time, for example 2026-12-03 09:00, or a date alone."
    )
    ends_at = StringField("Ends", filters=[stripped], description="Optional; after the start (its last day).")
    all_day = BooleanField("All-day event", description="Dates only: the times above are left out.")
    location = StringField(
        "Location",
        filters=[one_line],
        validators=[at_most(300, "The location")],
        description="City and venue, or “Online”.",
    )
    deadline = StringField(
        "Deadline", filters=[stripped], description="The last day (and time) to apply, for example 2027-01-31 17:00."
    )
    website = StringField("Leave this field empty", filters=[stripped])

    def __init__(self, *args: Any, default_timezone: str = "UTC", now: datetime | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.default_timezone = default_timezone
        self.now = now or utcnow()
        self.times: dict[str, datetime | None] = {}
        self.timezone.choices = timezone_choices()
        if not self.timezone.data:
            self.timezone.data = default_timezone

    # ------------------------------------------------------------------ the fields of one kind

    def _counts(self, name: str) -> bool:
        return name in FIELDS_OF_KIND.get(self.kind.data or "", ())

    def validate_timezone(self, field: Field) -> None:
        if not self._counts("timezone"):
            return
        field.data = field.data or self.default_timezone
        if field.data not in timezone_names():
            raise ValidationError(
                f"“{field.data[:64]}” is not a time zone: choose one such as Europe/Brussels (an IANA name)."
            )

    def validate_starts_at(self, field: Field) -> None:
        if not self._counts("starts_at"):
            return
        start = self._moment(field, "the start")
        if start > self.now + MAX_AHEAD:
            raise ValidationError("The start is more than three years away: check the year.")
        over = start + timedelta(days=1) if self.whole_days() else start  # an all-day event runs all its day
        if over <= self.now and not self.ends_at.data:
            raise ValidationError("This start is in the past: for an event still running, give its end too.")
        self.times["starts_at"] = start

    def validate_ends_at(self, field: Field) -> None:
        if not self._counts("ends_at") or not field.data:
            return
        end = self._moment(field, "the end", end_of_day=True)
        start = self.times.get("starts_at")
        if start is not None and end <= start:
            raise ValidationError("The event must end after it starts.")
        if start is not None and end - start > LONGEST_EVENT:
            raise ValidationError("The event lasts more than a year: check the dates.")
        if end <= self.now:
            raise ValidationError("This event is already over.")
        self.times["ends_at"] = end

    def validate_deadline(self, field: Field) -> None:
        if not self._counts("deadline"):
            return
        deadline = self._moment(field, "the deadline", end_of_day=True)
        if deadline <= self.now:
            raise ValidationError("The deadline has passed: it must be in the future.")
        if deadline > self.now + MAX_AHEAD:
            raise ValidationError("The deadline is more than three years away: check the year.")
        self.times["deadline"] = deadline

    def whole_days(self) -> bool:
        """An all-day event: the box is ticked, or its start (and end, if any) are dates without times."""
        if self.all_day.data:
            return True
        start, end = (self.starts_at.data or "").strip(), (self.ends_at.data or "").strip()
        return len(start) == DATE_ONLY and len(end) in (0, DATE_ONLY)

    def _moment(self, field: Field, what: str, end_of_day: bool = False) -> datetime:
        if not field.data:
            raise ValidationError(f"Enter {what}.")
        zone_name = self.timezone.data if self.timezone.data in timezone_names() else self.default_timezone
        text = field.data
        if field.name in ("starts_at", "ends_at") and self.whole_days():
            text = text.strip()[:DATE_ONLY]  # the date part of "2027-01-07T09:00" when the box says all day
        try:
            return parse_moment(text, ZoneInfo(zone_name), end_of_day)
        except ValueError as error:
            raise ValidationError(str(error)) from None

    # ------------------------------------------------------------------ results

    def honeypot_filled(self) -> bool:
        return bool(self.website.data)

    def submitted_item(self) -> SubmittedItem:
        """The validated values (call after validate()); fields of other kinds are left out."""
        kind = self.kind.data or ""
        counts = FIELDS_OF_KIND.get(kind, ())
        url = self.url.data or None
        return SubmittedItem(
            kind=kind,
            title=self.title.data or "",
            summary_html=summary_html(self.summary.data, base_url=url),
            organisation=self.organisation.data or "",
            contact_name=self.contact_name.data or "",
            contact_email=self.contact_email.data or "",
            url=url,
            image_url=self.image_url.data or None,
            country=self.country.data or None,
            starts_at=self.times.get("starts_at") if "starts_at" in counts else None,
            ends_at=self.times.get("ends_at") if "ends_at" in counts else None,
            timezone=self.timezone.data if "timezone" in counts else None,
            location=(self.location.data or None) if "location" in counts else None,
            deadline=self.times.get("deadline") if "deadline" in counts else None,
            all_day=self._dates_only(kind),
        )

    def _dates_only(self, kind: str) -> bool:
        if kind == "event":
            return self.whole_days()
        return kind == "call" and len((self.deadline.data or "").strip()) == DATE_ONLY

    def field_errors(self) -> list[FieldError]:
        """Every problem as {field, message}, in the order of the fields."""
        return [
            {"field": field.name, "message": message}
            for field in self
            if field.name != "csrf_token"
            for message in field.errors
        ]


def parse_moment(text: str, zone: ZoneInfo, end_of_day: bool = False) -> datetime:
    """An aware UTC datetime from ISO 8601 ("2026-12-03T09:00", "2026-12-03 09:00", with or without an
    offset); a date alone is the start of that day, or its last second with ``end_of_day``."""
    value = text.strip()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"“{value[:40]}” is not a date and time such as 2026-12-03 09:00.") from None
    if len(value) == 10:  # a date alone
        parsed = datetime.combine(parsed.date(), time(23, 59, 59) if end_of_day else time(0, 0))
    try:
        if parsed.tzinfo is not None:
            return parsed.astimezone(UTC)
        local = parsed.replace(tzinfo=zone)
        moment = local.astimezone(UTC)
        back = moment.astimezone(zone).replace(tzinfo=None)
    except OverflowError:  # the year 1 or 9999 moved across midnight
        raise ValueError(f"“{value[:40]}” is not a date anyone can attend.") from None
    if back != parsed:
        raise ValueError(f"{parsed:%Y-%m-%d %H:%M} does not exist in {zone.key}: the clocks go forward then.")
    return moment


# --------------------------------------------------------------------------- the JSON API's body


def formdata_from_json(body: Mapping[str, Any]) -> tuple[MultiDict[str, str], list[FieldError]]:
    """The JSON object as form data, and the problems with its shape (unknown keys, values that are not text)."""
    known = {*JSON_FIELDS, HONEYPOT}
    data: MultiDict[str, str] = MultiDict()
    problems: list[FieldError] = []
    for key, value in body.items():
        if key not in known:
            expected = ", ".join(JSON_FIELDS)
            problems.append({"field": str(key)[:64], "message": f"Unknown field; the fields are: {expected}."})
        elif value is None or value is False:
            continue
        elif key == "all_day" and value is True:
            data.add(key, "y")
        elif not isinstance(value, str):
            problems.append({"field": key, "message": "Must be a string (text)."})
        else:
            data.add(key, value)
    return data, problems


JSON_FIELDS = (
    "kind", "title", "summary", "url", "image_url", "organisation", "country", "contact_name", "contact_email",
    "starts_at", "ends_at", "all_day", "timezone", "location", "deadline",
)  # fmt: skip
