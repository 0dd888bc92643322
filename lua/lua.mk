# lua/lua.mk — the Lua 5.4 module's build, tests, benchmark and demo; included
# by the top Makefile, which defines CC, CFLAGS, CORE_SRC, CORE_HDR, BUILD and
# ASAN_FLAGS first.
#
#   make lua             build/lua/rusted_ring.so (no liblua linked: the interpreter provides it)
#   make test-lua        the busted suite (tests/lua/*_spec.lua) under lua5.4
#   make bench-lua       bench/lua/bench.lua: add+next against a pure-Lua queue
#   make demo-lua        examples/fanout.lua
#   make test-lua-asan   the busted suite with the module built under ASan+UBSan

LUA        ?= lua5.4
LUA_CFLAGS ?= $(shell pkg-config --cflags lua5.4 2>/dev/null || echo -I/usr/include/lua5.4)
BUSTED     ?= $(shell command -v busted 2>/dev/null || echo /usr/bin/busted)

LUA_SRC    := $(wildcard lua/*.c)
LUA_HDR    := $(wildcard lua/*.h)
LUA_MOD    := $(BUILD)/lua/rusted_ring.so
LUA_HELPER := $(BUILD)/lua/rr_test_helper.so
# Only luaopen_rusted_ring leaves the module; the core inside stays private.
# -z nodelete: the default pools are process-wide; a lua_close that unloads
# the module must not strand them (the next state reuses them instead).
LUA_LINK   := -shared -Wl,--version-script=lua/rusted_ring.map -Wl,-z,nodelete
# Run from the repository root: the module and the test helper come from build/.
LUA_ENV     = LUA_PATH='./tests/lua/?.lua;;' LUA_CPATH='./$(BUILD)/lua/?.so;;'

.PHONY: lua test-lua bench-lua demo-lua lua-asan test-lua-asan lua-headers

lua: $(LUA_MOD)

# Fails early, saying what to install, when the Lua 5.4 headers are missing.
lua-headers:
	@printf '#include <lua.h>\n#if LUA_VERSION_NUM != 504\n#error not 5.4\n#endif\n' | \
	  $(CC) $(LUA_CFLAGS) -E -x c - >/dev/null 2>&1 || { \
	  echo "lua.mk: Lua 5.4 headers not found (LUA_CFLAGS=$(LUA_CFLAGS))."; \
	  echo "lua.mk: on Debian/Ubuntu: apt-get install lua5.4 liblua5.4-dev"; exit 1; }

$(LUA_MOD): $(LUA_SRC) $(LUA_HDR) lua/rusted_ring.map $(CORE_SRC) $(CORE_HDR) | lua-headers
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LUA_CFLAGS) $(LUA_LINK) $(LUA_SRC) $(CORE_SRC) -o $@ -lpthread

# Test-only native helper: starts OS threads that write to, read from or close
# a ring while the Lua thread waits on it.
$(LUA_HELPER): tests/lua/helper/rr_test_helper.c $(CORE_SRC) $(CORE_HDR) | lua-headers
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LUA_CFLAGS) -shared $< $(CORE_SRC) -o $@ -lpthread

# Debian installs busted's modules for 5.1 .. 5.4, but /usr/bin/busted's
# shebang says `lua` (5.1): run the script under lua5.4 explicitly (.busted
# also names lua5.4, so a bare `busted` re-runs itself under it; --ignore-lua
# skips that second start here). Settings and paths: .busted.
test-lua: $(LUA_MOD) $(LUA_HELPER)
	@$(LUA) -v
	RR_LUA_BUILD=$(BUILD)/lua $(LUA) $(BUSTED) --ignore-lua

bench-lua: $(LUA_MOD)
	$(LUA_ENV) $(LUA) bench/lua/bench.lua

demo-lua: $(LUA_MOD)
	$(LUA_ENV) $(LUA) examples/fanout.lua

# The module and the helper under ASan+UBSan, in their own folder. lua5.4 is
# not instrumented, so libasan is preloaded; leaks are not checked because the
# interpreter's own exit paths are not ours to judge.
LUA_ASAN_DIR := $(BUILD)/lua-asan
lua-asan: $(LUA_ASAN_DIR)/rusted_ring.so $(LUA_ASAN_DIR)/rr_test_helper.so
$(LUA_ASAN_DIR)/rusted_ring.so: $(LUA_SRC) $(LUA_HDR) $(CORE_SRC) $(CORE_HDR) | lua-headers
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ASAN_FLAGS) $(LUA_CFLAGS) $(LUA_LINK) $(LUA_SRC) $(CORE_SRC) -o $@ -lpthread
$(LUA_ASAN_DIR)/rr_test_helper.so: tests/lua/helper/rr_test_helper.c $(CORE_SRC) $(CORE_HDR) | lua-headers
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ASAN_FLAGS) $(LUA_CFLAGS) -shared $< $(CORE_SRC) -o $@ -lpthread

test-lua-asan: lua-asan
	LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
	  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  RR_LUA_BUILD=$(LUA_ASAN_DIR) $(LUA) $(BUSTED) --ignore-lua
