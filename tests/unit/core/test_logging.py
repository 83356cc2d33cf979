"""Log lines below the configured level cost nothing: they are dropped before structlog's
processors (time stamps, trace ids, context) run."""

import structlog

from portal.core import ops, tracing


def test_lines_below_the_level_are_dropped_before_any_processor(monkeypatch, capsys):
    seen = []

    def spy(logger, method_name, event_dict):
        seen.append(event_dict["event"])
        return event_dict

    monkeypatch.setattr(tracing, "add_trace_ids", spy)
    try:
        ops.configure_logging("WARNING", json_output=True)
        log = structlog.get_logger("portal.test")
        log.info("request", path="/registry/")
        log.warning("cache_unavailable", error="boom")
        assert seen == ["cache_unavailable"]
        err = capsys.readouterr().err
        assert '"event": "cache_unavailable"' in err and '"event": "request"' not in err
    finally:
        monkeypatch.undo()
        ops.configure_logging("INFO", json_output=True)
