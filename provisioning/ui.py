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
from provisioning.i18n import COLON, language, pick


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


def show_error(console: Console, message: str, hint: str = "", lang: str = "zh") -> None:
    console.print(f"[bold red]{pick(lang, ('错误', 'error'))}{pick(lang, COLON)}[/]{message}", markup=True, highlight=False)
    if hint:
        console.print(f"[bold]{pick(lang, ('下一步', 'next'))}{pick(lang, COLON)}[/]{hint}", markup=True, highlight=False)


@contextmanager
def handled(console: Console, config: Path | None = None, lang: str | None = None) -> Iterator[None]:
    """Turn the project's errors into a message, a next step and an exit code (never a traceback).

    The frame and the generic next steps are in `lang` (from LANG when not given); the message is
    what the error says (a command raises it in its own language; lower layers say it in English)."""
    lg = language(lang)
    try:
        yield
    except ProvisioningError as exc:
        show_error(console, str(exc), exc.hint, lg)
        raise typer.Exit(exc.exit_code) from None
    except ConfigError as exc:
        shown = f" {config}" if config is not None else " FILE"
        show_error(console, str(exc), pick(lg, (f"按上面指出的字段改正，然后再检查：stationctl validate{shown}",
                                                 f"fix the field(s) named above, then check again with: stationctl validate{shown}")), lg)
        raise typer.Exit(2) from None
    except DeviceUnavailable as exc:
        show_error(console, str(exc), pick(lg, (
            "检查设备的电源、接线和端口；如果网关正占用这个端口，先停止网关（systemctl stop station-gateway）；"
            "然后运行：stationctl check --config FILE",
            "check the device's power, wiring and port; stop the gateway if it holds the port "
            "(systemctl stop station-gateway); then run: stationctl check --config FILE")), lg)
        raise typer.Exit(1) from None
    except GatewayError as exc:
        show_error(console, str(exc), pick(lg, ("排除上面指出的原因后，再运行一次命令", "fix the cause named above and run the command again")), lg)
        raise typer.Exit(1) from None
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        show_error(console, f"{exc.strerror or exc}{where}", pick(lg, (
            "检查路径是否存在、是否有写权限（系统目录需要 root：sudo stationctl ...）",
            "check that the path exists and that you may write there (system folders need root: sudo stationctl ...)")), lg)
        raise typer.Exit(1) from None
