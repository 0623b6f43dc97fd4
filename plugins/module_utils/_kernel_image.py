# -*- coding: utf-8 -*-
# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a kernel image file tells of itself: the release an x86 image names in its setup header
(Documentation/arch/x86/boot.rst), for a boot entry that names its image without it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import struct

from ansible_collections.kabi.dkms.plugins.module_utils._lazy_re import LazyPattern
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootPathError

# The setup header and the string it points at lie in the setup sectors (255 at most) after the
# boot sector.
SETUP_LIMIT = 0x200 * 256
_RELEASE = LazyPattern(br'^[0-9]+\.[0-9]+[0-9A-Za-z.+_~-]*$')


def release_in_image(rootfs, path):
    """The kernel release an x86 kernel image names: its setup header's ``kernel_version``
    string (protocol 2.00 and later) up to its first space, where it lies within the setup
    sectors; None when it names none."""
    try:
        with rootfs.open(path) as handle:
            head = handle.read(SETUP_LIMIT)
    except (OSError, RootPathError):
        return None
    if len(head) < 0x210 or head[0x202:0x206] != b'HdrS' or struct.unpack_from('<H', head, 0x206)[0] < 0x200:
        return None
    setup_end = 0x200 * ((bytearray(head)[0x1F1] or 4) + 1)
    start = 0x200 + struct.unpack_from('<H', head, 0x20E)[0]
    end = head.find(b'\0', start, setup_end)
    if start == 0x200 or end < 0:
        return None
    text = head[start:end].split(b' ', 1)[0]
    return text.decode('ascii') if _RELEASE.match(text) else None
