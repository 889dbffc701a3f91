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

PURE_SRCS   = src/fjson.c src/template.c src/condition.c src/blueprint.c src/pace.c \
              src/catalog.c src/catalog_json.c src/httpmsg.c src/toolkit.c src/service_limits.c \
              src/engine.c src/cron.c src/intent.c src/draft.c src/netguard.c \
              src/wav.c src/grammar.c src/suggest.c \
              $(wildcard src/tools/*.c)
PG_SRCS     = src/flowdb.c src/api.c src/http.c src/worker.c src/store.c src/dispatch.c src/webhook.c \
              src/intent_api.c src/regex_pg.c src/draft_sql.c \
              src/speech.c src/sphinx.c src/schedule_tz.c
OBJS        = $(PURE_SRCS:.c=.o) $(PG_SRCS:.c=.o)

PG_CPPFLAGS = -I$(srcdir)/src
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

# pg_regress (sql/ + expected/) against a running server with flowdb preloaded
REGRESS      = $(patsubst sql/%.sql,%,$(sort $(filter-out sql/flowdb--%,$(wildcard sql/*.sql))))
REGRESS_OPTS = --inputdir=. --load-extension=flowdb
# TAP tests start their own clusters (PostgreSQL::Test::Cluster)
TAP_TESTS    = 1
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

# The two halves of PGXS installcheck, run separately by scripts/test.sh.
installcheck-regress:
	$(pg_regress_installcheck) $(REGRESS_OPTS) $(REGRESS)

installcheck-tap:
	$(prove_installcheck)

# PGXS does not track header dependencies: rebuild when any header changes.
$(OBJS): $(wildcard src/*.h)
