"""Keep the server's freed heap for its next large message (glibc's malloc only).

A large message passes through several buffers of its size at once: the frame as
read, its inflated bytes, the text, the echo's deflated bytes. When they are freed
together, glibc finds more free memory at the top of its heap than its trim
threshold (by default twice the largest block it has had to map on its own, at
most 64 MiB) and hands it back to the kernel, only to ask for it again, page by
page, for the next message: a 16 MiB compressed echo spent about a tenth of its
time faulting those pages in again.

`keep_freed_heap` sets both thresholds, from the start, where glibc's own rule
ends up after a block of 32 MiB: blocks under 32 MiB come from the heap, and up to
64 MiB of free heap is kept. A server holds memory it used a little longer; the
limit on a message's size (`Config.max_size`) still bounds what it uses.
"""

from __future__ import annotations

import ctypes
import os

M_TRIM_THRESHOLD = -1  # <malloc.h>
M_MMAP_THRESHOLD = -3
#: Blocks smaller than this come from the heap, not a mapping of their own: glibc's
#: own ceiling for its dynamic threshold on 64-bit systems.
MMAP_THRESHOLD = 32 << 20
#: Free memory at the top of the heap is handed back once it exceeds this.
TRIM_THRESHOLD = 64 << 20
#: Set in the environment, these are the user's choice: left alone.
ENVIRONMENT = (
    "GLIBC_TUNABLES", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_",
)  # fmt: skip

_applied: bool | None = None


def keep_freed_heap() -> bool:
    """Apply the thresholds once for this process, where the C library is glibc and the
    environment does not set its own. Returns whether they are in force."""
    global _applied
    if _applied is None:
        _applied = _apply()
    return _applied


def _apply() -> bool:
    if any(name in os.environ for name in ENVIRONMENT):
        return False
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return False
    except (ValueError, OSError):  # not glibc: the name is unknown there
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success.
    return bool(
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
        and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    )
