"""Console output shared by the commands: errors with a next step, and progress bars.

Consoles are made per command run (no module-level singletons) and write to stderr when the
command's stdout carries machine-readable output (`--json`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from foundation.errors import ConfigError, DeviceUnavailable, GatewayError
from provisioning.errors import ProvisioningError


def make_console(stderr: bool = False) -> Console:
    """A console for one command run; `stderr=True` keeps stdout clean for JSON."""
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def make_progress(console: Console) -> Progress:
    """A progress display for long steps; silent when the console is not a terminal."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def show_error(console: Console, message: str, hint: str = "") -> None:
    console.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    if hint:
        console.print(f"[bold]next:[/] {hint}", markup=True, highlight=False)


@contextmanager
def handled(console: Console, config: Path | None = None) -> Iterator[None]:
    """Turn the project's errors into a message, a next step and an exit code (never a traceback)."""
    try:
        yield
    except ProvisioningError as exc:
        show_error(console, str(exc), exc.hint)
        raise typer.Exit(exc.exit_code) from None
    except ConfigError as exc:
        shown = f" {config}" if config is not None else " FILE"
        show_error(console, str(exc), f"fix the field(s) named above, then check again with: stationctl validate{shown}")
        raise typer.Exit(2) from None
    except DeviceUnavailable as exc:
        show_error(console, str(exc), "check the device's power, wiring and port; stop the gateway if it holds the port "
                   "(systemctl stop station-gateway); then run: stationctl check --config FILE")
        raise typer.Exit(1) from None
    except GatewayError as exc:
        show_error(console, str(exc), "fix the cause named above and run the command again")
        raise typer.Exit(1) from None
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        show_error(console, f"{exc.strerror or exc}{where}",
                   "check that the path exists and that you may write there (system folders need root: sudo stationctl ...)")
        raise typer.Exit(1) from None
