"""Fuzzing the station file: whatever the text, `parse_config` answers a config or a ConfigError.

A ConfigError is what the gateway catches to fall back on the last good config and what
`stationctl validate` reports with lines; any other exception (or a hang) would crash the start-up
instead. Inputs: arbitrary text, arbitrary YAML documents, and mutations of the shipped examples,
both of their data (values swapped for other types, keys dropped or added) and of their text
(slices cut, YAML syntax spliced in). The other parsers of outside input are fuzzed beside their
code: serial frames and Modbus registers in tests/drivers/test_frames.py and
test_filter_registers.py, command payloads in tests/commands/test_fuzz.py.

`make soak` runs these with FAULTS_FUZZ_EXAMPLES=5000.
"""

from __future__ import annotations

import os
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from foundation.errors import ConfigError
from gateway.config.station import StationConfig, parse_config
from tests.conftest import ROOT

EXAMPLES = int(os.environ.get("FAULTS_FUZZ_EXAMPLES", "100"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SEEDS = {p.name: p.read_text(encoding="utf-8") for p in sorted((ROOT / "examples").glob("*.yaml"))}
SEED_DOCS = {name: yaml.safe_load(text) for name, text in SEEDS.items()}

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
    st.sampled_from(["", "0", "-1", "1e309", "nan", "/dev/null", "hw:99", "loop://", "00:00", "25:61", "x" * 600]),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
                      max_leaves=12)
yaml_bits = st.sampled_from([": ", "- ", "&a ", "*a", "*b", "!!python/object:os.system ", "!!binary ", "{", "}", "[", "]",
                             "\t", "\n", "  ", "? ", "|", ">", "'", '"', "#", "%YAML 1.1\n", "---\n", "...\n", "<<: ", "~",
                             "\x00", "\ufeff", "9" * 5000])


def accepts_or_refuses(text: str) -> None:
    """The property: a StationConfig, or a ConfigError naming at least one problem."""
    try:
        cfg = parse_config(text)
    except ConfigError as exc:
        assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)
        return
    assert isinstance(cfg, StationConfig)


def paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += paths(v, (*prefix, i))
    return out


def mutate(doc: Any, path: tuple[Any, ...], how: str, value: Any) -> Any:
    if not path:
        return value if how != "delete" else {}
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if how == "delete":
        del parent[last]
    elif how == "add_key" and isinstance(parent[last], dict):
        parent[last]["unexpected_key"] = value
    elif how == "wrap":
        parent[last] = [parent[last]]
    else:
        parent[last] = value
    return doc


@FUZZ
@given(st.text(max_size=400))
@example("[" * 5000)  # nested too deeply for PyYAML's recursion
@example("port: " + "9" * 5000)  # an integer PyYAML refuses to convert
@example("a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 12)) + "station: *a11\n")  # billion laughs
@example("!!python/object/apply:os.system ['true']")
def test_any_text(text: str) -> None:
    accepts_or_refuses(text)


@FUZZ
@given(values)
def test_any_yaml_document(doc: Any) -> None:
    try:
        text = yaml.safe_dump(doc, allow_unicode=True)
    except (ValueError, yaml.YAMLError):
        return
    accepts_or_refuses(text)


@FUZZ
@given(st.sampled_from(sorted(SEED_DOCS)), st.data(), st.sampled_from(["replace", "delete", "add_key", "wrap"]), values)
def test_mutated_example_documents(name: str, data: st.DataObject, how: str, value: Any) -> None:
    doc = yaml.safe_load(SEEDS[name])  # a fresh copy to mutate
    path = data.draw(st.sampled_from(paths(doc)))
    if how == "delete" and not path:
        how = "replace"
    accepts_or_refuses(yaml.safe_dump(mutate(doc, path, how, value), allow_unicode=True))


@FUZZ
@given(st.sampled_from(sorted(SEEDS)), st.data(), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 200), yaml_bits | st.text(max_size=8)),
                                                          min_size=1, max_size=4))
def test_mutated_example_texts(name: str, data: st.DataObject, edits: list[tuple[int, int, str]]) -> None:
    text = SEEDS[name]
    for at, cut, insert in edits:
        at %= len(text) + 1
        text = text[:at] + insert + text[at + cut:]
    accepts_or_refuses(text)


def test_the_shipped_examples_are_valid() -> None:
    """The seeds themselves: so the mutations start from documents that parse."""
    for name, text in SEEDS.items():
        try:
            parse_config(text, name)
        except ConfigError as exc:
            raise AssertionError(f"{name}: {exc}") from None
    assert len(SEEDS) >= 3
