# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Regular expressions compiled when first used.

Most of the collection's patterns read what only some hosts have (a GRUB script, a grubenv, a
systemd-boot loader, a shell construct beyond literal assignments): compiled at import, they
would cost every run the time of compiling them all, most of them never used.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re


class LazyPattern:
    """``re.compile(pattern, flags)``, compiled when one of its methods or attributes is first asked for."""

    def __init__(self, pattern, flags=0):
        self._source = (pattern, flags)

    def __getattr__(self, name):
        if name.startswith('__'):
            # What copy and pickle look for (__deepcopy__, __setstate__), also on an instance not
            # yet made, whose _source would be looked for here again, endlessly.
            raise AttributeError(name)
        # Asked once per name (match, search...): the compiled pattern's is kept as this object's own.
        value = getattr(re.compile(*self._source), name)
        setattr(self, name, value)
        return value
