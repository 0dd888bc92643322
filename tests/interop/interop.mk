# tests/interop: one ring shared by several processes, in Python and Lua.
.PHONY: test-interop demo-interop
test-interop: python lua
