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
are refused before any read, and every read has a size limit. A snapshot keeps some
directory descriptors for later lookups: a descriptor stays the directory it was opened on
inside the root, whatever is renamed or swapped afterwards, so they are as safe as fresh ones.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import errno
import operator
import os
import posixpath
import stat
from types import MappingProxyType

# The kernel's own limit on symlinks followed in one lookup (MAXSYMLINKS).
MAX_SYMLINKS = 40
# Directories deep a lookup or a walk may go; real module trees stay below 15.
MAX_DEPTH = 128
# Directory descriptors a snapshot keeps open for later lookups: enough for the directories of a
# dkms tree of hundreds of packages, which the join looks into again; at most half of what the
# process may open (see _cached_dirs_allowed).
MAX_CACHED_DIRS = 2048
# How much of each of two files is read at a time when they are compared.
CHUNK = 64 * 1024
# The links and subdirectories of a _Dir until it has one: most directories a snapshot keeps
# have no links, and a third no subdirectory kept, so none of them holds a dict of its own.
# Read-only, so what should have taken a dict of its own fails rather than fills this one.
_NONE_SEEN = MappingProxyType({})

_CLOEXEC = getattr(os, 'O_CLOEXEC', 0)
# O_PATH: walking through a directory needs only search permission, as in a kernel lookup.
_WALK_FLAGS = getattr(os, 'O_PATH', os.O_RDONLY) | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC
_LIST_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC
# O_NONBLOCK: opening a FIFO swapped in after the type check must not wait for a writer.
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC
# Listing a directory descriptor with each entry's type needs Python 3.7.
_SCANDIR_FD = os.scandir in getattr(os, 'supports_fd', ())

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


def without_traceback(exc):
    """``exc``, to be kept past the frame that caught it, without its traceback and the errors it
    was raised from: their frames lead to that frame, whose variables refer back to it, a
    reference cycle that keeps all those frames alive."""
    exc.__traceback__ = exc.__context__ = exc.__cause__ = None
    return exc


def remembered(cache, key, compute, errors=()):
    """``compute(key)`` once per key; an error of the ``errors`` types it raises is remembered
    and raised again."""
    if key not in cache:
        try:
            cache[key] = compute(key)
        except errors as exc:
            # Kept without its traceback and the errors it was raised from: their frames would
            # keep what the failed computation held (a whole decompressed module) as long as this.
            cache[key] = without_traceback(exc)
    result = cache[key]
    if isinstance(result, errors):
        try:
            raise result
        finally:
            # Raised, it refers to this frame (its traceback), which would refer back to it: a
            # reference cycle that keeps every frame it is raised through, and what they hold.
            del result
    return result


def is_absent(exc):
    """Whether a lookup error only says the file is not there (which callers expect often)."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOENT, errno.ENOTDIR)


# What str.splitlines ends a line at ("\r\n" counts as one line end).
LINE_ENDS = '\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029'


def has_other_line_ends(text):
    """Whether ``text`` has a line end that ``str.splitlines`` sees besides "\\n" (which a search
    for "\\n" does not): real symvers and kernel configs have none. One scan per character, each
    a search in C, instead of a regular expression over the whole text."""
    return any(end in text for end in LINE_ENDS[1:])


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


def _cached_dirs_allowed():
    """MAX_CACHED_DIRS, or half the process's limit of open files where that is lower (1,024 is
    common), so that opening files never runs short."""
    try:
        import resource
        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, ValueError, OSError):
        return 256
    return MAX_CACHED_DIRS if limit == resource.RLIM_INFINITY else max(16, min(MAX_CACHED_DIRS, limit // 2))


def _split(path):
    """The components of ``path``, last first: a stack a walk takes them from."""
    return [part for part in reversed(path.split('/')) if part and part != '.']


def _join(dir_path, names):
    """``dir_path`` with ``names`` below it (what posixpath.join does, at a fraction of its cost)."""
    if not names:
        return dir_path
    return (dir_path if dir_path != '/' else '') + '/' + '/'.join(names)


def _entry_kind(entry):
    """File type of a directory entry, from the listing itself where the file system gives it;
    None when the entry vanished meanwhile."""
    try:
        if entry.is_symlink():
            return stat.S_IFLNK
        if entry.is_dir(follow_symlinks=False):
            return stat.S_IFDIR
        if entry.is_file(follow_symlinks=False):
            return stat.S_IFREG
        return stat.S_IFMT(entry.stat(follow_symlinks=False).st_mode)
    except OSError:
        return None


def _lstat_kind(dir_fd, name):
    """File type of ``name`` in a directory, None when it does not exist."""
    try:
        return stat.S_IFMT(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError as exc:
        if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
            raise
        return None


def _read_up_to(fd, count):
    """The next ``count`` bytes of ``fd``, fewer only at the end of the file. Read into a fresh
    bytes object, which is never zeroed first, as a buffer made for it would be."""
    data = os.read(fd, count)
    while 0 < len(data) < count:    # a read may stop short before the end (a network file system)
        more = os.read(fd, count - len(data))
        if not more:
            break
        data += more
    return data


def _scan(fd):
    """``(name, file type)`` of every entry of the directory open as ``fd``: one listing, no
    lstat per entry where the file system tells the types (Python 3.6 cannot list a descriptor
    with types, so there each entry is looked at)."""
    if not _SCANDIR_FD:
        return [(name, _lstat_kind(fd, name)) for name in os.listdir(fd)]
    with os.scandir(fd) as entries:
        return [(entry.name, _entry_kind(entry)) for entry in entries]


class _Dir:
    """A directory lookups went through: its canonical in-root path, its parent (None for the
    root), a descriptor while one is open, and what was seen in it: each name's file type
    (None: absent), each link's text, each subdirectory's _Dir. ``listed``: the whole directory
    was listed, so a name missing from ``kinds`` is absent."""

    __slots__ = ('path', 'name', 'parent', 'depth', 'fd', 'kinds', 'links', 'children', 'listed')

    def __init__(self, name, parent):
        self.name = name
        self.parent = parent
        self.path = _join(parent.path, [name]) if parent is not None else '/'
        self.depth = parent.depth + 1 if parent is not None else 0
        self.fd = None
        self.kinds = {}
        self.links = _NONE_SEEN
        self.children = _NONE_SEEN
        self.listed = False

    def child(self, name):
        child = self.children.get(name)
        if child is None:
            if self.children is _NONE_SEEN:
                self.children = {}
            child = self.children[name] = _Dir(name, self)
        return child


class _Found:
    """Where a lookup ended: ``name`` in directory ``dir``, or that directory itself (``name``
    None); ``kind`` is the file type found there (None: nothing), ``missing`` the components kept
    as text below the first one that does not exist, ``followed`` the symlinks followed."""

    __slots__ = ('dir', 'name', 'kind', 'missing', 'followed')

    def __init__(self, directory, name, kind, missing, followed):
        self.dir = directory
        self.name = name
        self.kind = kind
        self.missing = missing
        self.followed = followed

    @property
    def path(self):
        return _join(self.dir.path, self.missing if self.missing is not None else [self.name] if self.name else [])

    def located(self):
        """What lookup answers: ``(canonical in-root path, file type)``."""
        return self.path, self.kind

    def existing_kind(self, path):
        """The file type of what was found; raises OSError ENOENT when it does not exist."""
        if self.kind is None:
            raise _missing(path)
        return self.kind


# The action of a walk that only asks the file type found (see RootFS._with_walk).
_kind_found = operator.attrgetter('kind')


class RootFS:
    """File-system access confined to one root directory.

    ``snapshot=True`` remembers what lookups saw (each entry's type, each link's text, each
    directory a path names, up to MAX_CACHED_DIRS directory descriptors, those of the directories
    it listed too, reopened relative to their parent when needed), for readers that look at a tree
    which does not change while they read it (the fact module resolves the same directories
    thousands of times); code that changes the tree between reads leaves it off. File contents
    are never remembered: each read opens the file again, relative to its directory's descriptor.
    """

    def __init__(self, root='/', snapshot=False):
        self.root = os.path.realpath(root)
        self._top = _Dir(None, None) if snapshot else None
        # Directories holding a descriptor, least recently used first, and how many may.
        self._open_dirs = collections.OrderedDict() if snapshot else None
        self._open_dirs_allowed = _cached_dirs_allowed() if snapshot else 0
        # {directory part of a looked-up path, or a listed directory, as given: (its _Dir, symlinks
        # followed to reach it)}, or False when it is no directory: a path's directory is resolved once.
        self._prefixes = {} if snapshot else None
        # {absolute symlink text: (canonical in-root path, file type, symlinks followed), or False
        # when it cannot be resolved}: see lookup_link.
        self._link_texts = {} if snapshot else None

    @property
    def snapshot(self):
        """Whether lookups remember what they saw (see the class)."""
        return self._top is not None

    def close(self):
        """Close the directory descriptors a snapshot keeps (lookups reopen them as needed)."""
        if self._top is not None:
            self._close_tree(self._top)
            self._open_dirs.clear()

    def __del__(self):
        try:
            if self._top is not None:
                # Its directories refer to their parents, and their parents to them: taken apart,
                # they are freed now, not left to the cyclic garbage collector.
                self._close_tree(self._top, take_apart=True)
        except Exception:  # pylint: disable=broad-except
            pass  # interpreter shutdown: the process closes them anyway

    @staticmethod
    def _close_tree(top, take_apart=False):
        pending = [top]
        while pending:
            directory = pending.pop()
            if directory.fd is not None:
                os.close(directory.fd)
                directory.fd = None
            pending.extend(directory.children.values())
            if take_apart:
                directory.children = _NONE_SEEN

    def host(self, path):
        """Host path of an in-root path whose symlinks are already resolved (for messages and keys;
        never opened)."""
        relative = posixpath.normpath('/' + path).lstrip('/')
        return os.path.join(self.root, relative) if relative else self.root

    # The walk ------------------------------------------------------------------------------

    def _fd(self, directory):
        """A descriptor of ``directory`` (O_PATH, or the one a listing opened), opened relative to its
        parent's when it has none."""
        fd = directory.fd
        if fd is None:
            if directory.parent is None:
                fd = os.open(self.root, _WALK_FLAGS & ~os.O_NOFOLLOW)
            else:
                fd = os.open(directory.name, _WALK_FLAGS, dir_fd=self._fd(directory.parent))
            self._keep(directory, fd)
        elif self._open_dirs is not None and directory.parent is not None:
            self._open_dirs.move_to_end(directory)
        return fd

    def _keep(self, directory, fd):
        """Keep ``fd`` as the descriptor of ``directory``, which has none; a snapshot keeps the most
        recently used ones, up to the number allowed."""
        directory.fd = fd
        if self._open_dirs is not None and directory.parent is not None:
            self._open_dirs[directory] = None
            if len(self._open_dirs) > self._open_dirs_allowed:
                oldest = self._open_dirs.popitem(last=False)[0]
                os.close(oldest.fd)
                oldest.fd = None

    def _unseen_kind(self, directory, name):
        """The file type of ``name``, which ``directory.kinds`` does not hold yet."""
        if directory.listed:
            return None
        kind = directory.kinds[name] = _lstat_kind(self._fd(directory), name)
        return kind

    def _link(self, directory, name):
        links = directory.links
        if name not in links:
            if links is _NONE_SEEN:
                links = directory.links = {}
            links[name] = os.readlink(name, dir_fd=self._fd(directory))
        return links[name]

    def _walk(self, top, start, path, follow_last):
        """A _Found for ``path`` looked up from ``start`` (see _start); an absolute link starts
        again at ``top``.

        Each step costs at most one ``fstatat`` and, for a directory, one ``openat`` (none
        for what a snapshot has seen), so a lookup is linear in its number of components.
        """
        directory, followed, pending = start
        missing = None
        while pending:
            part = pending.pop()
            if part == '..':
                if missing:
                    missing.pop()
                    missing = missing or None
                elif directory.parent is not None:
                    directory = directory.parent
                continue
            if missing is not None:
                missing.append(part)
                continue
            if pending and part in directory.children:
                directory = directory.children[part]
                continue
            kinds = directory.kinds
            kind = kinds[part] if part in kinds else self._unseen_kind(directory, part)
            if kind == stat.S_IFLNK and (pending or follow_last):
                target = self._link(directory, part)
                if target.startswith('/'):
                    directory, followed, parts = self._start(top, target, followed + 1)
                else:
                    followed, parts = followed + 1, _split(target)
                if followed > MAX_SYMLINKS:
                    raise RootPathError('too many levels of symbolic links: %s' % path)
                pending.extend(parts)
                continue
            if not pending:
                return _Found(directory, part, kind, None, followed)
            if kind != stat.S_IFDIR:
                # Like `realpath -m`: what follows is kept as text.
                missing = [part]
                continue
            if directory.depth + 1 >= MAX_DEPTH:
                raise RootPathError('more than %d directories deep: %s' % (MAX_DEPTH, path))
            directory = directory.child(part)
        return _Found(directory, None, stat.S_IFDIR if missing is None else None, missing, followed)

    def _start(self, top, path, followed):
        """``(directory, symlinks followed, components last first)`` to look up absolute ``path`` from,
        having followed ``followed`` symlinks so far: a snapshot resolves the directory part of
        a path once, so a lookup in a known directory is one step."""
        if self._prefixes is not None:
            head, slash, last = path.rpartition('/')
            if slash and last not in ('', '.', '..'):
                start = self._prefixes.get(head)
                if start is None:
                    # Marked first: a link on the way back to this directory walks the plain way.
                    self._prefixes[head] = False
                    start = self._prefixes[head] = self._directory_at(top, head, followed)
                if start:
                    return start[0], followed + start[1], [last]
        return top, followed, _split(path)

    def _directory_at(self, top, path, followed):
        """``(_Dir, symlinks followed)`` of the directory at ``path``, False when there is none
        (a lookup through it then walks the whole path, and raises its own error)."""
        try:
            found = self._walk(top, (top, followed, _split(path)), path, True)
        except (OSError, RootPathError):
            return False
        if found.name is None and found.missing is None:
            return found.dir, found.followed - followed
        if found.kind == stat.S_IFDIR and found.dir.depth + 1 < MAX_DEPTH:
            return found.dir.child(found.name), found.followed - followed
        return False

    def _with_walk(self, path, follow_last, action, *arguments):
        """``action(found, *arguments)`` with the lookup's descriptors open; without a snapshot
        they are closed afterwards. A function and its arguments, not a closure made per call."""
        if '\0' in path:
            # Read from a file (modules.order, dkms.conf): no file system has such a name.
            raise RootPathError('a path with a NUL character: %r' % path)
        if self._top is not None:
            return action(self._walk(self._top, self._start(self._top, path, 0), path, follow_last), *arguments)
        top = _Dir(None, None)
        try:
            return action(self._walk(top, self._start(top, path, 0), path, follow_last), *arguments)
        finally:
            self._close_tree(top)

    # Lookups -------------------------------------------------------------------------------

    def lookup(self, path):
        """``(canonical in-root path, file type)`` of what ``path`` leads to, every symlink
        followed inside the root; the type (``stat.S_IFREG``, ``stat.S_IFDIR``...) is None when
        nothing is there.

        Components that do not exist are kept as they are (like ``realpath -m``), so a
        dangling link resolves to where it points. Raises RootPathError on a symlink loop, and
        when a directory on the way cannot be searched or changes while it is looked at.
        """
        try:
            return self._with_walk(path, True, _Found.located)
        except OSError as exc:
            raise RootPathError('cannot resolve %s: %s' % (path, exc))

    def lookup_link(self, path, text):
        """lookup(path) of the symlink ``path`` whose text a walk gave as ``text``.

        A snapshot resolves an absolute text once for every link that holds it (each kernel's
        weak link to one module), and counts for each link the symlinks followed to it, itself
        and those its text leads through, against the kernel's limit, as lookup does; anything
        else is looked up as lookup does it.
        """
        if self._top is None or not text.startswith('/') or '\0' in path:
            return self.lookup(path)
        directory, followed, parts = self._start(self._top, path, 0)
        if len(parts) != 1 or directory.kinds.get(parts[0]) != stat.S_IFLNK or directory.links.get(parts[0]) != text:
            return self.lookup(path)
        known = self._link_texts.get(text)
        if known is None:
            try:
                found = self._walk(self._top, self._start(self._top, text, 0), text, True)
                known = (found.path, found.kind, found.followed)
            except (OSError, RootPathError):
                known = False
            self._link_texts[text] = known
        if not known or followed + 1 + known[2] > MAX_SYMLINKS:
            return self.lookup(path)    # its own answer: as a rule an error that names the link
        return known[:2]

    def resolve(self, path):
        """Canonical in-root path of ``path`` (see lookup); callers check existence themselves."""
        return self.lookup(path)[0]

    def _file_type(self, path, follow_last=True):
        try:
            return self._with_walk(path, follow_last, _kind_found)
        except (OSError, RootPathError):
            return None

    def exists(self, path):
        return self._file_type(path) is not None

    def isdir(self, path):
        return self._file_type(path) == stat.S_IFDIR

    def isfile(self, path):
        return self._file_type(path) == stat.S_IFREG

    def islink(self, path):
        return self._file_type(path, follow_last=False) == stat.S_IFLNK

    def _stat(self, found, path):
        found.existing_kind(path)
        if found.name is None:
            return os.fstat(self._fd(found.dir))
        return os.stat(found.name, dir_fd=self._fd(found.dir), follow_symlinks=False)

    def stat(self, path):
        """stat of what ``path`` leads to; raises OSError or RootPathError."""
        return self._with_walk(path, True, self._stat, path)

    def lstat(self, path):
        """lstat of the last component itself (its parents resolved inside the root)."""
        return self._with_walk(path, False, self._stat, path)

    def readlink(self, path):
        return self._with_walk(path, False, self._read_link, path)

    def _read_link(self, found, path):
        if found.existing_kind(path) != stat.S_IFLNK:
            raise OSError(errno.EINVAL, 'not a symbolic link', path)
        return self._link(found.dir, found.name)

    def _open_found(self, found, path, flags):
        """A descriptor of what ``found`` names, opened relative to its directory."""
        kind = found.existing_kind(path)
        if flags & os.O_DIRECTORY:
            if kind != stat.S_IFDIR:
                raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
        elif kind != stat.S_IFREG:
            raise NotRegularFile(path, kind)
        if found.name is None:
            return os.open('.', flags & ~os.O_NOFOLLOW, dir_fd=self._fd(found.dir))
        return os.open(found.name, flags, dir_fd=self._fd(found.dir))

    def _found_dir(self, found):
        """The _Dir a snapshot keeps for the directory ``found`` names, None when it keeps none."""
        if self._top is None:
            return None
        if found.name is None:
            return found.dir
        return found.dir.child(found.name) if found.dir.depth + 1 < MAX_DEPTH else None

    def _open_listing(self, found, path):
        """``(descriptor to list, _Dir or None, depth, symlinks followed)`` of the directory
        ``found`` names."""
        fd = self._open_found(found, path, _LIST_FLAGS)
        return fd, self._found_dir(found), found.dir.depth + (found.name is not None), found.followed

    @staticmethod
    def _remember(directory, scanned, links):
        """What one listing saw, for a snapshot's later lookups in the same directory."""
        if directory is not None:
            directory.kinds.update(scanned)
            if links:
                if directory.links is _NONE_SEEN:
                    directory.links = links     # the listing's own, not used after
                else:
                    directory.links.update(links)
            directory.listed = True

    def listdir(self, path):
        """Sorted entries of a directory; raises OSError or RootPathError."""
        fd, directory, _depth, followed = self._with_walk(path, True, self._open_listing, path)
        try:
            scanned = _scan(fd)
        except BaseException:
            os.close(fd)
            raise
        if directory is not None and directory.fd is None:
            # Opened as a walk opens it (relative to its parent, no symlink followed): lookups in
            # the directory, which mostly come next, go through it rather than open it again.
            self._keep(directory, fd)
        else:
            os.close(fd)
        if directory is not None:
            # What is listed is mostly looked into next: lookups in it start there.
            self._prefixes.setdefault(path, (directory, followed))
        self._remember(directory, scanned, {})
        return sorted([name for name, kind in scanned])     # a list: no generator resumed per name

    def open_descriptor(self, path):
        """``(descriptor, its stat)`` of the regular file ``path``, open for reading, which the
        caller closes: no file object, whose making costs system calls of its own; raises as
        ``open`` does."""
        fd = self._with_walk(path, True, self._open_found, path, _READ_FLAGS)
        try:
            status = os.fstat(fd)
            if not stat.S_ISREG(status.st_mode):
                # Swapped after the lookup: the descriptor tells what was really opened.
                raise NotRegularFile(path, status.st_mode)
        except BaseException:
            os.close(fd)
            raise
        return fd, status

    def open(self, path):
        """Open a regular file for binary reading; raises OSError (NotRegularFile for FIFOs,
        devices, sockets and directories) or RootPathError."""
        fd = self.open_descriptor(path)[0]
        try:
            return os.fdopen(fd, 'rb')
        except BaseException:
            os.close(fd)
            raise

    def read_bytes(self, path, limit):
        """The whole file, which must hold at most ``limit`` bytes; raises FileTooLarge (an
        OSError) naming the limit when it is larger."""
        # Closed by try/finally rather than a context manager of a generator, which costs more
        # than reading a small file (here and in holds and same_content).
        fd, status = self.open_descriptor(path)
        try:
            size = status.st_size
            parts, count = [], 0
            if size > limit:
                raise FileTooLarge(path, limit)
            # Read from the descriptor, at first as much as the file held when opened and a byte
            # more (to tell it grew), and at least a chunk: a /proc/sys file tells a size of 0 and
            # gives its text only to a first read. No file object, no buffer of ``limit`` bytes.
            wanted = max(size + 1, CHUNK)
            while count <= limit:
                part = os.read(fd, min(wanted, limit + 1 - count))
                if not part:
                    break
                parts.append(part)
                count += len(part)
                wanted = CHUNK
        finally:
            os.close(fd)
        if count > limit:
            raise FileTooLarge(path, limit)
        return b''.join(parts)  # the one part itself when there is one

    def read_text(self, path, limit):
        return self.read_bytes(path, limit).decode('utf-8', 'replace')

    def walk(self, path):
        """Every entry below ``path`` that is not a directory, as sorted ``(in-root path, file
        type, link text)`` tuples (the text None for what is no symlink, the type None for an
        entry that vanished while it was listed), and ``errors``, (path, error) pairs of what
        could not be read.

        One listing per directory tells every entry's type, and each link's text is read
        there, so callers need not look again (a snapshot also remembers both). Directories are
        entered only when they are real directories (never through a symlink), so a link to a
        directory or a link loop cannot make the walk endless; each one is opened relative to
        its parent, so the walk is linear in the number of entries. Unreadable subdirectories,
        and those deeper than a lookup may go (MAX_DEPTH), are errors.
        """
        entries, errors = [], []
        try:
            fd, directory, depth = self._with_walk(path, True, self._open_listing, path)[:3]
        except (OSError, RootPathError) as exc:
            return entries, [(path, exc)]
        # (in-root path as given, _Dir or None, descriptor, depth, subdirectories left to enter)
        stack = []
        try:
            self._enter(stack, entries, errors, (path, directory, fd, depth))
            while stack:
                shown, directory, fd, depth, subdirectories = stack[-1]
                if not subdirectories:
                    os.close(fd)
                    stack.pop()
                    continue
                name = subdirectories.pop()
                child = posixpath.join(shown, name)
                if depth + 1 >= MAX_DEPTH:
                    errors.append((child, RootPathError('more than %d directories deep' % MAX_DEPTH)))
                    continue
                try:
                    child_fd = os.open(name, _LIST_FLAGS, dir_fd=fd)
                except OSError as exc:
                    errors.append((child, without_traceback(exc)))
                    continue
                self._enter(stack, entries, errors,
                            (child, directory.child(name) if directory else None, child_fd, depth + 1))
        finally:
            for level in stack:
                os.close(level[2])
        entries.sort()
        return entries, errors

    def _enter(self, stack, entries, errors, level):
        """List one directory of a walk: its entries go to ``entries``, it goes on ``stack``
        (its descriptor is closed when it cannot be listed)."""
        shown, directory, fd = level[:3]
        try:
            scanned = _scan(fd)
        except OSError as exc:
            os.close(fd)
            errors.append((shown, without_traceback(exc)))
            return
        subdirectories, links = [], {}
        prefix = shown if shown.endswith('/') else shown + '/'
        for name, kind in scanned:
            if kind == stat.S_IFDIR:
                subdirectories.append(name)
                continue
            text = None
            if kind == stat.S_IFLNK:
                try:
                    text = links[name] = os.readlink(name, dir_fd=fd)
                except OSError as exc:
                    errors.append((prefix + name, without_traceback(exc)))
                    continue
            entries.append((prefix + name, kind, text))
        self._remember(directory, scanned, links)
        subdirectories.sort(reverse=True)
        stack.append(level + (subdirectories,))

    def holds(self, path, pieces, limit):
        """Whether the in-root regular file ``path`` holds the bytes of ``pieces`` (an iterable
        of bytes objects) joined, and nothing more: read a piece's length at a time, so the file
        is never held whole, and no further than the first difference. False, without reading
        past it, for a file of more than ``limit`` bytes (pieces that join to more). Raises
        OSError or RootPathError."""
        fd, status = self.open_descriptor(path)
        try:
            if status.st_size > limit:
                return False
            count = 0
            for piece in pieces:
                count += len(piece)
                if count > limit:
                    return False
                if _read_up_to(fd, len(piece)) != piece:
                    return False
            return not os.read(fd, 1)
        finally:
            os.close(fd)

    def same_content(self, first, second):
        """Whether two in-root regular files hold the same bytes; raises OSError or RootPathError.

        Both are opened as regular files first, so a FIFO or a device is refused, never read.
        """
        one, first_stat = self.open_descriptor(first)
        try:
            other, second_stat = self.open_descriptor(second)
            try:
                return _same_bytes(one, first_stat, other, second_stat, first)
            finally:
                os.close(other)
        finally:
            os.close(one)


def _same_bytes(one, first_stat, other, second_stat, first):
    """Whether the regular files open as ``one`` and ``other`` hold the same bytes (see RootFS.same_content)."""
    if (first_stat.st_dev, first_stat.st_ino) == (second_stat.st_dev, second_stat.st_ino):
        return True     # one file (a hard link, or dkms --symlink-modules): nothing to read
    size = first_stat.st_size
    if size != second_stat.st_size:
        return False
    # Up to the size they had when opened: a file that keeps growing cannot keep this going.
    for dummy in range(size // CHUNK + 1):
        mine = _read_up_to(one, CHUNK)
        if mine != _read_up_to(other, CHUNK):
            return False
        if len(mine) < CHUNK:
            return True     # the end of both
    # Both went on past the size they had: what they hold now is not what was compared.
    raise OSError(errno.EAGAIN, 'grew while it was compared', first)
