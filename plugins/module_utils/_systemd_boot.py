# -*- coding: utf-8 -*-
# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The entry systemd-boot starts when nobody touches its menu, read as systemd-boot 252 to 261 reads it.

Its files: the loader on the EFI system partition (``EFI/systemd/systemd-boot<arch>.efi``, and
``EFI/BOOT/BOOT<arch>.EFI`` when that is systemd-boot too; its ``LoaderInfo`` names its version),
``loader/loader.conf`` there, and type #1 entries (``loader/entries/*.conf``) there and on the
extended boot loader partition (``/boot``, when it is one). Its EFI variables:
``LoaderEntryOneShot``, ``LoaderEntryPreferred`` and loader.conf's ``preferred`` (260 on),
``LoaderEntryDefault`` and loader.conf's ``default``, ``LoaderEntryLastBooted`` (for ``@saved``).
The choice: the first of those patterns that matches an entry, in the loader's order (entries
with a sort key first, by sort key, machine id, newest version; then newest id; an entry with no
tries left last), else the first entry. What cannot be told makes the choice unknown, never
guessed: another version, EFI variables not visible (a disk image), a unified kernel image that
may be the one, entries alike in the loader's order, entries the firmware adds (SMBIOS strings,
258 on), whether ``/boot`` is a partition the loader reads when that changes the answer.
Which loaders are installed, and which loader the firmware starts where GRUB's files are there too,
are _uefi_boot's.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath
import re

from ansible_collections.kabi.dkms.plugins.module_utils._efivars import EfiVariableError, EfiVariables
from ansible_collections.kabi.dkms.plugins.module_utils._kernel_image import release_in_image
from ansible_collections.kabi.dkms.plugins.module_utils._lazy_re import LazyPattern
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootPathError, is_absent
from ansible_collections.kabi.dkms.plugins.module_utils._udev import block_device_properties, udev_properties
from ansible_collections.kabi.dkms.plugins.module_utils._uefi_boot import (
    ascii_lower, find_loaders, find_on_fat, listing, pe_sections, systemd_boot_version)
from ansible_collections.kabi.dkms.plugins.module_utils._vercmp import compare_systemd_versions

LOADER_GUID = '4a67b082-0a4c-41cf-b6c7-440b29bb8c4f'
# /boot is also where an extended boot loader partition (XBOOTLDR) is mounted when the ESP is elsewhere.
XBOOTLDR_MOUNT = '/boot'
XBOOTLDR_TYPE = 'bc13c2ff-59e6-4262-a352-b275fd6f7172'
# loader.conf and entries are a few lines; a larger one is not what it claims to be.
CONFIG_LIMIT = 64 * 1024
# Entry ids are FAT file names (255 characters at most): a longer pattern is not what it claims to be.
MAX_PATTERN = 4096
# A directory of entries holds one or two per kernel.
MAX_ENTRIES = 1024
OLDEST, NEWEST = 252, 261
# The ids of entries the loader adds after the sorted ones when the firmware or the ESP has
# what they start (never a kernel under root); it also adds secure-boot-keys-NAME per directory
# of loader/keys.
_ADDED_ENTRIES = ('auto-osx', 'auto-windows', 'auto-efi-shell', 'auto-efi-default', 'auto-reboot-to-firmware-setup',
                  'auto-poweroff', 'auto-reboot')
KEYS_DIR = 'loader/keys'
SMBIOS_DIR = '/sys/firmware/dmi/entries'
# What the firmware's SMBIOS OEM strings may tell systemd-boot: entries to add (258 on), words to
# add to a type #1 entry's command line (256 on).
ENTRIES_EXTRA = b'io.systemd.boot.entries-extra:'
CMDLINE_EXTRA = b'io.systemd.boot.kernel-cmdline-extra='
_COUNTER = LazyPattern(r'^(.*)\+([0-9]+)(?:-([0-9]+))?$')
INT_MAX = 2 ** 31 - 1
_NUMBER = LazyPattern(r'^[0-9]{1,9}$')   # str.isdigit takes other digits, which int() refuses
# A set's ranges are tried one by one for each character: more than this is not an entry pattern.
MAX_RANGES = 64


class Unknown(Exception):
    """What the loader starts cannot be told from the files: the sentence says why."""


class Entry:
    """A boot entry as the loader lists it: ``id`` (the file name, lowercased: what patterns
    match), its sort fields, ``tries_left`` (-1 without boot counting), its ``linux`` and
    ``version`` lines, its ``options`` (every line's, joined by spaces, as the loader joins them),
    ``path`` (the entry's file) and ``partition`` (where it is mounted); without a version line,
    the ``image_release`` its kernel image names. ``kind``: ``linux`` (a kernel image), ``program``
    (an EFI program that is no kernel: memtest, a shell), ``loader`` (systemd-boot), ``uki`` (a unified kernel image, or what
    may be one: its kernel and command line are not read); ``sortable``: False for a type #2
    image, whose sort fields (in its .osrel) are not read."""

    def __init__(self, entry_id, partition, path, fields=None, tries=(-1, 0), kind='linux', sortable=True):
        fields = fields or {}
        self.id = entry_id
        self.partition = partition
        self.path = path
        self.sort_key = fields.get('sort-key')
        self.machine_id = fields.get('machine-id')
        self.version = fields.get('version')
        self.linux = fields.get('linux')
        self.options = fields.get('options')
        self.tries_left, self.tries_done = tries
        self.kind = kind
        self.sortable = sortable
        self.image_release = None

    def boots(self):
        """What tells the kernel the entry starts apart from another's."""
        return (self.kind, self.partition, self.linux, self.version)

    def __repr__(self):
        return 'Entry(%r)' % self.id


def _compare_plain(a, b):
    """C's strcmp where a missing string comes first (systemd's strcmp_ptr and strcmp16)."""
    if a is None or b is None:
        return (a is not None) - (b is not None)
    return (a > b) - (a < b)


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
    if max(tries) > INT_MAX:
        counter, tries = None, (-1, 0)     # the loader takes no counter past a C int
    entry_id = counter.group(1) + file_name[-len(suffix):] if counter and loader_version >= 259 else file_name
    return ascii_lower(entry_id), tries


def _before(a, b):
    """The loader's order of entries: negative when it lists ``a`` before ``b``."""
    result = (a.tries_left == 0) - (b.tries_left == 0)
    if result:
        return result
    result = (a.sort_key is None) - (b.sort_key is None)
    if result:
        return result
    if a.sort_key is not None:
        result = _compare_plain(a.sort_key, b.sort_key) or _compare_plain(a.machine_id, b.machine_id) \
            or -compare_systemd_versions(a.version, b.version)
        if result:
            return result
    result = -compare_systemd_versions(a.id, b.id)
    if result or a.tries_left < 0 or b.tries_left < 0:
        return result
    if a.tries_left != b.tries_left:
        return -1 if a.tries_left > b.tries_left else 1
    return (a.tries_done > b.tries_done) - (a.tries_done < b.tries_done)


def read_entries(rootfs, partition, loader, warn, running=None):
    """The entries the loader lists from a partition mounted at ``partition``: its type #2
    images (``EFI/Linux/*.efi``) and its type #1 entries whose image is there, but one that
    starts ``running`` (the loader's own file there, see _running_loader)."""
    entries = []
    for directory, suffix in (('EFI/Linux', '.efi'), ('loader/entries', '.conf')):
        directory = posixpath.join(partition, directory)
        # 257 also skips an AUTO- name: before it only the lowercase prefix.
        names = [name for name in listing(rootfs, directory, warn)
                 if ascii_lower(name).endswith(suffix) and not name.startswith('.')
                 and not (ascii_lower(name) if loader.version[0] >= 257 else name).startswith('auto-')]
        if len(names) > MAX_ENTRIES:
            raise Unknown('%s holds %d entries, more than the reading follows' % (directory, len(names)))
        for name in names:
            entry_id, tries = parse_name(name, suffix, loader.version[0])
            path = posixpath.join(directory, name)
            if rootfs.isdir(path):
                continue
            if suffix == '.efi':
                entries.append(Entry(entry_id, partition, path, tries=tries, kind='uki', sortable=False))
                continue
            try:
                text = rootfs.read_text(path, CONFIG_LIMIT)
            except (OSError, RootPathError) as exc:
                raise Unknown('%s cannot be read: %s' % (path, getattr(exc, 'strerror', None) or exc))
            entry = _entry(rootfs, Entry(entry_id, partition, path, tries=tries), read_lines(text, loader.version[0]), loader,
                           running)
            if entry is not None:
                entries.append(entry)
    return entries


def _entry(rootfs, entry, pairs, loader, running):
    """``entry`` (a type #1 file's Entry, its name read) with its lines read; None when the
    loader skips it."""
    fields, kinds = {}, []
    for key, value in pairs:
        if key == 'architecture' and (value if loader.version[0] < 257 else ascii_lower(value)) != loader.arch:
            return None     # the loader drops the entry at the first line naming another architecture
        if key == 'profile' and loader.version[0] >= 261:
            raise Unknown('the entry %s names a profile, which 261 orders and skips by rules this reading does not '
                          'follow' % entry.id)
        if key == 'options':
            fields[key] = fields[key] + ' ' + value if key in fields else value
        elif key in ('linux', 'efi') or key in ('uki', 'uki-url') and loader.version[0] >= 258:
            fields[key] = value     # the last line of a key wins
            kinds.append(key)
        elif key in ('version', 'machine-id', 'sort-key'):
            fields[key] = value
    if not kinds or loader.version[0] >= 258 and len(set(kinds)) > 1:
        return None     # nothing to start; 258 refuses an entry that mixes kinds of image
    kind = kinds[-1]
    entry = Entry(entry.id, entry.partition, entry.path, fields, (entry.tries_left, entry.tries_done),
                  kind='linux' if kind == 'linux' else 'uki')
    if kind == 'uki-url':
        return entry    # fetched from the network
    image = find_on_fat(rootfs, entry.partition, fields[kind])
    if image is None:
        return None     # the loader skips an entry whose image is not on its partition
    if kind == 'efi':
        sections = pe_sections(rootfs, image)
        if systemd_boot_version(rootfs, image) is not None:
            if running is not None and _fat_path(fields[kind]) == running:
                return None     # the loader leaves out an entry that starts itself
            entry.kind = 'loader'       # another copy of it, or itself where that is not told
        elif sections is not None and '.linux' not in sections:
            entry.kind = 'program'      # memtest, a shell: it starts no kernel
    if entry.kind == 'linux' and entry.version is None:
        entry.image_release = release_in_image(rootfs, image)     # Pop!_OS's vmlinuz.efi names it only there
    return entry


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
            if value.startswith('@') and ascii_lower(value) != '@saved':
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
    saved = variable('LoaderEntryLastBooted') if '@saved' in [ascii_lower(value) for value in conf.values()] + [
        ascii_lower(variable(name) or '') for name in ('LoaderEntryDefault', 'LoaderEntryPreferred')] else None

    def folded(pattern):
        return ascii_lower(pattern) if pattern is not None else None

    # The loader folds every pattern but the saved id, which it reads after folding the others.
    order = [(folded(variable('LoaderEntryOneShot')), False)]
    for efivar_name, conf_key, skip_bad in (('LoaderEntryPreferred', 'preferred', True),
                                            ('LoaderEntryDefault', 'default', False)):
        if conf_key == 'preferred' and loader.version[0] < 260:
            continue
        from_efivar = variable(efivar_name)
        if from_efivar is not None and ascii_lower(from_efivar) == '@saved':
            order.append((saved, skip_bad))
        else:
            order.append((folded(from_efivar), skip_bad))
        from_conf = conf.get(conf_key)
        if from_conf is not None and ascii_lower(from_conf) == '@saved':
            # The saved entry is not tried twice.
            order.append((None if from_efivar is not None and ascii_lower(from_efivar) == '@saved' else saved, skip_bad))
        else:
            order.append((folded(from_conf), skip_bad))
    for pattern, dummy in order:
        if len(pattern or '') > MAX_PATTERN:
            raise Unknown('a pattern naming the entry to start is longer than %d characters' % MAX_PATTERN)
        pieces = _split_stars(pattern or '') or []
        if sum(len(test[1]) for piece in pieces for test in piece if isinstance(test, tuple)) > MAX_RANGES:
            raise Unknown('a pattern naming the entry to start has more than %d ranges' % MAX_RANGES)
    return order


def _cuts_unterminated(version):
    """Whether loader ``version`` ((major, minor)) drops the last character of a variable stored
    without its NUL (fixed in 258.8, 259.6, 260.2 and 261)."""
    major, minor = version
    return major < 258 or {258: minor < 8, 259: minor < 6, 260: minor < 2}.get(major, False)


def added_ids(rootfs, loader, warn):
    """The ids of the entries the loader may add after its sorted ones."""
    keys = listing(rootfs, posixpath.join(loader.esp, KEYS_DIR), warn)
    return _ADDED_ENTRIES + tuple('secure-boot-keys-' + ascii_lower(name) for name in keys)


def choose(entries, patterns, added):
    """The entry the loader starts among ``entries`` (sorted by its rules) given ``patterns``
    (see _patterns) and the ids of the entries it may add (see added_ids); raises Unknown where
    that depends on what is not read. None when it starts no entry of these."""
    for pattern, skip_bad in patterns:
        if pattern is None:
            continue
        pieces = _split_stars(pattern)
        found = [entry for entry in entries if matches_pieces(pieces, entry.id) and not (skip_bad and entry.tries_left == 0)]
        if found:
            return _first(found)
        if any(matches_pieces(pieces, entry_id) for entry_id in added):
            raise Unknown('the pattern %r matches no entry read, and may match one the loader adds (%s) when the '
                          'firmware has what it starts' % (pattern, ', '.join(i for i in added if matches(pattern, i))))
    return _first(entries) if entries else None


def _first(entries):
    """The entry the loader lists first of ``entries``."""
    if not all(entry.sortable for entry in entries):
        raise Unknown('a unified kernel image (%s) may be the entry started: its place in the order and its kernel are '
                      'not read' % ', '.join(sorted(entry.id for entry in entries if not entry.sortable)))
    best = entries[0]
    for entry in entries[1:]:
        if _before(entry, best) < 0:
            best = entry
    # Counters compare only when both entries have one: x, x+1 and x+3 need not sort one way.
    tied = [entry for entry in entries if _before(entry, best) == 0 or entry.id == best.id]
    if len(set(entry.boots() for entry in tied)) > 1:
        raise Unknown('entries %s sort alike, and start different things' % ', '.join(sorted(entry.id for entry in tied)))
    if best.kind == 'uki':
        raise Unknown('the entry %s starts a unified kernel image, whose kernel is not read' % best.id)
    if best.kind == 'loader':
        raise Unknown('the entry %s starts systemd-boot: itself, which it leaves out of its menu, or another copy of it'
                      % best.id)
    return best


def _fat_path(path):
    """A path on a FAT partition as one string to compare: ``/`` separated, lowercase."""
    return '/'.join(part for part in ascii_lower(path.replace('\\', '/')).split('/') if part)


def _running_loader(efivars):
    """The path on the ESP of the loader this boot started (its LoaderImageIdentifier variable),
    None when not told."""
    try:
        data = efivars.data('LoaderImageIdentifier', LOADER_GUID)
        return _fat_path(data.decode('utf-16-le').split('\0', 1)[0]) if data is not None and not len(data) % 2 else None
    except (EfiVariableError, UnicodeDecodeError):
        return None


def _is_xbootldr(rootfs, esp):
    """Whether /boot is the extended boot loader partition systemd-boot reads: False when it is on
    the root's file system (no partition of its own); on the running system, what udev tells of its
    partition: of the XBOOTLDR type, on the disk of the ESP (the loader reads only that disk's GPT),
    the first there; None when not told."""
    try:
        boot, top = rootfs.stat(XBOOTLDR_MOUNT), rootfs.stat('/')
    except (OSError, RootPathError):
        return False    # no /boot
    if boot.st_dev == top.st_dev:
        return False
    boot_properties, esp_properties = udev_properties(rootfs, XBOOTLDR_MOUNT), udev_properties(rootfs, esp)
    kind, disk = boot_properties.get('ID_PART_ENTRY_TYPE'), boot_properties.get('ID_PART_ENTRY_DISK')
    if kind is not None and ascii_lower(kind) != XBOOTLDR_TYPE:
        return False    # another partition type (an MBR one too: the loader reads only GPT's)
    if disk is None or esp_properties.get('ID_PART_ENTRY_DISK') is None:
        return None
    if kind is None or disk != esp_properties['ID_PART_ENTRY_DISK']:
        return False if kind is not None else None
    # The loader takes the first XBOOTLDR partition of the disk.
    devices, number = block_device_properties(rootfs), boot_properties.get('ID_PART_ENTRY_NUMBER', '')
    if devices is None or not _NUMBER.match(number):
        return None
    numbers = [int(device['ID_PART_ENTRY_NUMBER']) for device in devices
               if device.get('ID_PART_ENTRY_DISK') == disk and ascii_lower(device.get('ID_PART_ENTRY_TYPE', '')) == XBOOTLDR_TYPE
               and _NUMBER.match(device.get('ID_PART_ENTRY_NUMBER', ''))]
    return min(numbers + [int(number)]) == int(number)


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
    ``linux``, ``version`` or ``image_release`` name the kernel), else None and ``problem`` says
    why; ``entries``, every entry it may list (from the ESP and /boot), None when they cannot be
    read; ``loaders``, its Loader files (none when they cannot be read)."""

    def __init__(self, default, problem, entries, loaders=()):
        self.default = default
        self.problem = problem
        self.entries = entries
        self.loaders = loaders

    def adds_to_cmdline(self, rootfs):
        """Whether the firmware's SMBIOS strings may add words to the command line it passes (256 on)."""
        return any(loader.version[0] >= 256 for loader in self.loaders) and smbios_says(rootfs, CMDLINE_EXTRA)


def read_systemd_boot(rootfs, warn, found=None):
    """The SystemdBoot of the loader on the EFI system partition, None when there is none.
    ``found``: what find_loaders answered, when the caller has it."""
    loaders, problem = find_loaders(rootfs, warn) if found is None else found
    if problem is not None:
        return SystemdBoot(None, problem, None, [])
    if not loaders:
        return None
    try:
        if len(set(loader.esp for loader in loaders)) > 1:
            raise Unknown('systemd-boot is on %s: which one the firmware starts is not told'
                          % ' and '.join(sorted(set(loader.esp for loader in loaders))))
        for loader in loaders:
            if not OLDEST <= loader.version[0] <= NEWEST:
                raise Unknown('systemd-boot %d.%d chooses by rules this reading does not follow (it reads %d to %d)'
                              % (loader.version + (OLDEST, NEWEST)))
            if loader.version[0] >= 258 and smbios_says(rootfs, ENTRIES_EXTRA):
                raise Unknown("the firmware's SMBIOS OEM strings add entries (io.systemd.boot.entries-extra), which "
                              'are not read')
        # /boot's entries count only when it is a partition the loader reads (XBOOTLDR).
        esp = loaders[0].esp
        boot_is_xbootldr = None if esp == XBOOTLDR_MOUNT else _is_xbootldr(rootfs, esp)
        efivars = EfiVariables(rootfs)
        running = _running_loader(efivars)
        listings = [(loader, read_entries(rootfs, esp, loader, warn, running),
                     read_entries(rootfs, XBOOTLDR_MOUNT, loader, warn) if esp != XBOOTLDR_MOUNT and boot_is_xbootldr
                     is not False else []) for loader in loaders]
    except Unknown as exc:
        return SystemdBoot(None, str(exc), None, loaders)
    entries = [entry for dummy, own, extended in listings for entry in own + extended]
    try:
        if not efivars.available:
            raise Unknown("its EFI variables (LoaderEntryDefault, LoaderEntryOneShot) are not visible under root")
        chosen = {}
        for loader, own, extended in listings:
            patterns = _patterns(rootfs, loader, efivars)
            added = added_ids(rootfs, loader, warn)
            # Where /boot's kind is not told, the answer must be the same with and without its
            # entries, unless the ESP has none (this system was then started from /boot's).
            for variant in ([own, own + extended] if own and extended and boot_is_xbootldr is None else [own + extended]):
                entry = choose(variant, patterns, added)
                chosen[entry.boots() if entry is not None else None] = entry
        if len(chosen) != 1:
            raise Unknown('the entry started depends on whether /boot is a partition systemd-boot reads, or on '
                          'which of its loaders runs')
        default = list(chosen.values())[0]
        if default is None:
            return SystemdBoot(None, 'systemd-boot starts no boot entry of a kernel', entries, loaders)
        if default.kind == 'program':
            return SystemdBoot(None, 'systemd-boot starts the EFI program of its entry %s, no kernel' % default.id,
                               entries, loaders)
        return SystemdBoot(default, None, entries, loaders)
    except Unknown as exc:
        return SystemdBoot(None, str(exc), entries, loaders)
