-- rusted_ring-0.1.0-1.rockspec — builds the Lua module from a checkout with
-- luarocks' builtin backend (no network needed). From the repository root:
--   luarocks --lua-version 5.4 make --local lua/rusted_ring-0.1.0-1.rockspec
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
   detailed = [[
Rings of fixed-size slots with one writer (or several) and any number of
readers, each with its own cursor; backpressure or overwrite delivery,
lapped readers told what they lost, the rusted-ring crate's T-shirt sized
pools, rings shared between processes by name. The module embeds the
project's C11 core.]],
}
dependencies = {
   "lua >= 5.4, < 5.5",
}
build = {
   type = "builtin",
   modules = {
      rusted_ring = {
         sources = {
            "lua/rusted_ring.c", "lua/rr_unpack.c",
            "csrc/block.c", "csrc/claims.c", "csrc/poll.c", "csrc/pool.c", "csrc/proc.c", "csrc/reader.c", "csrc/ring.c",
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
