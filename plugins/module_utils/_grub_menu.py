# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""GRUB's menu as grub-mkconfig writes it to grub.cfg, the entry GRUB starts by default, and
the environment block (grubenv) that load_env reads.

Read, never run. The text goes through GRUB script's own lexer and grammar (``_grub_script``):
what GRUB would refuse to parse stops the reading. From what parses: ``menuentry`` and ``submenu`` blocks with their
title, their id (``--id``, or ``$menuentry_id_option`` where 00_header made it ``--id``) and,
for an entry, the image its ``linux`` command loads; and, in order, what the top level does to
``default`` and the variables it comes from (``load_env``, ``set``, ``if [ "${next_entry}" ]``...),
as 00_header writes it. Only commands known to change none of them pass; one that is not known
stops the reading.

GRUB picks the default the way ``get_entry_number()`` in grub-core/normal/menu.c does: a number
counts entries, else the first entry whose title or id is the value up to its first ``>`` (``>>``
stands for a ``>``); a value that names no entry or counts past the last starts the first entry;
what follows the ``>`` picks inside a submenu. Red Hat's GRUB reads the value otherwise (an id,
a title, then a whole number): for a menu in ``/boot/grub2`` only an answer both readings give
counts.

Whatever the reading cannot follow makes the answer uncertain, never a guess: an entry inside an
``if``, a loop or a function counted past or possibly named; a title or id with a variable; a
line that runs on; options GRUB refuses; a ``default`` or one of its variables changed where the
reading cannot tell whether it runs, or by a command named by a variable; GRUB's directory moved
(``$prefix``); a sourced file that may exist (Debian's ``custom.cfg``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.kabi.dkms.plugins.module_utils._grub_script import (
    NAME, PREFIXED_VARIABLE, SPLITS, Unreadable, decoded, has_unquoted_variable, lone_variable, read_script)
from ansible_collections.kabi.dkms.plugins.module_utils._lazy_re import LazyPattern

# Far more entries than any generated menu has (one normal and one recovery entry per kernel).
MAX_ENTRIES = 4096
# Function definitions (grub-mkconfig writes a few).
MAX_FUNCTIONS = 256
# The commands that load a Linux kernel (linuxefi and linux16 on older distributions).
LINUX_COMMANDS = ('linux', 'linuxefi', 'linux16')
# The variables that decide the default: GRUB's own, and those 00_header moves between (Ubuntu's
# also boots prev_entry again after an initrd-less boot failed).
TRACKED = ('default', 'next_entry', 'saved_entry', 'prev_saved_entry', 'initrdfail', 'prev_entry',
           'boot_counter', 'boot_success')  # Red Hat's 08_fallback_counting boots entry 1 by them
# ...and those the reading also follows: where GRUB's files are, and 00_header's id option with
# the feature it tests (GRUB's own, set since 2.00).
WATCHED = TRACKED + ('prefix', 'config_directory', 'menuentry_id_option', 'feature_menuentry_id')


def _words_of(names):
    """The pattern of ``names`` as words of a text."""
    return LazyPattern(r'\b(%s)\b' % '|'.join(map(re.escape, names)))


_WATCHED_WORD = _words_of(WATCHED)
# Commands (upstream GRUB's and the distributions') that change no variable, no menu entry and
# not where GRUB goes next, whatever their arguments (where a platform lacks one, a function of
# its name runs); what the reading does not know makes the menu uncertain.
_HARMLESS = frozenset((
    '[', 'test', 'true', 'false', 'echo', 'list_env', 'insmod', 'rmmod', 'lsmod',
    'loadfont', 'lsfonts', 'terminal_output', 'terminal_input', 'terminal', 'terminfo', 'serial',
    'background_image', 'background_color', 'sleep', 'keystatus', 'play', 'clear', 'cpuid',
    'password', 'password_pbkdf2', 'cryptomount', 'videoinfo', 'vbeinfo', 'ls', 'cat', 'help',
    'setparams', 'shift', 'setpci', 'lspci', 'lsefi', 'lsefisystab', 'lsefimmap', 'trust', 'distrust',
    'verify_detached', 'hwmatch',      # hwmatch sets $match alone (Ubuntu's graphics blacklist)
))
# Commands that set the variables their arguments name.
_SETS_NAMED = frozenset(('search', 'search.file', 'search.fs_uuid', 'search.fs_label', 'probe', 'regexp',
                         'smbios', 'rdmsr', 'read', 'getenv', 'tr', 'net_bootp', 'net_dhcp',
                         'increment', 'decrement'))     # Fedora's boot counting
_SOURCES = ('source', 'configfile', '.')
# The states of a sourced file (see GrubMenu.default_value) that make sourcing it change nothing.
_SOURCED_IN_VAIN = ('missing', 'empty')
# What the one variable of grub2-setpassword's user.cfg is named (RHEL's 01_users sources it).
PASSWORD_VARIABLE = 'GRUB2_PASSWORD'
# Commands that may set anything or add entries from elsewhere.
_OPAQUE = frozenset(('eval', 'normal', 'blscfg', 'bls_import', 'extract_entries_source',
                     'extract_entries_configfile', 'extract_legacy_entries_source',
                     'extract_legacy_entries_configfile', 'legacy_source', 'legacy_configfile',
                     'syslinux_source', 'syslinux_configfile', 'return', 'break', 'continue'))
# Commands that boot, stop or leave GRUB: its menu may never show.
_LEAVES = frozenset(('boot', 'reboot', 'halt', 'exit', 'normal_exit', 'fwsetup', 'poweroff'))
# Commands that load another system than Linux, for the next boot to start.
_LOADERS = frozenset(('chainloader', 'multiboot', 'multiboot2', 'kfreebsd', 'knetbsd', 'kopenbsd', 'appleloader',
                      'xnu_kernel', 'xnu_kernel64', 'freedos', 'ntldr', 'truecrypt', 'plan9', 'legacy_kernel'))
# Commands that set no variable, whatever they are given.
_SETS_NOTHING = _HARMLESS | _LOADERS | _LEAVES | frozenset(LINUX_COMMANDS + (
    'initrd', 'initrdefi', 'initrd16', 'devicetree', 'unset', 'export', 'save_env', 'blscfg'))
# menuentry options (grub-core/commands/menuentry.c) that take a value; $menuentry_id_option is --id.
_VALUE_OPTIONS = ('--class', '--users', '--hotkey', '--id')
# The ids os-prober's 30_os-prober gives the entries of the systems it found on other partitions.
_OTHER_SYSTEMS = 'osprober-'
_ID_OPTION_WORDS = ('$menuentry_id_option', '${menuentry_id_option}')
# Variables GRUB sets itself, before grub.cfg runs or as it starts an entry: never "unset".
_GRUB_OWN = LazyPattern(r'^(?:root|prefix|cmdpath|chosen|default|fallback|timeout|timeout_style|lang|locale_dir|'
                        r'secondary_locale_dir|pager|config_directory|config_file|check_signatures|shim_lock|'
                        r'lockdown|superusers|(?:feature|grub|net|pxe|color|menu_color)_\w*)$')
_ASSIGNED = LazyPattern(r'^([A-Za-z_][A-Za-z0-9_]*)=(.*)$')
# A file of GRUB's directory: $prefix/name, "${config_directory}/name"...
_DIRECTORY_FILE = LazyPattern(r'^(")?\$(?:\{(prefix|config_directory)\}|(prefix|config_directory))/([^/\'"\\$]+)(?(1)")$')
# What the files' bytes that are no UTF-8 read as: distinct bytes, the same text.
_UNDECODED = '\ufffd'
# grub_isspace(): no form feed, no vertical tab.
_GRUB_BLANKS = ' \t\n\r'
# GRUB's test command: its binary operators (``-nt`` and ``-ot`` as prefixes), tried first at
# each argument, and its unary ones.
_TEST_BINARY = frozenset(('=', '==', '!=', '<', '<=', '>', '>=', '-eq', '-ge', '-gt', '-le', '-lt', '-ne', '-pgt', '-plt'))
_TEST_UNARY = ('-d', '-e', '-f', '-s', '-n', '-z')
# The text of a file of GRUB's directory as a test argument: a path, so never an operator nor empty.
_PATH = object()
# Test's parentheses nested deeper than GRUB's MAX_TEST_RECURSION_DEPTH (100) are an error there;
# the reading does not follow them so deep.
MAX_TEST_DEPTH = 32
# The environment block (grub-core/lib/envblk.c).
GRUBENV_SIGNATURE = '# GRUB Environment Block\n'
_GRUBENV_VARIABLE = LazyPattern(r'([^=]*)=((?:\\[\s\S]|[^\\\n])*)\n')
_GRUBENV_COMMENT = LazyPattern(r'(?:\\[\s\S]|[^\\\n])*(?:\n|\\?$)')
_GRUBENV_ESCAPE = LazyPattern(r'\\([\s\S])')
# An answer not known.
UNKNOWN = object()


class MenuEntry:
    """A ``menuentry`` (``children`` None) or a ``submenu``; ``names_known`` False when a variable
    makes its title or id unknown; ``conditional``: inside an ``if``, a loop or a function."""

    __slots__ = ('title', 'entry_id', 'image', 'arguments', 'children', 'conditional', 'names_known')

    def __init__(self, title, entry_id, conditional, names_known):
        self.title = title
        self.entry_id = entry_id
        # The image of the last linux command before it boots, as written; None when it boots no
        # Linux kernel; UNKNOWN when that cannot be told (a condition, a function, a variable).
        self.image = None
        self.arguments = None   # the words after the image of that linux command, as written
        self.children = None
        self.conditional = conditional
        self.names_known = names_known

    def may_be_named(self, name):
        """Whether ``name`` is, or may be, this entry's title or id."""
        return not self.names_known or name in (self.title, self.entry_id)


class GrubMenu:
    """The top-level entries of a grub.cfg and, in order, what its top level does to the
    variables that decide the default (``steps``)."""

    def __init__(self, entries, steps, reason=None):
        self.entries = entries
        self.steps = steps
        self.reason = reason    # what shapes the menu that the reading cannot follow, if anything

    def default_value(self, grubenv, prefix_file=None):
        """``(value, from grubenv, certain)`` of GRUB's ``default`` variable when the menu shows:
        None when nothing sets it; ``from grubenv``: the environment block holds the value. Not
        certain either when an entry's id comes from ``$menuentry_id_option`` and that may not
        be ``--id`` where the entry is read.

        ``grubenv``: the variables of the environment block next to grub.cfg, None when it is
        there but cannot be read;
        ``prefix_file(name)``: ``'missing'``, ``'empty'``, ``'present'`` or ``'password'`` (present,
        and what ``grub2-setpassword`` writes: it only sets ``GRUB2_PASSWORD``) for a file of that
        directory, None when it cannot be told.
        """
        if self.reason is not None:
            return None, False, False
        return _default_value(self.steps, grubenv, prefix_file, bls=False)

    def leaves(self):
        """The menu entries that are not submenus, in the order of the file."""
        stack = list(reversed(self.entries))
        while stack:
            entry = stack.pop()
            if entry.children is None:
                yield entry
            else:
                stack.extend(reversed(entry.children))

    def out_of_sight(self, grubenv, prefix_file=None):
        """Whether an entry may boot what the reading does not tell: one the reading could not
        follow, an entry whose image is not told, or one that a file or script the top level runs
        may add (a sourced file that may hold something; not blscfg, whose BLS entries are read on
        their own). ``grubenv`` and ``prefix_file`` as for ``default_value``."""
        return self.reason is not None or any(entry.image is UNKNOWN for entry in self.leaves()) or \
            _evaluated(self.steps, grubenv, prefix_file).opaque

    def default_entry(self, value, red_hat_too=False):
        """``(MenuEntry or None, certain)`` of the entry GRUB starts when ``default`` is ``value``
        (None: unset): one whose image (the first argument of the last linux command it runs, None
        when it boots no Linux kernel) is told; ``red_hat_too``: only an entry Red Hat's reading of
        the value also starts is certain. Never certain for a value with bytes that are no UTF-8."""
        if self.reason is not None or value is not None and _UNDECODED in value:
            return None, False
        entry, certain = _started_entry(self.entries, value, _pick)
        if certain and red_hat_too and _started_entry(self.entries, value, _pick_red_hat) != (entry, True):
            return None, False
        return entry, certain


def _started_entry(entries, value, pick):
    certain = True
    while True:
        index, value, known = pick(entries, value)
        certain = certain and known
        if index is None or not certain:
            return None, False
        entry = entries[index]
        if entry.children is None:
            return (entry, True) if entry.image is not UNKNOWN else (None, False)
        entries = entry.children


def _pick(entries, value):
    """``(index or None, the value for a submenu, certain)`` of the entry of ``entries`` that
    ``value`` picks, the upstream way; index None when there is no entry at all."""
    if not entries:
        return None, None, True
    head, rest = _split_path(value) if value is not None else (None, None)
    number = _grub_number(head) if head is not None else -1
    if number is UNKNOWN:
        return None, None, False
    if number is None:
        # A name: the first entry whose title or id it is.
        for index, entry in enumerate(entries):
            if entry.may_be_named(head):
                return index, rest, entry.names_known and not entry.conditional
        number = -1
    if 0 <= number < len(entries):
        return number, rest, not any(entry.conditional for entry in entries[:number + 1])
    # Named nothing, or counted past the last entry: the first entry.
    return 0, rest, not entries[0].conditional


def _pick_red_hat(entries, value):
    """The same as ``_pick``, the way Red Hat's GRUB reads ``default`` (red_hat_entry_index); a
    submenu keeps the value, which is not followed here."""
    if not entries:
        return None, None, True
    index = red_hat_entry_index(value, entry_names(entries)) if value is not None else 0
    if index is UNKNOWN:
        return None, None, False
    if index is None:
        # Named nothing, or counted past the last entry: whether it names one may depend on the
        # entries in conditions (an id first matched, then refused for what follows it).
        return 0, None, not any(entry.conditional for entry in entries) and entries[0].children is None
    return index, None, not any(entry.conditional for entry in entries[:index + 1]) and entries[index].children is None


def entry_names(entries):
    """``(id, title)`` of each MenuEntry for red_hat_entry_index (without an id GRUB gives an entry
    its title), None where they are not told."""
    return [(entry.title if entry.entry_id is None else entry.entry_id, entry.title) if entry.names_known else None
            for entry in entries]


def red_hat_entry_index(value, names):
    """The index of the entry Red Hat's GRUB starts when ``default`` is ``value`` (its menu.c's
    get_entry_number): the first entry whose id is the value's first word (then the value has no
    other) or its part before a ``>``, else whose title is the value or its part before a ``>``,
    else the value as a number (blanks before it, nothing after it). ``names``: ``(id, title)`` of
    each entry in the menu's order (the title where an entry has no id), None where they are not
    told. None when the value names no entry (GRUB starts the first), UNKNOWN when that cannot be
    told (bytes that are no UTF-8 in the value: GRUB compares the bytes, not what they read as)."""
    if _UNDECODED in value:
        return UNKNOWN
    spec = _EntrySpec(value.split('\0', 1)[0])     # a C string
    for index, entry_names in enumerate(names):
        if entry_names is None:
            return UNKNOWN
        if spec.names(entry_names[0], spec.first_word):
            return index if spec.first_word == len(spec.value) else None
    for index, entry_names in enumerate(names):
        if entry_names is None:
            return UNKNOWN
        if spec.names(entry_names[1], -1):
            return index
    number, rest = _grub_strtoul(spec.value)
    if number is None or number is UNKNOWN:
        return number
    return number if number < len(names) and not rest else None


class _EntrySpec:
    """A ``default`` value as GRUB's menuentry_eq() reads it: up to a lone ``>`` (``>>`` is
    ``>``), with where each of those characters ends in the value; each entry name is compared
    with it once, at the speed of a string comparison."""

    def __init__(self, value):
        self.value = value
        self.first_word = next((at for at, char in enumerate(value) if char in _GRUB_BLANKS), len(value))
        text, self.ends, at = [], [0], 0
        while at < len(value) and (value[at] != '>' or value.startswith('>>', at)):
            at += 2 if value[at] == '>' else 1
            text.append(value[at - 1])
            self.ends.append(at)
        self.text = ''.join(text)

    def names(self, name, limit):
        """menuentry_eq(name, value, limit): whether the value names an entry called ``name``,
        comparing at most ``limit`` characters of the name past its first (-1: all of them)."""
        if limit > -1 and len(name) > limit or not self.text.startswith(name):
            return False
        after = self.ends[len(name)]
        if name and (after == len(self.value) or self.value[after] == '>' and not self.value.startswith('>>', after)):
            return True
        # A quirk: the value's first word ends where the name does, with a blank.
        return limit == len(name) != 1 and after < len(self.value) and self.value[after] in _GRUB_BLANKS


def _split_path(value):
    """(first element with ``>>`` read as ``>``, the rest after its ``>`` or None)."""
    head = []
    at = 0
    while at < len(value):
        if value.startswith('>>', at):
            head.append('>')
            at += 2
        elif value[at] == '>':
            return ''.join(head), value[at + 1:] or None
        else:
            head.append(value[at])
            at += 1
    return ''.join(head), None


def _grub_number(text):
    """The entry number GRUB's strtoul (base 0) reads at the start of ``text``; None when it
    starts with no number; UNKNOWN from 2**31 on, where 32- and 64-bit GRUBs part ways."""
    return _grub_strtoul(text)[0]


def _grub_strtoul(text):
    """``(_grub_number of text, what follows the number)``."""
    text = text.lstrip(_GRUB_BLANKS)
    base, digits = 10, '0123456789'
    if text.startswith('0x'):
        base, digits, text = 16, '0123456789abcdef', text[2:]
    elif len(text) > 1 and text[0] == '0' and text[1] in '01234567':
        base, digits = 8, '01234567'
    count = 0
    while count < len(text) and text[count].lower() in digits:
        count += 1
    if not count:
        return None, text
    significant = text[:count].lstrip('0')
    if len(significant) > 11:
        return UNKNOWN, text[count:]    # more than 2**31 in any base, and no int() of thousands of digits
    value = int(significant or '0', base)
    return value if value < 1 << 31 else UNKNOWN, text[count:]


def parse_grubenv(text):
    """``{variable: value}`` of a GRUB environment block read the way load_env reads it
    (grub-core/lib/envblk.c): after its signature, ``name=value`` lines where a backslash takes
    the next character as it is (a newline too), lines that start with ``#`` skipped; the reading
    ends at a line without ``=`` or without its end. Empty for a file without the signature,
    which GRUB refuses."""
    variables = {}
    if len(text) <= len(GRUBENV_SIGNATURE) or not text.startswith(GRUBENV_SIGNATURE):
        return variables
    at = len(GRUBENV_SIGNATURE)
    while at < len(text):
        line = (_GRUBENV_COMMENT if text[at] == '#' else _GRUBENV_VARIABLE).match(text, at)
        if line is None:
            break
        if line.lastindex:
            # GRUB hands both on as C strings: a NUL ends them.
            value = _GRUBENV_ESCAPE.sub(r'\1', line.group(2))
            variables[line.group(1).partition('\0')[0]] = value.partition('\0')[0]
        at = line.end()
    return variables


class _Reading:
    """The menu entries of a grub.cfg and what its top level does to the default, from what
    the grammar (``_grub_script``) tells of it; ``watched``: the variables whose changes make steps."""

    def __init__(self, watched=WATCHED):
        self.watched = watched
        self.watched_word = _WATCHED_WORD if watched == WATCHED else _words_of(watched)
        self.top = []
        self.steps = []
        # ('if', [its condition's last command, part]), ('loop', None), ('block', None),
        # ('function', [name, changes, loads, calls]), ('entry' or 'submenu', MenuEntry)
        self.frames = []
        # name: [changes what picks the default, loads an image, calls as (name, step of the
        # command of that name)]; what a call does depends on the functions defined when it runs
        self.functions = {}
        self.effects = {}           # what calling each function does, with the functions defined now
        self.definitions = 0
        self.condition = None       # 'if', 'elif' or 'loop' while a condition's commands are read,
        self.tested = None          # and the last of them: the one whose status decides
        self.count = 0
        self.later = []             # (entry or submenu, name, step) of the calls that run after the whole file
        self.booted = set()         # id() of the entries whose body boots, or stops, before its end
        self.submenu_ids = False    # an entry inside a submenu has $menuentry_id_option

    def _context(self):
        """``(kind, value, enclosed)`` of the innermost entry, submenu or function (kind None: the
        top level); ``enclosed``: an if, a loop or a block inside it, or a function, holds what is read."""
        enclosed = False
        for kind, value in reversed(self.frames):
            if kind in ('entry', 'submenu', 'function'):
                return kind, value, enclosed or kind == 'function'
            enclosed = True
        return None, None, enclosed

    def keyword(self, keyword):
        top_level = self._context()[0] is None
        if keyword in ('if', 'while', 'until'):
            if self.condition is not None:
                raise Unreadable('a condition the reading cannot follow')
            if top_level and keyword != 'if':
                raise Unreadable('a loop at the top level, which may never end')
            self.frames.append(('if', [None, 'cond']) if keyword == 'if' else ('loop', None))
        frame = self.frames[-1][1]
        if keyword in ('if', 'elif', 'while', 'until'):
            self.condition, self.tested = 'loop' if keyword in ('while', 'until') else keyword, None
        elif keyword in ('then', 'do'):
            if keyword == 'then':
                frame[:] = [self.tested, 'then' if self.condition == 'if' else 'elif']
                if top_level:
                    self.steps.append((self.condition, self.tested))
            self.condition = None
        elif keyword == 'else':
            frame[1] = 'else'
            if top_level:
                self.steps.append(('else',))
        else:
            self.frames.pop()
            if top_level:
                self.steps.append(('end',))

    def loop(self, name, dummy):
        if self.condition is not None:
            raise Unreadable('a condition the reading cannot follow')
        self.frames.append(('loop', None))
        if self._context()[0] is None:
            self.steps.append(('unsure',))
        if name in self.watched:
            self._apply(('unknown', (name,)))

    def command(self, words):
        context, value, enclosed = self._context()
        if context == 'entry':
            self._entry_command(value, enclosed, words)
            return
        step = self._step(words)
        if context is None and step[0] == 'call':
            step = self._called(step)
        if self.condition is not None:
            self.tested = words
            if self.condition == 'elif' and step[0] != 'none' and context is None:
                raise Unreadable('a condition that changes what picks the default')
        self._apply(step)

    def _entry_command(self, entry, enclosed, words):
        """A command of an entry's body: what image it loads. GRUB boots what the last loader
        command loaded once the body ends, or at a ``boot``; what comes after that never runs."""
        name, known = decoded(words[0])
        if id(entry) in self.booted or entry.image is UNKNOWN:
            return
        if enclosed and known and (name in LINUX_COMMANDS or name in _LOADERS or name in _LEAVES):
            entry.image = UNKNOWN   # may run or not
        elif name in LINUX_COMMANDS and known and (entry.entry_id or '').startswith(_OTHER_SYSTEMS):
            entry.image = None      # a kernel of another system, on another partition
        elif name in LINUX_COMMANDS and known:
            image, known = decoded(words[1]) if len(words) > 1 else (None, True)
            entry.image = image if known else UNKNOWN
            entry.arguments = words[2:]
        elif known and (name in _LOADERS or name in _LEAVES and name != 'boot'):
            entry.image = None      # another system, or no boot at all: no Linux kernel
            if name not in _LOADERS:
                self.booted.add(id(entry))
        elif known and name == 'boot':
            self.booted.add(id(entry))
        elif not known or name in _SOURCES or name in _OPAQUE:
            entry.image = UNKNOWN
        elif NAME.match(name):
            self.later.append((entry, name, ('none',)))

    def _apply(self, step):
        """Take a command's step: into the steps at the top level, into what a function does."""
        context, value, enclosed = self._context()
        if context == 'function':
            if step[0] == 'call':
                value[3].append(step[1:])
            else:
                value[1] = value[1] or step[0] != 'none'
                value[2] = value[2] or step[0] in ('opaque', 'bls', 'source', 'unknown command', 'leaves')
            return
        if context == 'submenu' and step[0] == 'call':
            self.later.append((value,) + step[1:])     # a submenu's body runs when it is entered
            return
        if step[0] == 'call':
            step = self._called(step)
        if step[0] == 'unknown command':
            raise Unreadable('a command the reading does not know: %.40s' % step[1])
        if step[0] == 'leaves':
            raise Unreadable('a command that boots or leaves GRUB before its menu shows')
        if step[0] != 'none' and context == 'submenu':
            raise Unreadable('a submenu that changes what picks its entries')
        if step[0] != 'none':
            self.steps.append(step)

    def _called(self, call):
        """The step of a ``('call', name, step)`` that runs now."""
        if call[1] in self.functions:
            return ('opaque',) if self._effect(call[1], call[2])[0] else ('none',)
        return call[2]

    def _effect(self, name, step, calling=()):
        """``(changes, loads)``: whether calling ``name`` now may change what picks the default,
        and load an image: the function of that name as defined now, else the command's ``step``."""
        function = self.functions.get(name)
        if function is None:
            return step[0] != 'none', step[0] == 'unknown command'
        if name in calling:
            return True, True       # a function that calls itself
        if name not in self.effects:
            changes, loads = function[1], function[2]
            for callee in function[3]:
                more = self._effect(callee[0], callee[1], calling + (name,))
                changes, loads = changes or more[0], loads or more[1]
            self.effects[name] = changes, loads
        return self.effects[name]

    def open_function(self, name):
        self.definitions += 1
        if self.definitions > MAX_FUNCTIONS:
            raise Unreadable('more than %d functions defined' % MAX_FUNCTIONS)
        self.frames.append(('function', [name, False, False, []]))

    def open_block(self, words):
        context, parent, enclosed = self._context()
        name, known = decoded(words[0])
        if context == 'entry':
            self.frames.append(('block', None))     # what the entry defines when it runs
            return
        if name not in ('menuentry', 'submenu') or not known or self.condition is not None:
            raise Unreadable('a block the reading does not know: %.40s' % words[0])
        self.count += 1
        if self.count > MAX_ENTRIES:
            raise Unreadable('more than %d menu entries, more than GRUB\'s tools write' % MAX_ENTRIES)
        found = _entry(words[1:], enclosed)
        if found is None:
            raise Unreadable('a menu entry GRUB refuses, or not written the way grub-mkconfig writes one')
        entry, uses_id_option = found
        if context == 'function':
            parent[1] = True        # calling it adds an entry
        elif uses_id_option and context == 'submenu':
            self.submenu_ids = True
        elif uses_id_option:
            self.steps.append(('id option',))
        (parent.children if context == 'submenu' else self.top).append(entry)
        if name == 'submenu':
            entry.children = []
        self.frames.append((name.replace('menuentry', 'entry'), entry))

    def close(self):
        kind, value = self.frames.pop()
        if kind == 'function':
            self.functions[value[0]] = value
            self.effects = {}

    def finish(self):
        """What runs once the whole file has: entries' and submenus' bodies, with the functions
        defined last, in a context that keeps only exported variables."""
        for owner, name, step in self.later:
            changes, loads = self._effect(name, step)
            if owner.children is not None and changes:
                raise Unreadable('a submenu that changes what picks its entries')
            if owner.children is None and loads:
                owner.image = UNKNOWN
        if self.submenu_ids:
            self.steps.append(('id option', 'exported'))

    def _step(self, words):
        """What a command does to the default: ``('set', name, value)``, ``('load_env', file
        variable, names)``, ``('save_env', names)``, ``('export', names)``, ``('source', word)``,
        ``('unknown', names)`` (those variables can no longer be told), ``('opaque',)`` (nothing
        can), ``('bls',)`` (blscfg: entries from the BLS files, their options expanded now),
        ``('leaves',)``, ``('unknown command', name)``, ``('call', name, what the command of that
        name does)`` (GRUB runs a function of the name where it has no such command), or
        ``('none',)``."""
        name, known = decoded(words[0])
        if not known:
            # An assignment of a variable's value, else a command named by a variable: anything.
            return _assignment(words[0], self.watched) if _ASSIGNED.match(words[0]) else ('opaque',)
        if '=' in name:
            return _assignment(words[0], self.watched)    # no command or function has = in its name
        step = _command_step(name, words[1:], self.watched, self.watched_word)
        if step[0] in ('none', 'unknown command') and NAME.match(name):
            return ('call', name, step)
        return step


def _command_step(name, arguments, watched=WATCHED, watched_word=_WATCHED_WORD):
    """What the GRUB command ``name`` does to the variables ``watched`` (see ``_Reading._step``);
    ``watched_word``: the pattern of their names."""
    if name == 'set':
        return _assignment(arguments[0], watched) if arguments else ('none',)
    if name == 'unset':
        variable, known = decoded(arguments[0]) if arguments else ('', True)
        return ('unknown', watched) if not known else ('set', variable, None) if variable in watched else ('none',)
    if name in ('load_env', 'save_env'):
        return _environment_block(name, arguments, watched)
    if name == 'export':
        return ('export', tuple(text for text, known in map(decoded, arguments) if known))
    if name in _SOURCES:
        return ('source', arguments[0] if arguments else None)
    if name == 'blscfg':
        return ('bls',)
    if name in _OPAQUE:
        return ('opaque',)
    if name == 'fwsetup' and arguments == ['--is-supported']:
        return ('none',)    # only asks (30_uefi-firmware)
    if name in _LEAVES:
        return ('leaves',)
    if name in _SETS_NAMED:
        texts = [decoded(word) for word in arguments]
        if not all(known for text, known in texts):
            return ('unknown', watched)
        named = tuple(set(found.group(1) for text, known in texts for found in watched_word.finditer(text)))
        return ('unknown', named) if named else ('none',)
    if name in _HARMLESS:
        return ('none',)
    return ('unknown command', name)


def _assignment(word, names=WATCHED):
    """The step of an assignment word, given to set or alone, for a variable of ``names``."""
    literal = _ASSIGNED.match(word)
    text, known = decoded(word)
    if not literal and not known:
        return ('unknown', names)
    name, equals, value = text.partition('=')
    if not equals or name not in names:
        return ('none',)    # "not an assignment", or a variable that does not count
    if known:
        return ('set', name, ('text', value))
    variable = lone_variable(literal.group(2))
    return ('set', name, ('variable',) + variable if variable else UNKNOWN)


def _environment_block(command, words, watched=WATCHED):
    """The step of load_env (``('load_env', the variable of its file's directory, names)``: bare,
    $prefix/grubenv, and all names, None, but a whitelist) or of save_env (``('save_env', names)``)."""
    directory, names, at = 'prefix', [], 0
    while at < len(words):
        text, known = decoded(words[at])
        if known and text in ('-f', '--file') and at + 1 < len(words):
            at += 1
            directory = _grubenv_directory(words[at])
        elif words[at].startswith('--file='):
            directory = _grubenv_directory(words[at][len('--file='):])
        elif known and text not in ('-s', '--skip-sig'):
            if text.startswith('-'):
                return ('unknown', watched)
            names.append(text)
        elif not known:
            return ('unknown', watched) if command == 'load_env' else ('save_env', watched)
        at += 1
    if command == 'save_env':
        return ('save_env', tuple(names))
    return ('load_env', directory, tuple(names) or None) if directory else ('unknown', watched)


def _grubenv_directory(word):
    """The variable of the directory whose grubenv ``word`` names (``$prefix/grubenv``), else None."""
    found = _directory_file(word)
    return found[0] if found and found[1] == 'grubenv' else None


def _directory_file(word):
    """``(variable, name)`` of a word naming a file of GRUB's directory (``$prefix/grubenv``)."""
    found = _DIRECTORY_FILE.match(word)
    return (found.group(2) or found.group(3), found.group(4)) if found else None


def _entry(words, conditional):
    """``(MenuEntry, whether $menuentry_id_option gives its id)`` of a ``menuentry`` or
    ``submenu`` command's words after the command name (options before or after the title), None
    for one GRUB refuses or the reading cannot follow."""
    title, entry_id, names_known, uses_id_option = None, None, True, False
    at = 0
    while at < len(words):
        word = words[at]
        text, known = decoded(word)
        at += 1
        if word in _ID_OPTION_WORDS:
            # What 00_header makes it; the evaluation checks that it is when the entry is read.
            text, known, uses_id_option = '--id', True, True
        if not known:
            names_known = False
            conditional = conditional or _may_split(word, text)
            title = '' if title is None else title
            continue
        option, equals, inline = text.partition('=')
        if option in _VALUE_OPTIONS:
            if equals:
                value = (inline, True)
            elif at < len(words):
                value = decoded(words[at])
                conditional = conditional or not value[1] and _may_split(words[at], value[0])
                at += 1
            else:
                return None
            if value[0].startswith('-'):
                return None     # "missing mandatory option"
            names_known = names_known and value[1]
            entry_id = value[0] if option == '--id' else entry_id
        elif text == '--unrestricted':
            continue
        elif text.startswith('-'):
            return None         # an option GRUB does not know, or that the reading does not follow
        elif title is None:
            title = text
    if title is None:
        return None
    return MenuEntry(title, entry_id, conditional, names_known), uses_id_option


def _may_split(word, text):
    """Whether a word GRUB expands may give several words, or an option GRUB refuses: a
    variable unquoted, or at its start."""
    return text[:1] in ('', '$', '-') or has_unquoted_variable(word)


def parse_grub_menu(text):
    """The GrubMenu of a grub.cfg text, None when it has no menu entry and runs no other file or
    script that may add one (a BLS ``blscfg`` config, say); read up to MAX_ENTRIES entries.
    Raises nothing."""
    reading = _Reading()
    try:
        read_script(text, reading)
    except Unreadable as exc:
        return GrubMenu(reading.top, reading.steps, str(exc))
    if reading.top or any(step[0] in ('source', 'opaque') for step in reading.steps):
        return GrubMenu(reading.top, reading.steps)
    return None


def boot_variable_values(text, name, grubenv, prefix_file, bls=False):
    """Every text variable ``name`` may hold where GRUB reads a kernel's arguments from it: in a
    menu entry's body, or where ``blscfg`` runs (``bls``: it expands the BLS entries' options
    then); None among them for unset. Sorted; None for GRUB's own variables (GRUB sets them,
    before grub.cfg runs or as it starts an entry: the image or stub that runs grub.cfg sets no
    other) or when a value cannot be told (an assignment of an unknown value, a command that
    sets what it names, a sourced file that may be there, a script the reading cannot follow).

    That is the one value the top level leaves it (the environment block's, ``grubenv``, where
    load_env takes it, unless grub.cfg sets it after) when the top level can be followed to one
    and no entry, submenu or function changes it; a submenu's entries see it only if exported.
    Else each value assigned to it anywhere (at the top, in a function, in an entry), the
    environment block's where load_env runs, and unset.
    ``prefix_file`` as for ``GrubMenu.default_value``."""
    if _GRUB_OWN.match(name):
        return None
    assignments = _Assignments(name, grubenv, prefix_file)
    try:
        read_script(text, assignments)
    except Unreadable:
        return None
    # What entries do does not count where blscfg runs, before them.
    value = _top_level_value(text, name, grubenv, prefix_file, bls, assignments.nested)
    if value is not UNKNOWN and (bls or not assignments.unknown):
        return [value]
    if assignments.unknown:
        return None
    return sorted(assignments.values, key=lambda found: (found is not None, found or ''))


def _top_level_value(text, name, grubenv, prefix_file, bls, nested):
    """The text of ``name`` where the top level leaves it (``bls``: where its one blscfg runs),
    None when it is unset there, UNKNOWN when that cannot be told for sure."""
    reading = _Reading(WATCHED if name in WATCHED else WATCHED + (name,))
    try:
        read_script(text, reading)
    except Unreadable:
        return UNKNOWN
    state = _evaluated(reading.steps, grubenv, prefix_file, reading.watched)
    if bls:
        told = len(state.bls) == 1 and state.bls[0][0] is True and state.bls[0][1] is not None
        values = state.bls[0][1] if told else None
    else:
        submenus = any(entry.children is not None for entry in reading.top)
        told = not (state.opaque or nested or submenus and name not in state.exported)
        values = state.values if told else None
    value = values.get(name) if values is not None else UNKNOWN
    return value if value is None or value is UNKNOWN else value[0]


def bls_default_value(text, grubenv, prefix_file):
    """``(value, from grubenv, certain)`` of GRUB's ``default`` when the menu of a grub.cfg whose
    one ``blscfg`` lists the BLS entries shows, as for ``GrubMenu.default_value``; not certain
    either when blscfg may not run, or run more than once."""
    reading = _Reading()
    try:
        read_script(text, reading)
    except Unreadable:
        return None, False, False
    return _default_value(reading.steps, grubenv, prefix_file, bls=True)


def _default_value(steps, grubenv, prefix_file, bls):
    """``default_value`` of the top-level ``steps``: with ``bls``, of a menu that one blscfg
    that surely runs fills; else of a menu that no blscfg adds to (it shifts the entries'
    numbers)."""
    state = _evaluated(steps, grubenv, prefix_file)
    value = state.values.get('default')
    bls_told = [runs for runs, _values in state.bls] == [True] if bls else not state.bls
    if value is UNKNOWN or state.opaque or not bls_told or state.ids_unsure:
        return None, False, False
    return (value[0], value[1], True) if value is not None else (None, False, True)


class _TestNotTold(Exception):
    """A test whose outcome GRUB's versions tell apart, or that the reading does not follow."""


def _binary_operator(text):
    """Whether GRUB's test reads an argument of this text as a binary operator."""
    return text is not _PATH and (text in _TEST_BINARY or text[:3] in ('-nt', '-ot'))


def _both(first, second):
    """``first and second`` where None is not told."""
    return False if False in (first, second) else None if None in (first, second) else True


def _either(first, second):
    """``first or second`` where None is not told."""
    return True if True in (first, second) else None if None in (first, second) else False


def _evaluated(steps, grubenv, prefix_file, watched=WATCHED):
    """The _Evaluation of a reading's top-level ``steps``; ``grubenv`` and ``prefix_file`` as for
    ``GrubMenu.default_value``."""
    state = _Evaluation(grubenv, prefix_file or (lambda name: None), watched)
    for step in steps:
        state.run(step)
    return state


class _Assignments:
    """What a grub.cfg may assign to one variable, wherever it does, from what the grammar tells."""

    def __init__(self, name, grubenv, prefix_file):
        self.name = name
        self.grubenv = grubenv
        self.prefix_file = prefix_file
        self.values = set([None])  # unset, which a variable also may be
        self.assigned = False
        self.unknown = False
        self.moved = False          # GRUB's directory may be another from here on
        self.functions = set()
        self.calls = set()          # commands not known here whose words may name the variable
        self.depth = 0              # of the entries, submenus and functions around what is read
        self.nested = False         # one of them may change the variable

    def command(self, words):
        touched = self._command(words)
        self.nested = self.nested or bool(self.depth) and touched

    def _command(self, words):
        """Take one command; whether it may change the variable."""
        name, known = decoded(words[0])
        unknown, given = self.unknown, False
        step = ('none',)
        assigned = words[0] if '=' in name or not known and _ASSIGNED.match(words[0]) else \
            words[1] if name == 'set' and len(words) > 1 else None
        if assigned is not None:
            step = _assignment(assigned, (self.name,))
            self.moved = self.moved or _assignment(assigned, ('prefix', 'config_directory'))[0] != 'none'
        elif name in _SOURCES and len(words) > 1:
            found = _directory_file(words[1])
            self.unknown = self.unknown or self.moved or not found or \
                self.prefix_file(found[1]) not in _SOURCED_IN_VAIN + (() if self.name == PASSWORD_VARIABLE else ('password',))
        elif not known or name in _SOURCES or name in _OPAQUE and name != 'blscfg':
            self.unknown = True     # (blscfg adds entries from the BLS files, and sets nothing)
        elif name == 'load_env':
            step = _environment_block(name, words[1:])
            self._load_env(step)
            step = ('none',) if step[0] == 'load_env' and step[2] is not None and self.name not in step[2] else step
        elif name == 'unset':
            given = any(not known or text == self.name for text, known in map(decoded, words[1:]))
        elif name not in _SETS_NOTHING:
            # A command that may set the variable it is given: the name, or a word not known.
            texts = [decoded(word) for word in words[1:]]
            if any(not known or re.search(r'(?<![$\w{])%s\b' % re.escape(self.name), text) for text, known in texts):
                self.unknown = self.unknown or name in _SETS_NAMED
                self.calls.add(name)
                given = True
        if step[0] == 'set' and step[2] not in (None, UNKNOWN) and step[2][0] == 'text':
            self.values.add(step[2][1])
            self.assigned = True
        elif step[0] == 'unknown' or step[0] == 'set' and step[2] is not None:
            self.unknown = True     # an unknown value, or another variable's
        return step[0] != 'none' or self.unknown != unknown or given

    def _load_env(self, step):
        taken = step[0] == 'load_env' and (step[2] is None or self.name in step[2])
        if step[0] != 'load_env' or taken and (self.grubenv is None or self.moved):
            self.unknown = True     # another file, or one that cannot be read
        elif taken and self.name in self.grubenv:
            self.values.add(self.grubenv[self.name])
            self.assigned = True

    def loop(self, name, words):
        if name == self.name:
            found = [decoded(word) for word in words]
            self.nested = self.nested or bool(self.depth)
            self.assigned = True
            self.unknown = self.unknown or not all(known for text, known in found)
            self.values.update(text for text, known in found)

    def keyword(self, keyword):
        pass

    def open_block(self, words):
        self.depth += 1

    def open_function(self, name):
        self.functions.add(name)
        self.depth += 1

    def close(self):
        self.depth -= 1

    def finish(self):
        # A function's words are its parameters; any other command may set what it is given.
        self.unknown = self.unknown or bool(self.calls - self.functions)


class _Evaluation:
    """The top level's steps run in order over the variables the reading follows; an ``if`` it
    cannot decide makes what its branches change unknown."""

    def __init__(self, grubenv, prefix_file, watched=WATCHED):
        self.watched = watched
        # The environment block as load_env would read it next: save_env rewrites it (UNKNOWN:
        # what it holds is not told); None when it cannot be read.
        self.environment = dict(grubenv) if grubenv is not None else None
        self.prefix_file = prefix_file
        # {name: (value, from grubenv)} or UNKNOWN; absent: unset (prefix and config_directory:
        # GRUB's own, the directory of grub.cfg)
        self.values = {'feature_menuentry_id': ('y', False)}
        self.exported = set()
        # [this branch runs, a branch ran] of each open block: True, False or None (cannot tell),
        # and how many open blocks do not run, and cannot be told, in all
        self.frames = []
        self.counts = {False: 0, None: 0, True: 0}
        self.opaque = False         # something may have set anything, or added entries
        self.ids_unsure = False     # $menuentry_id_option may not be --id where an entry takes it
        # (whether it runs, {name: value} or None when anything may be set) where each blscfg is,
        # which adds entries the reading does not list
        self.bls = []

    def runs(self, but_last=False):
        counts = dict(self.counts)
        if but_last:
            counts[self.frames[-1][0]] -= 1
        if counts[False]:
            return False
        return None if counts[None] else True

    def _branch(self, frame, runs):
        self.counts[frame[0]] -= 1
        frame[0] = runs
        self.counts[runs] += 1

    def run(self, step):
        kind = step[0]
        if kind in ('if', 'unsure'):
            runs = (self._test(step[1]) if kind == 'if' else None) if self.runs() is not False else False
            self.frames.append([runs, runs])
            self.counts[runs] += 1
        elif kind in ('elif', 'else'):
            frame = self.frames[-1]
            if self.runs(but_last=True) is False or frame[1] is True:
                self._branch(frame, False)
            elif frame[1] is None:
                self._branch(frame, None)
            else:
                self._branch(frame, self._test(step[1]) if kind == 'elif' else True)
                frame[1] = frame[0]
        elif kind == 'end':
            self.counts[self.frames.pop()[0]] -= 1
        else:
            runs = self.runs()
            if runs is not False:
                self._command(step, runs)

    def _command(self, step, runs):
        kind = step[0]
        if kind == 'load_env':
            self._load_env(step[1], step[2], runs)
        elif kind == 'save_env':
            for name in step[1]:
                if self.environment is not None and name in self.watched:
                    self.environment[name] = UNKNOWN
        elif kind == 'export':
            self.exported.update(step[1] if runs else ())
        elif kind == 'source':
            self._source(step[1])
        elif kind == 'set':
            self._set(step[1], self._value(step[2]), runs)
        elif kind == 'unknown':
            for name in step[1]:
                self.values[name] = UNKNOWN
        elif kind == 'bls':
            self.bls.append((runs, None if self.opaque else dict(self.values)))
        elif kind == 'id option':
            value = self._current('menuentry_id_option')
            if value is None or value is UNKNOWN or value[0] != '--id' or \
                    len(step) > 1 and 'menuentry_id_option' not in self.exported:
                self.ids_unsure = True
        else:
            self.opaque = True

    def _current(self, name):
        """``(value, from grubenv)`` of a variable, None when unset, UNKNOWN when not told."""
        if name in ('prefix', 'config_directory'):
            return self.values.get(name, UNKNOWN)
        return self.values.get(name)

    def _load_env(self, directory, names, runs):
        names = names or self.watched
        if directory in self.values or self.environment is None:
            found = dict.fromkeys(names, UNKNOWN)   # another file, or one that cannot be read
        else:
            found = dict((name, self.environment[name]) for name in names if name in self.environment)
            found = dict((name, value if value is UNKNOWN else (value, True)) for name, value in found.items())
        for name in self.watched:
            if name in found:
                self._set(name, found[name], runs)

    def _test(self, words):
        """Whether a condition ending in ``words`` holds, as GRUB's test command
        (grub-core/commands/test.c) reads its arguments: a test on three arguments where the
        second is a binary operator, else on two where the first is a unary one, else ``(``,
        ``)``, ``!``, ``-a``, ``-o`` or a lone string; the tests one after another are and-ed,
        ``-o`` starts another group to or. None when it cannot be told."""
        if not words or words[0] != '[' or words[-1] != ']':
            return None
        arguments = words[1:-1]
        texts = [self._argument_text(word) for word in arguments]
        if None in texts:
            return None     # an argument whose text is not told may be an operator, or dropped
        try:
            return self._test_parse(arguments, texts, 0, 0)[0]
        except _TestNotTold:
            return None

    def _test_parse(self, arguments, texts, at, depth):
        """``(holds, where it ended)`` of GRUB's test_parse() from argument ``at``: up to a ``)``,
        which ends it (at the top, the whole test), or the last argument."""
        groups, group, invert = False, True, False
        while at < len(texts):
            text = texts[at]
            if at + 2 < len(texts) and _binary_operator(texts[at + 1]):
                known = texts[at + 1] in ('=', '==', '!=') and _PATH not in (texts[at], texts[at + 2])
                holds = (texts[at] == texts[at + 2]) != (texts[at + 1] == '!=') if known else None
                at += 3
            elif at + 1 < len(texts) and text in _TEST_UNARY:
                if at + 2 < len(texts) and text in ('-d', '-e', '-f', '-s'):
                    raise _TestNotTold()    # GRUB up to 2.02~beta2 (RHEL 7's) ends the test after a file test
                holds = self._unary_test(text, arguments[at + 1], texts[at + 1])
                at += 2
            elif text == ')':
                return _either(groups, group), at + 1
            elif text == '(':
                if depth == MAX_TEST_DEPTH:
                    raise _TestNotTold()
                holds, at = self._test_parse(arguments, texts, at + 1, depth + 1)
            elif text in ('!', '-a', '-o'):
                invert = not invert if text == '!' else invert
                if text == '-o':
                    groups, group = _either(groups, group), True
                at += 1
                continue
            else:
                holds = text != ''
                at += 1
            group = _both(group, (None if holds is None else not holds) if invert else holds)
            invert = False
        return _either(groups, group), at

    def _unary_test(self, operator, word, text):
        if operator in ('-n', '-z'):
            return (text != '') == (operator == '-n')
        found = _directory_file(word) if operator in ('-f', '-s') else None
        state = self.prefix_file(found[1]) if found and found[0] not in self.values else None
        if state is None:
            return None
        return state in ('present', 'password') if operator == '-s' else state != 'missing'

    def _argument_text(self, word):
        """The text GRUB passes for an argument of test; _PATH for a file of GRUB's directory;
        None when it cannot be told."""
        text, known = decoded(word)
        if known:
            return text
        return _PATH if _directory_file(word) else self._word_text(word)

    def _word_text(self, word):
        """The text of a word that is a variable the reading follows, after plain characters
        (``"${x}"``, ``x$y``); None when it cannot be told."""
        found = PREFIXED_VARIABLE.match(word)
        name = found and (found.group(3) or found.group(4))
        value = self._current(name) if name in self.watched else UNKNOWN
        if value is UNKNOWN:
            return None
        text = value[0] if value is not None else ''
        if not found.group(2) and (not found.group(1) + text or SPLITS.search(text)):
            return None     # unquoted, GRUB drops an empty word, splits at blanks, expands * and ?
        return found.group(1) + text

    def _value(self, assigned):
        if assigned is None or assigned is UNKNOWN:
            return assigned
        if assigned[0] == 'text':
            return (assigned[1], False)
        name, quoted = assigned[1:]
        # Unset, a variable reads as empty.
        value = (self._current(name) or ('', False)) if name in self.watched else UNKNOWN
        if value is UNKNOWN or not quoted and SPLITS.search(value[0]):
            return UNKNOWN
        return value

    def _set(self, name, value, runs):
        if runs is None and self.values.get(name) != value:
            value = UNKNOWN
        if value is None:
            self.exported.discard(name)     # unset, a variable is no longer exported either
            self.values.pop(name, None)
        else:
            self.values[name] = value

    def _source(self, word):
        """A sourced file that may exist, and hold something, can add entries and set anything."""
        found = _directory_file(word) if word is not None else None
        state = self.prefix_file(found[1]) if found and found[0] not in self.values else None
        if state == 'password' and PASSWORD_VARIABLE in self.watched:
            self.values[PASSWORD_VARIABLE] = UNKNOWN
        elif state not in _SOURCED_IN_VAIN + ('password',):
            self.opaque = True
