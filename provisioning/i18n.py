"""The technician's language (the rule lives in `foundation.language`, shared with the county), and the
`--lang` option every `stationctl` command that speaks to a person takes."""

import typer

from foundation.language import COLON, Pair, label, language, pick

__all__ = ["COLON", "LANG_OPTION", "Pair", "label", "language", "pick"]

LANG_OPTION = typer.Option(None, "--lang", help="Language: zh (default) or en; default from LANG.")
