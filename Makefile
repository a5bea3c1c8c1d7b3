# agentphone: place AI phone calls from SQL through the AgentPhone API.
# Built with PGXS; needs libcurl, cJSON and libphonenumber (C++).

EXTENSION = agentphone
MODULE_big = agentphone
OBJS = \
	src/access.o \
	src/agents.o \
	src/agentphone.o \
	src/api.o \
	src/cycle.o \
	src/dbguard.o \
	src/dispatch.o \
	src/events.o \
	src/functions.o \
	src/guc.o \
	src/http.o \
	src/numbers.o \
	src/phone.o \
	src/poll.o \
	src/read.o \
	src/reconcile.o \
	src/request.o \
	src/secret.o \
	src/session.o \
	src/shared.o \
	src/trigger.o \
	src/validate.o \
	src/window.o \
	src/worker.o \
	src/xact.o
# A new install runs 1.0 and the upgrade scripts after it.
DATA = sql/agentphone--1.0.sql sql/agentphone--1.0--1.1.sql sql/agentphone--1.1--1.2.sql sql/agentphone--1.2--1.3.sql sql/agentphone--1.3--1.4.sql
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

# pg_regress tests (sql/ + expected/); test/run.sh runs them against a throwaway
# cluster preloaded with agentphone and pointed at the simulator.
REGRESS = validation enqueue dialing trigger

# TAP tests in test/t, each starting its own cluster and simulator.
TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl
PROVE_FLAGS = -I test/t -v

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
