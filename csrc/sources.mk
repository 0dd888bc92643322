# csrc/sources.mk — the one list of the C core's sources and the one set of
# warning flags, for every build. The Makefile (and lua/lua.mk through it)
# includes this file; setup.py reads it (plain `NAME := words` lines, no make
# functions); luarocks' builtin backend needs the files written out in
# lua/rusted_ring-0.1.0-1.rockspec, and tests/python/test_build_sources.py
# fails when that list drifts from this one, or this one from csrc/*.c.
CORE_SRC := csrc/block.c csrc/claims.c csrc/pipeline.c csrc/poll.c csrc/pool.c csrc/proc.c csrc/reader.c csrc/ring.c csrc/shm.c csrc/stats.c \
            csrc/status.c csrc/vocab.c csrc/wait.c csrc/writer.c
CORE_HDR := csrc/layout.h csrc/rusted_ring.h csrc/rusted_ring_inline.h

# Every C file of the project compiles with these; the Makefile adds -Werror,
# setup.py adds it only when RR_WERROR=1 (as `make python` sets), so that a
# user's `pip install` never fails on a newer compiler's new warning.
WARN_FLAGS := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
