# tests/interop: one ring shared by several processes, in Python and Lua.
# Included by the top Makefile after lua/lua.mk (which defines LUA and the
# target lua); PY_RUN and py-deps come from the top Makefile.
#
#   make test-interop   pytest on tests/interop: Python and lua5.4 child processes
#                       sharing rings (RR_LUA_BUILD / RR_LUA tell the children
#                       where the Lua module and interpreter are)
#   make demo-interop   examples/strokes_writer.py writes pen strokes into a
#                       shared ring, examples/strokes_reader.lua reads them
.PHONY: test-interop demo-interop

INTEROP_ENV = RR_LUA_BUILD='$(CURDIR)/$(BUILD)/lua' RR_LUA='$(LUA)'

test-interop: py-deps python lua
	$(INTEROP_ENV) $(PY_RUN) -m pytest -q -p no:cacheprovider tests/interop

demo-interop: python lua
	LUA_CPATH='$(CURDIR)/$(BUILD)/lua/?.so;;' RR_LUA='$(LUA)' $(PY_RUN) examples/strokes_writer.py
