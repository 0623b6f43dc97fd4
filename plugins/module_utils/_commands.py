# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Finding the host commands the readers may run (grubby, modinfo, modprobe, zstd)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

# Where these tools live; a non-login PATH (cron, some become methods) may lack them.
SBIN_DIRS = ('/usr/local/sbin', '/usr/sbin', '/sbin')


def find_command(name, path=None):
    """Absolute path of an executable ``name`` on ``path`` (default PATH) or in sbin, else None."""
    if path is None:
        path = os.environ.get('PATH', os.defpath)
    for directory in path.split(os.pathsep) + list(SBIN_DIRS):
        candidate = os.path.join(directory, name)
        if directory and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None
