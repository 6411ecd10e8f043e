# mk/normalize.mk - the normalizer's lookup tables, generated from ICU data.
#
# gen_normtab runs on the build host (plain cc, no sanitizers even in the asan
# and fuzz builds) and writes $(BUILD)/gen/normtab.h, which only
# engine/normalize.c includes.  It is listed in GEN_HDRS so no object is
# compiled before it exists.

HOSTCC       ?= cc
NORMGEN      := $(BUILD)/gen/gen_normtab
NORMTAB      := $(BUILD)/gen/normtab.h
NORMGEN_LIBS  = $(shell pkg-config --libs icu-uc icu-i18n)
NORMGEN_CFLAGS = $(shell pkg-config --cflags icu-uc icu-i18n)

$(NORMGEN): engine/gen/gen_normtab.c engine/normalize.h engine/utf8.h | $(BUILD)/gen
	$(HOSTCC) -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Iengine $(NORMGEN_CFLAGS) \
	  -o $@ $< $(NORMGEN_LIBS)

$(NORMTAB): $(NORMGEN)
	$(NORMGEN) $@.tmp && mv $@.tmp $@

GEN_HDRS += $(NORMTAB)
