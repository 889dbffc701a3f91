# flowdb: PGXS build.  `make demo` and `make test` are the two entry points
# documented in README.md; both work as root on a fresh Debian machine.

EXTENSION   = flowdb
MODULE_big  = flowdb
EXTVERSION  = 0.2.0
# Install scripts and upgrade scripts (sql/flowdb--*.sql): the current
# version's full script, the previous one (kept so that ALTER EXTENSION
# UPDATE can be tested from it) and the update path between them.
DATA        = $(sort $(wildcard sql/flowdb--*.sql))
PG_CONFIG  ?= pg_config

# EXTVERSION is the one version number: flowdb.control's default_version
# (what CREATE EXTENSION / ALTER EXTENSION UPDATE install) must say the
# same, and it needs its install script.  Both are checked before anything
# is built.  The library is compiled with it (-DFLOWDB_VERSION): the worker
# idles while the installed extension is another version (src/version.c).
TOP := $(dir $(firstword $(MAKEFILE_LIST)))
CONTROL_VERSION := $(shell sed -n "s/^default_version *= *'\([^']*\)'.*/\1/p" $(TOP)flowdb.control)
ifneq ($(EXTVERSION),$(CONTROL_VERSION))
$(error EXTVERSION ($(EXTVERSION)) in the Makefile and default_version ($(CONTROL_VERSION)) in flowdb.control differ: make them the same)
endif
ifeq ($(wildcard $(TOP)sql/flowdb--$(EXTVERSION).sql),)
$(error sql/flowdb--$(EXTVERSION).sql (the install script of EXTVERSION) is missing)
endif

PURE_SRCS   = src/fjson.c src/template.c src/condition.c src/blueprint.c src/pace.c \
              src/catalog.c src/catalog_json.c src/httpmsg.c src/toolkit.c src/service_limits.c \
              src/engine.c src/map_parts.c src/cron.c src/intent.c src/draft.c src/netguard.c \
              src/wav.c src/grammar.c src/suggest.c \
              $(wildcard src/tools/*.c)
PG_SRCS     = src/flowdb.c src/launcher.c src/api.c src/http.c src/worker.c src/store.c src/dispatch.c src/version.c src/webhook.c \
              src/intent_api.c src/regex_pg.c src/draft_sql.c \
              src/speech.c src/sphinx.c src/worker_settings.c src/schedule_tz.c \
              src/table_shape.c
OBJS        = $(PURE_SRCS:.c=.o) $(PG_SRCS:.c=.o)

PG_CPPFLAGS = -I$(srcdir)/src -DFLOWDB_VERSION='"$(EXTVERSION)"'
PG_CFLAGS   = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
# Export only what PostgreSQL looks up (src/flowdb.h): every other name
# stays inside flowdb.so and cannot clash with other preloaded libraries.
# PG 15 leaves PGDLLEXPORT empty on ELF platforms; c.h keeps this one.
PG_CFLAGS  += -fvisibility=hidden
PG_CPPFLAGS += '-DPGDLLEXPORT=__attribute__((visibility("default")))'
SHLIB_LINK  = -lcurl -lcjson

# Offline speech (docs/speech.md): with pocketsphinx when pkg-config finds it
# (Debian: libpocketsphinx-dev, pocketsphinx-en-us); WITHOUT_POCKETSPHINX=1
# builds without it, and flowdb.transcribe_offline then raises 0A000.
ifeq ($(WITHOUT_POCKETSPHINX),)
HAVE_POCKETSPHINX := $(shell pkg-config --exists pocketsphinx 2>/dev/null && echo yes)
endif
ifeq ($(HAVE_POCKETSPHINX),yes)
PG_CPPFLAGS += -DHAVE_POCKETSPHINX \
               $(patsubst -I%,-isystem %,$(shell pkg-config --cflags pocketsphinx)) \
               -DFLOWDB_PS_MODELDIR='"$(shell pkg-config --variable=modeldir pocketsphinx)"'
SHLIB_LINK  += $(shell pkg-config --libs pocketsphinx)
endif

# pg_regress (sql/ + expected/).  `make installcheck` starts its own
# temporary instance (pg_regress --temp-instance, settings in
# test/regress.conf: flowdb preloaded, no workers), so it needs the
# extension installed but no running server; as root it runs as postgres
# from a copy (PostgreSQL refuses to run as root) and copies its results/
# back (scripts/regress_checks.py reads them).  `make
# installcheck-regress` runs the same suite against a running server
# (PGHOST/PGPORT/PGUSER, flowdb preloaded).  The TAP tests are
# `make installcheck-tap`; `make test` runs every suite.
REGRESS      = $(patsubst sql/%.sql,%,$(sort $(filter-out sql/flowdb--%,$(wildcard sql/*.sql))))
REGRESS_OPTS = --inputdir=. --load-extension=flowdb
NO_INSTALLCHECK = 1
EXTRA_CLEAN  = tmp_check/ tmp_check_regress/
# TAP tests start their own clusters (PostgreSQL::Test::Cluster)
PROVE_TESTS  = test/t/*.pl

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# after the include: Makefile.global resets PROVE_FLAGS
PROVE_FLAGS  = -I $(CURDIR)/test/t

.PHONY: deps unit demo test bench-smoke bench check-symbols

# Install Debian packages the build and tests need (root, non-interactive).
deps:
	@bash scripts/deps.sh

# flowdb.so exports only what PostgreSQL looks up (scripts/check_symbols.sh).
check-symbols: all
	@bash scripts/check_symbols.sh $(shlib) $(DATA)

# C unit tests of the pure modules, under valgrind.
unit:
	$(MAKE) -C test/unit run

demo: deps
	@bash scripts/demo.sh

test: deps
	@bash scripts/test.sh

bench-smoke:
	@bash bench/run.sh --smoke

bench:
	@bash bench/run.sh

# The regression suite on a temporary instance (see REGRESS above).
# pg_regress_installcheck's own command starts with an echo: spelled out
# here so that runuser applies to pg_regress itself.
FLOWDB_PG_REGRESS = $(top_builddir)/src/test/regress/pg_regress --bindir='$(bindir)' \
	$(pg_regress_locale_flags) $(EXTRA_REGRESS_OPTS)
installcheck:
	@if [ "$$(id -u)" -ne 0 ]; then \
		$(FLOWDB_PG_REGRESS) $(REGRESS_OPTS) \
			--temp-instance=./tmp_check_regress --temp-config=test/regress.conf $(REGRESS); \
	else \
		command -v runuser >/dev/null && id postgres >/dev/null 2>&1 || \
			{ echo "installcheck: as root, it needs runuser and an OS user postgres (PostgreSQL refuses to run as root)"; exit 1; }; \
		d=$$(mktemp -d /tmp/flowdb-installcheck.XXXXXX) && \
		cp -r sql expected test/regress.conf "$$d/" && chown -R postgres: "$$d" && \
		echo "installcheck: running as postgres in $$d" && \
		runuser -u postgres -- $(FLOWDB_PG_REGRESS) $(REGRESS_OPTS) --inputdir="$$d" --outputdir="$$d" \
			--temp-instance="$$d/tmp_check" --temp-config="$$d/regress.conf" $(REGRESS); \
		rc=$$?; \
		rm -rf results && cp -r "$$d/results" . 2>/dev/null; \
		if [ $$rc -eq 0 ]; then rm -rf "$$d"; else cp "$$d/regression.diffs" . 2>/dev/null; \
			echo "installcheck: results kept in $$d (regression.diffs copied here)"; fi; \
		exit $$rc; \
	fi

# The regression suite against a running server with flowdb preloaded.
installcheck-regress:
	$(pg_regress_installcheck) $(REGRESS_OPTS) $(REGRESS)

# The TAP tests (each starts its own clusters and fake servers).
installcheck-tap:
	$(prove_installcheck)

# the library embeds EXTVERSION
src/version.o: Makefile flowdb.control

# PGXS does not track header dependencies: rebuild when any header changes.
$(OBJS): $(wildcard src/*.h)
