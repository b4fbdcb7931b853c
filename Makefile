# Two commands (README, Quick start):
#   make demo   install what is missing, build, run examples/quickstart (run.sh)
#   make test   install what is missing, build twice (plain and ASan+UBSan),
#               run the whole suite both ways; last line: "N passed, N failed"
# Both are idempotent and work as root on a fresh Debian 12 machine.
# Installing (README, Install):
#   make install [PREFIX=/usr/local] [DESTDIR=D]   meson install of a build for PREFIX
#   make deb       backplane_VERSION_ARCH.deb (dpkg -i it; systemctl enable --now backplane@SITE)

BUILD      ?= build
BUILD_ASAN ?= build-asan
# Debian packages the build and the suite need (checked one by one, installed
# only when missing, so a second run touches nothing).
DEB_PKGS = gcc libc6-dev make meson ninja-build pkg-config python3 \
           libcjson-dev libyaml-dev libsqlite3-dev libpq-dev libjemalloc-dev sqlite3 \
           librdkafka-dev kcat \
           libcurl4-openssl-dev libmicrohttpd-dev libgnutls28-dev libxml2-dev libssl-dev openssl \
           libgmime-3.0-dev libpoppler-glib-dev libcairo2-dev \
           libtesseract-dev tesseract-ocr-eng tesseract-ocr-deu tesseract-ocr-fra tesseract-ocr-nld \
           dovecot-imapd python3-aiosmtpd ghostscript groff-base curl chromium \
           libsystemd-dev systemd lintian man-db fakeroot \
           unixodbc unixodbc-dev libsqliteodbc odbc-postgresql postgresql-15 postgresql-client-15
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test deps build build-asan clean fuzz install deb

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@# node + npm for the SOAP tests' node-soap server (npm packages go into the build tree).
	@# A nodesource nodejs brings its own npm; otherwise Debian's nodejs and npm.
	@# promtool (issue 22: `promtool check metrics` in the suite) out of the prometheus .deb,
	@# never installed (that would start a server): cached in the build tree.
	@tools/get-promtool.sh $(BUILD)/promtool >/dev/null || echo "promtool not available: e2e-admin skips its check"
	@command -v npm >/dev/null || { $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm; }

# The suite's builds are configured for /usr, as a Debian package is: the
# deb test packages and installs the build it runs in (tests/e2e/deb.sh). A
# build directory set up before with another prefix is moved to /usr once.
$(BUILD)/build.ninja:
	meson setup $(BUILD) --prefix=/usr

$(BUILD_ASAN)/build.ninja:
	meson setup $(BUILD_ASAN) --prefix=/usr -Db_sanitize=address,undefined

prefix_of = $(shell meson introspect --buildoptions $(1) 2>/dev/null | \
  python3 -c "import json,sys; print(next(o['value'] for o in json.load(sys.stdin) if o['name'] == 'prefix'))" 2>/dev/null)

build: deps $(BUILD)/build.ninja
	@[ "$(call prefix_of,$(BUILD))" = /usr ] || meson setup --wipe $(BUILD) --prefix=/usr
	ninja -C $(BUILD)

build-asan: deps $(BUILD_ASAN)/build.ninja
	@[ "$(call prefix_of,$(BUILD_ASAN))" = /usr ] || \
	  meson setup --wipe $(BUILD_ASAN) --prefix=/usr -Db_sanitize=address,undefined
	ninja -C $(BUILD_ASAN)

# make install: the CLI, libbackplane, the plugins, the SDK headers and
# backplane.pc, the models, man pages, bash completion and the systemd unit,
# under PREFIX (staged below DESTDIR when given), from a build directory of
# its own configured for PREFIX. The system user and directories come with
# the package (make deb); see README, Install.
PREFIX        ?= /usr/local
DESTDIR       ?=
BUILD_INSTALL ?= build-install
install: deps
	@# (--wipe on another prefix: meson derives sysconfdir and localstatedir
	@# from the prefix only at setup, /usr -> /etc and /var)
	@if [ ! -f $(BUILD_INSTALL)/build.ninja ]; then meson setup $(BUILD_INSTALL) --prefix=$(PREFIX); \
	elif [ "$(call prefix_of,$(BUILD_INSTALL))" != "$(PREFIX)" ]; then \
	  meson setup --wipe $(BUILD_INSTALL) --prefix=$(PREFIX); fi
	ninja -C $(BUILD_INSTALL)
	meson install -C $(BUILD_INSTALL) --no-rebuild $(if $(DESTDIR),--destdir $(DESTDIR))

# make deb: backplane_VERSION_ARCH.deb (with libbackplane0_... and
# libbackplane-dev_..., the library and the SDK) in this directory, from a staged
# install of the /usr build (dist/make-deb.sh: dpkg-deb, dpkg-shlibdeps,
# lintian without errors).
deb: build
	@dist/make-deb.sh $(BUILD) .

demo: build
	@examples/quickstart/run.sh $(BUILD)

# The same story against real servers (Dovecot, PostgreSQL, Kafka broker, node-soap CRM); root.
.PHONY: demo-back-office
demo-back-office: build
	@examples/back-office/run.sh $(BUILD)

test: build build-asan
	@rc=0; \
	meson test -C $(BUILD) --no-rebuild --print-errorlogs --num-processes 2 >$(BUILD)/test-output.txt 2>&1 || rc=1; \
	tail -n 12 $(BUILD)/test-output.txt; \
	meson test -C $(BUILD_ASAN) --no-rebuild --print-errorlogs --num-processes 2 >$(BUILD_ASAN)/test-output.txt 2>&1 || rc=1; \
	tail -n 12 $(BUILD_ASAN)/test-output.txt; \
	python3 tests/summary.py $(BUILD)/meson-logs/testlog.json:plain $(BUILD_ASAN)/meson-logs/testlog.json:asan || rc=1; \
	exit $$rc

# libFuzzer targets (clang): make fuzz FUZZ_SECONDS=60. Every target in
# tests/fuzz, one at a time; a crash, leak, timeout (> 10 s for one input) or
# more than 2 GiB fails the run and leaves the input in build-fuzz/artifacts-NAME/.
# The gate before a release (issue 16 #9): FUZZ_SECONDS=600.
FUZZ_SECONDS ?= 30
FUZZ_TARGETS = envelope_json site predicate soap_reply mime model normalize audit_verify pdf_text
# Per-target flags, TARGET:FLAG: PDF text reads at most 64 KiB (its page
# budget and the timeout bound the rest; tests/fuzz/fuzz_pdf_text.c).
FUZZ_ARGS = pdf_text:-max_len=65536
fuzz: deps
	@command -v clang >/dev/null || $(SUDO) apt-get install -y -qq clang
	[ -f build-fuzz/build.ninja ] || CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false
	ninja -C build-fuzz
	for t in $(FUZZ_TARGETS); do \
	  mkdir -p build-fuzz/corpus-$$t build-fuzz/artifacts-$$t && cp tests/fuzz/corpus/$$t/* build-fuzz/corpus-$$t/; \
	  extra=$$(for a in $(FUZZ_ARGS); do case $$a in $$t:*) echo "$${a#*:}";; esac; done); \
	  build-fuzz/tests/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    $$extra \
	    -artifact_prefix=build-fuzz/artifacts-$$t/ build-fuzz/corpus-$$t || exit 1; \
	done

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_INSTALL) build-fuzz examples/quickstart/out backplane_*.deb libbackplane0_*.deb libbackplane-dev_*.deb
