"""The county's closed-loop file (YAML): deadlines, the escalation ladder, notification channels.

Validated with pydantic (`extra="forbid"`, every field described) so a typo is a clear error
naming the field, never a silently ignored setting. Example:

    deadlines:
      - {severity: critical, accept_min: 5, handle_min: 30}
      - {severity: danger, kind: person_in_water_zone, accept_min: 5, handle_min: 30}
      - {severity: danger, accept_min: 15, handle_min: 120}
    ladder:
      - {level: village, roles: [grid_worker, village_cadre]}
      - {level: town, roles: [town_duty]}
      - {level: county, roles: [county_duty]}
    webhook: {url: "https://sms-gw.example/hook", secret_file: /etc/county/webhook.secret}
    smtp: {host: smtp.example, port: 587, starttls: true, sender: alarms@example, username: alarms, password_file: /etc/county/smtp.pw}
    tz: Asia/Shanghai              # the county's one time zone (`countyctl serve` takes it from here too)
    directory: names.csv           # display names (`county.directory`), beside this file unless absolute
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from county.directory import Directory, load_directory
from county.i18n import Refused
from county.people import ROLES

Severity = Literal["info", "warning", "danger", "critical"]


class Deadline(BaseModel):
    model_config = ConfigDict(extra="forbid")

    severity: Severity | Literal["*"] = Field(description="Alarm severity this line is for ('*': any).")
    kind: str = Field(default="*", description="Alarm kind (water_level, person_in_water_zone, fire...; '*': any).")
    accept_min: float = Field(gt=0, le=7 * 24 * 60, description="Minutes from dispatch (or escalation) within which someone must accept (签收).")
    handle_min: float = Field(gt=0, le=30 * 24 * 60, description="Minutes from dispatch (or escalation) within which it must be handled (处置反馈).")

    def matches(self, severity: str, kind: str) -> bool:
        return self.severity in ("*", severity) and self.kind in ("*", kind)


class Rung(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: Literal["village", "town", "county"] = Field(description="Who answers at this rung: the village's, the township's or the county's people.")
    roles: list[str] = Field(min_length=1, description="Roles dispatched and notified at this rung (grid_worker, village_cadre, town_duty, county_duty).")

    @field_validator("roles")
    @classmethod
    def _known(cls, roles: list[str]) -> list[str]:
        bad = [r for r in roles if r not in ROLES]
        if bad:
            raise ValueError(f"unknown role(s) {bad}; use {list(ROLES)}")
        return roles


class Webhook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(pattern=r"^https?://", description="Where notifications are POSTed as JSON.")
    format: Literal["json", "wecom", "dingtalk"] = Field(
        default="json", description="json: the notification document, signed (SMS/voice gateways, relays); wecom / dingtalk: a "
        "WeChat Work or DingTalk group robot's text message that @s the recipients' phones.")
    secret_file: Path | None = Field(default=None, description="File holding the HMAC-SHA256 secret: signs X-VS-Signature (json, "
                                     "required) or the DingTalk robot's 加签 (optional); keep it owner-only.")
    timeout_s: float = Field(default=10.0, gt=0, le=120, description="Seconds one delivery may take.")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra HTTP headers (e.g. an API key the gateway wants).")


    @model_validator(mode="after")
    def _signed(self) -> Webhook:
        if self.format == "json" and self.secret_file is None:
            raise ValueError("a json webhook needs secret_file: the receiver checks X-VS-Signature with it")
        return self


class Smtp(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field(description="SMTP server.")
    port: int = Field(default=587, ge=1, le=65535, description="SMTP port (587 submission, 25 relay).")
    starttls: bool = Field(default=True, description="Upgrade the connection with STARTTLS before logging in.")
    ca_file: Path | None = Field(default=None, description="CA certificate that signed the server's (a county's own mail server); "
                                 "the system's CAs otherwise.")
    sender: str = Field(description="From address.")
    username: str | None = Field(default=None, description="Login name, when the server wants one.")
    password_file: Path | None = Field(default=None, description="File holding the login password.")
    timeout_s: float = Field(default=20.0, gt=0, le=120, description="Seconds one delivery may take.")


class Retry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_s: float = Field(default=5.0, gt=0, description="Delay before the first retry of a failed delivery (doubles each time).")
    max_s: float = Field(default=600.0, gt=0, description="Longest delay between retries.")
    attempts: int = Field(default=20, ge=1, le=1000, description="Attempts before a notification is given up (and logged as failed).")


class LoopConfig(BaseModel):
    """Everything the closed loop needs besides the database."""

    model_config = ConfigDict(extra="forbid")

    open_on: list[Severity] = Field(default=["danger", "critical"], description="Alarm severities that open a case automatically.")
    categories: list[Literal["safety", "health"]] = Field(default=["safety"], description="Alarm categories that open cases automatically.")
    deadlines: list[Deadline] = Field(default_factory=lambda: [Deadline(severity="*", accept_min=15, handle_min=120)],
                                      description="First matching line sets a case's deadlines; the last should be a catch-all.")
    ladder: list[Rung] = Field(default_factory=lambda: [Rung(level="village", roles=["grid_worker", "village_cadre"]),
                                                        Rung(level="town", roles=["town_duty"]),
                                                        Rung(level="county", roles=["county_duty"])],
                               min_length=1, description="Escalation ladder, first rung first (督办 moves a late case one rung up).")
    tick_s: float = Field(default=15.0, gt=0, le=3600, description="Seconds between escalation checks.")
    sweep_hours: float = Field(default=24.0, gt=0, description="How far back the periodic sweep looks for alarms without a case.")
    webhook: Webhook | None = Field(default=None, description="Outgoing webhook channel (SMS gateway, group robot relay...).")
    smtp: Smtp | None = Field(default=None, description="E-mail channel, to people with an e-mail address.")
    retry: Retry = Field(default_factory=Retry, description="Retries of failed deliveries.")
    public_url: str = Field(default="", description="Base URL of the county web view, put in notifications as a link ('' : none).")
    tz: str = Field(default="Asia/Shanghai", description="Time zone of the times written in notification texts.")
    county_name: str = Field(default="县级站点值守", max_length=40, description="Name that opens every notification text (e.g. 某某县防溺水值守).")
    directory: Path | None = Field(default=None, description="County directory file (CSV: path,中文名,English name) naming places in notification texts; "
                                                             "relative to this file.")
    _names: Directory = PrivateAttr(default_factory=Directory)

    @property
    def names(self) -> Directory:
        """The display names of the directory file (empty without one: codes are shown)."""
        return self._names

    def with_names(self, names: Directory) -> LoopConfig:
        """This config using `names` (`countyctl serve --directory` gives the web's own to the case desk)."""
        self._names = names
        return self

    @field_validator("tz")
    @classmethod
    def _zone(cls, tz: str) -> str:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {tz!r} (e.g. Asia/Shanghai)") from None
        return tz

    @model_validator(mode="after")
    def _catch_all(self) -> LoopConfig:
        if not any(d.severity == "*" and d.kind == "*" for d in self.deadlines):
            self.deadlines.append(Deadline(severity="*", accept_min=15, handle_min=120))
        return self

    def deadline(self, severity: str, kind: str) -> Deadline:
        return next(d for d in self.deadlines if d.matches(severity, kind))

    def opens(self, severity: str, category: str) -> bool:
        return severity in self.open_on and category in self.categories


def load_config(path: Path | None) -> LoopConfig:
    """The file's settings, or the defaults without one; Refused lists each bad field."""
    if path is None:
        return LoopConfig()
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise Refused(f"无法读取 {path}：{exc}", f"cannot read {path}: {exc}") from None
    try:
        config = LoopConfig.model_validate(doc)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise Refused(f"{path} 有误：{problems}", f"{path} is not valid: {problems}") from None
    if config.directory is not None:
        config.directory = path.parent / config.directory  # an absolute path stays as it is
        config.with_names(load_directory(config.directory))  # DirectoryError is a Refused: a start-up error, with the line
    return config
