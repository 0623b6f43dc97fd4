# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which Python of the host can read ``.ko`` files with pyelftools, when the one Ansible runs the
fact module with cannot.

Distributions package pyelftools for their system Python: Debian's, Ubuntu's, Fedora's and SUSE's
``python3-pyelftools`` for ``/usr/bin/python3``, EPEL 8's for RHEL 8's ``platform-python`` and its
``python39-pyelftools`` for ``/usr/bin/python3.9``. Ansible often runs modules with another Python
(a newer one its interpreter discovery prefers, or a virtual environment), where the module would
fall back to kmod's commands: two processes per file, and no export lists. The fact module then
runs itself again under the first of these that can import both pyelftools and the Ansible
module_utils it was shipped with, as ``package_facts`` does for its package libraries.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import sys

# Newest first after the distributions' defaults: a newer interpreter reads faster.
SYSTEM_PYTHONS = ('/usr/bin/python3', '/usr/libexec/platform-python') + \
    tuple('/usr/bin/python3.%d' % minor for minor in range(14, 5, -1))

# What the module needs of an interpreter: pyelftools' ELFFile (0.33 imports on Python 3.9 but its
# ELFFile does not) and Ansible's module_utils, which refuse Pythons older than their core supports.
PROBE = 'import elftools.elf.elffile, ansible.module_utils.basic'
# A probe is one interpreter start and two imports; a hung one is given up on.
PROBE_SECONDS = 20


def _environment(candidate):
    """What decides what an interpreter imports: its program, and the virtual environment whose
    pyvenv.cfg is beside its path or one directory up (where Python looks), if any."""
    here = os.path.dirname(os.path.abspath(candidate))
    venv = next((directory for directory in (here, os.path.dirname(here))
                 if os.path.isfile(os.path.join(directory, 'pyvenv.cfg'))), None)
    return os.path.realpath(candidate), venv and os.path.realpath(venv)


def _running_environment():
    return os.path.realpath(sys.executable), os.path.realpath(sys.prefix) if sys.prefix != sys.base_prefix else None


def python_with_elftools(ansible_parent, candidates=SYSTEM_PYTHONS, timeout=PROBE_SECONDS):
    """The first of ``candidates`` (absolute paths) that imports pyelftools and the ``ansible``
    package in the directory (or zip file) ``ansible_parent``, other than the running interpreter;
    None when none does. Each program is probed once per environment: /usr/bin/python3 is most
    often another name of one of the others."""
    path = os.environ.get('PYTHONPATH')
    env = dict(os.environ, PYTHONPATH=ansible_parent + (os.pathsep + path if path else ''))
    probed = set([_running_environment()])
    for candidate in candidates:
        environment = _environment(candidate)
        program = environment[0]
        if environment in probed or not os.path.isfile(program) or not os.access(program, os.X_OK):
            continue
        probed.add(environment)
        try:
            with open(os.devnull, 'wb') as devnull:
                returncode = subprocess.call([candidate, '-c', PROBE], env=env, stdin=devnull, stdout=devnull,
                                             stderr=devnull, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if returncode == 0:
            return candidate
    return None
