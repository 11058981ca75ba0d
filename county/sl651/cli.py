"""`countyctl sl651`: a reference SL 651-2014 centre for commissioning a station's hydrology uplink."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import typer

from county.sl651.decode import Frame
from county.sl651.listener import ReferenceCentre

app = typer.Typer(help="SL 651-2014 (hydrology platform) tools: a reference centre.", no_args_is_help=True)


@app.callback()
def sl651() -> None:
    """SL 651-2014 (hydrology platform) tools: a reference centre."""


def frame_record(frame: Frame, raw: bytes) -> dict[str, object]:
    record = asdict(frame)
    record.pop("raw_body")
    record["function_name"] = frame.function_name
    record["hex"] = raw.hex().upper()
    record["received_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return record


@app.command()
def listen(
    port: int = typer.Option(5001, "--port", "-p", help="TCP port to listen on."),
    host: str = typer.Option("0.0.0.0", help="Address to listen on."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Append each decoded frame as a JSON line to this file."),
    no_ack: bool = typer.Option(False, "--no-ack", help="Do not acknowledge reports (to test a station's resending)."),
    utc_offset_h: float = typer.Option(8.0, help="Time zone of the frames' times (China Standard Time: 8)."),
) -> None:
    """Receive stations' frames, decode and acknowledge them, print one JSON line each (Ctrl-C stops)."""
    sink = out.open("a", encoding="utf-8") if out else None

    def show(frame: Frame, raw: bytes) -> None:
        line = json.dumps(frame_record(frame, raw), ensure_ascii=False)
        typer.echo(line)
        if sink is not None:
            sink.write(line + "\n")
            sink.flush()

    centre = ReferenceCentre(host, port, on_frame=show, acknowledge=not no_ack, utc_offset_h=utc_offset_h).start()
    typer.echo(f"listening on {host}:{centre.port}", err=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        centre.stop()
        if sink is not None:
            sink.close()
