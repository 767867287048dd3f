"""Every log line names the request it was written for; the text format reads on a terminal;
neither format lets a secret through (issue 17)."""

from __future__ import annotations

import io
import json
import logging
import re
import threading
from collections.abc import Iterator

import pytest

from app.logs import (
    JsonFormatter,
    RedactingFilter,
    RequestIdFilter,
    TextFormatter,
    configure_logging,
    current_request,
    for_request,
    note_request,
    request_context,
)

TEXT_LINE = re.compile(
    r"^(?P<time>\d\d:\d\d:\d\d) (?P<level>[A-Z]+) +(?P<logger>\S+) "
    r"(?:\[(?P<request>AR-[0-9A-Z]{6})\] )?(?P<rest>.*)$"
)


@pytest.fixture
def captured() -> Iterator[tuple[io.StringIO, logging.Handler]]:
    """A handler set up like configure_logging's, writing into a buffer."""
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("tests.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield sink, handler
    logger.removeHandler(handler)


def lines(sink: io.StringIO) -> list[str]:
    return sink.getvalue().splitlines()


def test_a_text_line_reads_time_level_logger_request_message_and_fields(
    captured: tuple[io.StringIO, logging.Handler],
) -> None:
    sink, handler = captured
    handler.setFormatter(TextFormatter())
    with request_context("AR-7K3Q9M"):
        logging.getLogger("tests.logs").warning(
            "revoke incomplete; will retry", extra={"left": ["prod-redis"], "why": "timed out"}
        )
    [line] = lines(sink)
    parsed = TEXT_LINE.match(line)
    assert parsed is not None, line
    assert parsed["level"] == "WARNING"
    assert parsed["logger"] == "tests.logs"
    assert parsed["request"] == "AR-7K3Q9M"
    assert parsed["rest"] == "revoke incomplete; will retry left=['prod-redis'] why=\"timed out\""


def test_a_text_line_outside_any_request_has_no_request_part(
    captured: tuple[io.StringIO, logging.Handler],
) -> None:
    sink, handler = captured
    handler.setFormatter(TextFormatter())
    logging.getLogger("tests.logs").info("connected to Slack in socket mode")
    [line] = lines(sink)
    parsed = TEXT_LINE.match(line)
    assert parsed is not None, line
    assert parsed["request"] is None
    assert parsed["rest"] == "connected to Slack in socket mode"


def test_a_text_line_carries_the_traceback_of_an_exception_below_it(
    captured: tuple[io.StringIO, logging.Handler],
) -> None:
    sink, handler = captured
    handler.setFormatter(TextFormatter())
    try:
        raise RuntimeError("boom with password=hunter2")
    except RuntimeError:
        logging.getLogger("tests.logs").exception("background work failed")
    text = sink.getvalue()
    assert text.splitlines()[0].endswith("background work failed")
    assert "RuntimeError: boom" in text
    assert "hunter2" not in text


def test_a_json_line_names_the_request_and_leaves_out_a_duplicate_request_field(
    captured: tuple[io.StringIO, logging.Handler],
) -> None:
    sink, handler = captured
    handler.setFormatter(JsonFormatter())
    with request_context("AR-7K3Q9M"):
        logging.getLogger("tests.logs").info("done", extra={"request": "AR-7K3Q9M", "n": 2})
    logging.getLogger("tests.logs").info("idle")
    inside, outside = (json.loads(line) for line in lines(sink))
    assert inside["request_id"] == "AR-7K3Q9M"
    assert "request" not in inside
    assert inside["n"] == 2
    assert "request_id" not in outside


@pytest.mark.parametrize("formatter", [JsonFormatter(), TextFormatter()], ids=["json", "text"])
@pytest.mark.parametrize(
    ("logged", "secret"),
    [
        ("calling with xoxb-1234-5678-abcdefghijkl", "abcdefghijkl"),
        ("socket token xapp-1-A0123-4567-abcdef", "abcdef"),
        ("url postgresql://jit:hunter2@db.internal/jit", "hunter2"),
        ("ALTER ROLE x PASSWORD 's3cret'", "s3cret"),
        ("ACL SETUSER jit_7k3q9m >ABCDEFGHIJKLMNOPQRSTUVWX", "ABCDEFGHIJKLMNOPQRSTUVWX"),
    ],
)
def test_no_secret_reaches_a_line_in_either_format_in_the_message_or_a_field(
    captured: tuple[io.StringIO, logging.Handler],
    formatter: logging.Formatter,
    logged: str,
    secret: str,
) -> None:
    sink, handler = captured
    handler.setFormatter(formatter)
    log = logging.getLogger("tests.logs")
    log.error("failed: %s", logged)
    log.error("failed", extra={"detail": logged})
    assert secret not in sink.getvalue()
    assert sink.getvalue().count("***") == 2


def test_a_method_for_a_request_names_it_on_lines_of_everything_it_calls() -> None:
    seen: list[str | None] = []

    class Service:
        @for_request
        def end(self, request_id: str) -> None:
            seen.append(current_request())

        @for_request
        def decide(self, *, request_id: str, clicker: str) -> None:
            seen.append(current_request())

    Service().end("AR-AAAAAA")
    Service().decide(request_id="AR-BBBBBB", clicker="U1")
    assert seen == ["AR-AAAAAA", "AR-BBBBBB"]
    assert current_request() is None


def test_a_request_made_mid_way_is_named_until_its_scope_ends() -> None:
    seen: list[str | None] = []

    @for_request
    def submit(*, draft_key: str) -> None:
        seen.append(current_request())
        note_request("AR-CCCCCC")
        seen.append(current_request())

    submit(draft_key="d1")
    assert seen == [None, "AR-CCCCCC"]
    assert current_request() is None  # the next listener on this thread starts clean


def test_request_contexts_nest_and_do_not_leak_across_threads() -> None:
    other: list[str | None] = []
    with request_context("AR-DDDDDD"):
        with request_context("AR-EEEEEE"):
            assert current_request() == "AR-EEEEEE"
        assert current_request() == "AR-DDDDDD"
        worker = threading.Thread(target=lambda: other.append(current_request()))
        worker.start()
        worker.join()
    assert other == [None]
    assert current_request() is None


def test_configure_logging_in_text_adds_the_request_to_lines_of_any_logger(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging(level="INFO", fmt="text")
        with request_context("AR-FFFFFF"):
            logging.getLogger("some.library").info("sent")
        logging.getLogger("apscheduler.executors.default").info('Running job "Trigger.fire"')
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    [line] = capsys.readouterr().err.splitlines()
    parsed = TEXT_LINE.match(line)
    assert parsed is not None, line
    assert (parsed["logger"], parsed["request"], parsed["rest"]) == (
        "some.library",
        "AR-FFFFFF",
        "sent",
    )
