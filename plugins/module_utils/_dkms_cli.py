# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Driving the ``dkms`` command for ``kabi.dkms.dkms_module``.

What a package version is on a kernel is read from the dkms tree (the same reader the facts
use), never from dkms's output: the plan says which dkms command each kernel needs, the exit
code says how it ended, and a second read of the tree says what really changed. The lock keeps
two runs on one host from running dkms at the same time; dkms itself has none.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import os
import posixpath
import time

from ansible_collections.kabi.dkms.plugins.module_utils._coverage import KernelTree
from ansible_collections.kabi.dkms.plugins.module_utils._kernels import Kernel
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootPathError

# Per-kernel outcomes. The first four are not failures: ``no-headers`` and ``excluded``
# kernels cannot or must not get the package, which the caller reports as a skip.
DONE = 'done'
ALREADY = 'already'
NO_HEADERS = 'no-headers'
EXCLUDED = 'excluded'
BUILD_FAILED = 'build-failed'
VERSION_REFUSED = 'version-refused'
FAILED = 'failed'
FAILURES = (BUILD_FAILED, VERSION_REFUSED, FAILED)

# dkms exit codes (dkms-project/dkms dkms.in): 21 no headers (3.0.11+; older dkms exits 1,
# which the headers pre-check catches first), 77 BUILD_EXCLUSIVE_*, 10 make failed, 7 make
# succeeded but a module file is missing, 6 no install tree for the kernel or
# check_version_sanity refused (a same-or-newer module is already in the kernel's tree).
EXIT_OUTCOMES = {0: DONE, 21: NO_HEADERS, 77: EXCLUDED, 10: BUILD_FAILED, 7: BUILD_FAILED, 6: VERSION_REFUSED}

# The state of one package version on one kernel, and the dkms action that reaches each goal.
INSTALLED = 'installed'
BUILT = 'built'
ABSENT = 'absent'
ACTIONS = {INSTALLED: 'install', BUILT: 'build', ABSENT: 'remove'}
ACTION_WORDS = {'install': 'installed', 'build': 'built', 'remove': 'removed', None: 'unchanged'}

DEFAULT_LOCK_FILE = '/run/lock/kabi-dkms.lock'
LOG_LINES = 30


def outcome_of(rc):
    return EXIT_OUTCOMES.get(rc, FAILED)


def tail(text, lines=LOG_LINES):
    """The last ``lines`` lines of ``text`` as a list."""
    return (text or '').splitlines()[-lines:]


def dkms_argv(action, name, version=None, kernel=None, arch=None, dkms_tree=None, source_tree=None,
              install_tree=None, no_depmod=False, force=False, dkms='dkms'):
    """argv of one dkms command; only the options given are passed."""
    argv = [dkms, action, '-m', name]
    if version is not None:
        argv += ['-v', version]
    if kernel is not None:
        argv += ['-k', kernel]
    if arch:
        argv += ['-a', arch]
    for option, value in (('--dkmstree', dkms_tree), ('--sourcetree', source_tree), ('--installtree', install_tree)):
        if value:
            argv += [option, value]
    if no_depmod:
        argv.append('--no-depmod')
    if force:
        argv.append('--force')
    return argv


def headers_present(rootfs, kernel):
    """What dkms checks before building: ``/lib/modules/K/build/include`` (never the install tree)."""
    return rootfs.isdir('/lib/modules/%s/build/include' % kernel)


def make_log_tail(rootfs, dkms_tree, name, version, kernel, arch, lines=LOG_LINES):
    """The tail of the newest make.log of a build: the build dir's after a failure, else the kernel's."""
    candidates = [posixpath.join(dkms_tree, name, version, 'build', 'make.log'),
                  posixpath.join(dkms_tree, name, version, kernel, arch, 'log', 'make.log')]
    newest = None
    for path in candidates:
        try:
            mtime = os.stat(rootfs.real(path)).st_mtime
        except (OSError, RootPathError):
            continue
        if newest is None or mtime > newest[0]:
            newest = (mtime, path)
    if newest is None:
        return []
    try:
        return tail(rootfs.read_text(newest[1], limit=4 * 1024 * 1024), lines)
    except (OSError, RootPathError):
        return []


class KernelView:
    """One package on one kernel, as the dkms tree and the kernel's module tree show it."""

    def __init__(self, rootfs, warn, package, kernel, arch, install_tree):
        self.rootfs = rootfs
        self.package = package
        self.kernel = kernel
        self.arch = arch
        self._tree = KernelTree(rootfs, warn, Kernel(kernel, posixpath.join(install_tree, kernel)))

    def build(self, version):
        pv = self.package.versions.get(version) if self.package else None
        build = pv.builds.get(self.kernel) if pv else None
        return build if build is not None and build.arch == self.arch else None

    def state(self, version):
        """``installed`` (dkms's link and same copies in the module tree), ``built`` or ``absent``."""
        build = self.build(version)
        if build is None:
            return ABSENT
        if self.package.installed.get(self.kernel) == (version, self.arch) and all(
                self._tree.installed_copy(name, path) == (self._tree.installed_copy(name, path)[0], True)
                and self._tree.installed_copy(name, path)[0] for name, path in build.modules.items()):
            return INSTALLED
        return BUILT

    def linked_without_copies(self, version):
        """dkms's install link exists but the files are not in the tree (dkms refused to copy them)."""
        return self.package is not None and self.package.installed.get(self.kernel) == (version, self.arch) \
            and self.state(version) == BUILT

    def snapshot(self):
        """Everything of this package dkms can change on this kernel, to compare before and after."""
        if self.package is None:
            return None
        builds = []
        for version in sorted(self.package.versions):
            build = self.build(version)
            if build is not None:
                builds.append((version, sorted((name, _mtime(self.rootfs, path))
                                               for name, path in build.modules.items()), self.state(version)))
        return (self.package.installed.get(self.kernel), builds)


def _mtime(rootfs, path):
    try:
        return rootfs.lstat(path).st_mtime
    except (OSError, RootPathError):
        return None


def plan_kernel(view, version, state, headers, excluded, install_tree_present):
    """``(dkms action or None, outcome when nothing is to run, message)`` for one kernel.

    ``version`` is None only for ``state=absent`` without a version: every version goes.
    """
    if state == ABSENT:
        versions = [version] if version else sorted(view.package.versions) if view.package else []
        if any(view.state(v) != ABSENT for v in versions):
            return 'remove', None, None
        return None, ALREADY, None
    current = view.state(version)
    if current == INSTALLED or (state == BUILT and current == BUILT):
        return None, ALREADY, None
    if excluded:
        return None, EXCLUDED, 'BUILD_EXCLUSIVE_* in dkms.conf rules %s out' % view.kernel
    if not headers:
        return None, NO_HEADERS, 'no headers for %s: /lib/modules/%s/build/include is missing' % (
            view.kernel, view.kernel)
    if not install_tree_present:
        return None, FAILED, 'the install tree has no directory for %s' % view.kernel
    return ACTIONS[state], None, None


class LockTimeout(Exception):
    pass


class DkmsLock:
    """An exclusive ``flock`` on a lock file, waited for up to ``timeout`` seconds.

    The holder writes its pid into the file so that a waiting run can name it. Other tools
    can take part with ``flock LOCK_FILE dkms ...``.
    """

    POLL = 0.2

    def __init__(self, path, timeout):
        self.path = path
        self.timeout = timeout
        self.waited = 0.0
        self._fd = None

    def __enter__(self):
        directory = os.path.dirname(self.path)
        if directory and not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        # O_NOFOLLOW: a planted symlink must not make root open another file.
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, 'O_NOFOLLOW', 0), 0o644)
        start = time.time()
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except (IOError, OSError) as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            if time.time() - start >= self.timeout:
                holder = self.holder()
                os.close(self._fd)
                self._fd = None
                raise LockTimeout('another dkms run holds %s%s; gave up after %s seconds' % (
                    self.path, ' (pid %s)' % holder if holder else '', self.timeout))
            time.sleep(self.POLL)
        self.waited = round(time.time() - start, 2)
        os.ftruncate(self._fd, 0)
        os.write(self._fd, ('%d\n' % os.getpid()).encode('ascii'))
        return self

    def holder(self):
        try:
            return os.pread(self._fd, 32, 0).decode('ascii', 'replace').strip() if hasattr(os, 'pread') else None
        except OSError:
            return None

    def __exit__(self, *exc_info):
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        return False


def default_lock_file(dkms_tree):
    """The host-wide lock, or one beside a sandbox dkms tree so sandboxes do not wait on the host."""
    if dkms_tree:
        return posixpath.join(posixpath.dirname(posixpath.normpath(dkms_tree)), 'kabi-dkms.lock')
    return DEFAULT_LOCK_FILE
