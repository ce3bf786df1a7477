# annlua: build, test, install.  `make` builds the core library, the Lua
# module and the annlua interpreter into $(B)/ (build/ by default).
# LuaRocks passes CFLAGS, LIBFLAG, LUA_INCDIR, LUA_LIBDIR and the INST_*
# directories (see annlua-*.rockspec).  Targets:
#   all      lib/libannlua.a/.so (the core, no Lua), lib/libannlua-lua.a/.so
#            (the Lua bindings and the embedded Lua sources), include/,
#            lib/pkgconfig/annlua.pc and annlua-lua.pc,
#            lua/annlua/core.so (the Lua module), bin/annlua
#   test     C tests and busted specs, one closing "N passed, N failed" line
#   ctest    the C tests only         bench   bench/*.c and bench/*.lua
#   run      the main job (spiral)           deps    missing Debian packages
#   install  PREFIX=/usr/local (DESTDIR too): headers, both libraries
#            static and shared, pkg-config files, interpreter, Lua module
#   install-lua  what the rock installs      uninstall, clean
#   asan     everything with ASan + UBSan in build-asan/, the C tests and
#            the specs with leak checking; any sanitizer report fails it
#   tsan     ThreadSanitizer (BLAS=none) over the threaded tests and specs
#   fuzz     the libFuzzer targets of fuzz/, each FUZZ_SECONDS (clang:
#            make fuzz-deps)
# Variables: BLAS=none builds without a BLAS: no dlopen, no -ldl, the
# built-in kernels for every product (a fully static host links);
# B=dir builds elsewhere; PREFIX, DESTDIR, CC, CFLAGS, LDFLAGS.

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
# BLAS=none: no BLAS, no dlopen (any other value: found at run time;
# LuaRocks passes an empty one when not given)
BLAS      ?= auto
ifeq ($(strip $(BLAS)),)
override BLAS := auto
endif
ifeq ($(BLAS),none)
BLAS_DEF  = -DANN_NO_BLAS
DL_LIBS   =
else
DL_LIBS   = -ldl
endif
LIBS      = $(strip -lpng -lz -lm $(DL_LIBS) -lpthread)
# kept apart from CFLAGS so that a CFLAGS given by LuaRocks or on the
# command line does not drop them.  No code reads errno after a math
# call, and without errno sqrtf is one vector instruction in loops.
# Hidden visibility: the libraries export what the public headers declare
# (they say so with #pragma GCC visibility), nothing else.
# A function and a datum a section: a program linked with --gc-sections
# keeps only what it calls (examples/embed/game: the model loader alone).
ANN_CFLAGS = $(CFLAGS) $(CPPFLAGS) -Wall -Wextra -std=c11 -fPIC \
  -fno-math-errno -fvisibility=hidden -ffunction-sections -fdata-sections \
  -D_GNU_SOURCE $(BLAS_DEF) -Isrc -I$(LUA_INCDIR)

VERSION = 0.1.0
SOMAJOR = 0

B = build
CORE_SRC  = $(wildcard src/ann_*.c)
CORE_OBJ  = $(CORE_SRC:src/%.c=$(B)/obj/%.o)
BIND_SRC  = $(wildcard src/l*.c)
BIND_OBJ  = $(BIND_SRC:src/%.c=$(B)/obj/%.o)
# the Lua module gets its sources from package.path, not embedded: what
# sets up the embedded ones (linit.c) stays out of it
MOD_OBJ   = $(filter-out $(B)/obj/linit.o,$(BIND_OBJ))
# the public headers: the core's, and the Lua hosting one when there
PUB_H     = src/ann.h $(wildcard src/annlua.h)
LUA_SRC   = $(sort $(wildcard lua/annlua/*.lua lua/annlua/*/*.lua))
CTEST_SRC = $(wildcard spec/c/test_*.c)
CTEST_BIN = $(CTEST_SRC:spec/c/%.c=$(B)/test/%)
BENCH_SRC = $(wildcard bench/*.c)
BENCH_BIN = $(BENCH_SRC:bench/%.c=$(B)/bench/%)
EMBED_BIN = $(B)/examples/embed/game $(B)/examples/embed/modhost

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

LIBDIR_B  = $(B)/lib
SOLIBS    = $(foreach l,libannlua libannlua-lua,$(LIBDIR_B)/$(l).so \
  $(LIBDIR_B)/$(l).so.$(SOMAJOR) $(LIBDIR_B)/$(l).so.$(VERSION))
all: $(B)/lib/libannlua.a $(B)/lib/libannlua-lua.a $(SOLIBS) \
     $(PUB_H:src/%=$(B)/include/%) $(B)/lib/pkgconfig/annlua.pc \
     $(B)/lib/pkgconfig/annlua-lua.pc $(B)/lua/annlua/core.so $(B)/bin/annlua \
     $(EMBED_BIN)

.DELETE_ON_ERROR:

# objects are rebuilt when BLAS changes: the stamp of the other value is
# removed, so switching back makes a new one too
$(B)/obj/blas-$(BLAS).stamp:
	@mkdir -p $(dir $@)
	rm -f $(B)/obj/blas-*.stamp
	touch $@

$(B)/obj/%.o: src/%.c src/ann.h src/ann_impl.h src/lann.h src/annlua.h \
              $(B)/obj/blas-$(BLAS).stamp | $(DEPS_FIRST)
	@mkdir -p $(dir $@)
	$(CC) $(ANN_CFLAGS) -MMD -MP -c $< -o $@

$(B)/lib/libannlua.a: $(CORE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

# the Lua bindings for a host that links Lua itself: bindings, embedded
# sources (and linit.c, when there); the core comes from libannlua
$(B)/lib/libannlua-lua.a: $(BIND_OBJ) $(B)/obj/annlua_embed.o
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

# shared libraries: libX.so.VERSION with the SONAME libX.so.SOMAJOR, and
# the two links.  -z nodelete: dlclose (lua_close of a state that
# required the module) must not unmap the code the compute threads of
# ann_pool.c sleep in.  Lua's symbols are left to the host.
$(B)/lib/libannlua.so.$(VERSION): $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LIBFLAG) $(LDFLAGS) -Wl,-soname,libannlua.so.$(SOMAJOR) \
	  -Wl,-z,nodelete -o $@ $^ $(LIBS)

$(B)/lib/libannlua-lua.so.$(VERSION): $(BIND_OBJ) $(B)/obj/annlua_embed.o \
                                      $(B)/lib/libannlua.so
	@mkdir -p $(dir $@)
	$(CC) $(LIBFLAG) $(LDFLAGS) -Wl,-soname,libannlua-lua.so.$(SOMAJOR) \
	  -Wl,-z,nodelete -o $@ $(filter %.o,$^) -L$(B)/lib -lannlua $(LIBS)

$(B)/lib/%.so.$(SOMAJOR): $(B)/lib/%.so.$(VERSION)
	ln -sf $(notdir $<) $@

$(B)/lib/%.so: $(B)/lib/%.so.$(SOMAJOR)
	ln -sf $(notdir $<) $@

$(B)/include/%.h: src/%.h
	@mkdir -p $(dir $@)
	cp $< $@

# pkg-config files, for the install PREFIX (rewritten when it changes);
# Libs.private: what a static link of the core needs
PC_DIR  = $(patsubst $(INST_PREFIX)/%,$${prefix}/%,$(1))
PC_VARS = prefix=$(INST_PREFIX)\nlibdir=$(call PC_DIR,$(INST_CLIBDIR))\nincludedir=$(call PC_DIR,$(INST_INCDIR))\n
$(B)/lib/pkgconfig/annlua.pc: FORCE
	@mkdir -p $(dir $@)
	@printf '$(PC_VARS)\nName: annlua\nDescription: neural networks in C: tensors, autograd, training, models (the core of annlua, no Lua)\nVersion: $(VERSION)\nCflags: -I$${includedir}\nLibs: -L$${libdir} -lannlua\nLibs.private: $(LIBS)\n' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv -f $@.tmp $@

$(B)/lib/pkgconfig/annlua-lua.pc: FORCE
	@mkdir -p $(dir $@)
	@printf '$(PC_VARS)\nName: annlua-lua\nDescription: annlua for Lua 5.4 hosts: the bindings and the embedded Lua sources\nVersion: $(VERSION)\nRequires: lua5.4 annlua\nCflags: -I$${includedir}\nLibs: -L$${libdir} -lannlua-lua\n' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv -f $@.tmp $@

$(B)/lua/annlua/core.so: $(MOD_OBJ) $(CORE_OBJ) tools/luamod.map
	@mkdir -p $(dir $@)
	$(CC) $(LIBFLAG) $(LDFLAGS) -Wl,-z,nodelete \
	  -Wl,--version-script=tools/luamod.map -o $@ $(filter %.o,$^) $(LIBS)

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

$(B)/obj/annlua_embed.o: $(B)/gen/annlua_embed.c $(B)/obj/blas-$(BLAS).stamp
	@mkdir -p $(dir $@)
	$(CC) $(ANN_CFLAGS) -c $< -o $@

$(B)/obj/annlua.o: ANN_CFLAGS += $(RL_CFLAGS)

$(B)/bin/annlua: $(B)/obj/annlua.o $(B)/obj/annlua_embed.o $(BIND_OBJ) \
                 $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(if $(LUA_STATIC),,$(error no static Lua library (liblua5.4.a) found: \
	  install liblua5.4-dev or set LUA_STATIC=/path/to/liblua.a))
	$(CC) $(LDFLAGS) -Wl,-E -o $@ $(filter %.o,$^) \
	  -Wl,--whole-archive $(LUA_STATIC) -Wl,--no-whole-archive \
	  $(RL_LIBS) $(LIBS)

# ---- examples/embed: a game running a model from C (the core, static;
# no Lua), and a host of untrusted mod scripts (Lua and the bindings,
# static), built as a user would against the headers in $(B)/include
EMBED_CFLAGS = $(CFLAGS) -Wall -Wextra -I$(B)/include

# unused sections dropped: gold, since GNU ld 2.40 aborts on this link
# (a BFD internal error in elf_x86_64_relocate_section)
EMBED_GC = $(if $(shell command -v ld.gold),-fuse-ld=gold -Xlinker --gc-sections)
$(B)/examples/embed/game: examples/embed/game.c $(B)/lib/libannlua.a \
                          $(B)/include/ann.h
	@mkdir -p $(dir $@)
	$(CC) $(EMBED_CFLAGS) $(LDFLAGS) $(EMBED_GC) -o $@ $< \
	  $(B)/lib/libannlua.a $(LIBS)

$(B)/examples/embed/modhost: examples/embed/modhost.c \
    $(B)/lib/libannlua-lua.a $(B)/lib/libannlua.a $(PUB_H:src/%=$(B)/include/%)
	@mkdir -p $(dir $@)
	$(CC) $(EMBED_CFLAGS) -I$(LUA_INCDIR) $(LDFLAGS) -o $@ $< \
	  $(B)/lib/libannlua-lua.a $(B)/lib/libannlua.a $(LUA_STATIC) $(LIBS)

# ---- tests and benchmarks
$(B)/test/%: spec/c/%.c spec/c/test.h $(B)/lib/libannlua.a | $(DEPS_FIRST)
	@mkdir -p $(dir $@)
	$(CC) $(ANN_CFLAGS) -o $@ $< $(B)/lib/libannlua.a $(LIBS)

# a host embedding Lua with annlua (spec/c/test_host.c): the interpreter's
# objects but its main, and static Lua
$(B)/test/test_host: spec/c/test_host.c spec/c/test.h \
                     $(B)/obj/annlua_embed.o $(BIND_OBJ) $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ANN_CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) \
	  $(LUA_STATIC) $(LIBS)

# allocation-failure injection (spec/c/test_failalloc.c): Lua states too
$(B)/test/test_failalloc: spec/c/test_failalloc.c spec/c/test.h \
                          $(B)/obj/annlua_embed.o $(BIND_OBJ) $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ANN_CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) \
	  $(LUA_STATIC) $(LIBS)

# installs for spec/install_spec.lua, which builds programs against them:
# B/stage by PREFIX, B/stage-dest by DESTDIR (PREFIX=/opt/annlua)
stage: all
	@rm -rf $(B)/stage $(B)/stage-dest
	@$(MAKE) --no-print-directory -s install PREFIX=$(abspath $(B)/stage) \
	  INST_PREFIX=$(abspath $(B)/stage) >/dev/null
	@$(MAKE) --no-print-directory -s install PREFIX=/opt/annlua \
	  INST_PREFIX=/opt/annlua DESTDIR=$(abspath $(B)/stage-dest) >/dev/null
	@$(MAKE) --no-print-directory -s $(B)/lib/pkgconfig/annlua.pc \
	  $(B)/lib/pkgconfig/annlua-lua.pc

test: all $(CTEST_BIN) stage
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
	@# C inference beside FANN's, with the BLAS and with BLAS=none
	@$(MAKE) --no-print-directory -s B=$(B)-none BLAS=none all >/dev/null
	@echo "== bench/embed/run.sh"
	@B=$(B) BN=$(B)-none sh bench/embed/run.sh
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
# Lua sources); `install-dev` adds the libraries, headers and pkg-config
# files for C and C++ programs
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
	install -d $(DESTDIR)$(INST_CLIBDIR)/pkgconfig $(DESTDIR)$(INST_INCDIR)
	install -m 644 $(PUB_H) $(DESTDIR)$(INST_INCDIR)/
	for l in libannlua libannlua-lua; do \
	  install -m 644 $(B)/lib/$$l.a $(DESTDIR)$(INST_CLIBDIR)/$$l.a && \
	  install -m 755 $(B)/lib/$$l.so.$(VERSION) $(DESTDIR)$(INST_CLIBDIR)/ && \
	  ln -sf $$l.so.$(VERSION) $(DESTDIR)$(INST_CLIBDIR)/$$l.so.$(SOMAJOR) && \
	  ln -sf $$l.so.$(SOMAJOR) $(DESTDIR)$(INST_CLIBDIR)/$$l.so || exit 1; \
	done
	install -m 644 $(B)/lib/pkgconfig/annlua.pc \
	  $(B)/lib/pkgconfig/annlua-lua.pc $(DESTDIR)$(INST_CLIBDIR)/pkgconfig/

uninstall:
	rm -f $(DESTDIR)$(INST_BINDIR)/annlua \
	  $(DESTDIR)$(INST_LIBDIR)/annlua/core.so \
	  $(PUB_H:src/%=$(DESTDIR)$(INST_INCDIR)/%) \
	  $(DESTDIR)$(INST_CLIBDIR)/pkgconfig/annlua.pc \
	  $(DESTDIR)$(INST_CLIBDIR)/pkgconfig/annlua-lua.pc
	for l in libannlua libannlua-lua; do \
	  rm -f $(DESTDIR)$(INST_CLIBDIR)/$$l.a $(DESTDIR)$(INST_CLIBDIR)/$$l.so \
	    $(DESTDIR)$(INST_CLIBDIR)/$$l.so.$(SOMAJOR) \
	    $(DESTDIR)$(INST_CLIBDIR)/$$l.so.$(VERSION); done
	rm -rf $(DESTDIR)$(INST_LUADIR)/annlua
	-rmdir $(DESTDIR)$(INST_LIBDIR)/annlua

clean:
	rm -rf $(B)

# ---- mutants: small bugs planted one at a time (tools/mutants.txt) in a
# scratch copy of the tree, each built and run against the suite; reports
# which the tests kill.  ONLY=name,... runs some.  Long: nice, once.
mutants:
	nice -n 10 $(LUA) tools/mutants.lua --list tools/mutants.txt \
	  $(if $(ONLY),--only $(ONLY))

.PHONY: mutants

# ---- sanitizers.  `make asan`: everything built with ASan + UBSan into
# $(ASAN_B), then the C tests and the busted specs with leak checking on
# and nothing suppressed.  The specs run under tools/sanlua.c, a lua5.4
# carrying the sanitizer runtime, first in PATH as lua5.4 (child lua5.4s
# of the specs too), so the runtime is never preloaded into the compilers
# and shells the specs start.  Each process writes its reports to
# $(ASAN_B)/san/log.* (children whose status no spec checks included):
# any such file fails the target and is printed.
ASAN_B      ?= build-asan
# UBSan stops the process at its first report (GCC's UBSan has no
# log_path: a report in a child whose stderr a spec keeps would otherwise
# go unseen; stopped, the child fails its spec).  The run's output is
# searched for reports too.
ASAN_CFLAGS  = -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
  -fno-omit-frame-pointer
ASAN_ENV     = ASAN_OPTIONS=detect_leaks=1:detect_odr_violation=2:strict_init_order=1:log_path=$(abspath $(ASAN_B))/san/log \
  UBSAN_OPTIONS=print_stacktrace=1 \
  LSAN_OPTIONS=log_path=$(abspath $(ASAN_B))/san/log

$(B)/san/lua5.4: tools/sanlua.c | $(DEPS_FIRST)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wall -Wextra -std=c11 -I$(LUA_INCDIR) $(LDFLAGS) \
	  -Wl,-E -o $@ $< -Wl,--whole-archive $(LUA_STATIC) \
	  -Wl,--no-whole-archive -lm -ldl

# the sanitizer logs of a run: none, or they are printed and fail it
SAN_CHECK = if ls $(1)/san/log.* >/dev/null 2>&1; then cat $(1)/san/log.*; \
  echo "$(2): sanitizer reports above ($(1)/san/log.*)"; exit 1; fi

asan:
	@$(MAKE) --no-print-directory B=$(ASAN_B) CFLAGS="$(ASAN_CFLAGS)" \
	  LDFLAGS="-fsanitize=address,undefined" all stage \
	  $(CTEST_SRC:spec/c/%.c=$(ASAN_B)/test/%) $(ASAN_B)/san/lua5.4
	@rm -f $(ASAN_B)/san/log.* $(ASAN_B)/san/run.*
	@{ PATH="$(abspath $(ASAN_B))/san:$$PATH" $(ASAN_ENV) \
	  B=$(ASAN_B) LUA=lua5.4 sh spec/run; echo $$? >$(ASAN_B)/san/run.rc; } \
	  2>&1 | tee $(ASAN_B)/san/run.out; rc=$$(cat $(ASAN_B)/san/run.rc); \
	  $(call SAN_CHECK,$(ASAN_B),make asan); \
	  if grep -qE 'runtime error:|Sanitizer' $(ASAN_B)/san/run.out; then \
	  echo "make asan: sanitizer reports in the output above"; exit 1; fi; \
	  exit $$rc

.PHONY: asan

# `make tsan`: ThreadSanitizer over what runs threads: the pool
# (test_pool), the fused trainer's threaded epoch (test_mlp), models run
# by 8 threads (test_model), contexts (test_ctx), init (test_init), and
# the specs of the fused path and the states' contexts (under sanlua).
# BLAS=none, since OpenBLAS's own threads are not instrumented (false
# reports); -DANN_NO_CLONES, since TSan does not run the ifunc resolvers
# of function clones.  A test TSan cannot run says so and skips (the fork
# of test_pool: TSan cannot start threads in the child).
TSAN_B      ?= build-tsan
TSAN_CFLAGS  = -O1 -g -fsanitize=thread -DANN_NO_CLONES
TSAN_TESTS   = test_pool test_mlp test_model test_ctx test_init
TSAN_SPECS   = spec/fused_spec.lua spec/fit_spec.lua spec/embed_spec.lua
TSAN_ENV     = TSAN_OPTIONS=halt_on_error=0:second_deadlock_stack=1:log_path=$(abspath $(TSAN_B))/san/log

tsan:
	@$(MAKE) --no-print-directory B=$(TSAN_B) BLAS=none \
	  CFLAGS="$(TSAN_CFLAGS)" LDFLAGS="-fsanitize=thread" \
	  $(TSAN_TESTS:%=$(TSAN_B)/test/%) $(TSAN_B)/lua/annlua/core.so \
	  $(TSAN_B)/bin/annlua $(TSAN_B)/san/lua5.4
	@rm -f $(TSAN_B)/san/log.*
	@fail=0; for t in $(TSAN_TESTS); do echo "== $(TSAN_B)/test/$$t"; \
	  $(TSAN_ENV) $(TSAN_B)/test/$$t || fail=1; done; \
	echo "== busted $(TSAN_SPECS)"; \
	PATH="$(abspath $(TSAN_B))/san:$$PATH" $(TSAN_ENV) \
	  ANNLUA_BIN=$(TSAN_B)/bin/annlua lua5.4 $$(command -v busted) \
	  --ignore-lua -o TAP --cpath="$(TSAN_B)/lua/?.so" $(TSAN_SPECS) \
	  >$(TSAN_B)/san/busted.tap 2>&1 || fail=1; \
	grep -Ev '^ok ' $(TSAN_B)/san/busted.tap; \
	grep -q '^1\.\.[0-9]' $(TSAN_B)/san/busted.tap || fail=1; \
	$(call SAN_CHECK,$(TSAN_B),make tsan); \
	if [ $$fail -ne 0 ]; then echo "make tsan: a test failed"; exit 1; fi; \
	echo "make tsan: no reports"

.PHONY: tsan

# ---- fuzzing (fuzz/): libFuzzer targets built with Debian's clang and
# ASan + UBSan into $(FUZZ_B) (needs clang and libclang-rt-14-dev: `make
# fuzz-deps`).  `make fuzz FUZZ_SECONDS=N` runs each target N seconds in
# turn (nice 10), on a working corpus in $(FUZZ_B)/corpus/<target> seeded
# from fuzz/corpus/<target>; a crash leaves its input in
# $(FUZZ_B)/crash/ and fails the target.  One target: FUZZ_TARGETS=csv.
FUZZ_B       ?= build-fuzz
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= csv idx npy model load api
FUZZ_CFLAGS   = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
  -fno-sanitize-recover=all -fsanitize=fuzzer-no-link -Wno-unknown-attributes
FUZZ_BIN      = $(FUZZ_TARGETS:%=$(FUZZ_B)/fuzz/fuzz_%)

$(B)/fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz.h $(B)/lib/libannlua-lua.a \
                  $(B)/lib/libannlua.a
	@mkdir -p $(dir $@)
	$(CC) $(ANN_CFLAGS) -fsanitize=fuzzer \
	  -DFZ_API_LUA='"$(abspath fuzz/fuzz_api.lua)"' -o $@ $< \
	  $(B)/lib/libannlua-lua.a $(B)/lib/libannlua.a $(LUA_STATIC) $(LIBS)

fuzz-build:
	@$(MAKE) --no-print-directory B=$(FUZZ_B) CC=$(FUZZ_CC) \
	  CFLAGS="$(FUZZ_CFLAGS)" $(FUZZ_BIN)

fuzz: fuzz-build
	@mkdir -p $(FUZZ_B)/crash
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_B)/corpus/$$t; \
	  echo "== fuzz_$$t, $(FUZZ_SECONDS) s"; \
	  nice -n 10 $(FUZZ_B)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
	    -timeout=20 -rss_limit_mb=2560 -max_len=65536 -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_B)/crash/$$t- \
	    $(FUZZ_B)/corpus/$$t fuzz/corpus/$$t 2>$(FUZZ_B)/fuzz_$$t.log; \
	  rc=$$?; grep -E '^stat::number_of_executed_units|^Done|ERROR|SUMMARY' \
	    $(FUZZ_B)/fuzz_$$t.log; \
	  if [ $$rc -ne 0 ]; then echo "fuzz_$$t: failed ($$rc), see" \
	    "$(FUZZ_B)/fuzz_$$t.log"; exit 1; fi; \
	done

fuzz-deps:
	apt-get install -y clang libclang-rt-14-dev

.PHONY: fuzz fuzz-build fuzz-deps

-include $(wildcard $(B)/obj/*.d)

FORCE:

.PHONY: all test ctest bench run deps install install-lua install-dev \
        uninstall clean FORCE stage mutants
