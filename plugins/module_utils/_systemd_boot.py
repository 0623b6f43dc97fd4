# -*- coding: utf-8 -*-
# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The entry systemd-boot starts when nobody touches its menu, read as systemd-boot 252 to 261 reads it.

Its files: the loader on the EFI system partition (``EFI/systemd/systemd-boot<arch>.efi``, whose
``LoaderInfo`` string names its version), ``loader/loader.conf`` there, and type #1 entries
(``loader/entries/*.conf``) there and on the extended boot loader partition (``/boot`` when the
EFI system partition is mounted elsewhere). Its EFI variables: ``LoaderEntryOneShot``,
``LoaderEntryPreferred`` (262's ``preferred``, from 260), ``LoaderEntryDefault``,
``LoaderEntryLastBooted`` (for ``@saved``), ``LoaderEntrySysFail`` (258 on).
The choice: the first of those patterns that matches an entry, in the loader's sorted order
(entries with a sort key first, by sort key, machine id, newest version; then newest id; an
entry with no tries left last), else the first entry. What the files cannot tell makes the
choice unknown, never guessed: a version outside 252-261, a leftover GRUB beside it, EFI variables not visible (a disk
image), a unified kernel image (type #2) that may be the one, ties between entries, whether
``/boot`` is a partition the loader reads when that changes the answer.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import posixpath
import re
import struct

from ansible_collections.kabi.dkms.plugins.module_utils._efivars import EFI_GLOBAL_VARIABLE, EfiVariableError, EfiVariables
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootPathError, is_absent

LOADER_GUID = '4a67b082-0a4c-41cf-b6c7-440b29bb8c4f'
# Where the EFI system partition is mounted, in bootctl's order; /boot is also where an extended
# boot loader partition (XBOOTLDR) is mounted when the ESP is elsewhere.
ESP_MOUNTS = ('/efi', '/boot', '/boot/efi')
XBOOTLDR_MOUNT = '/boot'
XBOOTLDR_TYPE = 'bc13c2ff-59e6-4262-a352-b275fd6f7172'
# bootctl installs the loader in both: its own name, and the removable-media path firmware falls back to.
LOADER_FILES = (('EFI/systemd', re.compile(r'^systemd-boot(x64|ia32|aa64|arm|riscv64|loongarch64)\.efi$', re.IGNORECASE)),
                ('EFI/BOOT', re.compile(r'^boot(x64|ia32|aa64|arm|riscv64|loongarch64)\.efi$', re.IGNORECASE)))
# The .sdmagic section's text, ASCII in the loader image.
_LOADER_INFO = re.compile(br'#### LoaderInfo: systemd-boot (\d+)(?:\.(\d+))?[^#\s]* ####')
# The loader is about 100 KiB; signed and with drivers built in, well under this.
LOADER_LIMIT = 4 * 1024 * 1024
# Debian's signed GRUB is 4 MiB with its modules built in.
PROGRAM_LIMIT = 16 * 1024 * 1024
# loader.conf and entries are a few lines; a larger one is not what it claims to be.
CONFIG_LIMIT = 64 * 1024
# Entry ids are FAT file names (255 characters at most): a longer pattern is not what it claims to be.
MAX_PATTERN = 4096
# A directory of entries holds one or two per kernel.
MAX_ENTRIES = 1024
OLDEST, NEWEST = 252, 261
# The ids of entries the loader adds after the sorted ones when the firmware or the ESP has
# what they start (never a kernel under root); 252 also adds secure-boot-keys-NAME per directory
# of loader/keys.
_ADDED_ENTRIES = ('auto-osx', 'auto-windows', 'auto-efi-shell', 'auto-efi-default', 'auto-reboot-to-firmware-setup',
                  'auto-poweroff', 'auto-reboot')
KEYS_DIR = 'loader/keys'
# The x86 boot protocol's setup header and the string it points at lie in the setup sectors (255
# at most) after the boot sector.
IMAGE_HEAD = 0x200 * 256
_RELEASE = re.compile(br'^[0-9]+\.[0-9]+[0-9A-Za-z.+_~-]*$')
SMBIOS_DIR = '/sys/firmware/dmi/entries'
_COUNTER = re.compile(r'^(.*)\+([0-9]+)(?:-([0-9]+))?$')
_VERSION_CHAR = re.compile(r'[0-9A-Za-z~^.-]')


class Unknown(Exception):
    """What the loader starts cannot be told from the files: the sentence says why."""


class Entry:
    """A boot entry as the loader lists it: ``id`` (the file name, lowercased: matched by the
    patterns), its sort fields, ``tries_left`` (-1 without boot counting), its ``linux`` and
    ``version`` lines, its ``options`` (every line's, joined by spaces, as the loader joins them),
    ``path`` and, without a version line, the ``image_release`` its kernel image names;
    ``image``: a unified kernel image (type #2), whose fields are not read."""

    def __init__(self, entry_id, fields=None, tries=(-1, 0), image=False, path=None):
        fields = fields or {}
        self.id = entry_id
        self.path = path
        self.options = fields.get('options')
        self.image_release = None
        self.sort_key = fields.get('sort-key')
        self.machine_id = fields.get('machine-id')
        self.version = fields.get('version')
        self.linux = fields.get('linux')
        self.tries_left, self.tries_done = tries
        self.image = image

    def __repr__(self):
        return 'Entry(%r)' % self.id


def lower(text):
    """ASCII lowercase, as the loader folds ids and patterns (other characters stay)."""
    return ''.join(chr(ord(c) + 32) if 'A' <= c <= 'Z' else c for c in text)


def compare_versions(a, b, loader_version):
    """systemd's strverscmp_improved: -1, 0 or 1 as ``a`` is older than, like or newer than
    ``b``. Before 252 an empty or missing string compares as a plain string and leading zeros
    go before the test that a number is newer than letters."""
    if loader_version < 252 and (not a or not b):
        return _compare_plain(a, b)
    a, b, i, j = a or '', b or '', 0, 0
    while True:
        while i < len(a) and not _VERSION_CHAR.match(a[i]):
            i += 1
        while j < len(b) and not _VERSION_CHAR.match(b[j]):
            j += 1
        ca, cb = a[i:i + 1], b[j:j + 1]
        if '~' in (ca, cb):
            if ca != cb:
                return -1 if ca == '~' else 1
            i, j = i + 1, j + 1
            ca, cb = a[i:i + 1], b[j:j + 1]
        if not ca or not cb:
            return (ca > cb) - (ca < cb)
        for separator in '-^.':
            if separator in (ca, cb):
                if ca != cb:
                    return -1 if ca == separator else 1
                i, j = i + 1, j + 1
                ca, cb = a[i:i + 1], b[j:j + 1]
        if _is_digit(ca) or _is_digit(cb):
            if loader_version < 252:
                i, j = _skip_zeros(a, i), _skip_zeros(b, j)
            end_a, end_b = _run(a, i, _is_digit), _run(b, j, _is_digit)
            if loader_version >= 252:
                if (end_a > i) != (end_b > j):
                    return 1 if end_a > i else -1
                i, j = _skip_zeros(a, i), _skip_zeros(b, j)
            if end_a - i != end_b - j:
                return 1 if end_a - i > end_b - j else -1
            if a[i:end_a] != b[j:end_b]:
                return 1 if a[i:end_a] > b[j:end_b] else -1
        else:
            end_a, end_b = _run(a, i, _is_letter), _run(b, j, _is_letter)
            length = min(end_a - i, end_b - j)
            if a[i:i + length] != b[j:j + length]:
                return 1 if a[i:i + length] > b[j:j + length] else -1
            if end_a - i != end_b - j:
                return 1 if end_a - i > end_b - j else -1
        i, j = end_a, end_b


def _compare_plain(a, b):
    """C's strcmp where a missing string comes first (systemd's strcmp_ptr and strcmp16)."""
    if a is None or b is None:
        return (a is not None) - (b is not None)
    return (a > b) - (a < b)


def _is_digit(c):
    return '0' <= c <= '9'


def _is_letter(c):
    return 'a' <= c <= 'z' or 'A' <= c <= 'Z'


def _skip_zeros(text, index):
    while text[index:index + 1] == '0':
        index += 1
    return index


def _run(text, index, member):
    while index < len(text) and member(text[index]):
        index += 1
    return index


def matches(pattern, name):
    """Whether the loader's glob ``pattern`` matches ``name``: ``*``, ``?``, ``[...]`` sets
    with ranges and no negation, ``\\`` escapes; a pattern it cannot read matches nothing.
    Matched piece by piece between stars, without backtracking (bounded on any pattern)."""
    return matches_pieces(_split_stars(pattern), name)


def matches_pieces(pieces, name):
    """``matches`` of a pattern split once (see _split_stars) for many names."""
    if pieces is None or sum(len(piece) for piece in pieces) > len(name):
        return False
    if len(pieces) == 1:
        return len(pieces[0]) == len(name) and _piece_at(pieces[0], name, 0)
    first, middle, last = pieces[0], pieces[1:-1], pieces[-1]
    if len(first) + len(last) > len(name) or not _piece_at(first, name, 0) \
            or not _piece_at(last, name, len(name) - len(last)):
        return False
    at, end = len(first), len(name) - len(last)
    for piece in middle:
        while at + len(piece) <= end and not _piece_at(piece, name, at):
            at += 1
        if at + len(piece) > end:
            return False
        at += len(piece)
    return True


def _split_stars(pattern):
    """The pattern as star-separated pieces, each a list of character tests (a character, or
    a (characters, ranges) set); None when it cannot be read (a trailing escape, an open set)."""
    pieces, piece, i = [], [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == '*':
            pieces.append(piece)
            piece = []
            while pattern[i:i + 1] == '*':
                i += 1
            continue
        if c == '\\':
            if i + 1 >= len(pattern):
                return None
            piece.append(pattern[i + 1])
            i += 2
        elif c == '?':
            piece.append(None)
            i += 1
        elif c == '[':
            found = _read_set(pattern, i + 1)
            if found is None:
                return None
            test, i = found
            piece.append(test)
        else:
            piece.append(c)
            i += 1
    pieces.append(piece)
    return pieces


def _read_set(pattern, i):
    """``((characters, ranges), index after the set)`` of a set starting at ``i``, None if open."""
    chars, ranges, first, can_range = set(), [], True, True
    while True:
        if i >= len(pattern):
            return None
        c = pattern[i]
        if c == '\\':
            if i + 1 >= len(pattern):
                return None
            chars.add(pattern[i + 1])
            i, first, can_range = i + 2, False, True
            continue
        if c == ']' and not first:
            return (frozenset(chars), tuple(ranges)), i + 1
        if c == '-' and can_range and not first and pattern[i + 1:i + 2] != ']':
            low, i = pattern[i - 1], i + 1
            if pattern[i:i + 1] == '\\':
                i += 1
            if i >= len(pattern):
                return None
            ranges.append((low, pattern[i]))
            i, first, can_range = i + 1, False, False
            continue
        chars.add(c)
        i, first, can_range = i + 1, False, True


def _piece_at(piece, name, at):
    if at < 0 or at + len(piece) > len(name):
        return False
    for offset, test in enumerate(piece):
        c = name[at + offset]
        if test is None:
            continue
        if isinstance(test, tuple):
            chars, ranges = test
            if c not in chars and not any(low <= c <= high for low, high in ranges):
                return False
        elif test != c:
            return False
    return True


def read_lines(text, loader_version):
    """``[(key, value)]`` of a loader.conf or entry file as the loader reads it: up to a NUL,
    lines split at newlines and carriage returns, blanks trimmed, ``#`` lines skipped, the key
    cut at the first space or tab, a line without a value skipped, one pair of double quotes
    (from 260 also single quotes) around a value taken off: its first character, and the line's
    last when it is the same."""
    pairs = []
    quotes = '"\'' if loader_version >= 260 else '"'
    for line in re.split('[\n\r]', text.split('\0', 1)[0]):
        line = line.strip(' \t')
        if not line or line.startswith('#'):
            continue
        cut = min([at for at in (line.find(' '), line.find('\t')) if at >= 0] or [-1])
        if cut < 0:
            continue
        key, value = line[:cut], line[cut:].lstrip(' \t')
        if value[:1] in tuple(quotes) and value[-1] == value[0]:
            value = value[1:-1]     # one character of a lone quote is both ends
        pairs.append((key, value))
    return pairs


def parse_name(file_name, suffix, loader_version):
    """``(id, (tries left, tries done))`` of an entry file name (``tries left`` -1 without a
    boot counter); from 259 the counter is not part of the id."""
    stem = file_name[:-len(suffix)]
    # Before 257 a counter counts only before the suffix in lowercase (ENTRY+3.CONF has none).
    counter = _COUNTER.match(stem) if loader_version >= 257 or file_name.endswith(suffix) else None
    tries = (int(counter.group(2)), int(counter.group(3) or 0)) if counter else (-1, 0)
    entry_id = counter.group(1) + file_name[-len(suffix):] if counter and loader_version >= 259 else file_name
    return lower(entry_id), tries


def _comparison(loader_version):
    """The loader's order of entries: ``before(a, b)`` is negative when it lists ``a`` first."""
    def before(a, b):
        result = (a.tries_left == 0) - (b.tries_left == 0)
        if result:
            return result
        result = (a.sort_key is None) - (b.sort_key is None)
        if result:
            return result
        if a.sort_key is not None:
            result = _compare_plain(a.sort_key, b.sort_key) or _compare_plain(a.machine_id, b.machine_id) \
                or -compare_versions(a.version, b.version, loader_version)
            if result:
                return result
        result = -compare_versions(a.id, b.id, loader_version)
        if result or a.tries_left < 0 or b.tries_left < 0:
            return result
        if a.tries_left != b.tries_left:
            return -1 if a.tries_left > b.tries_left else 1
        return (a.tries_done > b.tries_done) - (a.tries_done < b.tries_done)
    return before


class Loader:
    """The systemd-boot installed on an EFI system partition: ``esp`` (where it is mounted),
    ``path`` (its file there), ``version`` (the major and minor of its LoaderInfo), ``arch``
    (x64, aa64...)."""

    def __init__(self, esp, path, version, arch):
        self.esp = esp
        self.path = path
        self.version = version
        self.arch = arch


def find_loaders(rootfs, warn):
    """The systemd-boot loaders on the EFI system partition candidates under root (an empty list
    when there is none; a fallback BOOT<arch>.EFI counts when it is systemd-boot); raises Unknown
    for one whose version cannot be read."""
    loaders, seen = [], set()
    for esp in ESP_MOUNTS:
        try:
            where = rootfs.resolve(esp)
        except (OSError, RootPathError):
            continue
        if where in seen:
            continue    # /efi a link to /boot/efi: one partition
        seen.add(where)
        for directory, pattern in LOADER_FILES:
            directory = posixpath.join(esp, directory)
            for name in _listing(rootfs, directory, warn):
                found = pattern.match(name)
                if not found:
                    continue
                path = posixpath.join(directory, name)
                try:
                    data = rootfs.read_bytes(path, LOADER_LIMIT)
                except (OSError, RootPathError) as exc:
                    if directory.endswith('BOOT'):
                        continue    # the fallback path may hold shim or GRUB, of any size
                    raise Unknown('%s cannot be read: %s' % (path, getattr(exc, 'strerror', None) or exc))
                version = _LOADER_INFO.search(data)
                if version is None:
                    if directory.endswith('BOOT'):
                        continue
                    raise Unknown('%s names no systemd-boot version' % path)
                loaders.append(Loader(esp, posixpath.join(directory, name)[len(esp) + 1:],
                                      (int(version.group(1)), int(version.group(2) or 0)), lower(found.group(1))))
    return loaders


def _listing(rootfs, directory, warn):
    try:
        names = rootfs.listdir(directory)
    except (OSError, RootPathError) as exc:
        if not is_absent(exc) and getattr(exc, 'errno', None) != 20:    # ENOTDIR: not a directory
            warn('cannot list %s: %s' % (directory, exc))
        return []
    return sorted(names)


def read_entries(rootfs, partition, loader, warn):
    """The entries the loader lists from a partition mounted at ``partition``: its type #2
    images (``EFI/Linux/*.efi``) and its type #1 entries whose linux (or efi) file is there."""
    entries = []
    for directory, suffix in (('EFI/Linux', '.efi'), ('loader/entries', '.conf')):
        directory = posixpath.join(partition, directory)
        # 257 also skips an AUTO- name: before it only the lowercase prefix.
        names = [name for name in _listing(rootfs, directory, warn)
                 if lower(name).endswith(suffix) and not name.startswith('.')
                 and not (lower(name) if loader.version[0] >= 257 else name).startswith('auto-')]
        if len(names) > MAX_ENTRIES:
            raise Unknown('%s holds %d entries, more than the reading follows' % (directory, len(names)))
        for name in names:
            entry_id, tries = parse_name(name, suffix, loader.version[0])
            path = posixpath.join(directory, name)
            if rootfs.isdir(path):
                continue
            if suffix == '.efi':
                entries.append(Entry(entry_id, tries=tries, image=True, path=path))
                continue
            try:
                text = rootfs.read_text(path, CONFIG_LIMIT)
            except (OSError, RootPathError) as exc:
                raise Unknown('%s cannot be read: %s' % (path, getattr(exc, 'strerror', None) or exc))
            entry = _entry(rootfs, partition, path, entry_id, tries, read_lines(text, loader.version[0]), loader)
            if entry is not None:
                entries.append(entry)
    return entries


def _entry(rootfs, partition, path, entry_id, tries, pairs, loader):
    """The Entry of a type #1 file's lines, None when the loader skips it."""
    fields, kinds = {}, []
    for key, value in pairs:
        if key == 'architecture' and (value if loader.version[0] < 257 else lower(value)) != loader.arch:
            return None     # the loader drops the entry at the first line naming another architecture
        if key == 'profile' and loader.version[0] >= 261:
            raise Unknown('the entry %s names a profile, which 261 orders and skips by rules this reading does not '
                          'follow' % entry_id)
        if key in ('title', 'version', 'machine-id', 'sort-key', 'linux', 'efi', 'architecture', 'uki', 'uki-url'):
            fields[key] = value     # the last line of a key wins
        elif key == 'options':
            fields[key] = fields[key] + ' ' + value if key in fields else value
        if key in ('linux', 'efi') or key in ('uki', 'uki-url') and loader.version[0] >= 258:
            kinds.append(key)
    if not kinds:
        return None
    if loader.version[0] >= 258 and len(set(kinds)) > 1:
        return None     # 258 refuses an entry that mixes kinds of image
    kind = kinds[-1]
    if kind != 'linux':
        # A chain-loaded EFI program or a unified kernel image: the kernel it starts is not read.
        return Entry(entry_id, fields, tries, image=True, path=path)
    image = _find_ignoring_case(rootfs, partition, fields['linux'])
    if image is None:
        return None     # the loader skips an entry whose kernel image is not on its partition
    entry = Entry(entry_id, fields, tries, path=path)
    if entry.version is None:
        entry.image_release = release_in_image(rootfs, image)     # Pop!_OS's vmlinuz.efi names it only there
    return entry


def _find_ignoring_case(rootfs, partition, path):
    """The in-root path of ``path`` (relative to the partition's root, as an entry names it), letter
    case ignored as on FAT; None when it is not there."""
    parts = [part for part in path.replace('\\', '/').split('/') if part]
    if '..' in parts or '.' in parts:
        raise Unknown('the entry names its kernel image by a path with dot components: %s' % path)
    where = partition
    for part in parts:
        candidate = posixpath.join(where, part)
        if not rootfs.exists(candidate):
            folded = [name for name in _listing(rootfs, where, lambda message: None) if lower(name) == lower(part)]
            if len(folded) != 1:
                return None
            candidate = posixpath.join(where, folded[0])
        where = candidate
    return where if parts and rootfs.exists(where) else None   # the loader opens a directory as well


def release_in_image(rootfs, path):
    """The kernel release an x86 kernel image names in its setup header (the boot protocol's
    ``kernel_version`` string, which lies in the setup sectors, up to its first space), None when
    it names none."""
    try:
        with rootfs.open(path) as handle:
            head = handle.read(IMAGE_HEAD)
    except (OSError, RootPathError):
        return None
    if len(head) < 0x210 or head[0x202:0x206] != b'HdrS' or struct.unpack_from('<H', head, 0x206)[0] < 0x200:
        return None
    setup_end = 0x200 * ((bytearray(head)[0x1F1] or 4) + 1)
    start = 0x200 + struct.unpack_from('<H', head, 0x20E)[0]
    end = head.find(b'\0', start, setup_end)
    if start == 0x200 or end < 0:
        return None
    text = head[start:end].split(b' ', 1)[0]
    return text.decode('ascii') if _RELEASE.match(text) else None


def _patterns(rootfs, loader, efivars):
    """``[(pattern or None, skip entries without tries left)]`` in the order the loader tries them."""
    conf = {}
    path = posixpath.join(loader.esp, 'loader/loader.conf')
    try:
        text = rootfs.read_text(path, CONFIG_LIMIT)
    except (OSError, RootPathError) as exc:
        if not is_absent(exc):
            raise Unknown('%s cannot be read: %s' % (path, getattr(exc, 'strerror', None) or exc))
        text = ''
    for key, value in read_lines(text, loader.version[0]):
        if key == 'default' or key == 'preferred' and loader.version[0] >= 260:
            if value.startswith('@') and lower(value) != '@saved':
                continue    # another @ value is ignored: the earlier one stays
            conf[key] = value

    def variable(name):
        try:
            data = efivars.data(name, LOADER_GUID)
        except EfiVariableError as exc:
            raise Unknown(str(exc))
        if data is None or len(data) % 2:
            return None     # the loader takes a value of an odd number of bytes for none
        text = data.decode('utf-16-le', 'surrogatepass')
        if text and not text.endswith('\0') and _cuts_unterminated(loader.version):
            text = text[:-1]    # these releases write the terminating NUL over the last character
        return text.split('\0', 1)[0]

    if loader.version[0] >= 258 and variable('LoaderEntrySysFail') is not None:
        raise Unknown('the EFI variable LoaderEntrySysFail may name the entry started')
    saved = variable('LoaderEntryLastBooted') if '@saved' in [lower(value) for value in conf.values()] + [
        lower(variable(name) or '') for name in ('LoaderEntryDefault', 'LoaderEntryPreferred')] else None
    order = [(variable('LoaderEntryOneShot'), False)]
    for efivar_name, conf_key, skip_bad in (('LoaderEntryPreferred', 'preferred', True),
                                            ('LoaderEntryDefault', 'default', False)):
        if conf_key == 'preferred' and loader.version[0] < 260:
            continue
        from_efivar = variable(efivar_name)
        if from_efivar is not None and lower(from_efivar) == '@saved':
            order.append((saved, skip_bad))
        else:
            order.append((from_efivar, skip_bad))
        from_conf = conf.get(conf_key)
        if from_conf is not None and lower(from_conf) == '@saved':
            # The saved entry is not tried twice.
            order.append((None if from_efivar is not None and lower(from_efivar) == '@saved' else saved, skip_bad))
        else:
            order.append((from_conf, skip_bad))
    if any(len(pattern or '') > MAX_PATTERN for pattern, dummy in order):
        raise Unknown('a pattern naming the entry to start is longer than %d characters' % MAX_PATTERN)
    return [(lower(pattern) if pattern is not None else None, skip_bad) for pattern, skip_bad in order]


def _cuts_unterminated(version):
    """Whether loader ``version`` ((major, minor)) drops the last character of a variable stored
    without its NUL (fixed in 258.8, 259.6, 260.2 and 261)."""
    major, minor = version
    return major < 258 or {258: minor < 8, 259: minor < 6, 260: minor < 2}.get(major, False)


def added_ids(rootfs, loader, warn):
    """The ids of the entries the loader may add after its sorted ones."""
    keys = _listing(rootfs, posixpath.join(loader.esp, KEYS_DIR), warn) if loader.version[0] >= 252 else []
    return _ADDED_ENTRIES + tuple('secure-boot-keys-' + lower(name) for name in keys)


def choose(entries, patterns, added, loader_version):
    """The entry the loader starts among ``entries`` (sorted by its rules) given ``patterns``
    (see _patterns) and the ids of the entries it may add (see added_ids); raises Unknown where
    that depends on what is not read. None when it starts no entry of these."""
    before = _comparison(loader_version)
    for pattern, skip_bad in patterns:
        if pattern is None:
            continue
        pieces = _split_stars(pattern)
        found = [entry for entry in entries if matches_pieces(pieces, entry.id) and not (skip_bad and entry.tries_left == 0)]
        if found:
            return _first(found, before)
        if any(matches_pieces(pieces, entry_id) for entry_id in added):
            raise Unknown('the pattern %r matches no entry read, and may match one the loader adds (%s) when the '
                          'firmware has what it starts' % (pattern, ', '.join(i for i in added if matches(pattern, i))))
    return _first(entries, before) if entries else None


def _first(entries, before):
    if any(entry.image for entry in entries):
        raise Unknown('a unified kernel image or EFI program (%s) may be the entry started, and its kernel is not read'
                      % ', '.join(sorted(entry.id for entry in entries if entry.image)))
    best = entries[0]
    for entry in entries[1:]:
        if before(entry, best) < 0:
            best = entry
    # Counters compare only when both entries have one: x, x+1 and x+3 need not sort one way.
    tied = [entry for entry in entries if before(entry, best) == 0 or entry.id == best.id]
    if len(set((entry.linux, entry.version) for entry in tied)) > 1:
        raise Unknown('entries %s sort alike, and start different kernels' % ', '.join(sorted(entry.id for entry in tied)))
    return best


def _is_xbootldr(rootfs, esp):
    """Whether /boot is the extended boot loader partition systemd-boot reads: False when it is on
    the root's file system (no partition of its own); on the running system, what udev tells of its
    partition: of the XBOOTLDR type, on the disk of the ESP (the loader reads only that disk's GPT);
    None when not told."""
    try:
        boot, top = rootfs.stat(XBOOTLDR_MOUNT), rootfs.stat('/')
    except (OSError, RootPathError):
        return False    # no /boot
    if boot.st_dev == top.st_dev:
        return False
    found, loader = _udev_properties(rootfs, XBOOTLDR_MOUNT), _udev_properties(rootfs, esp)
    kind, disk = found.get('ID_PART_ENTRY_TYPE'), found.get('ID_PART_ENTRY_DISK')
    if kind is None or disk is None:
        return None
    return lower(kind) == XBOOTLDR_TYPE and disk == loader.get('ID_PART_ENTRY_DISK')


def smbios_says(rootfs, marker):
    """Whether the firmware's SMBIOS OEM strings (type 11 structures, as sysfs shows them) hold
    ``marker``, or may (one that cannot be read)."""
    try:
        names = [name for name in rootfs.listdir(SMBIOS_DIR) if name.startswith('11-')]
    except (OSError, RootPathError):
        return False
    for name in names:
        try:
            if marker in rootfs.read_bytes(posixpath.join(SMBIOS_DIR, name, 'raw'), CONFIG_LIMIT):
                return True
        except (OSError, RootPathError):
            return True
    return False


class SystemdBoot:
    """What systemd-boot's files tell: ``default``, the type #1 Entry it starts next (its
    ``linux`` and ``version`` name the kernel), else None and ``problem`` says why;
    ``entries``, every entry it may list (from the ESP and /boot), None when they cannot be read;
    ``loaders``, its Loader files (none when they cannot be read)."""

    def __init__(self, default, problem, entries, loaders=()):
        self.default = default
        self.problem = problem
        self.entries = entries
        self.loaders = loaders

    @property
    def versions(self):
        """The versions of its loaders."""
        return [loader.version for loader in self.loaders]


def firmware_starts(rootfs, reading):
    """Whether the firmware's boot manager starts systemd-boot next (True) or GRUB, through shim or
    on its own (False): the first boot option it tries (see EfiVariables.boot_options) whose file
    is on this ESP and that Secure Boot lets run. None when that is not told: no EFI variables, an
    option for another partition, a short form or something that is no file, a program that is
    neither, shim given a second stage of its own."""
    efivars = EfiVariables(rootfs)
    if not efivars.available or not reading.loaders:
        return None
    esp, arch = reading.loaders[0].esp, reading.loaders[0].arch
    own = lower(_udev_properties(rootfs, esp).get('ID_PART_ENTRY_UUID', ''))
    try:
        secure_boot = efivars.get_byte('SecureBoot', EFI_GLOBAL_VARIABLE)
        for option in efivars.boot_options():
            if option.path is None or not own or option.partition != own:
                return None     # not a file of this ESP, or which partition it is is not told
            found = _find_ignoring_case(rootfs, esp, option.path or 'EFI/BOOT/BOOT%s.EFI' % arch.upper())
            if found is None:
                continue        # the firmware cannot load it and tries the next
            kind, signed = _program(rootfs, found)
            if secure_boot is not None and secure_boot[1] == 1 and not signed:
                continue        # Secure Boot refuses an unsigned image
            if kind == 'shim':
                if option.optional:
                    return None     # shim may take its second stage from the option's data
                found = _find_ignoring_case(rootfs, esp, posixpath.join(posixpath.dirname(option.path or 'EFI/BOOT'),
                                                                        'grub%s.efi' % arch))
                kind = _program(rootfs, found)[0] if found is not None else None
            return {'systemd-boot': True, 'grub': False}.get(kind)
    except EfiVariableError:
        return None
    return None


def _program(rootfs, path):
    """``(kind, signed)`` of an EFI program: its kind ``systemd-boot`` (its LoaderInfo), ``shim``
    or ``grub`` (their SBAT lines), else None; whether it carries an Authenticode signature."""
    try:
        data = rootfs.read_bytes(path, PROGRAM_LIMIT)
    except (OSError, RootPathError):
        return None, False
    kind = 'systemd-boot' if _LOADER_INFO.search(data) else 'shim' if b'\nshim,' in data \
        else 'grub' if b'\ngrub,' in data else None
    return kind, _signed(data)


def _signed(data):
    """Whether a PE image's certificate table (its fifth data directory) holds anything."""
    try:
        header = struct.unpack_from('<I', data, 0x3C)[0]
        if data[header:header + 4] != b'PE\0\0':
            return False
        optional = header + 24
        directories = optional + (112 if struct.unpack_from('<H', data, optional)[0] == 0x20B else 96)
        return struct.unpack_from('<II', data, directories + 4 * 8)[1] > 0
    except struct.error:
        return False


def _udev_properties(rootfs, path):
    """udev's properties (``E:`` lines, in its database under root: the running system's) of the
    block device ``path`` is on; empty when not told."""
    try:
        device = rootfs.stat(path).st_dev
        record = rootfs.read_text('/run/udev/data/b%d:%d' % (os.major(device), os.minor(device)), CONFIG_LIMIT)
    except (OSError, RootPathError):
        return {}
    return dict(line[2:].split('=', 1) for line in record.splitlines() if line.startswith('E:') and '=' in line)


def read_systemd_boot(rootfs, warn):
    """The SystemdBoot of the loader on the EFI system partition, None when there is none."""
    loaders = []
    try:
        loaders = find_loaders(rootfs, warn)
        if not loaders:
            return None
        if len(set(loader.esp for loader in loaders)) > 1:
            raise Unknown('systemd-boot is on %s: which one the firmware starts is not told'
                          % ' and '.join(sorted(set(loader.esp for loader in loaders))))
        for loader in loaders:
            if loader.version[0] >= 258 and smbios_says(rootfs, b'io.systemd.boot.entries-extra:'):
                raise Unknown("the firmware's SMBIOS OEM strings add entries (io.systemd.boot.entries-extra), which "
                              'are not read')
            if not OLDEST <= loader.version[0] <= NEWEST:
                raise Unknown('systemd-boot %d.%d chooses by rules this reading does not follow (it reads %d to %d)'
                              % (loader.version + (OLDEST, NEWEST)))
        # /boot's entries count only when it is a partition the loader reads (XBOOTLDR).
        extended = None if any(loader.esp == XBOOTLDR_MOUNT for loader in loaders) else _is_xbootldr(rootfs, loaders[0].esp)
        listings = [(loader, read_entries(rootfs, loader.esp, loader, warn),
                     read_entries(rootfs, XBOOTLDR_MOUNT, loader, warn) if extended is not False
                     and loader.esp != XBOOTLDR_MOUNT else [], extended) for loader in loaders]
    except Unknown as exc:
        return SystemdBoot(None, str(exc), None, loaders)
    entries = [entry for dummy, own, extended, dummy in listings for entry in own + extended]
    try:
        efivars = EfiVariables(rootfs)
        if not efivars.available:
            raise Unknown("its EFI variables (LoaderEntryDefault, LoaderEntryOneShot) are not visible under root")
        chosen = {}
        for loader, own, extended, told in listings:
            patterns = _patterns(rootfs, loader, efivars)
            added = added_ids(rootfs, loader, warn)
            # Where /boot's kind is not told, the answer must be the same with and without its
            # entries, unless the ESP has none (this system was then started from /boot's).
            for variant in ([own, own + extended] if own and extended and told is None else [own + extended]):
                entry = choose(variant, patterns, added, loader.version[0])
                chosen[(entry.linux, entry.version) if entry is not None else None] = entry
        if len(chosen) != 1:
            raise Unknown('the entry started depends on whether /boot is a partition systemd-boot reads, or on '
                          'which of its loaders runs')
        default = list(chosen.values())[0]
        return SystemdBoot(default, None if default else 'systemd-boot starts no boot entry of a kernel', entries, loaders)
    except Unknown as exc:
        return SystemdBoot(None, str(exc), entries, loaders)
