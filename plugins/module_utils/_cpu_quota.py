# -*- coding: utf-8 -*-
# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CPU time this process's cgroups allow it, in CPUs: the CFS bandwidth limit.

A process may run on two CPUs (its affinity) yet have the time of one (a container started with
``--cpus=1``, a systemd unit's ``CPUQuota=100%``): two processes then share that time, and a
worker forked to run beside the module only adds its own cost. The limit is the quota over the
period of the cgroup's ``cpu.max`` (cgroup v2) or ``cpu.cfs_quota_us`` and ``cpu.cfs_period_us``
(v1), the least along the cgroup's path up to the root of its hierarchy, as the kernel enforces it.

Read from this host's ``/proc/self`` and the cgroup file systems it mounts, not from the ``root``
the facts look at: these limit the process that runs the module. Every file is read up to a few
KiB (mountinfo up to MOUNTINFO_LIMIT); what cannot be read or parsed limits nothing, nor does a
limit above the root of a cgroup namespace the process is in, which it cannot see.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath
import re
import sys

PROC_SELF = '/proc/self'
# A cgroup file: one line of two numbers.
LIMIT_FILE_BYTES = 4096
# /proc/self/cgroup: one line per hierarchy (a dozen with cgroup v1).
CGROUP_BYTES = 64 * 1024
# /proc/self/mountinfo: one line per mount; a host of many containers has thousands.
MOUNTINFO_LIMIT = 4 * 1024 * 1024
# mountinfo writes a space, tab, newline and backslash in a path as a backslash and three octal digits.
_ESCAPE = re.compile(r'\\([0-7]{3})')


def cpu_quota(proc_self=PROC_SELF):
    """CPUs' worth of time (a float) the CFS bandwidth limits of this process's cgroups allow it,
    the least of them; None where none limits it or none can be read."""
    limits = []
    for mount_point, parts, version in cpu_cgroups(proc_self):
        # The cgroup and each one above it, up to the hierarchy's root.
        for depth in range(len(parts), -1, -1):
            limit = _limit(posixpath.join(mount_point, *parts[:depth]), version)
            if limit is not None:
                limits.append(limit)
    return min(limits) if limits else None


def cpu_cgroups(proc_self=PROC_SELF):
    """(mount point, components of this process's cgroup below it, 1 or 2) of each mount that shows
    its cgroup in a hierarchy the cpu controller may be in: cgroup v2, or v1's ``cpu``."""
    cgroups = _cgroup_paths(_read(posixpath.join(proc_self, 'cgroup'), CGROUP_BYTES))
    mountinfo = _read(posixpath.join(proc_self, 'mountinfo'), MOUNTINFO_LIMIT)
    if not cgroups or mountinfo is None:
        return
    for mount_point, mount_root, version in _cgroup_mounts(mountinfo):
        parts = _parts_below(cgroups.get('' if version == 2 else 'cpu'), mount_root)
        if parts is not None:
            yield mount_point, parts, version


def _read(path, limit):
    """The text of the file at ``path``, None when it cannot be read or is more than ``limit`` bytes."""
    try:
        with open(path, 'rb') as stream:
            data = stream.read(limit + 1)
    except (OSError, IOError, ValueError):     # ValueError: a path the file system encoding cannot take
        return None
    # As os.fsdecode: a path read here opens the same bytes (non-UTF-8 bytes, a C locale on 3.6).
    return data.decode(sys.getfilesystemencoding(), 'surrogateescape') if len(data) <= limit else None


def _cgroup_paths(text):
    """{controller: cgroup path} of /proc/self/cgroup's lines ("ID:controllers:path"); the v2
    hierarchy's controller is ''."""
    paths = {}
    for line in (text or '').splitlines():
        fields = line.split(':', 2)
        if len(fields) == 3 and fields[2].startswith('/'):
            for controller in fields[1].split(',') if fields[1] else ['']:
                paths.setdefault(controller, fields[2])
    return paths


def _cgroup_mounts(mountinfo):
    """(mount point, root of the hierarchy mounted there, 1 or 2) of each cgroup v2 mount and each
    v1 mount of the ``cpu`` controller in mountinfo's lines: "ID PARENT MAJ:MIN ROOT POINT OPTIONS
    [TAGS...] - TYPE SOURCE SUPER-OPTIONS"."""
    for line in mountinfo.splitlines():
        mount, separator, filesystem = line.partition(' - ')
        mount, filesystem = mount.split(), filesystem.split()
        if not separator or len(mount) < 5 or len(filesystem) < 3:
            continue
        if filesystem[0] == 'cgroup2':
            version = 2
        elif filesystem[0] == 'cgroup' and 'cpu' in filesystem[2].split(','):
            version = 1
        else:
            continue
        yield _unescape(mount[4]), _unescape(mount[3]), version


def _unescape(field):
    return _ESCAPE.sub(lambda match: chr(int(match.group(1), 8)), field)


def _parts_below(path, mount_root):
    """The components of the cgroup ``path`` below ``mount_root``, the part of its hierarchy a mount
    shows; None for a path not below it (a container's cgroup namespace shows its own cgroup as
    "/", and a cgroup outside it as "/.."), or no path."""
    root = mount_root.rstrip('/')
    if path is None or (path != root and not path.startswith(root + '/')):
        return None
    parts = [part for part in path[len(root):].split('/') if part]
    return None if '..' in parts or '.' in parts else parts


def _limit(directory, version):
    """quota / period of one cgroup directory, None where it sets none (or it cannot be read)."""
    if version == 2:
        fields = (_read(posixpath.join(directory, 'cpu.max'), LIMIT_FILE_BYTES) or '').split()
        quota, period = (fields[0], fields[1]) if len(fields) == 2 else (None, None)
    else:
        quota = (_read(posixpath.join(directory, 'cpu.cfs_quota_us'), LIMIT_FILE_BYTES) or '').strip()
        period = (_read(posixpath.join(directory, 'cpu.cfs_period_us'), LIMIT_FILE_BYTES) or '').strip()
    try:
        quota, period = int(quota), int(period)
    except (TypeError, ValueError):     # "max" (v2), or nothing read
        return None
    # -1 (v1): no limit.
    return quota / period if quota > 0 and period > 0 else None
