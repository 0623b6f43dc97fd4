# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kmod a root loads modules with, read from its kmod program, never run.

Every kmod tool (``kmod``, and ``modprobe`` and ``insmod``, links to it) prints its version from
one string literal, "kmod version " and the version, and since kmod 21 the features of its build
from another ("+ZSTD +XZ -ZLIB ..."), so the program's bytes tell both. Distributions ship libkmod,
which udev loads modules with at boot, from the same source and build.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootPathError

# Where distributions install the program, merged /usr or not.
KMOD_PROGRAMS = ('/usr/bin/kmod', '/bin/kmod', '/usr/sbin/kmod', '/sbin/kmod')
# The program is about 200 KiB, a static build a few MiB.
KMOD_PROGRAM_LIMIT = 16 * 1024 * 1024
# The literals as the C strings they are in the program: what follows the version number (a
# distribution's suffix) is printable and short, and the number is taken whole, so a file of near
# matches is searched without trying every way of cutting it; the features are signed names, XZ
# among them. Compiled when first searched for, not when imported: most runs never read the program.
_VERSION_LITERAL = br'kmod version ([0-9]{1,6}(?:\.[0-9]{1,6}){0,3})(?![0-9])(?!\.[0-9])[\x20-\x7e]{0,64}\0'
# No name but the one XZ may match it, so a run of names is matched one way only.
_FEATURES_LITERAL = br'\0((?:[+-](?!XZ )[A-Z0-9_]{1,32} ){0,31}[+-]XZ(?: [+-][A-Z0-9_]{1,32}){0,31})(?=\0)'


# The name each compression format of module files has among a build's features, and the suffix
# its depmod indexes such files by.
FEATURE_NAMES = {'gzip': 'ZLIB', 'xz': 'XZ', 'zstd': 'ZSTD'}
SUFFIXES = {'.ko.gz': 'gzip', '.ko.xz': 'xz', '.ko.zst': 'zstd'}


class KmodProgram:
    """``version``: a tuple of ints ((34, 2) for 34.2); ``features``: {name: built with it} of
    its build, empty when the program does not tell them."""

    __slots__ = ('version', 'features')

    def __init__(self, version, features):
        self.version = version
        self.features = features

    def knows(self, compression):
        """Whether the build decompresses ``compression`` ('gzip', 'xz', 'zstd'), None when it
        does not tell (before kmod 21): a format it does not name is one it does not know."""
        return self.features.get(FEATURE_NAMES[compression], False) if self.features else None

    def indexes(self, path):
        """Whether its depmod indexes the module file ``path``: only the suffixes of the formats
        its build knows (shared/util.c), so modprobe and udev never find another; None when not known."""
        compression = next((name for suffix, name in SUFFIXES.items() if path.endswith(suffix)), None)
        return True if compression is None else self.knows(compression)


def read_kmod_program(rootfs, warn):
    """The KmodProgram of the first of KMOD_PROGRAMS in ``rootfs``, or None when there is none, or
    it cannot be read (warned), or names no one version (warned)."""
    # A link that dangles or loops is there, and warned about when read.
    path = next((path for path in KMOD_PROGRAMS if rootfs.exists(path) or rootfs.islink(path)), None)
    if path is None:
        return None
    try:
        program = rootfs.read_bytes(path, KMOD_PROGRAM_LIMIT)
    except (OSError, IOError, RootPathError) as exc:
        warn('%s: %s; which kmod loads modules is not known' % (path, exc))
        return None
    versions = _first_two(_VERSION_LITERAL, program)
    if len(versions) != 1:
        warn('%s: %s; which kmod loads modules is not known'
             % (path, 'names more than one kmod version (%s, ...)' % ', '.join(versions) if versions
                else 'no kmod version in it'))
        return None
    features = _first_two(_FEATURES_LITERAL, program)
    return KmodProgram(tuple(int(part) for part in versions[0].split('.')),
                       dict((name[1:], name[0] == '+') for name in features[0].split()) if len(features) == 1 else {})


def _first_two(pattern, program):
    """The first two different texts ``pattern`` finds in ``program`` (a hostile file may hold
    thousands: what is read of them stays small)."""
    found = []
    for match in re.finditer(pattern, program):
        text = match.group(1).decode('ascii')
        if text not in found:
            found.append(text)
            if len(found) == 2:
                break
    return found
