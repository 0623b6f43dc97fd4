# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One kernel's module tree: weak links, out-of-tree files and depmod's configuration.

RHEL's weak-modules links ``/lib/modules/A/extra/sub/x.ko`` as
``/lib/modules/B/weak-updates/sub/x.ko``; modprobe then loads, for each module name, the
file depmod indexes first by depmod.d (``exclude``, ``override``, then ``search``). A weak
link is coverage only when it is that file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath
import stat
from collections import namedtuple

from ansible_collections.kabi.dkms.plugins.module_utils._dkms_tree import (
    MODULE_SUFFIXES, module_name, normalize_module_name, split_module_suffix)
from ansible_collections.kabi.dkms.plugins.module_utils._kabi import SymversError, read_symvers
from ansible_collections.kabi.dkms.plugins.module_utils._kernels import KernelConfigGone, read_kernel_config
from ansible_collections.kabi.dkms.plugins.module_utils._ko import KoError, KoTooLarge, KoUnreadableHere
from ansible_collections.kabi.dkms.plugins.module_utils._lazy_re import LazyPattern
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootPathError, is_absent, is_text, remembered

# Where depmod reads its configuration, in precedence order (kmod's default_cfg_paths).
DEPMOD_DIRS = ('/etc/depmod.d', '/run/depmod.d', '/usr/local/lib/depmod.d', '/usr/lib/depmod.d', '/lib/depmod.d')
BUILTIN = 'built-in'
# kmod's depmod searches "updates built-in" when no depmod.d file says otherwise.
DEFAULT_SEARCH = ('updates', BUILTIN)
# Out-of-tree locations dkms installs into (RHEL extra/, SUSE updates/, Debian updates/dkms/).
OUT_OF_TREE_DIRS = ('updates', 'extra')
# depmod.d files are a few lines each.
DEPMOD_CONF_LIMIT = 256 * 1024
# A distribution kernel's modules.order lists some 6,000 modules in about 400 KiB.
LISTING_LIMIT = 4 * 1024 * 1024
# Files of its own modules read, at most, for what a kernel's own modules tell (see own_module).
OWN_MODULE_TRIES = 3
# More module files than a kernel has modules under one directory is worth a word; they are
# all read anyway.
SANE_MODULE_COUNT = 20000


class WeakLink:
    """One symlink below a kernel's weak-updates/."""

    __slots__ = ('name', 'path', 'points_to', 'target', 'problem')

    def __init__(self, name, path, points_to, target, problem):
        self.name = name            # module name (file name without .ko*)
        self.path = path            # in-root path of the link
        self.points_to = points_to  # the link's own text as an absolute in-root path
        self.target = target        # in-root path after every symlink, None for a loop
        self.problem = problem      # None, or why the link cannot provide a module


# Far more files of one module name than any kernel tree has (a copy, a weak link, a stale one).
MAX_NAMESAKES = 64
# What installed_copy tells of a copy this target cannot decompress to compare.
UNTOLD = 'untold'
# Directories kmod's depmod never looks into, whatever depmod.d says (_skipped searches paths for these names).
_ALWAYS_SKIPPED = frozenset(('build', 'source'))


def _compressed_alike(path, built_path):
    """Whether a copy at ``path`` is compressed as the build at ``built_path`` is: then the two
    compare byte for byte, else decompressed."""
    return split_module_suffix(path)[1] == split_module_suffix(built_path)[1]


def dkms_install_dirs(modules_dir, location):
    """The directories of a kernel's tree dkms installs a build into, the likeliest first:
    updates/dkms, the module's DEST_MODULE_LOCATION, extra, updates (its distributions' choices)."""
    return [modules_dir + place for place in ('/updates/dkms', location, '/extra', '/updates') if place]


class ModuleFile(namedtuple('ModuleFile', ['name', 'path', 'target'])):
    """A module file where modprobe may find it, as ``shadowing_file`` reads it (a WeakLink is
    one too): its module name, its in-root path, and the path of the file it is, as the kernel's
    tree lists it (for a weak link, where the link leads)."""

    __slots__ = ()


class DepmodConfig:
    """depmod.d as kmod's depmod reads it: the ``search`` order, the ``override`` lines as
    (module, kernel pattern, subdirectory) in file order, the ``exclude``d directory names, and
    the files that could not be read (``unread``), which may say anything."""

    __slots__ = ('search', 'overrides', 'excludes', 'unread')

    def __init__(self, search=DEFAULT_SEARCH, overrides=(), excludes=(), unread=()):
        self.search = tuple(search)
        self.overrides = list(overrides)
        self.excludes = frozenset(excludes)
        self.unread = tuple(unread)

    def for_kernel(self, release, warn, kmod_version=None):
        """The KernelDepmod of kernel ``release``: the overrides that name it, as the paths they
        favour ("SUBDIR/MODULE", no suffix), the one depmod checks first first; ``unknown`` when a
        kernel pattern cannot be matched here (the choice between files is then unknown).

        ``exclude`` came with kmod 30 (an older depmod ignores the line as a bad one):
        ``kmod_version`` is the root's kmod's, None when it is not known; the excludes are then
        not known to apply."""
        favoured, unknown = [], False
        for name, pattern, subdirectory in reversed(self.overrides):
            matches = _kernel_matches(pattern, release, warn)
            unknown = unknown or matches is None
            if matches:
                favoured.append(subdirectory + '/' + name)
        excludes = self.excludes if kmod_version is None or kmod_version >= EXCLUDE_SINCE else ()
        return KernelDepmod(self.search, favoured, excludes, unknown, kmod_version is not None, self.unread)


# The first kmod whose depmod reads ``exclude`` in depmod.d.
EXCLUDE_SINCE = (30,)


class KernelDepmod:
    """What decides, on one kernel, which file of a module name depmod indexes (see DepmodConfig);
    ``excludes_known``: whether depmod honours the excludes is known (see for_kernel)."""

    __slots__ = ('search', 'overrides', 'excludes', 'unknown', 'excludes_known', 'unread')

    def __init__(self, search=DEFAULT_SEARCH, overrides=(), excludes=(), unknown=False, excludes_known=True,
                 unread=()):
        self.search = tuple(search)
        self.overrides = list(overrides)
        self.excludes = frozenset(excludes)
        self.unknown = unknown
        self.excludes_known = excludes_known or not self.excludes
        self.unread = tuple(unread)


def _kernel_matches(pattern, release, warn):
    """cfg_kernel_matches(): "*", else an extended regular expression searched in the release;
    None when it cannot be matched here."""
    if pattern == '*':
        return True
    # Imported only here: few depmod.d files name a kernel pattern.
    from ansible_collections.kabi.dkms.plugins.module_utils._ere import EreError, EreUnsupported, ere_search
    try:
        return bool(ere_search(pattern, release))
    except EreError:
        return False    # regcomp() fails: the line is skipped
    except EreUnsupported as exc:
        warn('depmod.d override for kernels %r cannot be matched here: %s' % (pattern, exc))
        return None


def _config_words(text):
    """The words of each line of a depmod.d file as kmod reads them (freadline_wrapped(),
    cfg_file_parse()): lines end at "\n" alone (a "\r" is part of the last word), a backslash
    joins a line to the next and otherwise stands for the character after it, a line is a
    comment only when "#" is its first character, words are separated by spaces and tabs only,
    and a NUL ends the line."""
    text = _BACKSLASHED.sub(lambda match: '' if match.group(1) == '\n' else match.group(1), text)
    for line in text.split('\n'):
        line = line.split('\0', 1)[0]
        if line and line[0] != '#':
            words = [word for word in _WORD_GAP.split(line) if word]
            if words:
                yield words


_BACKSLASHED = LazyPattern(r'\\([\s\S])')
_WORD_GAP = LazyPattern('[\t ]+')


def read_depmod_config(rootfs, warn):
    """The DepmodConfig of the files in DEPMOD_DIRS: a name in an earlier directory hides the
    same name in later ones; all are read in name order. Hidden files and names that are not
    NAME.conf are left out, as depmod leaves them. One of DEPMOD_DIRS that is a file is read
    as one, by its own name (cfg_files_list()); one that cannot be listed is unread."""
    chosen = {}
    unread = []
    for directory in DEPMOD_DIRS:
        try:
            names = rootfs.listdir(directory)
        except (OSError, RootPathError) as exc:
            if rootfs.exists(directory) and not rootfs.isdir(directory):
                chosen.setdefault(posixpath.basename(directory), directory)
            elif not isinstance(exc, RootPathError) and not is_absent(exc):
                warn('cannot list %s: %s' % (directory, exc))
                unread.append(directory)
            continue
        for name in names:
            if name.endswith('.conf') and len(name) > 5 and not name.startswith('.') and name not in chosen:
                chosen[name] = posixpath.join(directory, name)
    search, overrides, excludes = [], [], set()
    for name in sorted(chosen):
        try:
            text = rootfs.read_text(chosen[name], DEPMOD_CONF_LIMIT)
        except (OSError, RootPathError) as exc:
            warn('cannot read %s: %s' % (chosen[name], exc))
            unread.append(chosen[name])
            continue
        for words in _config_words(text):
            if words[0] == 'search':
                search.extend(word for word in words[1:] if word not in search)
            elif words[0] == 'override' and len(words) >= 4:
                overrides.append(tuple(words[1:4]))
            elif words[0] == 'exclude':
                excludes.update(words[1:])
    return DepmodConfig(search or DEFAULT_SEARCH, overrides, excludes, unread)


def rank(relative_path, search):
    """depmod priority of a module file (path relative to the kernel's directory); lower wins. An
    entry matches the path that continues it with "/", as it is written: "updates/" matches nothing."""
    for index, entry in enumerate(search):
        if entry != BUILTIN and relative_path.startswith(entry + '/'):
            return index
    return search.index(BUILTIN) if BUILTIN in search else len(search)


def _kmod_name(path):
    """kmod's name of a module file (``.ko*``): what precedes the first dot of its file name
    (path_to_modname()), so hello.old.ko is hello; None for other files."""
    name = module_name(path[path.rfind('/') + 1:])
    return name.partition('.')[0] if name else None


def _module_files(rootfs, warn, top, also=None):
    """``(module name, in-root path, file type, link text)`` of every module file or link below
    ``top``, if it is a directory (as RootFS.walk tells them), and of every other entry for
    which ``also(rootfs, path, kind)`` is true, its name None.

    Names that are not valid text are skipped with a warning: no fact can carry them.
    """
    if not rootfs.isdir(top):
        return []
    entries, errors = rootfs.walk(top)
    for path, exc in errors:
        warn('cannot read %s: %s' % (path, exc))
    found = []
    for path, kind, text in entries:
        name = _kmod_name(path)
        if not name and not (also and also(rootfs, path, kind)):
            continue
        if not is_text(path):
            warn('skipping %r: the name is not valid UTF-8' % path)
            continue
        found.append((name, path, kind, text))
    if len(found) > SANE_MODULE_COUNT:
        warn('%s holds %d module files, more than any kernel has modules (%d); all are read, which takes time'
             % (top, len(found), SANE_MODULE_COUNT))
    return found


def read_weak_links(rootfs, warn, modules_dir, unfollowed=None):
    """Every module link below ``modules_dir``/weak-updates, resolved inside the root.

    ``unfollowed``, a list, hears of what depmod may index there that is no such link: a module
    file (a copy, or weak-updates/ itself a link to a directory of builds) by its path, and a
    link to a directory (depmod follows it, the walk does not) by its path ending in "/"."""
    links = []
    # Links that point at one file share its path strings (a hostile tree may hold 100,000).
    shared = {}
    top = posixpath.join(modules_dir, 'weak-updates')
    for name, path, kind, text in _module_files(rootfs, warn, top, unfollowed is not None and _directory_link):
        if kind != stat.S_IFLNK or name is None:
            if unfollowed is not None:
                unfollowed.append(path if name else path + '/')
            continue
        try:
            target, target_kind = rootfs.lookup_link(path, text)
        except RootPathError as exc:
            warn('weak link %s: %s' % (path, exc))
            links.append(WeakLink(name, path, None, None, 'symlink loop'))
            continue
        # The text from the link's directory: what posixpath.join and dirname give once normalized, at a fraction of their cost.
        points_to = posixpath.normpath(text if text.startswith('/') else path[:path.rfind('/') + 1] + text)
        points_to = shared.setdefault(points_to, points_to)
        target = shared.setdefault(target, target)
        problem = None
        if target_kind is None:
            problem = 'dangling link'
        elif target_kind != stat.S_IFREG:
            problem = 'not a regular file'
            if target_kind == stat.S_IFDIR and unfollowed is not None:
                unfollowed.append(path + '/')   # depmod enters it, whatever its name
        if problem:
            warn('weak link %s -> %s: %s' % (path, target, problem))
        links.append(WeakLink(name, path, points_to, target, problem))
    return links


def _directory_link(rootfs, path, kind):
    return kind == stat.S_IFLNK and rootfs.isdir(path)


def read_out_of_tree(rootfs, warn, modules_dir):
    """{normalized module name: [in-root paths]} of modules in updates/ and extra/."""
    found = {}
    for directory in OUT_OF_TREE_DIRS:
        for entry in _module_files(rootfs, warn, posixpath.join(modules_dir, directory)):
            found.setdefault(normalize_module_name(entry[0]), []).append(entry[1])
    return found


class _InTreeNames(dict):
    """{normalized name: relative path} of a kernel's own modules; ``builtin``: the names of
    those built into its image (modules.builtin), which have no file; ``unread``: the kernel's
    listings (modules.builtin, modules.order, modules.dep) that exist but could not be read, so
    which file of a name modprobe loads is not known for sure. What modules.dep lists (what
    modprobe finds) is kept as written, and also normalised where it is spelt otherwise (see
    read_indexed_elsewhere)."""

    def __init__(self):
        dict.__init__(self)
        self.builtin = set()
        self.unread = []
        self.dep_written = None

    def dep_lists(self, relative_path):
        """Whether modules.dep lists the module file at ``relative_path`` in the kernel's
        directory, None when there is no modules.dep read."""
        if self.dep_written is None:
            return None
        return relative_path in self.dep_written


def read_in_tree_names(rootfs, warn, modules_dir):
    """The _InTreeNames of the kernel's own modules (modules.order/.builtin).

    ``warn(msg)`` hears of a listing that exists but cannot be read (too large, not a file).
    """
    names = _InTreeNames()
    for listing in ('modules.builtin', 'modules.order'):
        path = posixpath.join(modules_dir, listing)
        try:
            data = rootfs.read_bytes(path, LISTING_LIMIT)
        except (OSError, RootPathError) as exc:
            if not is_absent(exc):
                warn('cannot read %s: %s' % (path, exc))
                names.unread.append(listing)
            continue
        if listing == 'modules.builtin':
            for line, key in _builtin_names(data):
                names.setdefault(key, line)
                names.builtin.add(key)
            continue
        for line in data.decode('utf-8', 'replace').splitlines():
            line = line.strip()
            name = module_name(posixpath.basename(line))
            if name:
                names.setdefault(normalize_module_name(name), line)
    return names


def _builtin_names(data):
    """``(line, normalized name)`` of each line of modules.builtin (bytes) that depmod indexes
    (output_builtin_bin()): one that starts with a letter, named by its file name up to the
    first dot. It reads with fgets() into a PATH_MAX buffer, so a line longer than that is read
    as several; a line's newline is part of what it reads, so a name without a dot before it
    names nothing; a NUL ends the text."""
    lines = data.split(b'\n')
    last = len(lines) - 1
    for index, line in enumerate(lines):
        read = line + b'\n' if index < last else line
        pieces = (read,) if len(read) <= _FGETS_LINE else \
            [read[start:start + _FGETS_LINE] for start in range(0, len(read), _FGETS_LINE)]
        for piece in pieces:
            if b'\0' in piece:
                piece = piece.partition(b'\0')[0]
            if not piece[:1].isalpha():     # bytes.isalpha: ASCII letters only, as C's isalpha()
                continue
            name = piece[piece.rfind(b'/') + 1:].partition(b'.')[0]
            if name and b'\n' not in name:
                yield piece.rstrip(b'\n').decode('utf-8', 'replace'), normalize_module_name(name.decode('utf-8', 'replace'))


# What one fgets() into depmod's PATH_MAX buffer reads of a line.
_FGETS_LINE = 4095


def read_indexed_elsewhere(rootfs, warn, modules_dir, in_tree):
    """``(normalized module name, in-root path)`` of each file modules.dep lists (what depmod
    indexed when it last ran) that is not the kernel's own file of its name (``in_tree``, which
    keeps what it lists, and whose ``unread`` hears of a modules.dep that exists but cannot be read)."""
    path = posixpath.join(modules_dir, 'modules.dep')
    try:
        text = rootfs.read_text(path, LISTING_LIMIT)
    except (OSError, RootPathError) as exc:
        if not is_absent(exc):
            warn('cannot read %s: %s' % (path, exc))
            in_tree.unread.append('modules.dep')
        return []
    # The kernel's own files (thousands, listed as modules.order lists them but with the suffix
    # of their compression) are set apart by the standard library's C code.
    listed = set(line.partition(':')[0] for line in text.splitlines())
    # As written, and for the few spelt otherwise ("./", "//", absolute), as a path in the kernel's directory.
    written = set(listed)
    for entry in [entry for entry in listed if entry[:1] in ('.', '/') or '//' in entry or '/./' in entry]:
        normal = posixpath.normpath(posixpath.join(modules_dir, entry))
        if normal.startswith(modules_dir + '/'):
            written.add(normal[len(modules_dir) + 1:])
    in_tree.dep_written = frozenset(written)
    own_files = set(in_tree.values())
    # The suffix of a kernel's own files (one for all of them, as a rule) first.
    usual = split_module_suffix(next(iter(listed), ''))[1]
    for suffix in sorted(MODULE_SUFFIXES, key=lambda suffix: suffix != usual):
        if len(listed) < 64:
            break   # few left: each is looked at below
        listed.difference_update([own + suffix[len('.ko'):] for own in own_files])
    found = []
    for listed_path in sorted(listed):
        name = _kmod_name(listed_path)
        if not name or '..' in listed_path.split('/') or not is_text(listed_path):
            continue
        key = normalize_module_name(name)
        # As depmod names it: relative to the kernel's directory, or outside it (depmod.d external).
        in_root = posixpath.normpath(posixpath.join(modules_dir, listed_path))
        own = in_tree.get(key)
        if own is not None and split_module_suffix(in_root)[0] == split_module_suffix(posixpath.join(modules_dir, own))[0]:
            continue
        found.append((key, in_root))
    return found


_UNSURE_EXCLUDE = 'depmod.d excludes %s, which depmod honours since kmod 30, and which kmod the system has is not known'


def _as_overridden(relative):
    """What depmod compares with an override's "subdirectory/module": the file's path as written,
    up to the end of its module name (depmod_module_is_higher_priority()), so extra/hello.old.ko
    is extra/hello."""
    return relative[:relative.rfind('/') + 1] + _kmod_name(relative)


def shadowing_file(link, modules_dir, depmod, files, in_tree, is_file):
    """``(path, reason, certain)``: what modprobe loads instead of ``link`` (a WeakLink or a
    ModuleFile) and why, ``(None, None, True)`` when it loads the link; ``depmod`` is the
    kernel's KernelDepmod; ``files``: KernelTree.module_files; ``is_file(path)``: whether a
    module file is there that depmod indexes (by its name's suffix, as the system's kmod was
    built), None when that is not known.

    A name built into the kernel's image loads no file at all. Else depmod indexes one file per
    module name: never one with an excluded name on its path (or build or source, which it
    always skips), nor a link that dangles; else the file the latest matching ``override``
    names; else the file of the best-ranked search directory. Between files of equal rank the
    order depmod happens to read directories decides, which is not known here. An in-tree
    module counts only where its file is (dkms may have moved it aside). ``in_tree``: as
    read_in_tree_names gives it.
    """
    shadow, why, certain = _shadowing_file(link, modules_dir, depmod, files, in_tree, is_file)
    if certain and depmod.unread:
        # A depmod.d file that could not be read may say anything (search, override, exclude).
        why = '; '.join(reason for reason in (why, 'depmod.d\'s %s cannot be read, so which file of the name '
                                              'depmod indexes is not known' % ', '.join(depmod.unread)) if reason)
        certain = False
    return shadow, why, certain


def _relative(path, modules_dir):
    """``path`` relative to the kernel's directory ``modules_dir``, which it is below."""
    return path[len(modules_dir) + 1:]


def _skipped(relative_path, depmod):
    """(the name that has depmod skip ``relative_path``, whether it surely does), or None: depmod
    checks each entry of a directory by name, a file's as a directory's."""
    if not depmod.excludes and 'build' not in relative_path and 'source' not in relative_path:
        return None     # most paths: not even a part of a name of _ALWAYS_SKIPPED in them, two searches in C
    parts = relative_path.split('/')
    always = [part for part in parts if part in _ALWAYS_SKIPPED]
    if always:
        return always[0], True
    excluded = [part for part in parts if part in depmod.excludes]
    return (excluded[0], depmod.excludes_known) if excluded else None


def _shadowing_file(link, modules_dir, depmod, files, in_tree, is_file):
    """shadowing_file as the depmod.d files that could be read tell it."""
    link_relative = _relative(link.path, modules_dir)
    skip = _skipped(link_relative, depmod)
    if skip:
        return None, ('depmod skips %s, so modprobe never loads it' if skip[1] else
                      'modprobe may never load it: ' + _UNSURE_EXCLUDE) % skip[0], skip[1]
    key = normalize_module_name(link.name)
    if key in in_tree.builtin:
        # kmod (since v25 at least) asks modules.builtin before it inserts anything.
        return None, '%s is built into the kernel (modules.builtin): modprobe loads no module file of the name' \
            % link.name, True
    # By its own name: a link named hello.ko.gz is left out where kmod was built without zlib
    # (a plain name is indexed wherever it leads to a file: a link that dangles is broken anyway).
    own = True if link.path.endswith('.ko') else is_file(link.path)
    if own is not True:
        return None, ('depmod does not index %s (no file there, or one in a format the system\'s kmod was built '
                      'without), so modprobe never loads it' if own is False else
                      'whether depmod indexes %s (compressed, and which formats the system\'s kmod reads is not '
                      'known) is not known') % link.path, own is False
    named = files.get(key, ())
    if len(named) > MAX_NAMESAKES:
        # Each file of the name weighed against every other would cost their count squared.
        return None, ('%d files of the module name: which one depmod indexes is not followed' % len(named)), False
    indexed = {path: is_file(path) for path in named if path not in (link.target, link.path)}
    if key in in_tree:
        # Listed without the suffix its file may have; the link's own file is no rival.
        stem = split_module_suffix(posixpath.join(modules_dir, in_tree[key]))[0]
        indexed.update((stem + suffix, is_file(stem + suffix)) for suffix in MODULE_SUFFIXES
                       if stem + suffix not in (link.target, link.path) and stem + suffix not in indexed)
    # Most links have no rival: nothing to weigh, not even a list to make.
    others = [path for path, known in indexed.items() if known is not False] if indexed else ()
    if not others:
        return _loads_it(in_tree, link.path, link_relative)
    # Rivals depmod may or may not index: what only they decide is not certain.
    maybe = set(path for path, known in indexed.items() if known is None)
    outside = [path for path in others if not path.startswith(modules_dir + '/')]
    if outside:
        # depmod.d "external" directories, which are not followed here.
        return outside[0], 'modprobe may load %s instead: depmod ranks a file outside %s by the external ' \
            'directories of depmod.d, which are not followed here' % (outside[0], modules_dir), False
    skips = dict((path, _skipped(_relative(path, modules_dir), depmod)) for path in others)
    unsure = [path for path in others if skips[path] and not skips[path][1]]
    if unsure:
        return unsure[0], ('modprobe may load %s instead: ' + _UNSURE_EXCLUDE) % (unsure[0], skips[unsure[0]][0]), False
    others = [path for path in others if not skips[path]]
    if not others:
        return _loads_it(in_tree, link.path, link_relative)
    if depmod.unknown:
        return others[0], 'whether a depmod.d override makes modprobe load %s instead is unknown' % others[0], False
    for favoured in depmod.overrides:
        for path in [link.path] + others:
            if _as_overridden(_relative(path, modules_dir)) == favoured:
                if path == link.path:
                    return _loads_it(in_tree, link.path, link_relative)
                if path in maybe:
                    return path, _MAYBE_INDEXED % (path, 'a depmod.d override favours it'), False
                return path, 'modprobe loads %s instead (a depmod.d override)' % path, True
    link_rank = rank(link_relative, depmod.search)
    best, path = min((rank(_relative(path, modules_dir), depmod.search), path) for path in others)
    if best < link_rank:
        if path in maybe and not any(rank(_relative(other, modules_dir), depmod.search) < link_rank for other in others
                                     if other not in maybe):
            return path, _MAYBE_INDEXED % (path, 'depmod ranks it first'), False
        return path, 'modprobe loads %s instead' % path, True
    if best == link_rank:
        return path, ('depmod ranks %s with the link: which one modprobe loads depends on the order depmod reads '
                      'directories' % path), False
    return _loads_it(in_tree, link.path, link_relative)


_MAYBE_INDEXED = 'modprobe loads %s instead if depmod indexes it (%s), which depends on the formats the ' \
    'system\'s kmod reads, which are not known'


def _loads_it(in_tree, path, relative_path):
    """shadowing_file's answer where nothing it read loads ``path`` instead: certain only if the
    kernel's listings could all be read, and modules.dep, where there is one, lists it."""
    if in_tree.unread:
        return None, ('the kernel\'s %s cannot be read: whether the name is built in, or another file of it '
                      'is the one modprobe loads, is not known' % ', '.join(in_tree.unread)), False
    if in_tree.dep_lists(relative_path) is False:
        return None, ('modules.dep does not list %s: modprobe finds it only once depmod runs again, which '
                      'nothing here tells' % path), False
    return None, None, True


class KernelTree:
    """One kernel's module tree as the facts need it: out-of-tree files read at once; weak links
    (see read_links), in-tree names, the headers' config, the symvers and one in-tree module on
    demand."""

    def __init__(self, rootfs, warn, kernel, reader=None, same_content=None):
        self.rootfs = rootfs
        self.warn = warn
        self.kernel = kernel
        self.reader = reader
        # How a copy and its build are compared byte for byte (a CompareAhead's, for one).
        self._same_content = same_content or rootfs.same_content
        self.out_of_tree = read_out_of_tree(rootfs, warn, kernel.modules_dir)
        self._lazy = {}
        self._copies = {}
        self._candidates = {}   # {(package, version, module name): _copy_candidates}

    def _once(self, name, compute):
        return remembered(self._lazy, name, lambda key: compute())

    def read_links(self):
        """``(weak links, unfollowed)``: read_weak_links of the kernel's weak-updates/ and what depmod
        may index there besides the links read, read once, when first asked (their warnings then):
        the worker that reads the dkms tree needs only the files out of tree, and is forked the
        sooner for it (see _coverage._dkms_tree_read)."""
        def read():
            unfollowed = []
            return read_weak_links(self.rootfs, self.warn, self.kernel.modules_dir, unfollowed), unfollowed
        return self._once('weak_links', read)

    @property
    def weak_links(self):
        return self.read_links()[0]

    @property
    def weak_unfollowed(self):
        return self.read_links()[1]

    @property
    def module_files(self):
        """{normalized name: [in-root paths]} of the module files and links depmod may index
        besides the kernel's own: updates/, extra/ and weak-updates/."""
        return self._once('module_files', self._collect_module_files)

    def _collect_module_files(self):
        files = {key: list(paths) for key, paths in self.out_of_tree.items()}
        for link in self.weak_links:
            files.setdefault(normalize_module_name(link.name), []).append(link.path)
        # What depmod indexed when it last ran, wherever it was: a file dkms put where a
        # DEST_MODULE_LOCATION says (kernel/drivers/misc), one below a linked directory. One
        # that is a file seen already, however its path is spelt, is that file.
        elsewhere = read_indexed_elsewhere(self.rootfs, self.warn, self.kernel.modules_dir, self.in_tree)
        if not elsewhere:
            return files
        seen = {path for paths in files.values() for path in paths}
        seen.update([link.target for link in self.weak_links if link.target])
        for key, path in elsewhere:
            try:
                canonical = self.rootfs.resolve(path)
            except RootPathError:
                continue
            if path not in seen and canonical not in seen:
                seen.update((path, canonical))
                files.setdefault(key, []).append(path)
        return files

    def unfollowed(self, names):
        """A path of weak-updates/ depmod may index that is not read here (see read_weak_links)
        and may be a module of ``names`` (normalized), or None."""
        return next((path for path in self.weak_unfollowed
                     if path.endswith('/') or normalize_module_name(_kmod_name(path)) in names), None)

    @property
    def in_tree(self):
        return self._once('in_tree', lambda: read_in_tree_names(self.rootfs, self.warn, self.kernel.modules_dir))

    @property
    def module_present(self):
        """``fn(symvers owner) -> True, False or None``: whether modprobe finds the in-tree module
        that symvers names as a symbol's owner ('drivers/media/v4l2-core/videodev'), to load it
        before what needs the symbol: built in, or listed in modules.dep. None (unknown) where
        modules.dep does not list it but its file is there (depmod has not run since), or lists
        none of the kernel's own modules (modules.order's: they are not installed, as in a tree of
        headers and dkms builds alone, so which will be is not known). None (no function) where
        there is no modules.dep to tell."""
        return self._once('module_present', self._module_present)

    def _module_present(self):
        self.module_files   # reads modules.dep
        in_tree = self.in_tree
        if in_tree.dep_written is None:
            return None
        listed = set(normalize_module_name(_kmod_name(path) or '') for path in in_tree.dep_written)
        installed = not listed.isdisjoint(name for name in in_tree if name not in in_tree.builtin)
        listed.update(in_tree.builtin)
        answers = {}
        # Not ``self``, which keeps this function: the two would be a reference cycle.
        rootfs, kernel_dir = self.rootfs, posixpath.join(self.kernel.modules_dir, 'kernel')

        def present(owner):
            if owner not in answers:
                if normalize_module_name(owner[owner.rfind('/') + 1:]) in listed:
                    answers[owner] = True
                elif not installed:
                    answers[owner] = None
                else:
                    stem = posixpath.join(kernel_dir, owner)
                    answers[owner] = None if any(rootfs.isfile(stem + suffix) for suffix in MODULE_SUFFIXES) else False
            return answers[owner]
        return present

    @property
    def config(self):
        """The headers' config as a dict, or None when the headers have none, or when it was let
        go and cannot be read again, or has changed since (warned once)."""
        config = self._once('config', lambda: read_kernel_config(self.rootfs, self.warn, self.kernel.modules_dir))
        if config is not None:
            try:
                config.hold()   # callers ask it at once: read again now, if it must be, or never
            except KernelConfigGone as exc:
                self.warn('kernel %s: %s; taken as unreadable from now on' % (self.kernel.release, exc))
                config = self._lazy['config'] = None
        return config

    def read_symvers(self, shared=None):
        """``(Symvers or None, damaged)``: damaged when a symvers exists but cannot be read (warned).
        ``shared``: what other kernels' symvers left (``_kabi.SharedSymvers``).

        Not kept: the caller judges the kernel's modules at once, and a kernel's table is some MiB.
        """
        if self.kernel.symvers is None:
            self.warn('kernel %s has no symvers file: its modules cannot be kABI-checked' % self.kernel.release)
            return None, False
        try:
            return read_symvers(self.rootfs, self.kernel.symvers, shared), False
        except SymversError as exc:
            self.warn(str(exc))
            return None, True

    def own_module(self):
        """ModuleInfo of one of the kernel's own modules (its vermagic, ELF identity and struct
        module), or None: the first of those modules.order lists whose file is there and can be
        read, of three at most (built-in modules have no file)."""
        return self._once('own_module', self._read_own_module)

    def _read_own_module(self):
        tried = 0
        for name, relative in sorted(self.in_tree.items(), key=lambda item: item[1]):
            if tried == OWN_MODULE_TRIES:
                break
            if name in self.in_tree.builtin:
                continue
            stem = split_module_suffix(posixpath.join(self.kernel.modules_dir, relative))[0]
            for suffix in MODULE_SUFFIXES:
                if self.rootfs.isfile(stem + suffix):
                    tried += 1
                    try:
                        return self.reader.read(stem + suffix)
                    except KoError:
                        break
        return None

    def installed_copy(self, version, name, indexed=None):
        """``(path, same)`` of the copy in this kernel's tree of module ``name`` as dkms built it
        for this kernel from PackageVersion ``version``.

        The copy is looked for in updates/ and extra/, and where the module's
        DEST_MODULE_LOCATION puts it (such as ``/kernel/drivers/video``).
        ``same`` is True when the copy is the build: the same bytes, or, for a copy compressed
        otherwise than the build (dkms copies the build as it is, so something else made it), the
        same bytes once both are decompressed, which is what the loader gets. False when they
        differ, None when the copy cannot be read or compared, UNTOLD when this target cannot
        decompress it (zstd); ``path`` is None when there is no copy. Compared once per file.
        ``indexed(path)``: whether depmod indexes a file (all do when not given); of two copies
        that are the build, the one it indexes is the one modprobe loads.
        """
        return remembered(self._copies, (version.name, version.version, name),
                          lambda key: self._find_copy(version, name, indexed))

    def byte_comparisons(self, version, name):
        """The (copy, build) in-root path pairs ``installed_copy`` compares byte for byte for module
        ``name`` of PackageVersion ``version``: those it finds compressed alike."""
        built_path = version.builds[self.kernel.release].modules[name]
        return [(path, built_path) for path in self._copy_candidates(version, name) if _compressed_alike(path, built_path)]

    def _copy_candidates(self, version, name):
        """Where the copy of module ``name`` of ``version`` may be: where dkms installs first (a
        stale file of the name elsewhere is not its copy), then in the order of the walk. Worked
        out once: for the comparisons started ahead, then for ``installed_copy``."""
        return remembered(self._candidates, (version.name, version.version, name),
                          lambda key: self._find_candidates(version, name))

    def _find_candidates(self, version, name):
        location = version.install_location(name)
        candidates = list(self.out_of_tree.get(normalize_module_name(name), ()))
        if location and location.split('/')[1] not in OUT_OF_TREE_DIRS:  # those are read whole
            stem = posixpath.join(self.kernel.modules_dir, location.lstrip('/'), name)
            candidates += [stem + suffix for suffix in MODULE_SUFFIXES
                           if stem + suffix not in candidates and self.rootfs.isfile(stem + suffix)]
        places = dkms_install_dirs(self.kernel.modules_dir, location)
        candidates.sort(key=lambda path: places.index(posixpath.dirname(path)) if posixpath.dirname(path) in places
                        else len(places))
        return candidates

    def _find_copy(self, version, name, indexed):
        built_path = version.builds[self.kernel.release].modules[name]
        # A copy that cannot be compared outranks one that differs.
        found = (None, False)
        unindexed = None    # the first copy that is the build, where depmod does not index it
        for path in self._copy_candidates(version, name):
            try:
                if self._same_module(path, built_path):
                    if indexed is None or indexed(path):
                        return path, True
                    unindexed = unindexed or path
                    continue
                found = found if found[0] else (path, False)
            except KoUnreadableHere:
                # nothing wrong with either file that we know of
                found = found if found[0] and found[1] is not False else (path, UNTOLD)
            except (OSError, RootPathError, KoError) as exc:
                self.warn('cannot compare %s with %s: %s' % (path, built_path, exc))
                found = found if found[0] and found[1] is not False else (path, None)
        return (unindexed, True) if unindexed else found

    def _same_module(self, path, built_path):
        """Whether the module file ``path`` holds what the build ``built_path`` holds, compressed
        alike or not; raises OSError, RootPathError or KoError."""
        if _compressed_alike(path, built_path):
            return self._same_content(path, built_path)
        if self.reader is None:
            raise KoError('%s is compressed otherwise than the build, and no module reader is given' % path)
        first = self.reader.image(path)
        try:
            return self.reader.image(built_path, limit=len(first)) == first
        except KoTooLarge:
            return False    # the build's image is the larger: found without making all of it
