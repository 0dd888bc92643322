# lua/rock.mk — the Lua module as a source rock, the way a release publishes it;
# included by the top Makefile after lua/lua.mk (LUA, BUSTED, LUA_HELPER, BUILD).
#
#   make test-rock   luarocks lint; luarocks pack of the rockspec as committed; then
#                    luarocks install of that source rock into a fresh tree with the
#                    network cut off, and the busted suite against the installed module
#
# `luarocks pack` fetches the rockspec's source (its git URL at tag v0.1.0), as it
# will for a release. Here git is told (GIT_CONFIG_*, for this command only) to
# fetch that URL from a clone of this checkout whose HEAD is tagged v0.1.0, so the
# rock holds the committed HEAD: commit what the rock should contain first. The
# install runs in a new network namespace (unshare -n; as an unprivileged user
# unshare -rn), which has no network at all: a build that needed to download
# anything fails there. Where neither works the install runs without it, saying so.

LUAROCKS     ?= luarocks --lua-version 5.4
ROCKSPEC     := lua/rusted_ring-0.1.0-1.rockspec
ROCK_NAME    := rusted_ring-0.1.0-1
ROCK_DIR     := $(BUILD)/rock
# The rockspec's source URL, without luarocks' "git+" prefix.
ROCK_URL     := $(patsubst git+%,%,$(shell sed -n 's/^ *url *= *"\(.*\)",*$$/\1/p' $(ROCKSPEC)))
ROCK_TAG     := $(shell sed -n 's/^ *tag *= *"\(.*\)",*$$/\1/p' $(ROCKSPEC))
ROCK_OFFLINE := $(shell if unshare -n true 2>/dev/null; then echo "unshare -n"; \
                  elif unshare -rn true 2>/dev/null; then echo "unshare -rn"; fi)

.PHONY: test-rock
test-rock: $(LUA_HELPER)
	$(LUAROCKS) lint $(ROCKSPEC)
	@rm -rf $(ROCK_DIR) && mkdir -p $(ROCK_DIR)
	@# The "release": this checkout's HEAD, tagged as the rockspec says.
	git clone --quiet --no-hardlinks "$(CURDIR)" $(ROCK_DIR)/origin
	git -C $(ROCK_DIR)/origin tag -f $(ROCK_TAG) HEAD >/dev/null
	cd $(ROCK_DIR) && GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0="url.file://$(CURDIR)/$(ROCK_DIR)/origin.insteadOf" \
	  GIT_CONFIG_VALUE_0="$(ROCK_URL)" $(LUAROCKS) pack "$(CURDIR)/$(ROCKSPEC)"
	@test -f $(ROCK_DIR)/$(ROCK_NAME).src.rock
	@$(if $(ROCK_OFFLINE),,echo "test-rock: unshare is not allowed here: installing with the network on")
	$(ROCK_OFFLINE) $(LUAROCKS) install --tree "$(CURDIR)/$(ROCK_DIR)/tree" \
	  "$(CURDIR)/$(ROCK_DIR)/$(ROCK_NAME).src.rock"
	cd / && LUA_CPATH="$(CURDIR)/$(ROCK_DIR)/tree/lib/lua/5.4/?.so" $(LUA) -e \
	  'local rr = require "rusted_ring"; print("rusted_ring " .. rr.version .. " from the packed rock")'
	@# The busted suite against the installed module (the test helper from build/lua).
	@mkdir -p $(ROCK_DIR)/check
	ln -sf "$(CURDIR)/$(ROCK_DIR)/tree/lib/lua/5.4/rusted_ring.so" "$(CURDIR)/$(LUA_HELPER)" $(ROCK_DIR)/check/
	RR_LUA_BUILD=$(ROCK_DIR)/check $(LUA) $(BUSTED) --ignore-lua
