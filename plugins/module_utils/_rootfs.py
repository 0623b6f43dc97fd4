# -*- coding: utf-8 -*-
# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Paths inside an inspected root: the only way the readers touch the file system.

Every path the readers use is an absolute path *inside* the root (``/lib/modules/K``).
Symlinks are resolved the way a chroot would resolve them: an absolute target starts
again at the root, and ``..`` never climbs above it. So a hostile or stale link can never
make the module read a file of the host when it inspects an image or a test tree.

Lookups never hand a whole path to the kernel: they walk from a descriptor of the root,
one component at a time, opening each directory relative to its parent with
``O_NOFOLLOW`` and reading symlinks themselves. A link swapped in between two steps
therefore fails the next open instead of leading out of the root. Only regular files are
opened for reading, checked on the descriptor actually opened; FIFOs, sockets and devices
are refused before any read, and every read has a size limit.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import posixpath
import stat

# The kernel's own limit on symlinks followed in one lookup (MAXSYMLINKS).
MAX_SYMLINKS = 40
# Directories deep a lookup or a walk may go; real module trees stay below 15.
MAX_DEPTH = 128
# Directory descriptors a snapshot keeps open for later lookups.
MAX_CACHED_DIRS = 256
CHUNK = 64 * 1024

_CLOEXEC = getattr(os, 'O_CLOEXEC', 0)
# O_PATH: walking through a directory needs only search permission, as in a kernel lookup.
_WALK_FLAGS = getattr(os, 'O_PATH', os.O_RDONLY) | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC
_LIST_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC
# O_NONBLOCK: opening a FIFO swapped in after the type check must not wait for a writer.
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC

_KINDS = ((stat.S_ISDIR, 'a directory'), (stat.S_ISFIFO, 'a FIFO'), (stat.S_ISSOCK, 'a socket'),
          (stat.S_ISCHR, 'a character device'), (stat.S_ISBLK, 'a block device'), (stat.S_ISLNK, 'a symlink'))


class RootPathError(Exception):
    """A path that cannot be resolved inside the root (a symlink loop, too deep)."""


class NotRegularFile(OSError):
    """A FIFO, socket, device or directory where a file was to be read."""

    def __init__(self, path, mode):
        kind = next((name for test, name in _KINDS if test(mode)), 'not a regular file')
        OSError.__init__(self, errno.EISDIR if stat.S_ISDIR(mode) else errno.EINVAL,
                         'not a regular file (%s), never read' % kind, path)

    def __str__(self):
        return '%s' % self.strerror


class FileTooLarge(OSError):
    """A file larger than any real file of its kind."""

    def __init__(self, path, limit):
        OSError.__init__(self, errno.EFBIG, 'larger than %d bytes, the limit for this kind of file' % limit, path)

    def __str__(self):
        return '%s' % self.strerror


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


def is_absent(exc):
    """Whether a lookup error only says the file is not there (which callers expect often)."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOENT, errno.ENOTDIR)


def is_text(name):
    """Whether a file name decoded to text: names whose bytes are not valid in the file-system
    encoding come back with lone surrogates, which no fact or report can carry."""
    try:
        name.encode('utf-8')
    except UnicodeError:
        return False
    return True


def _missing(path):
    return OSError(errno.ENOENT, os.strerror(errno.ENOENT), path)


def _split(path):
    return [part for part in path.split('/') if part and part != '.']


class _Found:
    """Where a lookup ended: ``name`` in the directory open as ``dir_fd``, or that directory
    itself (``name`` None); ``missing`` holds the components kept as text below the first
    one that does not exist."""

    __slots__ = ('dir_path', 'dir_fd', 'name', 'mode', 'missing')

    def __init__(self, dir_path, dir_fd, name, mode, missing):
        self.dir_path = dir_path
        self.dir_fd = dir_fd
        self.name = name
        self.mode = mode
        self.missing = missing

    @property
    def path(self):
        tail = self.missing if self.missing is not None else [self.name] if self.name else []
        return posixpath.join(self.dir_path, *tail) if tail else self.dir_path

    def existing_mode(self, path):
        """The mode of what was found; raises OSError ENOENT when it does not exist."""
        if self.missing is not None or (self.name is not None and self.mode is None):
            raise _missing(path)
        return stat.S_IFDIR if self.name is None else self.mode


class RootFS:
    """File-system access confined to one root directory.

    ``snapshot=True`` remembers what lookups saw (each entry's type, each link's text, up to
    MAX_CACHED_DIRS directory descriptors), for readers that look at a tree which does not
    change while they read it (the fact module resolves the same directories thousands of
    times); code that changes the tree between reads leaves it off. File contents are never
    remembered: each read opens the file again, relative to its directory's descriptor.
    """

    def __init__(self, root='/', snapshot=False):
        self.root = os.path.realpath(root)
        self._resolved = {} if snapshot else None
        self._modes = {} if snapshot else None
        self._links = {} if snapshot else None
        self._dirs = {} if snapshot else None

    def close(self):
        """Close the directory descriptors a snapshot keeps."""
        for fd in (self._dirs or {}).values():
            os.close(fd)
        if self._dirs:
            self._dirs.clear()

    def __del__(self):
        try:
            self.close()
        except Exception:  # pylint: disable=broad-except
            pass  # interpreter shutdown: the process closes them anyway

    def host(self, path):
        """Host path of an in-root path whose symlinks are already resolved (for messages and keys;
        never opened)."""
        relative = posixpath.normpath('/' + path).lstrip('/')
        return os.path.join(self.root, relative) if relative else self.root

    # The walk ------------------------------------------------------------------------------

    def _dir_fd(self, path, parent_fd, name, opened):
        """Descriptor of the directory at canonical ``path`` (``name`` in ``parent_fd``)."""
        fd = self._dirs.get(path) if self._dirs is not None else None
        if fd is not None:
            return fd
        if parent_fd is None:
            fd = os.open(self.root, _WALK_FLAGS & ~os.O_NOFOLLOW)
        else:
            fd = os.open(name, _WALK_FLAGS, dir_fd=parent_fd)
        if self._dirs is not None and len(self._dirs) < MAX_CACHED_DIRS:
            self._dirs[path] = fd
        else:
            opened.append(fd)
        return fd

    def _mode_at(self, dir_fd, dir_path, name):
        """lstat mode of ``name`` in a directory, None when it does not exist."""
        key = (dir_path, name)
        if self._modes is not None and key in self._modes:
            return self._modes[key]
        try:
            mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
                raise
            mode = None
        if self._modes is not None:
            self._modes[key] = mode
        return mode

    def _link_at(self, dir_fd, dir_path, name):
        key = (dir_path, name)
        if self._links is not None and key in self._links:
            return self._links[key]
        target = os.readlink(name, dir_fd=dir_fd)
        if self._links is not None:
            self._links[key] = target
        return target

    def _walk(self, path, follow_last, opened):
        """A _Found for in-root ``path``; descriptors it opens for the caller go into ``opened``.

        Each step costs one ``fstatat`` and, for a directory, one ``openat`` (both
        remembered in a snapshot), so a lookup is linear in its number of components.
        """
        stack = [('/', self._dir_fd('/', None, None, opened))]
        pending = _split(path)
        pending.reverse()
        followed = 0
        missing = None
        while pending:
            part = pending.pop()
            if part == '..':
                if missing:
                    missing.pop()
                    missing = missing or None
                elif len(stack) > 1:
                    stack.pop()
                continue
            if missing is not None:
                missing.append(part)
                continue
            dir_path, dir_fd = stack[-1]
            mode = self._mode_at(dir_fd, dir_path, part)
            if mode is not None and stat.S_ISLNK(mode) and (pending or follow_last):
                followed += 1
                if followed > MAX_SYMLINKS:
                    raise RootPathError('too many levels of symbolic links: %s' % path)
                target = self._link_at(dir_fd, dir_path, part)
                if target.startswith('/'):
                    del stack[1:]
                parts = _split(target)
                parts.reverse()
                pending.extend(parts)
                continue
            if not pending:
                return _Found(dir_path, dir_fd, part, mode, None)
            if mode is None or not stat.S_ISDIR(mode):
                # Like `realpath -m`: what follows is kept as text.
                missing = [part]
                continue
            child = posixpath.join(dir_path, part)
            stack.append((child, self._dir_fd(child, dir_fd, part, opened)))
            if len(stack) > MAX_DEPTH:
                raise RootPathError('more than %d directories deep: %s' % (MAX_DEPTH, path))
        dir_path, dir_fd = stack[-1]
        return _Found(dir_path, dir_fd, None, stat.S_IFDIR, missing)

    def _with_walk(self, path, follow_last, action):
        """``action(found)`` with the lookup's descriptors open; they are closed afterwards."""
        opened = []
        try:
            return action(self._walk(path, follow_last, opened))
        finally:
            for fd in opened:
                os.close(fd)

    # Lookups -------------------------------------------------------------------------------

    def resolve(self, path):
        """Canonical in-root path of ``path``, every symlink followed inside the root.

        Components that do not exist are kept as they are (like ``realpath -m``), so a
        dangling link resolves to where it points; callers check existence themselves.
        Raises RootPathError on a symlink loop, and when a directory on the way cannot be
        searched or changes while it is looked at.
        """
        if self._resolved is None:
            return self._resolve(path)
        return remembered(self._resolved, path, self._resolve, RootPathError)

    def _resolve(self, path):
        try:
            return self._with_walk(path, True, lambda found: found.path)
        except OSError as exc:
            raise RootPathError('cannot resolve %s: %s' % (path, exc))

    def real(self, path):
        """Host path of ``path`` after resolving it inside the root (for messages and keys)."""
        return self.host(self.resolve(path))

    def _stat_mode(self, path, follow_last=True):
        try:
            return self._with_walk(path, follow_last, lambda found: found.existing_mode(path))
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
        mode = self._stat_mode(path, follow_last=False)
        return mode is not None and stat.S_ISLNK(mode)

    def _stat(self, found, path):
        found.existing_mode(path)
        if found.name is None:
            return os.fstat(found.dir_fd)
        return os.stat(found.name, dir_fd=found.dir_fd, follow_symlinks=False)

    def stat(self, path):
        """stat of what ``path`` leads to; raises OSError or RootPathError."""
        return self._with_walk(path, True, lambda found: self._stat(found, path))

    def lstat(self, path):
        """lstat of the last component itself (its parents resolved inside the root)."""
        return self._with_walk(path, False, lambda found: self._stat(found, path))

    def readlink(self, path):
        def read(found):
            if not stat.S_ISLNK(found.existing_mode(path)):
                raise OSError(errno.EINVAL, 'not a symbolic link', path)
            return self._link_at(found.dir_fd, found.dir_path, found.name)
        return self._with_walk(path, False, read)

    def _open_found(self, found, path, flags):
        """A descriptor of what ``found`` names, opened relative to its directory."""
        mode = found.existing_mode(path)
        if flags & os.O_DIRECTORY:
            if not stat.S_ISDIR(mode):
                raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
        elif not stat.S_ISREG(mode):
            raise NotRegularFile(path, mode)
        if found.name is None:
            return os.open('.', flags & ~os.O_NOFOLLOW, dir_fd=found.dir_fd)
        return os.open(found.name, flags, dir_fd=found.dir_fd)

    def listdir(self, path):
        """Sorted entries of a directory; raises OSError or RootPathError."""
        fd = self._with_walk(path, True, lambda found: self._open_found(found, path, _LIST_FLAGS))
        try:
            return sorted(os.listdir(fd))
        finally:
            os.close(fd)

    def open(self, path):
        """Open a regular file for binary reading; raises OSError (NotRegularFile for FIFOs,
        devices, sockets and directories) or RootPathError."""
        fd = self._with_walk(path, True, lambda found: self._open_found(found, path, _READ_FLAGS))
        try:
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode):
                # Swapped after the lookup: the descriptor tells what was really opened.
                raise NotRegularFile(path, mode)
            return os.fdopen(fd, 'rb')
        except BaseException:
            os.close(fd)
            raise

    def read_bytes(self, path, limit):
        """The whole file, which must hold at most ``limit`` bytes; raises FileTooLarge (an
        OSError) naming the limit when it is larger."""
        with self.open(path) as handle:
            if os.fstat(handle.fileno()).st_size > limit:
                raise FileTooLarge(path, limit)
            data = handle.read(limit + 1)
        if len(data) > limit:
            raise FileTooLarge(path, limit)
        return data

    def read_text(self, path, limit):
        return self.read_bytes(path, limit).decode('utf-8', 'replace')

    def walk_files(self, path):
        """In-root paths of every entry below ``path`` that is not a directory.

        Directories are entered only when they are real directories (never through a
        symlink), so a link to a directory or a link loop cannot make the walk endless;
        each directory is opened relative to its parent, so the walk is linear in the
        number of entries. Unreadable subdirectories, and those more than MAX_DEPTH deep,
        are returned in ``errors`` as (path, error) pairs.
        """
        files, errors = [], []
        try:
            top = self._with_walk(path, True, lambda found: (found.path, self._open_found(found, path, _LIST_FLAGS)))
        except (OSError, RootPathError) as exc:
            return files, [(path, exc)]
        # (in-root path as given, canonical path, descriptor, entries left to look at)
        stack = []
        try:
            self._enter(stack, errors, path, top[0], top[1])
            while stack:
                shown, canonical, fd, names = stack[-1]
                if not names:
                    os.close(fd)
                    stack.pop()
                    continue
                name = names.pop()
                child = posixpath.join(shown, name)
                try:
                    mode = self._mode_at(fd, canonical, name)
                except OSError as exc:
                    errors.append((child, exc))
                    continue
                if mode is None or not stat.S_ISDIR(mode):
                    files.append(child)
                elif len(stack) >= MAX_DEPTH:
                    errors.append((child, RootPathError('more than %d directories deep' % MAX_DEPTH)))
                else:
                    try:
                        child_fd = os.open(name, _LIST_FLAGS, dir_fd=fd)
                    except OSError as exc:
                        errors.append((child, exc))
                        continue
                    self._enter(stack, errors, child, posixpath.join(canonical, name), child_fd)
        finally:
            for entry in stack:
                os.close(entry[2])
        return sorted(files), errors

    @staticmethod
    def _enter(stack, errors, shown, canonical, fd):
        try:
            names = sorted(os.listdir(fd), reverse=True)
        except OSError as exc:
            os.close(fd)
            errors.append((shown, exc))
            return
        stack.append((shown, canonical, fd, names))

    def same_content(self, first, second):
        """Whether two in-root regular files hold the same bytes; raises OSError or RootPathError.

        Both are opened as regular files first, so a FIFO or a device is refused, never read.
        """
        with self.open(first) as one, self.open(second) as other:
            size = os.fstat(one.fileno()).st_size
            if size != os.fstat(other.fileno()).st_size:
                return False
            # Up to the size they had when opened: a file that keeps growing cannot keep this going.
            for dummy in range(size // CHUNK + 1):
                chunk = one.read(CHUNK)
                if chunk != other.read(CHUNK):
                    return False
            return True
