#!/bin/bash
# Install the village station gateway on a Raspberry Pi from this bundle, with no network.
# 从本安装包离线安装村级站点网关（树莓派，无需联网）。
#
# Idempotent: run it again after a failure or with a newer bundle; each version gets its own venv
# under /opt/village-station-gateway/<version> and `current` points at the one in use, so a later
# update can install beside the running one and switch the link.
set -euo pipefail

APP=village-station-gateway
SERVICE=station-gateway
SVC_USER=station-gateway
HARDWARE_GROUPS="gpio dialout audio video spi i2c"
DEB_PKGS="espeak-ng alsa-utils"

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OPT=/opt/$APP
ETC=/etc/station-gateway
STATE=/var/lib/station-gateway
UNIT=/etc/systemd/system/$SERVICE.service
JOURNALD=/etc/systemd/journald.conf.d/50-station-gateway.conf
BIN=/usr/local/bin

MODE=install
DRY=0
SYSTEMCTL=1
PURGE=0
WAS_ACTIVE=""

usage() {
  cat <<EOF
用法 / usage: sudo ./install.sh [--dry-run] [--no-systemctl] [--uninstall [--purge]]

在树莓派上离线安装网关：Python 虚拟环境（/opt/$APP/<版本>）、服务用户 $SVC_USER、
$ETC 与 $STATE、systemd 服务和 journald 限额（保护 SD 卡）。可重复运行。
Installs the gateway offline: a venv under /opt/$APP/<version>, the service user $SVC_USER,
$ETC and $STATE, the systemd service and journald limits for the SD card. Safe to run again.

  --dry-run        只显示将要做的事 / only print what would be done
  --no-systemctl   写入服务文件但不调用 systemctl（chroot、镜像） / write the unit, never call systemctl (chroot, image)
  --uninstall      删除服务与程序，保留配置、数据和用户 / remove the service and the software; keep config, data and user
  --purge          与 --uninstall 一起：连配置、数据和用户一并删除 / with --uninstall: also remove config, data and user
  -h, --help       显示本帮助 / this help
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --no-systemctl) SYSTEMCTL=0 ;;
    --uninstall) MODE=uninstall ;;
    --purge) PURGE=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "错误 / error: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

say() { printf '%s\n' "$*"; }
die() { printf '错误 / error: %s\n' "$1" >&2; [ -n "${2:-}" ] && printf '处理 / fix: %s\n' "$2" >&2; exit 1; }
# Every change goes through `do`, so --dry-run prints exactly the steps an install takes.
do_() { if [ "$DRY" = 1 ]; then printf '  [dry-run] %s\n' "$*"; else "$@"; fi; }
have_systemd() { [ "$SYSTEMCTL" = 1 ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; }

VERSION=$(cat "$HERE/VERSION" 2>/dev/null || true)
[ -n "$VERSION" ] || die "$HERE/VERSION is missing: this is not an unpacked bundle" "unpack the whole .tar.gz and run install.sh from it"

if [ "$DRY" = 0 ] && [ "$(id -u)" != 0 ]; then
  die "must run as root" "sudo $0 $*"
fi

uninstall() {
  say "卸载 / uninstalling $APP"
  if have_systemd; then
    do_ systemctl disable --now "$SERVICE" 2>/dev/null || true
  fi
  do_ rm -f "$UNIT" "$JOURNALD" "$BIN/station-gateway" "$BIN/stationctl"
  have_systemd && do_ systemctl daemon-reload || true
  do_ rm -rf "$OPT"
  if [ "$PURGE" = 1 ]; then
    do_ rm -rf "$ETC" "$STATE"
    id "$SVC_USER" >/dev/null 2>&1 && do_ userdel "$SVC_USER" || true
    say "已删除配置、数据和用户 / config, data and user removed"
  else
    say "保留 / kept: $ETC $STATE (用户 / user $SVC_USER); 全部删除 / remove them too: $0 --uninstall --purge"
  fi
  exit 0
}
[ "$MODE" = uninstall ] && uninstall

# 1. The bundle is whole and meant for this machine.
say "== 校验安装包 / checking the bundle ($APP $VERSION)"
(cd "$HERE" && sha256sum --quiet -c SHA256SUMS) || die "the bundle is damaged (SHA256SUMS does not match)" "copy the .tar.gz again and check it: sha256sum -c $APP-$VERSION-raspberrypi-aarch64.tar.gz.sha256"
MACHINE=$(uname -m)
if [ "$MACHINE" != aarch64 ]; then
  [ "$DRY" = 1 ] || die "this bundle is for aarch64 (64-bit Raspberry Pi OS); this machine is $MACHINE" "install the 64-bit Raspberry Pi OS (bookworm or trixie)"
  say "警告 / warning: this machine is $MACHINE, the bundle is for aarch64 (dry run goes on)"
fi
PY=/usr/bin/python3  # Debian's own Python, whatever else is on PATH
[ -x "$PY" ] || PY=$(command -v python3 || true)
[ -n "$PY" ] || die "python3 is missing" "apt-get install python3"
PYVER=$("$PY" -c 'import sys; print("%d%d" % sys.version_info[:2])')
CONSTRAINTS="$HERE/constraints-py$PYVER-aarch64.txt"
[ -f "$CONSTRAINTS" ] || die "no wheels for Python ${PYVER:0:1}.${PYVER:1} in this bundle (it has 3.11 for bookworm and 3.13 for trixie)" "use Raspberry Pi OS bookworm or trixie"

# 2. Debian packages: the bundle carries no .deb files; say what is missing and the line to run online.
say "== Debian 软件包 / Debian packages"
MISSING=""
for p in $DEB_PKGS; do dpkg -s "$p" >/dev/null 2>&1 || MISSING="$MISSING $p"; done
LGPIO_SYSTEM=""
if ! grep -q '^lgpio==' "$CONSTRAINTS"; then  # no lgpio wheel for this Python: Debian's python3-lgpio
  if dpkg -s python3-lgpio >/dev/null 2>&1; then LGPIO_SYSTEM=1; else MISSING="$MISSING python3-lgpio"; fi
fi
if [ -n "$MISSING" ]; then
  say "警告：缺少软件包:$MISSING（扬声器播报或 GPIO 需要）。联网后运行 / warning: missing:$MISSING (speech or GPIO needs them). When online run:"
  say "    sudo apt-get install -y$MISSING"
else
  say "齐全 / all present: $DEB_PKGS"
fi

# 3. The service user, with the hardware groups this system has.
say "== 服务用户 / service user $SVC_USER"
if ! id "$SVC_USER" >/dev/null 2>&1; then
  do_ useradd --system --home-dir "$STATE" --no-create-home --shell /usr/sbin/nologin --user-group "$SVC_USER"
fi
GROUPS_FOUND=""
for g in $HARDWARE_GROUPS; do
  if getent group "$g" >/dev/null; then GROUPS_FOUND="$GROUPS_FOUND $g"; fi
done
GROUPS_FOUND=${GROUPS_FOUND# }
if [ -n "$GROUPS_FOUND" ]; then do_ usermod -a -G "${GROUPS_FOUND// /,}" "$SVC_USER"; fi
say "组 / groups: ${GROUPS_FOUND:-(none of $HARDWARE_GROUPS exist here)}"

# 4. The venv of this version, from the bundle's wheels only. A finished venv has .bundle-sha256;
#    one without it (an interrupted run) is made again.
say "== Python 环境 / venv $OPT/$VERSION (Python ${PYVER:0:1}.${PYVER:1})"
DEST=$OPT/$VERSION
BUNDLE_SUM=$(sha256sum "$HERE/SHA256SUMS" | cut -d' ' -f1)
if [ -f "$DEST/.bundle-sha256" ] && [ "$(cat "$DEST/.bundle-sha256")" = "$BUNDLE_SUM" ] && [ -x "$DEST/bin/station-gateway" ]; then
  say "已安装，跳过 / already installed from this bundle"
else
  PIPWHL=$(ls "$HERE"/wheels/pip-*.whl | head -1)
  # The same version from another bundle replaces a venv the service may be running from: stop it first.
  if [ -d "$DEST" ] && have_systemd && systemctl is-active --quiet "$SERVICE"; then
    do_ systemctl stop "$SERVICE"; WAS_ACTIVE=1
  fi
  do_ rm -rf "$DEST"
  do_ mkdir -p "$OPT"
  # --without-pip: works without python3-venv (ensurepip); pip comes from the bundle's own wheel.
  do_ "$PY" -m venv --without-pip "$DEST"
  do_ env PIP_CONFIG_FILE=/dev/null "$DEST/bin/python" "$PIPWHL/pip" install -q --no-index --find-links "$HERE/wheels" -c "$CONSTRAINTS" pip
  REQS="$APP==$VERSION"
  grep -q '^lgpio==' "$CONSTRAINTS" && REQS="$REQS lgpio"
  # shellcheck disable=SC2086
  do_ env PIP_CONFIG_FILE=/dev/null "$DEST/bin/python" -m pip install -q --no-index --find-links "$HERE/wheels" -c "$CONSTRAINTS" $REQS
  if [ -n "$LGPIO_SYSTEM" ]; then  # Debian's lgpio module, and nothing else of the system's packages
    SITE=$("$DEST/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' 2>/dev/null || echo "$DEST/lib/python3.${PYVER:1}/site-packages")
    for f in /usr/lib/python3/dist-packages/lgpio.py /usr/lib/python3/dist-packages/_lgpio*.so; do
      if [ -e "$f" ]; then do_ ln -sf "$f" "$SITE/"; fi
    done
  fi
  [ "$DRY" = 1 ] || printf '%s\n' "$BUNDLE_SUM" > "$DEST/.bundle-sha256"
fi
do_ ln -sfn "$VERSION" "$OPT/current.new"
do_ mv -Tf "$OPT/current.new" "$OPT/current"
# Fleet updates: the gateway installs a new version beside this one and switches `current` itself
# (so the service user owns the folder, not the venvs in it); the guard, run by systemd before each
# start with the system python3, switches back when a new version cannot start.
[ -f "$HERE/update-guard" ] && do_ install -m 0755 "$HERE/update-guard" "$OPT/update-guard"
do_ chown "$SVC_USER:$SVC_USER" "$OPT"
do_ ln -sf "$OPT/current/bin/station-gateway" "$BIN/station-gateway"
do_ ln -sf "$OPT/current/bin/stationctl" "$BIN/stationctl"

# 5. Config and data: the gateway writes its last good config and config trials beside the
#    station file, so the service user owns both folders; nobody else reads them (keys, passwords).
say "== 目录 / folders $ETC $STATE"
do_ install -d -m 0750 -o "$SVC_USER" -g "$SVC_USER" "$ETC" "$STATE"
do_ chown "$SVC_USER:$SVC_USER" "$ETC" "$STATE"
do_ chmod 0750 "$ETC" "$STATE"

# 6. systemd: the unit of `stationctl install-service`, and journald kept in RAM for the SD card.
say "== systemd ($UNIT, $JOURNALD)"
do_ mkdir -p "$(dirname "$UNIT")" "$(dirname "$JOURNALD")"
if [ -n "$GROUPS_FOUND" ]; then
  UNIT_TEXT=$(sed "s|@HARDWARE_GROUPS@|$GROUPS_FOUND|" "$HERE/systemd/station-gateway.service.in")
else
  UNIT_TEXT=$(grep -v '@HARDWARE_GROUPS@' "$HERE/systemd/station-gateway.service.in")
fi
if [ "$DRY" = 1 ]; then
  say "  [dry-run] write $UNIT and $JOURNALD"
else
  printf '%s\n' "$UNIT_TEXT" > "$UNIT.tmp" && chmod 0644 "$UNIT.tmp" && mv -f "$UNIT.tmp" "$UNIT"
  install -m 0644 "$HERE/systemd/journald-station-gateway.conf" "$JOURNALD"
fi
if have_systemd; then
  do_ systemctl daemon-reload
  do_ systemctl restart systemd-journald
  do_ systemctl enable "$SERVICE"
  if [ -n "${WAS_ACTIVE:-}" ]; then do_ systemctl start "$SERVICE"; elif [ -f "$ETC/station.yaml" ]; then do_ systemctl try-restart "$SERVICE"; fi
else
  say "未调用 systemctl / systemctl not called (--no-systemctl or no running systemd): later run"
  say "    systemctl daemon-reload && systemctl enable $SERVICE"
fi

say ""
if [ "$DRY" = 1 ]; then say "演练结束，未做任何更改 / dry run: nothing was changed"; else say "安装完成 / installed: $APP $VERSION -> $OPT/current"; fi
say "下一步（以服务用户身份，配置文件归它所有）/ next (as the service user, who owns the config):"
say "  1. 生成站点配置 / write the station file:"
say "       sudo -u $SVC_USER stationctl init -i -o $ETC/station.yaml"
say "  2. 检查传感器、摄像头、扬声器和县平台连接 / check sensors, cameras, speaker and the county link:"
say "       sudo -u $SVC_USER stationctl check -c $ETC/station.yaml"
say "  3. 启动并查看日志 / start it and follow the log:"
say "       sudo systemctl start $SERVICE && journalctl -u $SERVICE -f"
[ -n "$MISSING" ] && say "  注意 / note: 联网后安装 / when online install:$MISSING  (sudo apt-get install -y$MISSING)"
exit 0
