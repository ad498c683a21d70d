"""Commands that set up or run the product: init, worker, scheduler, serve, run."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import click

from digest.cli.common import with_runtime
from digest.db import upgrade
from digest.delivery.worker import Worker
from digest.demo import load_demo
from digest.errors import DigestError
from digest.items.sources import sync_from_config
from digest.runtime import Runtime


@click.command()
@click.option("--demo", is_flag=True, help="Also add sample sources, subscribers and an admin editor, and collect.")
@with_runtime(needs_schema=False)
def init(runtime: Runtime, demo: bool) -> None:
    """Create or upgrade the database; safe to run again."""
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
    """Deliver queued messages (run several for scale on PostgreSQL)."""
    delivery_worker = Worker(runtime)
    try:
        if drain:
            stats = delivery_worker.drain()
            click.echo(f"worker: {stats.sent} sent, {stats.retried} to retry, {stats.failed} failed")
            for edition_id in stats.paused_editions:
                click.echo(f"worker: edition {edition_id} paused after failures in a row (see `digest edition show`)")
            return
        with _stop_on_signals() as stop:
            click.echo(f"worker: waiting for deliveries (outgoing mail: {_transport_label(runtime)}; Ctrl+C to stop)")
            delivery_worker.serve(stop)
    finally:
        delivery_worker.close()


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
    _serve_web(runtime, host, port)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@with_runtime()
def run(runtime: Runtime, host: str, port: int) -> None:
    """Web app, delivery worker and scheduler in one process: the embedded default."""
    from scheduler.service import show_progress_on_stderr, start_in_thread

    delivery_worker = Worker(runtime)
    stop = threading.Event()
    thread = threading.Thread(target=delivery_worker.serve, args=(stop,), name="delivery-worker", daemon=True)
    thread.start()
    click.echo("delivery worker: running (outgoing mail: " + _transport_label(runtime) + ")")
    show_progress_on_stderr()
    _, scheduler_thread = start_in_thread(runtime, stop)
    click.echo("scheduler: running (jobs and their last results: /editor/schedule)")
    try:
        _serve_web(runtime, host, port)
    finally:
        stop.set()
        thread.join(timeout=10)
        scheduler_thread.join(timeout=300)  # the running job finishes, then the lock is released
        delivery_worker.close()


def _serve_web(runtime: Runtime, host: str, port: int) -> None:
    from waitress import create_server

    from digest.web import create_app

    try:
        # waitress buffers whole request bodies before the app sees them: bound that too.
        server = create_server(
            create_app(runtime),
            host=host,
            port=port,
            threads=runtime.config.web.threads,
            max_request_body_size=16 * 1024 * 1024,
        )
    except OSError as error:
        message = f"cannot listen on {host}:{port} ({error.strerror}): choose another with --port"
        raise PortUnavailable(message) from None
    click.echo(f"Cluster Digest is running: open http://{host}:{server.effective_port}/ (editors: /editor/)")
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
