-- rusted_ring-0.1.0-1.rockspec — builds the Lua module from a checkout with
-- luarocks' builtin backend (no network needed). From the repository root:
--   luarocks --lua-version 5.4 make --local lua/rusted_ring-0.1.0-1.rockspec
-- `make test-rock` lints it, packs it into a source rock (luarocks pack) and
-- installs that rock into a fresh tree with the network cut off (lua/rock.mk).
rockspec_format = "3.0"
package = "rusted_ring"
version = "0.1.0-1"
-- `luarocks make` builds from the checkout and never fetches `source`; the
-- address is where the project will publish tagged releases.
source = {
   url = "git+https://github.com/rusted-ring/rusted_ring.git",
   tag = "v0.1.0",
}
description = {
   summary = "LMAX-Disruptor-style ring buffers for event systems",
   license = "MIT",
   homepage = "https://github.com/rusted-ring/rusted_ring",
   maintainer = "rusted_ring developers",
   labels = { "ringbuffer", "queue", "ipc", "shared-memory", "disruptor" },
   detailed = [[
Rings of fixed-size slots with one writer (or several) and any number of
readers, each with its own cursor; backpressure or overwrite delivery,
lapped readers told what they lost, the rusted-ring crate's T-shirt sized
pools, rings shared between processes by name. The module embeds the
project's C11 core. The same rings are open to Python (the project's rusted_ring
package): a ring in shared memory can be written in one language and
read in the other. Linux only (POSIX shared memory, futexes).]],
}
dependencies = {
   "lua >= 5.4, < 5.5",
}
-- `luarocks test` runs the busted suite (tests/lua, settings in .busted) on the
-- module `make lua` builds into build/lua/ (with the native test helper
-- beside it); busted comes as a rock. `make test-lua` runs the same suite.
test = {
   type = "busted",
}
build = {
   type = "builtin",
   modules = {
      rusted_ring = {
         sources = {
            "lua/rusted_ring.c", "lua/rr_unpack.c",
            "csrc/block.c", "csrc/claims.c", "csrc/pipeline.c", "csrc/poll.c", "csrc/pool.c", "csrc/proc.c", "csrc/reader.c", "csrc/ring.c",
            "csrc/shm.c", "csrc/stats.c", "csrc/status.c", "csrc/wait.c",
            "csrc/vocab.c", "csrc/writer.c",
         },
         defines = { "_GNU_SOURCE" },
         incdirs = { "csrc", "lua" },
         -- rt: shm_open and shm_unlink live there before glibc 2.34
         libraries = { "pthread", "rt" },
      },
   },
}
