"""`objstream`: run, feed and inspect the function from a workstation.

    objstream publish FILE...       local files through the function's pipeline, as uploads
    objstream backfill --bucket B   objects already in a bucket, through the function or locally
    objstream invoke EVENT.json     the handler's logic on a saved OCI event (reads OCI)
    objstream serve                 the function served by fdk on a unix socket, as Fn does
    objstream call EVENT.json       POST an event to `objstream serve` (Fn's /call)
    objstream event NAME            print an OCI createobject event for an object
    objstream tail                  the stream as downstream consumers see it
    objstream check                 configuration and connectivity, one line per check

Configured like the function (CONTRACT.md §1: STREAM_*, KAFKA_*, OCI_*, …), from the
environment and an optional `--env-file` (the environment wins; see function/cli_config.py).

A mistake a user can make (a wrong path, a missing setting, an unreachable broker, a refused
login) ends with one line on stderr, `objstream: error: …`, and exit code 1; `--debug` shows
the traceback and librdkafka's log instead. Exit codes: 0 done, 1 failed, 2 bad usage,
130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import orjson

from function.errors import CliError, ObjstreamError
from kafka_client.errors import KafkaClientError
from objstream.cli.config import (
    cli_environment,
    load_settings,
    make_console,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import FrameType

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


# -- commands ---------------------------------------------------------------------------------


def cmd_publish(args: argparse.Namespace) -> int:
    """Publish local files as if uploaded; a table sums up; 1 unless all were published."""
    from objstream.cli.publish import PublishOptions, local_objects, publish_files, summary_table

    env = cli_environment(args.env_file)
    settings = load_settings(env)
    options = PublishOptions(
        namespace=args.namespace,
        bucket=args.bucket,
        prefix=args.prefix,
        name=args.name,
        timeout=args.timeout,
    )
    files = local_objects(args.files, options)
    console = make_console()
    results, stopped = publish_files(
        settings, files, options, console, show_progress=console.is_terminal and not args.json
    )
    if args.json:
        for result in results:
            sys.stdout.write(orjson.dumps(result.to_json()).decode() + "\n")
    else:
        console.print(summary_table(results))
        # The error that stopped the run is said once, as the final error line.
        final = str(stopped) if stopped is not None else None
        for result in results:
            if not result.ok and result.reason and result.reason != final:
                console.print(f"{result.name}: {result.status}: {result.reason}", markup=False)
    if stopped is not None:
        raise stopped
    return EXIT_OK if all(r.ok for r in results) else EXIT_FAILED


def cmd_backfill(args: argparse.Namespace) -> int:
    """Send a bucket's existing objects through the function (or locally); a table sums up."""
    from objstream.cli.backfill import BackfillOptions, parse_since, run_backfill
    from objstream.cli.publish import summary_table

    env = cli_environment(args.env_file)
    settings = load_settings(env)
    options = BackfillOptions(
        bucket=args.bucket,
        namespace=args.namespace,
        prefix=args.prefix,
        since=parse_since(args.since) if args.since is not None else None,
        after=args.after,
        function_ocid=None if args.local else (args.function_ocid or settings.function_ocid),
        local=args.local,
        wait=args.wait,
        wait_timeout=args.wait_timeout,
        dry_run=args.dry_run,
        concurrency=args.concurrency,
        timeout=args.timeout,
    )
    console = make_console()
    run = run_backfill(
        settings, options, console, show_progress=console.is_terminal and not args.json
    )
    if args.json:
        for result in run.results:
            sys.stdout.write(orjson.dumps(result.to_json()).decode() + "\n")
    else:
        where = f"{run.namespace}/{options.bucket}"
        console.print(summary_table(run.results, title=f"backfill {where}"))
        for result in run.results:
            if result.status not in run.done and result.reason:
                console.print(f"{result.name}: {result.status}: {result.reason}", markup=False)
    return EXIT_OK if run.ok else EXIT_FAILED


def cmd_invoke(args: argparse.Namespace) -> int:
    """The handler's logic in this process on a saved event; prints the outcome JSON."""
    from function.core.deadline import Deadline
    from function.pipeline import OutcomeStatus
    from function.runtime import Runtime
    from objstream.local_objects import LocalObjectReader, local_objects_dir

    env = cli_environment(args.env_file)
    settings = load_settings(env)
    body = _read_event(args.event)
    folder = local_objects_dir(env)
    runtime = Runtime.for_oci(
        settings, reader=LocalObjectReader(folder) if folder is not None else None
    )
    try:
        outcome = runtime.invoke(body, Deadline.in_seconds(args.timeout))
    finally:
        runtime.close()
    _print_json(outcome.to_json())
    return (
        EXIT_OK
        if outcome.status in {OutcomeStatus.PUBLISHED, OutcomeStatus.SKIPPED}
        else EXIT_FAILED
    )


def cmd_serve(args: argparse.Namespace) -> int:
    """fdk serving func.py on a unix socket, in the foreground, until Ctrl-C or SIGTERM."""
    from function.errors import FnServerError
    from objstream.fn_server import FdkServer, default_socket_path, func_py_for

    env = cli_environment(args.env_file)
    load_settings(env)  # a missing setting is one line now, not a 502 on the first call
    socket_path = args.socket or default_socket_path()
    server = FdkServer(env, socket_path)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.start()
        sys.stdout.write(
            f"serving {func_py_for(env)} with fdk on unix:{server.socket_path} (pid {server.pid})\n"
            f"call it with: objstream call EVENT.json --socket {server.socket_path}"
            "    (Ctrl-C stops it)\n"
        )
        sys.stdout.flush()
        try:
            code = server.wait()
        except KeyboardInterrupt:
            sys.stderr.write("stopping fdk\n")
            return EXIT_OK
        raise FnServerError(f"fdk exited by itself with code {code}; its output is above")
    finally:
        server.stop()
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: FrameType | None) -> NoReturn:
    del signum, frame
    raise KeyboardInterrupt


def cmd_call(args: argparse.Namespace) -> int:
    """POST an event to `objstream serve` as Fn does; status on stderr, body on stdout."""
    from objstream.fn_server import call, default_socket_path

    body = _read_event(args.event)
    socket_path = args.socket or default_socket_path()
    reply = call(socket_path, body, deadline_in=args.deadline)
    sys.stderr.write(f"HTTP {reply.status} in {reply.seconds:.2f} s from unix:{socket_path}\n")
    if reply.headers.get("content-type", "").startswith("application/json"):
        _print_json(reply.body)
    else:
        sys.stdout.write(reply.body.decode("utf-8", errors="replace") + "\n")
    return EXIT_OK if reply.status == 200 else EXIT_FAILED  # noqa: PLR2004 - HTTP 200


def cmd_event(args: argparse.Namespace) -> int:
    """An OCI createobject event for one object (eTag from the local file when there is one)."""
    from objstream.local_objects import LocalObjectReader, local_etag, local_objects_dir
    from objstream.oci_events import object_event_body

    env = cli_environment(args.env_file)
    etag: str | None = args.etag
    folder = args.objects_dir or local_objects_dir(env)
    if etag is None and folder is not None:
        path = LocalObjectReader(Path(folder)).path_of(args.namespace, args.bucket, args.name)
        if not path.is_file():
            raise CliError(
                f"no such local object: {path} (LOCAL_OBJECTS_DIR/<namespace>/<bucket>/<name>)"
            )
        etag = local_etag(path)
    sys.stdout.write(
        object_event_body(args.namespace, args.bucket, args.name, etag).decode() + "\n"
    )
    return EXIT_OK


def cmd_tail(args: argparse.Namespace) -> int:
    """Print the stream's messages until --max, --timeout or Ctrl-C."""
    from objstream.cli.tail import TailOptions, run_tail

    env = cli_environment(args.env_file)
    settings = load_settings(env)
    options = TailOptions(
        from_beginning=args.from_beginning,
        as_json=args.json,
        as_messages=args.messages,
        max_messages=args.max,
        idle_timeout=args.timeout,
        preview_width=args.preview,
    )
    try:
        run_tail(settings, options, make_console(), sys.stdout)
    except KeyboardInterrupt:
        return EXIT_OK  # the normal way to stop following
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    """Configuration and connectivity, one line per check; 1 if any failed."""
    from objstream.cli.check import run_checks

    env = cli_environment(args.env_file)
    console = make_console()
    return EXIT_OK if run_checks(env, console, fancy=console.is_terminal) else EXIT_FAILED


# -- helpers ----------------------------------------------------------------------------------


def _read_event(source: str) -> bytes:
    if source == "-":
        return sys.stdin.buffer.read()
    path = Path(source).expanduser()
    if not path.is_file():
        raise CliError(f"no such event file: {source}")
    return path.read_bytes()


def _print_json(raw: bytes) -> None:
    try:
        text = orjson.dumps(orjson.loads(raw), option=orjson.OPT_INDENT_2).decode()
    except orjson.JSONDecodeError:
        text = raw.decode("utf-8", errors="replace")
    sys.stdout.write(text + "\n")


def _positive(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text} must be more than 0")
        return value

    return parse


# -- the parser -------------------------------------------------------------------------------


def _add_backfill_arguments(backfill: argparse.ArgumentParser) -> None:
    backfill.add_argument("--bucket", required=True, help="the bucket to list")
    backfill.add_argument("--namespace", help="object namespace (default: the tenancy's)")
    backfill.add_argument("--prefix", default="", help="only object names starting with this")
    backfill.add_argument(
        "--since", metavar="T", help="only objects modified since T: RFC 3339, or 2h, 7d, …"
    )
    backfill.add_argument("--after", metavar="NAME", help="resume the listing after NAME")
    via = backfill.add_mutually_exclusive_group()
    via.add_argument(
        "--function-ocid",
        metavar="OCID",
        help="the deployed function, invoked detached (default FUNCTION_OCID)",
    )
    via.add_argument(
        "--local", action="store_true", help="publish through the local pipeline in this process"
    )
    backfill.add_argument(
        "--wait", action="store_true", help="follow the stream until each object's marker"
    )
    backfill.add_argument(
        "--wait-timeout",
        type=_positive(float),
        default=600.0,
        metavar="SECONDS",
        help="how long --wait waits for the markers (600)",
    )
    backfill.add_argument("--dry-run", action="store_true", help="list what would be sent")
    backfill.add_argument(
        "--concurrency",
        type=_positive(int),
        default=4,
        metavar="N",
        help="objects sent at a time (4)",
    )
    backfill.add_argument(
        "--timeout",
        type=_positive(float),
        default=300.0,
        metavar="SECONDS",
        help="deadline per object (300)",
    )
    backfill.add_argument("--json", action="store_true", help="one JSON result per object")


def build_parser() -> argparse.ArgumentParser:
    """The `objstream` command line."""

    def add_common(parser: argparse.ArgumentParser, *, default: Any) -> None:
        parser.add_argument(
            "--env-file",
            type=Path,
            default=default,
            metavar="FILE",
            help="read KEY=VALUE settings from FILE (the environment wins over it)",
        )
        parser.add_argument(
            "--debug",
            action="store_true",
            default=default,
            help="show tracebacks and the Kafka client's log",
        )
        parser.add_argument(
            "-v",
            "--verbose",
            action="store_true",
            default=default,
            help="show the function's info log",
        )

    parser = argparse.ArgumentParser(
        prog="objstream",
        description="Run, feed and inspect the objstream function from a workstation.",
        epilog="Settings are the function's (STREAM_*, KAFKA_*, OCI_*, …); see docs/cli.md.",
    )
    add_common(parser, default=None)
    # Accepted after the command too. SUPPRESS: a command's parser must not reset what was
    # given before the command (argparse copies every subparser default over the parent's).
    common = argparse.ArgumentParser(add_help=False)
    add_common(common, default=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, run: Callable[[argparse.Namespace], int], text: str) -> Any:
        sub = commands.add_parser(name, parents=[common], help=text, description=text)
        sub.set_defaults(run=run)
        return sub

    publish = command("publish", cmd_publish, "publish local files as if uploaded to a bucket")
    publish.add_argument("files", nargs="+", metavar="FILE", help="files or folders")
    publish.add_argument("--namespace", default="local", help="object namespace (local)")
    publish.add_argument("--bucket", default="uploads", help="bucket name (uploads)")
    publish.add_argument(
        "--prefix", default="", help="prepended to each object name (e.g. incoming/)"
    )
    publish.add_argument("--name", help="the object name, for a single file")
    publish.add_argument(
        "--timeout",
        type=_positive(float),
        default=900.0,
        metavar="SECONDS",
        help=(
            "each invocation's deadline (900); a file that needs longer goes on in segments,"
            " as the deployed function does (CONTINUATION=detached)"
        ),
    )
    publish.add_argument("--json", action="store_true", help="one JSON result per file")

    _add_backfill_arguments(
        command(
            "backfill",
            cmd_backfill,
            "send a bucket's existing objects through the function (or the local pipeline)",
        )
    )

    invoke = command("invoke", cmd_invoke, "run the handler's logic on a saved OCI event")
    invoke.add_argument("event", metavar="EVENT.json", help="the event body ('-' for stdin)")
    invoke.add_argument(
        "--timeout",
        type=_positive(float),
        default=300.0,
        metavar="SECONDS",
        help="the invocation's deadline (300, OCI Functions' maximum)",
    )

    serve = command("serve", cmd_serve, "serve the function through fdk on a unix socket")
    serve.add_argument(
        "--socket", type=Path, metavar="PATH", help="socket path (/tmp/objstream-<uid>/lsnr.sock)"
    )

    call = command("call", cmd_call, "POST an event to `objstream serve`, as Fn does")
    call.add_argument("event", metavar="EVENT.json", help="the event body ('-' for stdin)")
    call.add_argument("--socket", type=Path, metavar="PATH", help="the socket `serve` printed")
    call.add_argument(
        "--deadline",
        type=_positive(float),
        default=30.0,
        metavar="SECONDS",
        help="Fn-Deadline, seconds from now (30, fdk's default)",
    )

    event = command("event", cmd_event, "print an OCI createobject event for an object")
    event.add_argument("name", metavar="OBJECT_NAME")
    event.add_argument("--namespace", default="local", help="object namespace (local)")
    event.add_argument("--bucket", default="uploads", help="bucket name (uploads)")
    event.add_argument("--etag", help="the object's eTag (default: the local file's)")
    event.add_argument(
        "--objects-dir", metavar="DIR", help="local objects folder (LOCAL_OBJECTS_DIR)"
    )

    tail = command("tail", cmd_tail, "print the stream's messages as consumers see them")
    tail.add_argument(
        "--from-beginning", action="store_true", help="start at the oldest retained message"
    )
    tail.add_argument("--json", action="store_true", help="one JSON object per message")
    tail.add_argument(
        "--messages",
        action="store_true",
        help="show packed messages (MESSAGE_PACKING=jsonl) as messages, not record by record",
    )
    tail.add_argument("--max", type=_positive(int), metavar="N", help="stop after N messages")
    tail.add_argument(
        "--timeout",
        type=_positive(float),
        metavar="SECONDS",
        help="stop after SECONDS without a new message",
    )
    tail.add_argument(
        "--preview", type=_positive(int), default=100, metavar="CHARS", help="value preview (100)"
    )

    command("check", cmd_check, "check the configuration and connectivity")
    return parser


# -- entry point ------------------------------------------------------------------------------


class _StderrHandler(logging.Handler):
    """Writes to whatever sys.stderr is now (rich's progress display swaps it while live)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


def _configure_logging(*, debug: bool, verbose: bool) -> None:
    from function.pipeline import OUTCOME_LOGGER
    from objstream.stream_reader import LIBRDKAFKA_LOGGER

    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("objstream: %(levelname)s: %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING)
    if not debug:
        # librdkafka retries and reconnects on its own and says so at length; the CLI ends
        # with one line that says what failed. The publisher's warnings are that line too.
        LIBRDKAFKA_LOGGER.disabled = True
        logging.getLogger("kafka_client.publisher").setLevel(logging.ERROR)
    if not (debug or verbose):
        # The function's outcome lines: the CLI reports every outcome itself.
        logging.getLogger(OUTCOME_LOGGER).setLevel(logging.CRITICAL)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        text = f"{exc.strerror}: {exc.filename}"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: parse, run one command, turn user-caused errors into one line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(debug=bool(args.debug), verbose=bool(args.verbose))
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `objstream tail | head`: the reader left. Point stdout at /dev/null so the
        # interpreter's final flush does not complain.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except (ObjstreamError, KafkaClientError, OSError) as exc:
        if args.debug:
            raise
        sys.stderr.write(f"objstream: error: {_one_line(exc)}\n")
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
