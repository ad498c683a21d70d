"""Commands that set up or run the product: init, worker, scheduler, serve, run."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from digest.cli.common import with_runtime
from digest.db import upgrade
from digest.errors import DigestError
from digest.runtime import Runtime

if TYPE_CHECKING:
    from waitress.server import BaseWSGIServer, MultiSocketServer


@click.command()
@click.option("--demo", is_flag=True, help="Also add sample sources, subscribers and an admin editor, and collect.")
@with_runtime(needs_schema=False)
def init(runtime: Runtime, demo: bool) -> None:
    """Create or upgrade the database; safe to run again."""
    from digest.items.sources import sync_from_config

    if runtime.ensure_secret_key():
        click.echo(f"generated a secret key in {runtime.config.var_dir / 'secret_key'} (keep it private)")
    before, after = upgrade(runtime.engine)
    click.echo(f"database ready at revision {after}" + (f" (was {before})" if before and before != after else ""))
    with runtime.sessions() as session, session.begin():
        added = sync_from_config(session, runtime.config.sources)
    if added:
        click.echo(f"sources from {runtime.config.path.name}: {', '.join(added)}")
    if demo:
        _load_demo(runtime)


def _load_demo(runtime: Runtime) -> None:
    from digest.demo import load_demo
    from sources.collector import collect

    with runtime.sessions() as session, session.begin():
        report = load_demo(session, runtime.config.sources)
    click.echo(f"demo: {report.subscribers_added} subscribers added")
    if report.admin_password:
        click.echo(f"demo: admin editor {report.admin_email} with password {report.admin_password}")
        click.echo("      (shown once: write it down)")
    results = collect(runtime)
    click.echo(f"demo: collected {sum(r.new for r in results)} new items from {len(results)} sample sources")


@click.command()
@click.option("--drain", is_flag=True, help="Exit once nothing is queued.")
@with_runtime()
def worker(runtime: Runtime, drain: bool) -> None:
    """Deliver queued messages (run several for scale on PostgreSQL), and the submitters' emails."""
    from digest.delivery.worker import Worker
    from digest.submissions.notices import tell_submitters

    _warn_at_start(runtime)
    delivery_worker = Worker(runtime)
    try:
        if drain:
            stats = delivery_worker.drain()
            told = tell_submitters(runtime.config, runtime.sessions, runtime.secret_key)
            click.echo(f"worker: {stats.sent} sent, {stats.retried} to retry, {stats.failed} failed")
            click.echo(f"worker: {told} emails to submitters")
            for edition_id in stats.paused_editions:
                click.echo(f"worker: edition {edition_id} paused after failures in a row (see `digest edition show`)")
            return
        with _stop_on_signals() as stop:
            click.echo(f"worker: waiting for deliveries (outgoing mail: {_transport_label(runtime)}; Ctrl+C to stop)")
            submitters = _tell_submitters_in_thread(runtime, stop)
            delivery_worker.serve(stop)
            submitters.join(timeout=30)
    finally:
        delivery_worker.close()


def _tell_submitters_in_thread(runtime: Runtime, stop: threading.Event) -> threading.Thread:
    """Submitters' confirmations and outcomes, beside the deliveries (the web app only stores them)."""
    from digest.submissions.notices import keep_telling_submitters

    arguments = (runtime.config, runtime.sessions, runtime.secret_key, stop)
    thread = threading.Thread(target=keep_telling_submitters, args=arguments, name="submitter-mail", daemon=True)
    thread.start()
    return thread


@click.command()
@with_runtime()
def scheduler(runtime: Runtime) -> None:
    """The scheduler service in the foreground: collection, the weekly digest, scheduled sends, housekeeping.

    One scheduler runs at a time (a lock in the database); another started beside it waits on standby
    and takes over if the first dies. SIGTERM or Ctrl+C stops it cleanly.
    """
    from scheduler.service import SchedulerService, show_progress_on_stderr

    show_progress_on_stderr()
    service = SchedulerService(runtime)
    with _stop_on_signals() as stop:
        click.echo(f"scheduler: {service.owner}, times in {runtime.config.site.timezone} (Ctrl+C to stop)")
        service.serve(stop)
    click.echo("scheduler: stopped")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@with_runtime()
def serve(runtime: Runtime, host: str, port: int) -> None:
    """The web app: editors, subscription pages, archive."""
    _run_web(_listen(runtime, host, port))


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@with_runtime()
def run(runtime: Runtime, host: str, port: int) -> None:
    """Web app, delivery worker and scheduler in one process: the embedded default."""
    from digest.delivery.worker import Worker
    from scheduler.service import show_progress_on_stderr, start_in_thread

    server = _listen(runtime, host, port)  # first: the worker's and scheduler's links follow its address
    _warn_at_start(runtime)
    delivery_worker = Worker(runtime)
    stop = threading.Event()
    thread = threading.Thread(target=delivery_worker.serve, args=(stop,), name="delivery-worker", daemon=True)
    thread.start()
    submitters = _tell_submitters_in_thread(runtime, stop)
    click.echo("delivery worker: running (outgoing mail: " + _transport_label(runtime) + ")")
    show_progress_on_stderr()
    _, scheduler_thread = start_in_thread(runtime, stop)
    click.echo("scheduler: running (jobs and their last results: /editor/schedule)")
    try:
        _run_web(server)
    finally:
        stop.set()
        thread.join(timeout=10)
        submitters.join(timeout=10)
        scheduler_thread.join(timeout=300)  # the running job finishes, then the lock is released
        delivery_worker.close()


def _listen(runtime: Runtime, host: str, port: int) -> BaseWSGIServer | MultiSocketServer:
    """Bind the web server; without a configured site.base_url, links follow the address bound."""
    from waitress import create_server

    from digest.web import create_app

    app = _LateApp()
    try:
        # waitress buffers whole request bodies before the app sees them: bound that too.
        server = create_server(
            app, host=host, port=port, threads=runtime.config.web.threads, max_request_body_size=16 * 1024 * 1024
        )
    except OSError as error:
        message = f"cannot listen on {host}:{port} ({error.strerror}): choose another with --port"
        raise PortUnavailable(message) from None
    config = runtime.config
    config.listening_at(local_url(host, server.effective_port))
    if not config.base_url_configured and host in WILDCARD_HOSTS:
        click.echo(
            f"warning: site.base_url is not set and the server listens on every address: links in emails "
            f"point at {config.site.base_url}; set site.base_url (or DIGEST_BASE_URL) to the public address",
            err=True,
        )
    app.wrapped = create_app(runtime)  # made after binding: its CSP and cookies follow the final base_url
    click.echo(f"Cluster Digest is running: open {local_url(host, server.effective_port)}/ (editors: /editor/)")
    return server


WILDCARD_HOSTS = ("0.0.0.0", "::", "")


def local_url(host: str, port: int) -> str:
    """The URL of a server bound to host:port, as a browser on this machine reaches it."""
    if host in WILDCARD_HOSTS:
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


class _LateApp:
    """A WSGI app filled in once the server is bound, so the app can know the port it got."""

    wrapped: Callable[..., Iterable[bytes]]

    def __call__(self, environ: dict[str, object], start_response: Callable[..., object]) -> Iterable[bytes]:
        return self.wrapped(environ, start_response)


def _run_web(server: BaseWSGIServer | MultiSocketServer) -> None:
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.run()
    except KeyboardInterrupt:
        click.echo("stopping")
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.close()


class PortUnavailable(DigestError):
    pass


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _warn_at_start(runtime: Runtime) -> None:
    from digest.delivery.worker import start_warnings

    for warning in start_warnings(runtime.config):
        click.echo(f"digest: warning: {warning}", err=True)


def _transport_label(runtime: Runtime) -> str:
    mail = runtime.config.mail
    if mail.transport == "smtp":
        return f"SMTP {mail.smtp.host}:{mail.smtp.port}"
    return f"outbox folder {runtime.config.outbox_dir}"


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    stop = threading.Event()
    handler = lambda *_: stop.set()  # noqa: E731
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
