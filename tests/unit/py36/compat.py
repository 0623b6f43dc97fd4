# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pytest plugin for the unit tests on Python 3.6 (see prepare.py): what the tests' own helpers
ask of the standard library that came later. Nothing here touches the code under test."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import subprocess
import sys

_RUN = subprocess.run


def _run(*args, **kwargs):
    """subprocess.run with ``capture_output`` and ``text`` (Python 3.7)."""
    if kwargs.pop('capture_output', False):
        kwargs['stdout'] = kwargs['stderr'] = subprocess.PIPE
    if 'text' in kwargs:
        kwargs['universal_newlines'] = kwargs.pop('text')
    return _RUN(*args, check=kwargs.pop('check', False), **kwargs)


if sys.version_info < (3, 7):
    subprocess.run = _run
