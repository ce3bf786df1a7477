# annlua: build, test, install.  `make` builds the core library, the Lua
# module and the annlua interpreter into build/.  LuaRocks passes CFLAGS,
# LIBFLAG, LUA_INCDIR and the INST_* directories.

LUA       ?= lua5.4
LUA_INCDIR ?= /usr/include/lua5.4
CC        ?= cc
CFLAGS    ?= -O2 -g
CFLAGS    += -Wall -Wextra -std=c11 -fPIC -D_GNU_SOURCE
LIBFLAG   ?= -shared
LIBS      = -lm -ldl -lpthread

B = build
CORE_SRC  = $(wildcard src/ann_*.c)
CORE_OBJ  = $(CORE_SRC:src/%.c=$(B)/obj/%.o)
BIND_SRC  = $(wildcard src/l*.c)
BIND_OBJ  = $(BIND_SRC:src/%.c=$(B)/obj/%.o)
CTEST_SRC = $(wildcard spec/c/test_*.c)
CTEST_BIN = $(CTEST_SRC:spec/c/%.c=$(B)/test/%)

all: $(B)/lib/libannlua.a $(B)/lib/libannlua.so $(B)/lua/annlua/core.so

$(B)/obj/%.o: src/%.c src/ann.h src/ann_impl.h src/lann.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I$(LUA_INCDIR) -c $< -o $@

$(B)/lib/libannlua.a: $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(B)/lib/libannlua.so: $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LIBFLAG) -o $@ $^ $(LIBS)

$(B)/lua/annlua/core.so: $(BIND_OBJ) $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LIBFLAG) -o $@ $^ $(LIBS)

$(B)/test/%: spec/c/%.c spec/c/test.h $(B)/lib/libannlua.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc -o $@ $< $(B)/lib/libannlua.a $(LIBS)

ctest: $(CTEST_BIN)
	@for t in $(CTEST_BIN); do echo "== $$t"; $$t || exit 1; done

clean:
	rm -rf $(B)

.PHONY: all ctest clean
