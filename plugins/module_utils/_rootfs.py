# -*- coding: utf-8 -*-
# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Paths inside an inspected root: the only way the readers touch the file system.

Every path the readers use is an absolute path *inside* the root (``/lib/modules/K``).
Symlinks are resolved the way a chroot would resolve them: an absolute target starts
again at the root, and ``..`` never climbs above it. So a hostile or stale link can never
make the module read a file of the host when it inspects an image or a test tree.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import posixpath
import stat

# The kernel's own limit on symlinks followed in one lookup (MAXSYMLINKS).
MAX_SYMLINKS = 40


class RootPathError(Exception):
    """A path that cannot be resolved inside the root (a symlink loop)."""


def remembered(cache, key, compute, errors=()):
    """``compute(key)`` once per key; an error of the ``errors`` types it raises is remembered
    and raised again."""
    if key not in cache:
        try:
            cache[key] = compute(key)
        except errors as exc:
            cache[key] = exc
    result = cache[key]
    if isinstance(result, errors):
        raise result
    return result


class RootFS:
    """File-system access confined to one root directory.

    ``snapshot=True`` remembers every resolved path, for readers that look at a tree which
    does not change while they read it (the fact module resolves the same directories
    thousands of times); code that changes the tree between reads leaves it off.
    """

    def __init__(self, root='/', snapshot=False):
        self.root = os.path.realpath(root)
        self._resolved = {} if snapshot else None
        self._links = {} if snapshot else None

    def host(self, path):
        """Host path of an in-root path whose symlinks are already resolved."""
        relative = posixpath.normpath('/' + path).lstrip('/')
        return os.path.join(self.root, relative) if relative else self.root

    def resolve(self, path):
        """Canonical in-root path of ``path``, every symlink followed inside the root.

        Components that do not exist are kept as they are (like ``realpath -m``), so a
        dangling link resolves to where it points; callers check existence themselves.
        Raises RootPathError on a symlink loop.
        """
        if self._resolved is None:
            return self._resolve(path)
        return remembered(self._resolved, path, self._resolve, RootPathError)

    def _resolve(self, path):
        pending = [part for part in path.split('/') if part]
        pending.reverse()
        resolved = []
        followed = 0
        while pending:
            part = pending.pop()
            if part == '.':
                continue
            if part == '..':
                if resolved:
                    resolved.pop()
                continue
            candidate = resolved + [part]
            target = self._link_target('/'.join(candidate))
            if target is None:
                # Not a symlink, or it does not exist: keep the name as it is.
                resolved = candidate
                continue
            followed += 1
            if followed > MAX_SYMLINKS:
                raise RootPathError('too many levels of symbolic links: %s' % path)
            if target.startswith('/'):
                resolved = []
            remainder = [p for p in target.split('/') if p]
            remainder.reverse()
            pending.extend(remainder)
        return '/' + '/'.join(resolved)

    def _link_target(self, path):
        """The symlink's text, or None when ``path`` (already resolved above it) is no link."""
        if self._links is not None and path in self._links:
            return self._links[path]
        try:
            target = os.readlink(self.host(path))
        except OSError:
            target = None
        if self._links is not None:
            self._links[path] = target
        return target

    def real(self, path):
        """Host path of ``path`` after resolving it inside the root."""
        return self.host(self.resolve(path))

    def _unfollowed(self, path):
        """Host path of ``path`` with its parents resolved inside the root but not its last component."""
        parent, name = posixpath.split(posixpath.normpath('/' + path))
        return os.path.join(self.real(parent), name) if name else self.root

    def lstat(self, path):
        """lstat of the last component itself (its parents resolved inside the root)."""
        return os.lstat(self._unfollowed(path))

    def _stat_mode(self, path):
        try:
            return os.stat(self.real(path)).st_mode
        except (OSError, RootPathError):
            return None

    def exists(self, path):
        return self._stat_mode(path) is not None

    def isdir(self, path):
        mode = self._stat_mode(path)
        return mode is not None and stat.S_ISDIR(mode)

    def isfile(self, path):
        mode = self._stat_mode(path)
        return mode is not None and stat.S_ISREG(mode)

    def islink(self, path):
        try:
            return stat.S_ISLNK(self.lstat(path).st_mode)
        except (OSError, RootPathError):
            return False

    def readlink(self, path):
        return os.readlink(self._unfollowed(path))

    def listdir(self, path):
        """Sorted entries of a directory; raises OSError or RootPathError."""
        return sorted(os.listdir(self.real(path)))

    def open(self, path):
        """Open a regular file for binary reading; raises OSError or RootPathError."""
        real = self.real(path)
        if not os.path.isfile(real):
            raise OSError(errno.EISDIR if os.path.isdir(real) else errno.ENOENT,
                          'not a regular file', path)
        return open(real, 'rb')

    def read_bytes(self, path, limit=None):
        with self.open(path) as handle:
            return handle.read() if limit is None else handle.read(limit)

    def read_text(self, path, limit=None):
        return self.read_bytes(path, limit).decode('utf-8', 'replace')

    def walk_files(self, path):
        """In-root paths of every entry below ``path`` that is not a directory.

        Directories are entered only when they are real directories (never through a
        symlink), so a link to a directory or a link loop cannot make the walk endless.
        Unreadable subdirectories are returned in ``errors`` as (path, error) pairs.
        """
        files, errors = [], []
        stack = [path]
        while stack:
            current = stack.pop()
            try:
                names = self.listdir(current)
            except (OSError, RootPathError) as exc:
                errors.append((current, exc))
                continue
            for name in names:
                child = posixpath.join(current, name)
                try:
                    mode = self.lstat(child).st_mode
                except (OSError, RootPathError) as exc:
                    errors.append((child, exc))
                    continue
                if stat.S_ISDIR(mode):
                    stack.append(child)
                else:
                    files.append(child)
        return sorted(files), errors

    def same_content(self, first, second):
        """Whether two in-root files hold the same bytes; raises OSError or RootPathError."""
        first_real, second_real = self.real(first), self.real(second)
        if os.stat(first_real).st_size != os.stat(second_real).st_size:
            return False
        with open(first_real, 'rb') as one, open(second_real, 'rb') as other:
            while True:
                chunk = one.read(65536)
                if chunk != other.read(65536):
                    return False
                if not chunk:
                    return True
