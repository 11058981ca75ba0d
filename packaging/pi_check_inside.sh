#!/bin/bash
# The part of `make pi-check` that runs with the network cut: packaging/pi_check.py starts it under
# `unshare --net --mount`, so this namespace has only a loopback and its mounts vanish with it.
# The broker is the host's mosquitto started in this namespace; the arm64 root reaches it on
# 127.0.0.1 (a chroot shares the network namespace), and nothing else is reachable.
set -euo pipefail
ROOT=$1     # the arm64 Debian root
OUT=$2      # where logs and results go (on the host)
PORT=$3     # the broker's port
RUN_S=$4    # seconds of station-gateway run
TESTS=$5    # the unit tests (paths under /srv/pi-check/main)
MEDIA=$6    # the clip to replay (path under /srv/pi-check/main)

# A Raspberry Pi 4's CPU (Cortex-A72: no dot product, no SVE), so a wheel built for newer cores
# fails here as it would on a Pi 4. qemu-user 7.2 passes the host's x86 /proc/cpuinfo through,
# and LiteRT's CPU detection crashes on it: the root gets a Pi 4's /proc/cpuinfo instead.
export QEMU_CPU=cortex-a72
ENVV=(env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin LANG=C.UTF-8 HOME=/root QEMU_CPU=cortex-a72)
now() { date +%s.%N; }
span() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
stamp() { printf '%s %s\n' "$1" "$2" >> "$OUT/times.txt"; }

ip link set lo up
mount -t proc proc "$ROOT/proc"
mount --rbind /dev "$ROOT/dev"
mount -t sysfs sys "$ROOT/sys"
mount -t tmpfs tmpfs "$ROOT/tmp"
mount --bind "$OUT/cpuinfo" "$ROOT/proc/cpuinfo"

# The network really is cut: no link but loopback, no route (checked without sending anything).
ip -o link show > "$OUT/netns-links.txt"
ip route show > "$OUT/netns-routes.txt"
if grep -v ': lo:' "$OUT/netns-links.txt" | grep -q . || [ -s "$OUT/netns-routes.txt" ]; then
  echo "this namespace has a link or a route out: refusing to go on" >&2; exit 3
fi

mosquitto -c "$OUT/mosquitto.conf" > "$OUT/mosquitto.log" 2>&1 &
BROKER=$!
sleep 0.5
mosquitto_sub -h 127.0.0.1 -p "$PORT" -t 'vs/#' -q 1 -F '%U %t %p' > "$OUT/wire.txt" 2>/dev/null &
SUB=$!
sleep 0.5

t0=$(now)
chroot "$ROOT" "${ENVV[@]}" /srv/pi-check/bundle/install.sh --no-systemctl > "$OUT/install.log" 2>&1
t1=$(now); stamp install "$(span "$t0" "$t1")"
chroot "$ROOT" "${ENVV[@]}" /srv/pi-check/bundle/install.sh --no-systemctl > "$OUT/install-again.log" 2>&1
t2=$(now); stamp install_again "$(span "$t1" "$t2")"

# The unit as installed, checked by the host's systemd (ExecStart pointed into the root, where it lives).
cp "$ROOT/etc/systemd/system/station-gateway.service" "$OUT/station-gateway.service"
cp "$ROOT/etc/systemd/journald.conf.d/50-station-gateway.conf" "$OUT/journald.conf"
sed "s|=/opt/village-station-gateway/|=$ROOT/opt/village-station-gateway/|" "$OUT/station-gateway.service" > "$OUT/verify/station-gateway.service"
set +e
systemd-analyze verify "$OUT/verify/station-gateway.service" > "$OUT/unit-verify.txt" 2>&1
echo $? > "$OUT/unit-verify.rc"
set -e

# The station file the technician would write, then the gateway as the service user, from its
# working directory, exactly as the unit runs it (systemd itself cannot run in a chroot).
install -m 0640 "$OUT/station.yaml" "$ROOT/etc/station-gateway/station.yaml"
chroot "$ROOT" chown station-gateway:station-gateway /etc/station-gateway/station.yaml
chroot "$ROOT" "${ENVV[@]}" runuser -u station-gateway -- stationctl validate /etc/station-gateway/station.yaml > "$OUT/validate.log" 2>&1
t3=$(now); stamp gateway_start "$t3"
set +e
chroot "$ROOT" "${ENVV[@]}" HOME=/var/lib/station-gateway runuser -u station-gateway -- \
  sh -c "cd /var/lib/station-gateway && exec timeout -s TERM -k 60 $RUN_S /opt/village-station-gateway/current/bin/station-gateway run --config /etc/station-gateway/station.yaml" \
  > "$OUT/gateway.log" 2>&1
echo $? > "$OUT/gateway.rc"
set -e
t4=$(now); stamp gateway_run "$(span "$t3" "$t4")"
sleep 2
kill "$SUB"

# The drowning watch on the test clip with the real model.
set +e
chroot "$ROOT" "${ENVV[@]}" sh -c "cd /srv/pi-check/main && stationctl replay --config examples/pond-station.yaml $MEDIA" \
  > "$OUT/replay.jsonl" 2> "$OUT/replay.log"
echo $? > "$OUT/replay.rc"
set -e
t5=$(now); stamp replay "$(span "$t4" "$t5")"

# The core unit tests, against the installed package (the tree has tests, no sources).
set +e
chroot "$ROOT" "${ENVV[@]}" /opt/village-station-gateway/current/bin/pip install -q --no-index --find-links /srv/pi-check/test-wheels pytest hypothesis pytest-timeout > "$OUT/pytest-install.log" 2>&1
# shellcheck disable=SC2086
chroot "$ROOT" "${ENVV[@]}" sh -c "cd /srv/pi-check/main && /opt/village-station-gateway/current/bin/python -m pytest -q -p no:cacheprovider $TESTS" > "$OUT/pytest.log" 2>&1
echo $? > "$OUT/pytest.rc"
set -e
t6=$(now); stamp tests "$(span "$t5" "$t6")"

# The uninstaller leaves config and data.
chroot "$ROOT" "${ENVV[@]}" /srv/pi-check/bundle/install.sh --no-systemctl --uninstall > "$OUT/uninstall.log" 2>&1
ls -d "$ROOT/opt/village-station-gateway" "$ROOT/etc/station-gateway" "$ROOT/var/lib/station-gateway" > "$OUT/after-uninstall.txt" 2>&1 || true
kill "$BROKER" 2>/dev/null || true
