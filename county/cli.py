"""`countyctl`: the county center's reference tool."""

from __future__ import annotations

import time

import typer
from rich.console import Console
from rich.markup import escape

from county.feed import FeedCollector, FeedLine, FeedSubscriber

app = typer.Typer(help="County command center tools: watch stations, send commands.", no_args_is_help=True)


@app.command()
def feed(
    prefix: str = typer.Argument("vs/v1", help="Topic prefix: vs/v1/COUNTY[/TOWN[/VILLAGE[/STATION]]]."),
    broker: str = typer.Option("127.0.0.1:1883", help="Broker HOST:PORT."),
    seconds: float = typer.Option(0, help="Stop after this long (0: until Ctrl-C)."),
) -> None:
    """Print every message under a prefix as a readable line."""
    console = Console(highlight=False)
    host, _, port = broker.rpartition(":")

    def show(line: FeedLine) -> None:
        console.print(f"{line.station} #{line.seq if line.seq is not None else '-'} [{line.style or 'default'}]{escape(line.text)}[/]")

    sub = FeedSubscriber(host, int(port), prefix, FeedCollector(on_line=show)).start()
    try:
        deadline = time.monotonic() + seconds if seconds else float("inf")
        while time.monotonic() < deadline:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        sub.stop()


@app.command()
def demo(
    config: str = typer.Option("examples/sim-station.yaml", help="Station config to run."),
    duration: float = typer.Option(60.0, help="Seconds before the summary."),
) -> None:
    """Run the simulated station against a private broker and show the county feed."""
    from pathlib import Path

    from county.demo import main

    main(config=Path(config), duration=duration, outage_at=duration * 0.37, outage_s=6.0)


if __name__ == "__main__":
    app()
