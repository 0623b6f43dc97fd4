# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""gather_facts in a child process that records what it costs and what it opens.

The child reports the facts, the warnings, its peak RSS, and every absolute path it opened
(an audit hook on 'open' and directory listings) that is neither under the root, nor an import,
nor one of the files of this process's own CPU limits (plugins/module_utils/_cpu_quota.py),
so a test can assert bounds and confinement on one real run, with a timeout as hang guard.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

CHILD = r'''
import json, resource, sys
root, runs = sys.argv[1], int(sys.argv[2])
# Everything the readers import lazily, imported before recording starts.
import lzma, zlib, elftools.elf.elffile
try:
    import packaging.version
except ImportError:
    pass
from ansible_collections.kabi.dkms.plugins.module_utils._coverage import gather_facts
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootFS
imports = tuple(path for path in sys.path if path and path != '/')
# This process's own CPU limits, which _cpu_quota reads on this host whatever the root is (a copy
# of the collection from before it, as the hostile benchmark's --before runs, reads none).
try:
    from ansible_collections.kabi.dkms.plugins.module_utils._cpu_quota import MOUNTINFO_LIMIT, _cgroup_mounts, _read
    cgroup_mounts = tuple(point.rstrip('/') + '/' for point, dummy, dummy
                          in _cgroup_mounts(_read('/proc/self/mountinfo', MOUNTINFO_LIMIT) or ''))
except ImportError:
    cgroup_mounts = ()
own_limits = ('/proc/self/cgroup', '/proc/self/mountinfo')
limit_files = ('/cpu.max', '/cpu.cfs_quota_us', '/cpu.cfs_period_us')
outside = set()

def record(event, args):
    if event in ('open', 'os.listdir', 'os.scandir') and args and isinstance(args[0], str):
        path = args[0]
        if path.startswith('/') and path != root and not path.startswith(root + '/') \
                and not path.startswith(imports) and path not in own_limits \
                and not (path.startswith(cgroup_mounts) and path.endswith(limit_files)):
            outside.add(path)

# Audit hooks came with Python 3.8: on older targets nothing is recorded, and confinement is
# asserted by the runs on newer Pythons.
if hasattr(sys, 'addaudithook'):
    sys.addaudithook(record)
statuses = set()
for run in range(runs):
    warnings = []
    facts = gather_facts(RootFS(root, snapshot=True), warnings.append)
    statuses.update('%s/%s/%s' % (release, name, entry['status'])
                    for release, kernel in facts['kernels'].items() for name, entry in kernel['packages'].items())

def peak_kib():
    # VmHWM is this process's own high-water mark; ru_maxrss also keeps the parent's, which a
    # child started through vfork and exec inherits (so a test that built a big bomb would pay).
    with open('/proc/self/status') as status:
        for line in status:
            if line.startswith('VmHWM:'):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

json.dump({'facts': facts, 'warnings': warnings, 'outside': sorted(outside), 'statuses': sorted(statuses),
           'peak_kib': peak_kib()}, sys.stdout)
'''

# Generous: a hang guard, not a timing assertion.
HANG_GUARD = 300


def no_child_left() -> bool:
    """Whether this process has no child, exited or not, left to reap (a compare worker)."""
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def gather_in_child(root: Path, timeout: float = HANG_GUARD, memory_limit: int | None = None,
                    runs: int = 1, pythonpath: str | None = None) -> dict[str, Any]:
    """facts and warnings (of the last of ``runs`` gatherings), statuses (every
    ``kernel/package/status`` seen in any run), outside (paths opened outside root, in any
    run), peak_kib, seconds.

    ``memory_limit`` (bytes) caps the child's address space, as a memory-limited host would.
    ``pythonpath`` puts another copy of the collection first (the benchmark compares two).
    """
    paths = ([pythonpath] if pythonpath else []) + [path for path in sys.path if path]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))

    def limit() -> None:  # pragma: no cover - runs in the child
        if memory_limit is not None:
            import resource
            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))

    start = time.monotonic()
    done = subprocess.run([sys.executable, '-c', CHILD, str(root), str(runs)], capture_output=True, text=True,
                          timeout=timeout, env=env, check=False, preexec_fn=limit, cwd=str(root.parent))
    seconds = time.monotonic() - start
    if done.returncode != 0:
        raise AssertionError('the fact gathering failed (exit %d):\n%s' % (done.returncode, done.stderr[-4000:]))
    result = json.loads(done.stdout)
    result['seconds'] = seconds
    return result


def gather_during_swaps(root: Path, module: Path, host: Path, runs: int, pythonpath: str | None = None,
                        timeout: float = HANG_GUARD) -> dict[str, Any]:
    """gather_in_child ``runs`` times while a thread keeps flipping ``module`` (a regular file under
    ``root``) between itself and an absolute symlink to ``host``, each flip an atomic rename."""
    kept, swap_file, swap_link = module.with_name('kept'), module.with_name('swap-file'), module.with_name('swap-link')
    os.link(module, kept)
    stop = threading.Event()

    def swap() -> None:
        while not stop.is_set():
            swap_link.symlink_to(host)
            os.replace(swap_link, module)
            os.link(kept, swap_file)
            os.replace(swap_file, module)

    swapper = threading.Thread(target=swap)
    swapper.start()
    try:
        return gather_in_child(root, timeout=timeout, runs=runs, pythonpath=pythonpath)
    finally:
        stop.set()
        swapper.join()
