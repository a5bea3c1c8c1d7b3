# agentphone: place AI phone calls from SQL through the AgentPhone API.
# Built with PGXS; needs libcurl, cJSON and libphonenumber (C++).

EXTENSION = agentphone
MODULE_big = agentphone
OBJS = \
	src/access.o \
	src/agentphone.o \
	src/agents.o \
	src/api.o \
	src/apidecode.o \
	src/apisse.o \
	src/callanswer.o \
	src/callstatus.o \
	src/callstore.o \
	src/channel.o \
	src/client.o \
	src/control.o \
	src/cycle.o \
	src/dbguard.o \
	src/dialrules.o \
	src/dispatch.o \
	src/donotcall.o \
	src/enqueue.o \
	src/events.o \
	src/fairshare.o \
	src/functions.o \
	src/granthook.o \
	src/grants.o \
	src/guc.o \
	src/gucchecks.o \
	src/home.o \
	src/housekeeping.o \
	src/http.o \
	src/httpreq.o \
	src/launcher.o \
	src/numbers.o \
	src/outage.o \
	src/outcome.o \
	src/pacing.o \
	src/phone.o \
	src/poll.o \
	src/quota.o \
	src/read.o \
	src/reconcile.o \
	src/request.o \
	src/schema.o \
	src/secret.o \
	src/session.o \
	src/shared.o \
	src/slots.o \
	src/status.o \
	src/stream.o \
	src/tables.o \
	src/task.o \
	src/tending.o \
	src/trigger.o \
	src/validate.o \
	src/wake.o \
	src/window.o \
	src/windowspec.o \
	src/worker.o \
	src/workerclaim.o \
	src/workerdb.o \
	src/workerrecord.o \
	src/workerslot.o \
	src/xact.o
# A new install runs agentphone--1.10.sql, the whole current schema
# (tools/current_schema.sh writes it from the chain); an installed release
# updates through the upgrade scripts.
DATA = sql/agentphone--1.0.sql sql/agentphone--1.0--1.1.sql sql/agentphone--1.1--1.2.sql sql/agentphone--1.2--1.3.sql sql/agentphone--1.3--1.4.sql sql/agentphone--1.4--1.5.sql sql/agentphone--1.5--1.6.sql sql/agentphone--1.6--1.7.sql sql/agentphone--1.7--1.8.sql sql/agentphone--1.8--1.9.sql sql/agentphone--1.9--1.10.sql sql/agentphone--1.10.sql
PGFILEDESC = "agentphone - place AI phone calls from SQL"

SHLIB_LINK = -lcurl -lcjson -lphonenumber -lstdc++
# The numbering metadata is compiled into libphonenumber: its version says
# how current agentphone_check_number() is.
PHONENUMBER_VERSION := $(shell dpkg-query -W -f='$${Version}' libphonenumber-dev 2>/dev/null | sed 's/[+~-].*//')
# Server headers are system headers: their own -Wextra warnings are not ours.
PG_CPPFLAGS = -Isrc -isystem $(includedir_server) -isystem $(includedir_internal) \
	-DAGENTPHONE_PHONENUMBER_VERSION='"$(or $(PHONENUMBER_VERSION),unknown)"'
PG_CFLAGS = -Wall -Wextra -Werror
PG_CXXFLAGS = -Wall -Wextra -Werror

# The tests: pg_regress, then the isolation specs, then the TAP tests.
# They provision what they need: "make installcheck" (agentphone installed)
# runs test/installcheck.sh, which starts a simulator and a throwaway
# cluster preloaded with agentphone, runs the three parts against them
# (pg_regress and the specs in database postgres, the specs with the worker
# paused: their sessions play the worker's claim; each TAP test starts its
# own) and stops them.  "make check" needs nothing installed: it copies
# PostgreSQL's files and installs this build into the copy, under a
# temporary directory, and runs the same (test/check.sh).  Both work as
# root (the servers then run as the postgres OS user) or as any user.
# "make installcheck-server" is PGXS's own installcheck, against the server
# EXTRA_REGRESS_OPTS (--host, --port) or PGHOST and PGPORT name; "make
# installcheck" runs it when a port is named so (pg_buildext does).
NO_INSTALLCHECK = 1
#
# pg_regress tests (sql/ + expected/)
REGRESS = validation enqueue dialing trigger comments
REGRESS_OPTS = --use-existing

# isolation specs (test/isolation/specs + expected)
ISOLATION = cap-concurrent claim-concurrent claim-rollback claim-sweep
ISOLATION_OPTS = --inputdir=test/isolation --use-existing

# TAP tests in test/t, each starting its own cluster and simulator, run by
# prove (PROVE_TESTS picks some; PROVE_FLAGS, below, has -v: every test's
# result is shown).
TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

# agentphone.so exports only what PostgreSQL looks up in it: the SQL
# functions (PG_FUNCTION_INFO_V1) and their pg_finfo_ records, _PG_init,
# Pg_magic_func and the background workers' entry points.  Every other
# symbol is local: PostgreSQL loads modules with RTLD_GLOBAL, so an
# exported helper could bind to another library's symbol of the same name.
# The linker's version script is made from the sources
# (test/t/039_exports.pl lists the library's dynamic symbols).
EXPORTS = agentphone.exports
SHLIB_LINK += -Wl,--version-script=$(EXPORTS)
EXTRA_CLEAN = $(EXPORTS)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
ifeq ($(MAKECMDGOALS),check)
# PGXS's "make check" says it is not supported: "make check" alone builds
# (through PGXS, in a sub-make) and runs test/check.sh, reading no more of
# this file.
.PHONY: check
check:
	$(MAKE) PG_CONFIG=$(PG_CONFIG) all
	PG_CONFIG=$(PG_CONFIG) bash test/check.sh
else
include $(PGXS)

$(EXPORTS): $(wildcard src/*.c)
	{ echo '{ global: _PG_init; Pg_magic_func; agentphone_launcher_main; agentphone_worker_main;'; \
	  sed -n 's/^PG_FUNCTION_INFO_V1(\([a-z_0-9]*\));$$/\1; pg_finfo_\1;/p' $^; \
	  echo 'local: *; };'; } > $@
$(shlib): $(EXPORTS)

# (after PGXS, which sets these) pg_regress and the specs use database
# postgres, the worker's (--use-existing: it is not created); prove finds
# AgentphoneTest.pm in test/t
CONTRIB_TESTDB = postgres
ISOLATION_TESTDB = postgres
PROVE_FLAGS = -I test/t -v

ifneq ($(filter --port=%,$(EXTRA_REGRESS_OPTS))$(PGPORT),)
installcheck: installcheck-server
else
installcheck:
	bash test/installcheck.sh
endif

# PGXS's recipe (the one NO_INSTALLCHECK leaves out), against the server
# EXTRA_REGRESS_OPTS names
.PHONY: installcheck-server
installcheck-server: submake installcheck-refuses-real-api
ifdef REGRESS
	$(pg_regress_installcheck) $(REGRESS_OPTS) $(REGRESS)
endif
ifdef ISOLATION
	$(pg_isolation_regress_installcheck) $(ISOLATION_OPTS) $(ISOLATION)
endif
ifdef TAP_TESTS
	$(prove_installcheck)
endif

# pg_regress and the specs queue calls that the server's worker places:
# they run only against a server whose agentphone.api_url is a simulator
# on this machine (http://127.0.0.1, localhost or [::1]), never a real
# API.  The server is the one pg_regress would use (EXTRA_REGRESS_OPTS,
# PGHOST, PGPORT).
.PHONY: installcheck-refuses-real-api
installcheck-refuses-real-api:
ifneq ($(strip $(REGRESS)$(ISOLATION)),)
	@url=$$($(bindir)/psql -X -A -t -q $(filter --host=% --port=% --user=%,$(EXTRA_REGRESS_OPTS)) -d postgres \
		-c "SELECT coalesce(current_setting('agentphone.api_url', true), '')" 2>&1) || \
		{ echo "make installcheck: cannot ask the server for agentphone.api_url: $$url" >&2; exit 1; }; \
	case "$$url" in \
	http://127.0.0.1:*|http://127.0.0.1/*|http://localhost:*|http://localhost/*|http://\[::1\]:*) ;; \
	*) echo "make installcheck: refused: the server's agentphone.api_url is \"$$url\", not a simulator on this machine; the tests queue calls that its worker would place. Run \"make installcheck\" without naming a server: it starts its own server and simulator." >&2; exit 1 ;; \
	esac
endif

# "make dist": the archive PGXN expects, agentphone-<version>.zip with
# everything under agentphone-<version>/.  In a git checkout it is the
# committed tree (git archive: what is not committed is not released);
# in an unpacked archive or an export, the tree without build products.
# The version is META.json's, which tools/meta_check.py keeps equal to the
# control file's.
DIST_VERSION = $(shell sed -n 's/^   "version": "\(.*\)",$$/\1/p' META.json)
DIST = $(EXTENSION)-$(DIST_VERSION)
.PHONY: dist
dist:
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		git archive --format zip --prefix=$(DIST)/ -o $(DIST).zip HEAD; \
	else \
		tmp=$$(mktemp -d) && mkdir "$$tmp/$(DIST)" && \
		tar --exclude='*.o' --exclude='*.so' --exclude='*.bc' --exclude='*.zip' \
			--exclude=results --exclude=tmp_check --exclude=log --exclude=output_iso \
			--exclude=regression.diffs --exclude=regression.out --exclude=__pycache__ \
			-cf - . | tar -xf - -C "$$tmp/$(DIST)" && \
		(cd "$$tmp" && python3 -m zipfile -c "$(CURDIR)/$(DIST).zip" $(DIST)) && rm -rf "$$tmp"; \
	fi
endif
