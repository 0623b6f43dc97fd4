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
import stat
import time

from ansible_collections.kabi.dkms.plugins.module_utils._module_tree import KernelTree
from ansible_collections.kabi.dkms.plugins.module_utils._dkms_tree import read_dkms_tree
from ansible_collections.kabi.dkms.plugins.module_utils._kernels import Kernel, read_kernel_config
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

# In a directory only root can write: in /run/lock (world-writable) any user could create the
# file first, or flock it through a read-only descriptor, and hold every run up.
DEFAULT_LOCK_DIR = '/run/kabi-dkms'
DEFAULT_LOCK_FILE = DEFAULT_LOCK_DIR + '/lock'
LOG_LINES = 30
LOG_TAIL_BYTES = 64 * 1024


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
            mtime = rootfs.stat(path).st_mtime
        except (OSError, RootPathError):
            continue
        if newest is None or mtime > newest[0]:
            newest = (mtime, path)
    if newest is None:
        return []
    try:
        with rootfs.open(newest[1]) as log:
            # Only the end of a log of any size.
            log.seek(max(0, os.fstat(log.fileno()).st_size - LOG_TAIL_BYTES))
            return tail(log.read(LOG_TAIL_BYTES).decode('utf-8', 'replace'), lines)
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
        if self.package.installed.get(self.kernel) == (version, self.arch) \
                and self._copies_present(self.package.versions[version], build):
            return INSTALLED
        return BUILT

    def _copies_present(self, package_version, build):
        for name in build.modules:
            copy, same = self._tree.installed_copy(package_version, name)
            if not copy or not same:
                return False
        return True

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


class LockError(Exception):
    """The lock cannot be taken: someone else may control it, or it is held too long."""


class LockTimeout(LockError):
    pass


def _private_directory(path):
    """A descriptor of directory ``path``, created 0700 when missing; it must be owned by this
    user and writable by no one else, else LockError."""
    try:
        os.mkdir(path, 0o700)
    except OSError as exc:
        if exc.errno != errno.EEXIST:
            raise LockError('cannot create the lock directory %s: %s' % (path, exc.strerror))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise LockError('cannot open the lock directory %s: %s (it must be a real directory, not a link)'
                        % (path, exc.strerror))
    _check_private(fd, path, 'directory', 0o022, 'writable by')
    return fd


def _check_private(fd, path, kind, forbidden, verb):
    """LockError (``fd`` closed) unless ``fd`` belongs to this user and has no ``forbidden`` mode bits."""
    info = os.fstat(fd)
    if info.st_uid != os.geteuid() or info.st_mode & forbidden:
        os.close(fd)
        raise LockError('refusing the lock %s %s: it is owned by uid %d with mode %04o; it must belong to uid %d '
                        'and be %s no one else, or another user could hold the lock (remove it and run again)'
                        % (kind, path, info.st_uid, stat.S_IMODE(info.st_mode), os.geteuid(), verb))


class DkmsLock:
    """An exclusive ``flock`` on a lock file, waited for up to ``timeout`` seconds.

    The file is 0600 in a directory only its owner can write (created 0700 when missing), and
    both must belong to the user running the module (root), else LockError: a lock another
    user can open is a lock another user can hold. The holder writes its pid into the file so
    that a waiting run can name it. Other root tools can take part with ``flock LOCK_FILE dkms ...``.
    """

    POLL = 0.2

    def __init__(self, path, timeout):
        self.path = path
        self.timeout = timeout
        self.waited = 0.0
        self._fd = None

    def __enter__(self):
        directory, name = os.path.split(os.path.abspath(self.path))
        dir_fd = _private_directory(directory)
        try:
            # O_NOFOLLOW: a planted symlink must not make root open another file.
            fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o600,
                         dir_fd=dir_fd)
        except OSError as exc:
            raise LockError('cannot open the lock file %s: %s' % (self.path, exc.strerror))
        finally:
            os.close(dir_fd)
        # flock works on a read-only descriptor: no one else may even read the file.
        _check_private(fd, self.path, 'file', 0o077, 'readable or writable by')
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise LockError('refusing the lock file %s: not a regular file' % self.path)
        self._fd = fd
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
            return os.pread(self._fd, 32, 0).decode('ascii', 'replace').strip()
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


class DkmsModuleError(Exception):
    """The request cannot be carried out on any kernel (unknown package or version)."""


class Manager:
    """One run of ``dkms_module``: plan every kernel, run dkms where needed, verify by reading the tree.

    ``params`` are the module's options; ``runner(argv) -> (rc, stdout, stderr)`` runs dkms.
    """

    def __init__(self, rootfs, warn, params, runner, check_mode):
        self.rootfs = rootfs
        self.warn = warn
        self.params = params
        self.runner = runner
        self.check_mode = check_mode
        self.arch = params['arch'] or os.uname()[4]
        self.tree = None
        self.read()

    def read(self):
        p = self.params
        self.tree = read_dkms_tree(self.rootfs, self.warn, names=[p['name']], dkms_tree=p['dkms_tree'],
                                   source_tree=p['source_tree'], install_tree=p['install_tree'])

    @property
    def package(self):
        """The package as the last read of the tree shows it, or None when dkms does not know it."""
        return self.tree.packages.get(self.params['name'])

    def view(self, kernel):
        return KernelView(self.rootfs, self.warn, self.package, kernel, self.arch, self.tree.install_tree)

    def argv(self, action, version, kernel=None):
        p = self.params
        return dkms_argv(action, p['name'], version, kernel, arch=p['arch'], dkms_tree=p['dkms_tree'],
                         source_tree=p['source_tree'], install_tree=p['install_tree'],
                         no_depmod=p['no_depmod'] and action != 'add', force=p['force'] and action != 'add')

    def resolve_version(self):
        """``(version, needs dkms add)``; raises DkmsModuleError when nothing names a usable version."""
        p = self.params
        package = self.package
        registered = package.ordered_versions() if package else []
        if p['state'] == ABSENT:
            return p['version'], False
        version = p['version'] or (registered[-1] if registered else None)
        if version is None:
            raise DkmsModuleError('%s has no registered version in %s; give version= of a source in %s' % (
                p['name'], self.tree.dkms_tree, self.tree.source_tree))
        if version in registered:
            if package.versions[version].broken:
                raise DkmsModuleError('%s/%s is registered but its source is missing: %s/%s/%s/source' % (
                    p['name'], version, self.tree.dkms_tree, p['name'], version))
            return version, False
        source = posixpath.join(self.tree.source_tree, '%s-%s' % (p['name'], version), 'dkms.conf')
        if not self.rootfs.isfile(source):
            raise DkmsModuleError('%s/%s is neither registered in %s nor present as %s' % (
                p['name'], version, self.tree.dkms_tree, source))
        return version, True

    def excluded(self, version, kernel):
        package = self.package
        conf = package.versions[version].conf if package and version in package.versions else None
        if conf is None:
            return False
        return bool(conf.excludes(kernel, self.arch,
                                  lambda: read_kernel_config(self.rootfs, self.warn, '/lib/modules/%s' % kernel)))

    def run(self):
        """The result dict: ``changed``, ``version``, ``registered``, ``per_kernel`` and ``failed``."""
        p = self.params
        version, needs_add = self.resolve_version()
        result = {'name': p['name'], 'version': version, 'state': p['state'], 'arch': self.arch,
                  'registered': needs_add, 'changed': needs_add, 'per_kernel': []}
        if needs_add and not self.check_mode:
            rc, out, err = self.runner(self.argv('add', version))
            self.read()
            if rc != 0 or self.package is None or version not in self.package.versions:
                raise DkmsModuleError('dkms add of %s/%s failed (rc %s): %s' % (
                    p['name'], version, rc, ' '.join(tail(err or out, 5))))
        for kernel in p['kernels']:
            entry = self.kernel(version, kernel)
            result['per_kernel'].append(entry)
            result['changed'] = result['changed'] or entry['changed']
        result['failed'] = any(entry['outcome'] in FAILURES for entry in result['per_kernel'])
        result['msg'] = summary(p['name'], version, result['per_kernel'], self.check_mode)
        return result

    def kernel(self, version, kernel):
        view = self.view(kernel)
        state = self.params['state']
        headers = headers_present(self.rootfs, kernel)
        action, outcome, msg = plan_kernel(
            view, version, state, headers, state != ABSENT and self.excluded(version, kernel),
            self.rootfs.isdir(posixpath.join(self.tree.install_tree, kernel)))
        entry = {'kernel': kernel, 'package': self.params['name'], 'version': version, 'action': ACTION_WORDS[action], 'outcome': outcome,
                 'changed': False, 'msg': msg, 'rc': None, 'cmd': [], 'stdout': [], 'stderr': [], 'make_log': []}
        if action is None:
            entry['action'] = ACTION_WORDS[None]
            return entry
        if self.check_mode:
            entry.update(outcome=DONE, changed=True, msg='would run dkms %s' % action)
            return entry
        before = view.snapshot()
        versions = [version] if version else [v for v in sorted(view.package.versions) if view.state(v) != ABSENT]
        for each in versions:
            argv = self.argv(action, each, kernel)
            rc, out, err = self.runner(argv)
            entry.update(rc=rc, cmd=argv, stdout=tail(out), stderr=tail(err), outcome=outcome_of(rc))
            if entry['outcome'] == BUILD_FAILED:
                entry['make_log'] = make_log_tail(self.rootfs, self.tree.dkms_tree, self.params['name'], each,
                                                  kernel, self.arch)
            if rc != 0:
                break
        self.read()
        after = self.view(kernel)
        entry['changed'] = after.snapshot() != before
        entry['msg'] = self.verify(entry, after, versions, state)
        return entry

    def verify(self, entry, after, versions, state):
        """Trust the tree over dkms's exit status: an exit 0 that did not reach the state is a failure."""
        kernel = after.kernel
        if entry['outcome'] != DONE:
            return 'dkms %s failed on %s with exit code %s (%s)' % (
                entry['cmd'][1], kernel, entry['rc'], entry['outcome'])
        reached = [after.state(v) for v in versions]
        if state == ABSENT and all(s == ABSENT for s in reached):
            return None
        if state == INSTALLED and reached == [INSTALLED] or state == BUILT and reached[0] != ABSENT:
            return None
        if state == INSTALLED and after.linked_without_copies(versions[0]):
            entry['outcome'] = VERSION_REFUSED
            return ('dkms linked %s/%s to %s but did not copy its modules: a module of the same name and a '
                    'same-or-newer version is already in the kernel\'s tree (a weak-updates link counts); '
                    'force=true replaces it' % (self.params['name'], versions[0], kernel))
        entry['outcome'] = FAILED
        return 'dkms exited 0 but %s is %s on %s, not %s' % (self.params['name'], ', '.join(reached), kernel, state)


def summary(name, version, entries, check_mode):
    """One line per outcome, e.g. ``kabitest 1.0: done on 6.1.0-56-amd64; no-headers on 6.1.0-99``."""
    groups = {}
    for entry in entries:
        groups.setdefault(entry['outcome'], []).append(entry['kernel'])
    words = {DONE: 'would change' if check_mode else 'changed'}
    parts = ['%s on %s' % (words.get(outcome, outcome), ', '.join(kernels)) for outcome, kernels in sorted(groups.items())]
    return '%s %s: %s' % (name, version or '(all versions)', '; '.join(parts) or 'no kernels')
