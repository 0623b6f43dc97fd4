# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The version of kmod a root loads modules with, read from its kmod program, never run.

Every kmod tool (``kmod``, and ``modprobe`` and ``insmod``, links to it) prints its version from
one string literal, "kmod version " and the version, so the program's bytes tell it. Distributions
ship libkmod, which udev loads modules with at boot, from the same source and version.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootPathError

# Where distributions install the program, merged /usr or not.
KMOD_PROGRAMS = ('/usr/bin/kmod', '/bin/kmod', '/usr/sbin/kmod', '/sbin/kmod')
# The program is about 200 KiB, a static build a few MiB.
KMOD_PROGRAM_LIMIT = 16 * 1024 * 1024
# The literal as the C string it is in the program: what follows the number (a distribution's
# suffix) is printable and short.
_VERSION_LITERAL = re.compile(br'kmod version ([0-9]{1,6}(?:\.[0-9]{1,6}){0,3})[\x20-\x7e]{0,64}\0')


def read_kmod_version(rootfs, warn):
    """The version of the first of KMOD_PROGRAMS in ``rootfs`` as a tuple of ints ((34, 2) for
    34.2), or None when there is none, or it cannot be read (warned) or names no one version."""
    # A link that dangles or loops is there, and warned about when read.
    path = next((path for path in KMOD_PROGRAMS if rootfs.exists(path) or rootfs.islink(path)), None)
    if path is None:
        return None
    try:
        program = rootfs.read_bytes(path, KMOD_PROGRAM_LIMIT)
    except (OSError, IOError, RootPathError) as exc:
        warn('%s: %s; which kmod loads modules is not known' % (path, exc))
        return None
    versions = set(_VERSION_LITERAL.findall(program))
    if len(versions) != 1:
        warn('%s: %s; which kmod loads modules is not known'
             % (path, 'names kmod versions %s' % ', '.join(sorted(version.decode('ascii') for version in versions))
                if versions else 'no kmod version in it'))
        return None
    return tuple(int(part) for part in versions.pop().split(b'.'))
