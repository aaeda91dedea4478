# hsn: one non-recursive Makefile.
#
#   make / make all   build build/bin/hsn-{gateway,cache,query,agent-bus,monitor}
#   make run          build, start redis + postgres + all services (Ctrl-C stops)
#   make test         unit and integration tests (starts its own redis/postgres)
#   make asan         the tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   make fuzz         libFuzzer on the protocol decoder and the HTTP head parser, bounded time
#   make bench        benchmark scenarios beside their peers (webdis, ...)
#   make clean
#
# Missing Debian packages are installed by deploy/install-deps.sh (apt-get as
# root, sudo otherwise), run once per build tree.

.DEFAULT_GOAL := all
SERVICES   := gateway cache query agent-bus monitor
BUILD      ?= build
SAN        ?=
CC         ?= cc
JSON_PKG   ?= yajl
PKGS       := libczmq libzmq hiredis msgpack libpq zlib $(JSON_PKG)
TEST_PKGS  := check libcurl

# pkg-config only answers once the -dev packages are there; the deps stamp
# below installs them before any compile runs.
PKG_CFLAGS  = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS    = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcivetweb -lpthread -lm
TEST_CFLAGS = $(shell pkg-config --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LIBS   = $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)

WARN   := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
          -Wpointer-arith -Wformat=2 -Wno-format-nonliteral -Wundef -Wvla \
          -Wno-unused-parameter
OPT    ?= -O2
CFLAGS_ALL = -std=gnu11 -g $(OPT) $(WARN) -D_GNU_SOURCE -Icommon -Iservices -I. \
             $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS_ALL = $(EXTRA_LDFLAGS)

ifeq ($(SAN),1)
  SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=undefined
  CFLAGS_ALL  += $(SANFLAGS)
  LDFLAGS_ALL += $(SANFLAGS)
  OPT := -O1
endif

DEPS_STAMP := $(BUILD)/.deps-ok

# ---- sources ------------------------------------------------------------
COMMON_SRC := $(wildcard common/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/obj/%.o)
LIBHSN     := $(BUILD)/lib/libhsn.a

# per service: every .c but main.c goes into a library tests can link
define service_rules
$(1)_SRC  := $$(filter-out services/$(1)/main.c,$$(wildcard services/$(1)/*.c))
$(1)_OBJ  := $$($(1)_SRC:%.c=$(BUILD)/obj/%.o)
$(1)_LIB  := $(BUILD)/lib/libhsn-$(1).a
$$($(1)_LIB): $$($(1)_OBJ)
	@mkdir -p $$(@D)
	@rm -f $$@
	$$(AR) rcs $$@ $$^
$(BUILD)/bin/hsn-$(1): $(BUILD)/obj/services/$(1)/main.o $$($(1)_LIB) $(LIBHSN)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS_ALL) -o $$@ $$^ $$(PKG_LIBS)
endef
$(foreach s,$(SERVICES),$(eval $(call service_rules,$(s))))

SERVICE_LIBS := $(foreach s,$(SERVICES),$($(s)_LIB))
BINS         := $(SERVICES:%=$(BUILD)/bin/hsn-%)

HARNESS_SRC := $(wildcard tests/harness/*.c)
HARNESS_OBJ := $(HARNESS_SRC:%.c=$(BUILD)/obj/%.o)
HARNESS_LIB := $(BUILD)/lib/libhsn-harness.a

TEST_SRC  := $(shell find tests -name 'test_*.c' 2>/dev/null | sort)
TEST_BINS := $(TEST_SRC:%.c=$(BUILD)/%)

.PHONY: all deps run test asan fuzz bench clean check-tests test-compose
# Keep objects of test binaries between runs.
.SECONDARY:
all: $(BINS)

deps: $(DEPS_STAMP)
$(DEPS_STAMP): deploy/install-deps.sh
	@mkdir -p $(@D)
	@sh deploy/install-deps.sh build
	@touch $@

$(BUILD)/obj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(if $(filter tests/%,$<),$(TEST_CFLAGS) -Itests/harness) -MMD -MP -c -o $@ $<

$(LIBHSN): $(COMMON_OBJ)
	@mkdir -p $(@D)
	@rm -f $@
	$(AR) rcs $@ $^

$(HARNESS_LIB): $(HARNESS_OBJ)
	@mkdir -p $(@D)
	@rm -f $@
	$(AR) rcs $@ $^

# Every test links the harness, every service library and libhsn; the linker
# pulls in only what the test uses.
$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(HARNESS_LIB) $(SERVICE_LIBS) $(LIBHSN)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(HARNESS_LIB) $(SERVICE_LIBS) $(LIBHSN) \
	    $(TEST_LIBS) $(PKG_LIBS)

check-tests: $(TEST_BINS) $(BINS)

# Tests need the runtime packages too (redis-server, postgresql).
test: $(TEST_BINS) $(BINS)
	@sh deploy/install-deps.sh test
	@sh deploy/k8s/check.sh
	@HSN_BIN_DIR=$(abspath $(BUILD)/bin) sh tests/run-tests.sh $(TEST_BINS)

asan:
	@$(MAKE) --no-print-directory BUILD=build/asan SAN=1 test

fuzz: | $(DEPS_STAMP)
	@sh tests/fuzz/run-fuzz.sh $(BUILD)/fuzz

bench: $(BINS)
	@sh deploy/install-deps.sh bench
	@HSN_BIN_DIR=$(abspath $(BUILD)/bin) sh bench/run-bench.sh

test-compose: all
	@sh deploy/test-compose.sh

run: $(BINS)
	@sh deploy/install-deps.sh run
	@HSN_BIN_DIR=$(abspath $(BUILD)/bin) sh deploy/run-local.sh

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
