# -*- coding: utf-8 -*-
# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What udev's database under a root tells of the block device a path is on (on the running
system: its partition's GPT type and UUID, its disk)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootPathError

UDEV_DATA_DIR = '/run/udev/data'
# A device's record is a few dozen lines.
RECORD_LIMIT = 64 * 1024
# A host has a few hundred block devices at most (partitions, loop devices, device-mapper).
MAX_RECORDS = 4096


def _properties(record):
    return dict(line[2:].split('=', 1) for line in record.splitlines() if line.startswith('E:') and '=' in line)


def block_device_properties(rootfs):
    """The properties of every block device udev recorded, or None when there are more than
    MAX_RECORDS records or they cannot be listed."""
    try:
        names = [name for name in rootfs.listdir(UDEV_DATA_DIR) if name.startswith('b')]
    except (OSError, RootPathError):
        return None
    if len(names) > MAX_RECORDS:
        return None
    found = []
    for name in names:
        try:
            found.append(_properties(rootfs.read_text('%s/%s' % (UDEV_DATA_DIR, name), RECORD_LIMIT)))
        except (OSError, RootPathError):
            return None
    return found


def udev_properties(rootfs, path):
    """``{name: value}`` of the ``E:`` lines of udev's record of the block device ``path`` is on
    (``ID_PART_ENTRY_UUID``, ``ID_PART_ENTRY_TYPE``, ``ID_PART_ENTRY_DISK``...); empty when
    there is none (a disk image, a file system of no block device)."""
    try:
        device = rootfs.stat(path).st_dev
        record = rootfs.read_text('%s/b%d:%d' % (UDEV_DATA_DIR, os.major(device), os.minor(device)), RECORD_LIMIT)
    except (OSError, RootPathError):
        return {}
    return _properties(record)
