"""Subscription pages: subscribe (form and JSON), confirm, preferences, unsubscribe (with RFC 8058 one-click).

The token in the path is the only credential. Pages reached by a token are never cached and never
send it on as a Referer. Forms carry a CSRF token, except the two posts that must work without a
browser session: the JSON subscribe API and the one-click unsubscribe that mail providers send.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from contextlib import suppress
from typing import Any

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_limiter import RequestLimit
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError, validate_csrf
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from wtforms import BooleanField, EmailField, SelectField, SelectMultipleField, StringField, ValidationError, widgets
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length
from wtforms.validators import Email as EmailFormat

from digest.delivery.message import site_links
from digest.delivery.notices import Mailer, Notice
from digest.errors import DigestError
from digest.models import Item, Subscriber
from digest.subscribers.preferences import (
    EDITION_CHOICES,
    PreferenceError,
    editions_of,
    make_preferences,
    topic_key,
    topics_of,
)
from digest.subscribers.roster import normalise_email, unsubscribe
from digest.subscribers.subscriptions import (
    CONFIRM_HOURS,
    LANGUAGES,
    Choices,
    Links,
    SubscriptionError,
    confirm,
    confirmation_in,
    confirmation_language,
    export_data,
    forget,
    request_email_change,
    request_subscription,
    subscriber_for,
    update_preferences,
)
from digest.subscribers.tokens import TokenError
from digest.web.api_errors import FieldError, error_response, errors_response, problem
from digest.web.context import runtime
from digest.web.forms import CleanForm
from digest.web.language import say, use_browser_language, use_language
from digest.web.limits import Budget, limiter_of, protect, retry_after
from digest.web.private import keep_private

blueprint = Blueprint("subscription", __name__)
EDITION_LABELS = {"digest": _l("The weekly digest"), "newsletter": _l("Newsletters")}
NOTICES_PER_ADDRESS_PER_HOUR = 3
NOTICE_BUDGET = "digest.notice_budget"
TOPIC_CHOICES = 24


def options(labels: dict[str, str]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in labels.items()]


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


# Labels are lazy: each page words them in its reader's language (digest.web.language).
class SubscribeForm(CleanForm):
    email = EmailField(_l("Email address"), validators=[DataRequired(), EmailFormat(), Length(max=320)])
    name = StringField(_l("Name (optional)"), validators=[Length(max=200)])
    editions = MultiCheckboxField(_l("What to receive"), choices=options(EDITION_LABELS), default=list(EDITION_CHOICES))
    topics = MultiCheckboxField(_l("Topics (none ticked: all of them)"), choices=[], validate_choice=False)
    language = SelectField(_l("Language"), choices=options(LANGUAGES))


class PreferencesForm(CleanForm):
    name = StringField(_l("Name"), validators=[Length(max=200)])
    editions = MultiCheckboxField(_l("What to receive"), choices=options(EDITION_LABELS))
    topics = MultiCheckboxField(_l("Topics (none ticked: all of them)"), choices=[], validate_choice=False)
    language = SelectField(_l("Language"), choices=options(LANGUAGES))


class ChangeEmailForm(CleanForm):
    new_email = EmailField(_l("New address"), validators=[DataRequired(), EmailFormat(), Length(max=320)])


class ForgetForm(FlaskForm):
    confirm = BooleanField(_l("Yes, erase my data"), validators=[DataRequired(_l("Tick the box to confirm"))])


class ActionForm(FlaskForm):
    """A bare button: only the CSRF token."""


@blueprint.record_once
def _set_up(state: BlueprintSetupState) -> None:
    app = state.app
    csrf = app.extensions["csrf"]
    csrf.exempt(subscribe)  # JSON clients have no session; the HTML form checks its own token
    csrf.exempt(unsubscribe_post)  # RFC 8058: mail providers post without cookies or token
    csrf.exempt(confirm_post)  # the token in the path is the proof; see confirm_post
    app.extensions["digest.mailer"] = Mailer(app.extensions["digest.runtime"].config)
    # A subscribe form must not become a way to flood someone's inbox, whoever asks and from wherever.
    app.extensions[NOTICE_BUDGET] = Budget(app, f"{NOTICES_PER_ADDRESS_PER_HOUR} per hour", "notices-to")


blueprint.after_request(keep_private)  # most of these pages carry a subscriber's token in their address


# --------------------------------------------------------------------------- subscribe


@blueprint.route("/subscribe", methods=["GET", "POST"])
def subscribe() -> ResponseReturnValue:
    if request.method == "POST" and request.is_json:
        return _subscribe_json()
    form = SubscribeForm(language=runtime().config.site.language)
    if request.method == "GET" and request.args.get("email"):
        form.email.data = request.args["email"][:320]
    with runtime().sessions() as session:
        form.topics.choices = topic_choices(session)
    if form.validate_on_submit():
        try:
            _request(form.email.data or "", form.name.data, _choices(form))
        except DigestError as error:
            form.email.errors = [*form.email.errors, say(error)]
        else:
            return render_template("subscribe_sent.html", hours=CONFIRM_HOURS)
    status = 400 if request.method == "POST" else 200
    return render_template("subscribe.html", form=form), status


JSON_FIELDS = ("email", "name", "editions", "topics", "language")


def _subscribe_json() -> ResponseReturnValue:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error_response('Send one JSON object (Content-Type: application/json) with at least "email".', 400)
    choices, errors = _json_choices(body)
    if errors:
        return errors_response(errors, 422)
    try:
        _request(body["email"], body.get("name"), choices)
    except DigestError as error:
        return errors_response([problem(None, str(error))], 422)
    message = f"If the address can receive it, a confirmation link is on its way (valid for {CONFIRM_HOURS} hours)."
    return {"status": "confirmation_sent", "message": message}, 202


def _json_choices(body: dict[str, Any]) -> tuple[Choices, list[FieldError]]:
    """The subscribe request's choices, and every problem with its fields (all of them, not the first)."""
    errors = [
        problem(str(key)[:64], f"Unknown field; the fields are: {', '.join(JSON_FIELDS)}.")
        for key in body
        if key not in JSON_FIELDS
    ]
    email = body.get("email")
    if not isinstance(email, str) or not email.strip():
        errors.append(problem("email", "Enter an email address (text)."))
    else:
        try:
            normalise_email(email[:320])
        except DigestError as error:
            errors.append(problem("email", str(error)))
        if len(email) > 320:
            errors.append(problem("email", "An email address has at most 320 characters."))
    if body.get("name") is not None and not isinstance(body.get("name"), str):
        errors.append(problem("name", "Must be a string (text)."))
    editions = _json_strings(body, "editions", list(EDITION_CHOICES), errors)
    if editions is not None:
        try:
            make_preferences(editions, ())
        except PreferenceError as error:
            errors.append(problem("editions", f"{str(error).capitalize()}."))
        if not editions:
            errors.append(problem("editions", "Choose at least one kind of edition: digest or newsletter."))
    topics = _json_strings(body, "topics", [], errors)
    language = body.get("language")
    known = (*LANGUAGES, runtime().config.site.language)
    if language is not None and (not isinstance(language, str) or language not in known):
        errors.append(problem("language", f"Unknown language; choose one of {', '.join(LANGUAGES)}."))
    choices = Choices(editions=tuple(editions or ()), topics=tuple(topics or ()), language=language or None)
    return choices, errors


def _json_strings(body: dict[str, Any], key: str, default: list[str], errors: list[FieldError]) -> list[str] | None:
    value = body.get(key, default)
    if not isinstance(value, list) or not all(isinstance(part, str) for part in value):
        errors.append(problem(key, "Must be a list of strings."))
        return None
    return value


def _request(email: str, name: str | None, choices: Choices) -> None:
    """The same for every valid address: record the request, mail whatever the state calls for."""
    for attempt in (1, 2):
        try:
            with runtime().sessions() as session, session.begin():
                notice = request_subscription(session, runtime().config, _links(), email, name, choices)
            break
        except IntegrityError:  # the same new address sent twice at once: the second finds the first
            if attempt == 2:
                raise
    _send(notice)


# --------------------------------------------------------------------------- confirm


@blueprint.get("/confirm/<token>")
def confirm_link(token: str) -> ResponseReturnValue:
    """Only a page with a button: mail scanners and link previews open links, and must not confirm
    a subscription that someone else asked for on this person's behalf."""
    _confirmation_reader(token)
    try:
        what, _ = confirmation_in(runtime().secret_key, token)
    except TokenError as error:
        return _link_refused(error, 400)
    return render_template("confirm_ask.html", what=what)


@blueprint.post("/confirm/<token>")
def confirm_post(token: str) -> ResponseReturnValue:
    """The button. No CSRF token: the signed token in the path is the proof, and only the inbox it was
    mailed to has it. A forged cross-site POST would need that token, and whoever holds it can confirm
    anyway; a CSRF check would only refuse a reader whose browser dropped the session cookie between
    the page and the click (another browser, privacy settings), with nothing gained."""
    _confirmation_reader(token)  # what goes wrong is said in their language too
    try:
        with runtime().sessions() as session, session.begin():
            what, subscriber = confirm(session, runtime().secret_key, token)
            use_language(subscriber.language)
            preferences_url = _links().site.preferences_url(subscriber.uid)
            email = subscriber.email
    except TokenError as error:
        return _link_refused(error, 400)
    except SubscriptionError as error:
        return render_template("confirm_invalid.html", reason=say(error)), 409
    return render_template("confirm.html", what=what, email=email, preferences_url=preferences_url)


def _confirmation_reader(token: str) -> None:
    """This page is for the person the /confirm link was mailed to, even an expired one."""
    with runtime().sessions() as session:
        use_language(confirmation_language(session, runtime().secret_key, token))


# --------------------------------------------------------------------------- preferences


@blueprint.route("/preferences/<token>", methods=["GET", "POST"])
def preferences(token: str) -> ResponseReturnValue:
    action = request.form.get("action", "save") if request.method == "POST" else None
    with runtime().sessions() as session, session.begin():
        try:
            subscriber = subscriber_for(session, runtime().secret_key, "preferences", token)
        except TokenError as error:
            return _link_refused(error, 404)
        use_language(subscriber.language)
        handler = PREFERENCE_ACTIONS.get(action or "", _show_preferences)
        return handler(session, subscriber, token)


def _show_preferences(session: Session, subscriber: Subscriber, token: str, status: int = 200, **forms: Any) -> Any:
    form = forms.get("form") or PreferencesForm(
        formdata=None,
        name=subscriber.name,
        editions=editions_of(subscriber.preferences),
        topics=topics_of(subscriber.preferences),
        language=subscriber.language,
    )
    form.topics.choices = topic_choices(session, topics_of(subscriber.preferences))
    if subscriber.language not in LANGUAGES:
        form.language.choices = options(LANGUAGES | {subscriber.language: subscriber.language})
    page = render_template(
        "preferences.html",
        subscriber=subscriber,
        form=form,
        email_form=forms.get("email_form") or ChangeEmailForm(formdata=None),
        forget_form=forms.get("forget_form") or ForgetForm(formdata=None),
        action_form=ActionForm(formdata=None),
        token=token,
    )
    return page, status


def _save(session: Session, subscriber: Subscriber, token: str) -> Any:
    form = PreferencesForm()
    form.topics.choices = topic_choices(session, topics_of(subscriber.preferences))
    if not form.validate_on_submit():
        return _show_preferences(session, subscriber, token, 400, form=form)
    try:
        update_preferences(runtime().config, subscriber, form.name.data, _choices(form))
    except DigestError as error:
        form.editions.errors = [*form.editions.errors, say(error)]
        return _show_preferences(session, subscriber, token, 400, form=form)
    use_language(subscriber.language)  # a new language shows from this message on
    flash(gettext("Your preferences are saved."), "ok")
    return redirect(url_for(".preferences", token=token), 303)


def _change_email(session: Session, subscriber: Subscriber, token: str) -> Any:
    form = ChangeEmailForm()
    if not form.validate_on_submit():
        return _show_preferences(session, subscriber, token, 400, email_form=form)
    try:
        notice = request_email_change(session, runtime().config, _links(), subscriber, form.new_email.data or "")
    except DigestError as error:
        form.new_email.errors = [*form.new_email.errors, say(error)]
        return _show_preferences(session, subscriber, token, 400, email_form=form)
    session.flush()
    _send(notice, after_commit=session)
    message = gettext(
        "If %(address)s can be used, a link to confirm it is on its way; until then nothing changes.",
        address=form.new_email.data,
    )
    flash(message, "ok")
    return redirect(url_for(".preferences", token=token), 303)


def _unsubscribe_from_preferences(session: Session, subscriber: Subscriber, token: str) -> Any:
    if not ActionForm().validate_on_submit():
        raise CSRFError("The form has expired; reload the page and try again.")
    unsubscribe(subscriber)
    return render_template("unsubscribe_done.html", preferences_url=_links().site.preferences_url(subscriber.uid))


def _resubscribe(session: Session, subscriber: Subscriber, token: str) -> Any:
    if not ActionForm().validate_on_submit():
        raise CSRFError("The form has expired; reload the page and try again.")
    choices = Choices(tuple(editions_of(subscriber.preferences)), tuple(topics_of(subscriber.preferences)), None)
    notice = request_subscription(session, runtime().config, _links(), subscriber.email, subscriber.name, choices)
    _send(notice, after_commit=session)
    flash(gettext("A link to confirm your subscription is on its way to your inbox."), "ok")
    return redirect(url_for(".preferences", token=token), 303)


def _export(session: Session, subscriber: Subscriber, token: str) -> Any:
    if not ActionForm().validate_on_submit():
        raise CSRFError("The form has expired; reload the page and try again.")
    body = json.dumps(export_data(session, subscriber), ensure_ascii=False, indent=2)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="my-subscription-data.json"'},
    )


def _forget(session: Session, subscriber: Subscriber, token: str) -> Any:
    form = ForgetForm()
    if not form.validate_on_submit():
        return _show_preferences(session, subscriber, token, 400, forget_form=form)
    forget(session, subscriber, outbox_dir=runtime().config.outbox_dir)
    return render_template("preferences_forgotten.html")


PREFERENCE_ACTIONS = {
    "save": _save,
    "email": _change_email,
    "unsubscribe": _unsubscribe_from_preferences,
    "resubscribe": _resubscribe,
    "export": _export,
    "forget": _forget,
}


# --------------------------------------------------------------------------- unsubscribe


@blueprint.get("/unsubscribe/<token>")
def unsubscribe_page(token: str) -> ResponseReturnValue:
    with runtime().sessions() as session:
        try:
            subscriber = subscriber_for(session, runtime().secret_key, "unsubscribe", token)
        except TokenError as error:
            return _link_refused(error, 404)
        use_language(subscriber.language)
        done = subscriber.status != "active" and subscriber.status != "pending"
        preferences_url = _links().site.preferences_url(subscriber.uid)
    if done:
        return render_template("unsubscribe_done.html", preferences_url=preferences_url)
    return render_template("unsubscribe.html", form=ActionForm(), email=subscriber.email)


@blueprint.post("/unsubscribe/<token>")
def unsubscribe_post(token: str) -> ResponseReturnValue:
    """RFC 8058 one-click (body `List-Unsubscribe=One-Click`, no cookie, no CSRF token), or the page's button."""
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    if not one_click:  # the page's button: a form like any other
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError as error:
            raise CSRFError(str(error)) from None
    with runtime().sessions() as session, session.begin():
        try:
            subscriber = subscriber_for(session, runtime().secret_key, "unsubscribe", token)
        except TokenError as error:
            return _link_refused(error, 404)
        use_language(subscriber.language)
        unsubscribe(subscriber)
        preferences_url = _links().site.preferences_url(subscriber.uid)
    return render_template("unsubscribe_done.html", preferences_url=preferences_url), 200


# --------------------------------------------------------------------------- refusals

# The pages whose token says whose they are, and the purpose it was signed for.
_TOKEN_PURPOSES = {"subscription.preferences": "preferences", "subscription.unsubscribe_post": "unsubscribe"}


@blueprint.errorhandler(CSRFError)
def _form_expired(_error: CSRFError) -> ResponseReturnValue:
    """A form sent without its valid CSRF token (an old page, a lost session cookie), refused before the
    view has read the token in the path: in its reader's language all the same."""
    purpose = _TOKEN_PURPOSES.get(request.endpoint or "")
    token = (request.view_args or {}).get("token")
    if purpose and token:
        with runtime().sessions() as session, suppress(TokenError):  # a link that does not work: the browser's
            use_language(subscriber_for(session, runtime().secret_key, purpose, token).language)
    use_browser_language()
    return render_template("form_expired.html"), 400


# --------------------------------------------------------------------------- helpers


def _link_refused(error: TokenError, status: int) -> ResponseReturnValue:
    """The page of a link that does not work, in the language of the person it was mailed to when the
    signature still says who (an expired confirmation), else in the browser's."""
    use_browser_language()
    return render_template("confirm_invalid.html", reason=say(error)), status


def topic_choices(session: Session, own: list[str] | None = None) -> list[SelectChoice]:
    """The topics most carried by recent items, plus the person's own."""
    counts: Counter[str] = Counter()
    labels: dict[str, str] = {}
    recent = select(Item.topics).where(Item.status.in_(("approved", "published"))).order_by(Item.id.desc()).limit(500)
    for topics in session.scalars(recent):
        for label in topics or []:
            key = topic_key(label)
            if key:
                counts[key] += 1
                labels.setdefault(key, label)
    chosen = [labels[key] for key, _ in counts.most_common(TOPIC_CHOICES)]
    for label in own or []:
        if topic_key(label) not in {topic_key(c) for c in chosen}:
            chosen.append(label)
    return [SelectChoice(label, label) for label in sorted(chosen, key=str.casefold)]


def _choices(form: SubscribeForm | PreferencesForm) -> Choices:
    return Choices(tuple(form.editions.data or ()), tuple(form.topics.data or ()), form.language.data)


def _links() -> Links:
    return Links(site_links(runtime().config.site.base_url, runtime().secret_key))


def _send(notice: Notice | None, after_commit: Session | None = None) -> None:
    """Hand the notice to the background mailer (after the transaction commits, when one is open)."""
    if notice is None or not current_app.extensions[NOTICE_BUDGET].spend(notice.to):
        return
    mailer: Mailer = current_app.extensions["digest.mailer"]
    if after_commit is None:
        mailer.submit(notice)
        return
    event.listen(after_commit, "after_commit", lambda _session: mailer.submit(notice), once=True)


# --------------------------------------------------------------------------- the limit per client


def _too_many(limit: RequestLimit) -> Response:
    wait = retry_after(limit)
    minutes = max(1, math.ceil(wait / 60))
    message = (
        f"Too many subscription requests from your address: at most {limit.limit.amount} an hour. "
        f"Try again in {minutes} minute{'s' if minutes != 1 else ''}."
    )
    if request.is_json:
        return error_response(message, 429, {"Retry-After": str(wait)})
    response = current_app.make_response((render_template("subscribe_refused.html", message=message), 429))
    response.headers["Retry-After"] = str(wait)
    return response


@blueprint.record_once
def _limit_subscribing(state: BlueprintSetupState) -> None:
    """Every subscribe request from one client counts, whatever address it names: one client must not
    make the site mail hundreds of strangers. (Recorded after the routes, so the view exists.)"""
    per_hour = state.app.extensions["digest.runtime"].config.limits.subscribe_per_hour
    limit = limiter_of(state.app).limit(f"{per_hour} per hour", methods=["POST"], on_breach=_too_many)
    protect(state.app, "subscription.subscribe", limit)
