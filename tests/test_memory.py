"""Trainers give freed memory back to the system instead of holding it as their heap's free pieces."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

# 20,000 arrays of about 100 KB, all freed but the last: glibc keeps them as free heap pieces.
PIECES = textwrap.dedent("""
    import numpy as np
    from instructed_rl.train.memory import release_freed_memory

    def resident_mb():
        return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) // 1024

    big = np.ones(4 << 20, np.uint8)
    del big  # freeing a 4 MB mapping raises glibc's threshold: 100 KB arrays now come from the heap
    kept = [np.ones(100_000 + i % 7 * 1000, np.uint8) for i in range(20_000)]
    del kept[:-1]
    before = resident_mb()
    released = release_freed_memory()
    print(before, resident_mb(), released)
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="resident memory is read from /proc")
def test_freed_pieces_of_the_heap_go_back_to_the_system():
    out = subprocess.run([sys.executable, "-c", PIECES], capture_output=True, text=True, check=True).stdout.split()
    before, after, released = int(out[0]), int(out[1]), out[2] == "True"
    if not released:
        pytest.skip("this C library has no malloc_trim")
    assert before > 1500  # the freed 2 GB were still resident
    assert after < before - 1500
