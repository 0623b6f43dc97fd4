# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which Python of the host can read ``.ko`` files with pyelftools, when the one Ansible runs the
fact module with cannot; and running the module again there.

Distributions package pyelftools for their system Python: Debian's, Ubuntu's, Fedora's and SUSE's
``python3-pyelftools`` for ``/usr/bin/python3``, EPEL 8's for RHEL 8's ``platform-python`` and its
``python39-pyelftools`` for ``/usr/bin/python3.9``. Ansible often runs modules with another Python
(a newer one its interpreter discovery prefers, or a virtual environment), where the module would
fall back to kmod's commands: two processes per file, and no export lists. The fact module then
runs itself again under the first of these that can import pyelftools and the module's own code
as AnsiballZ shipped it, with ansible-core's ``respawn_module``, as ``package_facts`` does.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import signal
import subprocess
import sys
import time

from ansible.module_utils.common.respawn import has_respawned, respawn_module

# Newest first after the distributions' defaults: a newer interpreter reads faster.
SYSTEM_PYTHONS = ('/usr/bin/python3', '/usr/libexec/platform-python') + \
    tuple('/usr/bin/python3.%d' % minor for minor in range(14, 5, -1))

# The probe's exit status when pyelftools' ELFFile does not import (0.33 imports on Python 3.9 but
# its ELFFile does not); any other failure is of Ansible's module_utils (which refuse Pythons older
# than their core supports) or of this module's own code.
NO_ELFTOOLS = 3
PROBE = '''import sys
try:
    import elftools.elf.elffile
except Exception:
    sys.exit(%d)
import ansible.module_utils.basic
from ansible_collections.kabi.dkms.plugins.module_utils._zip_import import compiled_once
with compiled_once():
    import ansible_collections.kabi.dkms.plugins.module_utils._coverage
''' % NO_ELFTOOLS
# All probes together: each is one interpreter start and a few imports; a hung one is given up on.
PROBE_SECONDS = 30

# ansible-core's respawn_module writes the whole payload, the module's arguments in it, into a pipe
# before it starts the child: past the pipe's 64 KiB it would wait forever. Arguments of more than
# this (as JSON; thousands of package names) stay here.
ARGUMENTS_LIMIT = 32 * 1024


def _environment(candidate):
    """What decides what an interpreter imports: its program, and the virtual environment whose
    pyvenv.cfg is beside its path or one directory up (where Python looks), if any."""
    here = os.path.dirname(os.path.abspath(candidate))
    venv = next((directory for directory in (here, os.path.dirname(here))
                 if os.path.isfile(os.path.join(directory, 'pyvenv.cfg'))), None)
    return os.path.realpath(candidate), venv and os.path.realpath(venv)


def _running_environment():
    return os.path.realpath(sys.executable), os.path.realpath(sys.prefix) if sys.prefix != sys.base_prefix else None


def _probe(candidate, env, timeout):
    """The probe's exit status under ``candidate``, run from ``/`` (never from a directory someone
    else may write: ``-c`` imports from the working directory first), in a session of its own so
    that a hung probe goes with everything it started; None when it does not start or finish."""
    try:
        with open(os.devnull, 'wb') as devnull:
            # Not run_command: it waits without a limit, and kills no process group.
            process = subprocess.Popen(  # pylint: disable=ansible-bad-function
                [candidate, '-c', PROBE], env=env, cwd='/', stdin=devnull, stdout=devnull, stderr=devnull,
                start_new_session=True)
    except OSError:
        return None
    try:
        return process.wait(timeout=max(timeout, 0.001))
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return None


def python_with_elftools(modlib_path, candidates=SYSTEM_PYTHONS, timeout=PROBE_SECONDS):
    """``(interpreter, refused)``: the first of ``candidates`` (absolute paths) that imports pyelftools
    and this module's code from ``modlib_path`` (AnsiballZ's payload, or a directory), other than the
    running interpreter, or None; and those before it that have pyelftools but cannot run the module.
    Each program is probed once per environment (``/usr/bin/python3`` is most often another name of
    one of the others), all within ``timeout`` seconds."""
    path = os.environ.get('PYTHONPATH')
    env = dict(os.environ, PYTHONPATH=modlib_path + (os.pathsep + path if path else ''))
    deadline = time.time() + timeout
    probed = set([_running_environment()])
    refused = []
    for candidate in candidates:
        environment = _environment(candidate)
        program = environment[0]
        if environment in probed or not os.path.isfile(program) or not os.access(program, os.X_OK):
            continue
        probed.add(environment)
        if time.time() >= deadline:
            break
        status = _probe(candidate, env, deadline - time.time())
        if status == 0:
            return candidate, refused
        if status not in (None, NO_ELFTOOLS):
            refused.append(candidate)
    return None, refused


def rerun_with_elftools(module, paths=()):
    """Run the AnsibleModule ``module`` again under a system Python that has pyelftools, as AnsiballZ
    shipped it (this process exits with it), when there is one and the module was not run again
    already; otherwise return, with a warning where pyelftools is there but cannot be used.

    ``paths``: the module's path options; the module runs again from ``/`` (see _probe), which a
    relative one would change.
    """
    main = sys.modules['__main__']
    modlib_path = getattr(main, '_modlib_path', None)
    if has_respawned() or not modlib_path or not getattr(main, '_module_fqn', None):
        return      # not run by AnsiballZ (a debug run, a test): nothing to hand over
    interpreter, refused = python_with_elftools(modlib_path)
    if interpreter is None:
        for python in refused:
            module.warn('pyelftools is installed for %s, which cannot run this module (too old for this '
                        'ansible-core?): .ko files are read with kmod, or not at all' % python)
        return
    if len(json.dumps(module.params)) > ARGUMENTS_LIMIT or any(path and not os.path.isabs(path) for path in paths):
        module.warn('not run again under %s, which has pyelftools: the arguments are too long to hand over, or '
                    'name a relative path; .ko files are read with kmod, or not at all' % interpreter)
        return
    os.chdir('/')
    respawn_module(interpreter)
