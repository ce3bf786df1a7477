# annlua: build, test, install.  `make` builds the core library, the Lua
# module and the annlua interpreter into $(B)/ (build/ by default).
# LuaRocks passes CFLAGS, LIBFLAG, LUA_INCDIR, LUA_LIBDIR and the INST_*
# directories (see annlua-*.rockspec).  Targets:
#   all      libannlua.a/.so, include/ann.h, lua/annlua/core.so, bin/annlua
#   test     C tests and busted specs, one closing "N passed, N failed" line
#   ctest    the C tests only         bench   bench/*.c and bench/*.lua
#   run      the main job (spiral)           deps    missing Debian packages
#   install  PREFIX=/usr/local (DESTDIR too)         clean

LUA        ?= lua5.4
LUA_INCDIR ?= /usr/include/lua5.4
MULTIARCH  := $(shell $(CC) -print-multiarch 2>/dev/null)
LUA_LIBDIR ?= /usr/lib/$(MULTIARCH)
# the interpreter links Lua statically; point LUA_STATIC elsewhere if needed
LUA_STATIC ?= $(firstword $(wildcard $(LUA_LIBDIR)/liblua5.4.a \
  $(LUA_LIBDIR)/liblua.a /usr/lib/$(MULTIARCH)/liblua5.4.a \
  /usr/local/lib/liblua5.4.a /usr/local/lib/liblua.a))
# line editing in the REPL when readline's header is there (READLINE=0: off)
READLINE   ?= $(if $(wildcard /usr/include/readline/readline.h),1,0)

CC        ?= cc
CFLAGS    ?= -O2 -g
LIBFLAG   ?= -shared
LIBS      = -lpng -lz -lm -ldl -lpthread
# kept apart from CFLAGS so that a CFLAGS given by LuaRocks or on the
# command line does not drop them.  No code reads errno after a math
# call, and without errno sqrtf is one vector instruction in loops.
ANN_CFLAGS = $(CFLAGS) $(CPPFLAGS) -Wall -Wextra -std=c11 -fPIC \
  -fno-math-errno -D_GNU_SOURCE -Isrc -I$(LUA_INCDIR)

B = build
CORE_SRC  = $(wildcard src/ann_*.c)
CORE_OBJ  = $(CORE_SRC:src/%.c=$(B)/obj/%.o)
BIND_SRC  = $(filter-out src/linit.c,$(wildcard src/l*.c))
BIND_OBJ  = $(BIND_SRC:src/%.c=$(B)/obj/%.o)
LUA_SRC   = $(sort $(wildcard lua/annlua/*.lua lua/annlua/*/*.lua))
CTEST_SRC = $(wildcard spec/c/test_*.c)
CTEST_BIN = $(CTEST_SRC:spec/c/%.c=$(B)/test/%)
BENCH_SRC = $(wildcard bench/*.c)
BENCH_BIN = $(BENCH_SRC:bench/%.c=$(B)/bench/%)

ifeq ($(READLINE),1)
RL_CFLAGS = -DANNLUA_READLINE
RL_LIBS   = -lreadline
endif

# `make deps all`, even with -j: nothing is compiled before deps are in
ifneq ($(filter deps,$(MAKECMDGOALS)),)
DEPS_FIRST = deps
endif

PREFIX       ?= /usr/local
INST_PREFIX  ?= $(PREFIX)
INST_BINDIR  ?= $(INST_PREFIX)/bin
INST_LIBDIR  ?= $(INST_PREFIX)/lib/lua/5.4
INST_LUADIR  ?= $(INST_PREFIX)/share/lua/5.4
INST_CLIBDIR ?= $(INST_PREFIX)/lib
INST_INCDIR  ?= $(INST_PREFIX)/include

all: $(B)/lib/libannlua.a $(B)/lib/libannlua.so $(B)/include/ann.h \
     $(B)/lua/annlua/core.so $(B)/bin/annlua

.DELETE_ON_ERROR:

$(B)/obj/%.o: src/%.c src/ann.h src/ann_impl.h src/lann.h src/annlua.h \
              | $(DEPS_FIRST)
	@mkdir -p $(dir $@)
	$(CC) $(ANN_CFLAGS) -MMD -MP -c $< -o $@

$(B)/lib/libannlua.a: $(CORE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

# -z nodelete: dlclose (lua_close of a state that required the module)
# must not unmap the code the compute threads of ann_pool.c sleep in
$(B)/lib/libannlua.so: $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LIBFLAG) $(LDFLAGS) -Wl,-z,nodelete -o $@ $^ $(LIBS)

$(B)/include/ann.h: src/ann.h
	@mkdir -p $(dir $@)
	cp $< $@

$(B)/lua/annlua/core.so: $(BIND_OBJ) $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LIBFLAG) $(LDFLAGS) -Wl,-z,nodelete -o $@ $^ $(LIBS)

# ---- the interpreter: Lua linked in whole (-Wl,-E exports its API to C
# rocks, so every lua_*/luaL_* function must be there), the core, the
# bindings, and the Lua sources embedded by tools/embed.c
$(B)/tools/embed: tools/embed.c | $(DEPS_FIRST)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wall -Wextra -std=c11 -o $@ $<

# lua/annlua and lua/annlua/* as prerequisites: adding or removing a file
# changes the directory's time and so regenerates the list
$(B)/gen/annlua_embed.c: $(B)/tools/embed $(LUA_SRC) lua/annlua \
                         $(wildcard lua/annlua/*/)
	@mkdir -p $(dir $@)
	$(B)/tools/embed $@ lua/ $(LUA_SRC)

$(B)/obj/annlua_embed.o: $(B)/gen/annlua_embed.c
	@mkdir -p $(dir $@)
	$(CC) $(ANN_CFLAGS) -c $< -o $@

$(B)/obj/annlua.o: ANN_CFLAGS += $(RL_CFLAGS)

$(B)/bin/annlua: $(B)/obj/annlua.o $(B)/obj/linit.o $(B)/obj/annlua_embed.o \
                 $(BIND_OBJ) $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(if $(LUA_STATIC),,$(error no static Lua library (liblua5.4.a) found: \
	  install liblua5.4-dev or set LUA_STATIC=/path/to/liblua.a))
	$(CC) $(LDFLAGS) -Wl,-E -o $@ $(filter %.o,$^) \
	  -Wl,--whole-archive $(LUA_STATIC) -Wl,--no-whole-archive \
	  $(RL_LIBS) $(LIBS)

# ---- tests and benchmarks
$(B)/test/%: spec/c/%.c spec/c/test.h $(B)/lib/libannlua.a | $(DEPS_FIRST)
	@mkdir -p $(dir $@)
	$(CC) $(ANN_CFLAGS) -o $@ $< $(B)/lib/libannlua.a $(LIBS)

# a host embedding Lua with annlua (spec/c/test_host.c): the interpreter's
# objects but its main, and static Lua
$(B)/test/test_host: spec/c/test_host.c spec/c/test.h $(B)/obj/linit.o \
                     $(B)/obj/annlua_embed.o $(BIND_OBJ) $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ANN_CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) \
	  $(LUA_STATIC) $(LIBS)

test: all $(CTEST_BIN)
	@B=$(B) LUA=$(LUA) sh spec/run

ctest: $(CTEST_BIN)
	@for t in $(CTEST_BIN); do echo "== $$t"; $$t || exit 1; done

$(B)/bench/%: bench/%.c $(B)/lib/libannlua.a | $(DEPS_FIRST)
	@mkdir -p $(dir $@)
	$(CC) $(ANN_CFLAGS) -o $@ $< $(B)/lib/libannlua.a $(LIBS)

bench: $(B)/bin/annlua $(BENCH_BIN)
	@for b in $(BENCH_BIN); do echo "== $$b"; $$b || exit 1; done
	@for b in $(wildcard bench/*.lua); do \
	  echo "== $$b"; $(B)/bin/annlua $$b || exit 1; done
	@# PyTorch on the same workloads, when a python3 has it (optional)
	@for p in python3 /usr/bin/python3; do \
	  if $$p -c 'import torch' 2>/dev/null; then \
	    $$p bench/torch_compare.py; break; fi; done

# the README's main command: a network learns the Playground's spiral,
# drawn in the terminal and written to playground.png
run: $(B)/bin/annlua
	$(B)/bin/annlua examples/playground.lua --dataset spiral \
	  --features x1,x2,sin --layers 8,8

deps:
	sh tools/deps.sh

# ---- install: `install-lua` is what the rock needs (interpreter, C module,
# Lua sources); `install` adds the C library and header for C programs
install: install-lua install-dev

install-lua: all
	install -d $(DESTDIR)$(INST_BINDIR) $(DESTDIR)$(INST_LIBDIR)/annlua \
	  $(DESTDIR)$(INST_LUADIR)/annlua
	install -m 755 $(B)/bin/annlua $(DESTDIR)$(INST_BINDIR)/annlua
	install -m 755 $(B)/lua/annlua/core.so $(DESTDIR)$(INST_LIBDIR)/annlua/core.so
	for f in $(LUA_SRC:lua/%=%); do \
	  install -d $(DESTDIR)$(INST_LUADIR)/$$(dirname $$f) && \
	  install -m 644 lua/$$f $(DESTDIR)$(INST_LUADIR)/$$f || exit 1; done

install-dev: all
	install -d $(DESTDIR)$(INST_CLIBDIR) $(DESTDIR)$(INST_INCDIR)
	install -m 644 $(B)/lib/libannlua.a $(DESTDIR)$(INST_CLIBDIR)/libannlua.a
	install -m 755 $(B)/lib/libannlua.so $(DESTDIR)$(INST_CLIBDIR)/libannlua.so
	install -m 644 src/ann.h $(DESTDIR)$(INST_INCDIR)/ann.h

uninstall:
	rm -f $(DESTDIR)$(INST_BINDIR)/annlua \
	  $(DESTDIR)$(INST_LIBDIR)/annlua/core.so \
	  $(DESTDIR)$(INST_CLIBDIR)/libannlua.a \
	  $(DESTDIR)$(INST_CLIBDIR)/libannlua.so $(DESTDIR)$(INST_INCDIR)/ann.h
	rm -rf $(DESTDIR)$(INST_LUADIR)/annlua
	-rmdir $(DESTDIR)$(INST_LIBDIR)/annlua

clean:
	rm -rf $(B)

-include $(wildcard $(B)/obj/*.d)

.PHONY: all test ctest bench run deps install install-lua install-dev \
        uninstall clean
