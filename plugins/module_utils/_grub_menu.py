# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""GRUB's menu as grub-mkconfig writes it to grub.cfg, and the entry GRUB starts by default.

Read, never run: ``menuentry`` and ``submenu`` blocks with their title, their id (``--id`` or
``$menuentry_id_option``) and, for an entry, the image its ``linux`` command loads; and the
top-level ``set default=...`` commands. GRUB picks the default the way ``get_entry_number()``
in grub-core/normal/menu.c does: a number counts entries, else the first entry whose title or
id is the value up to its first ``>`` (``>>`` stands for a ``>``); a value that names no entry
or counts past the last starts the first entry; what follows the ``>`` picks inside a submenu.

An entry inside an ``if``, a loop or a function may be missing when GRUB runs: a default that
counts past one, or names one, or could name one, is not known (``certain`` False). So is a
title or an id that holds a variable.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# Far more entries than any generated menu has (one normal and one recovery entry per kernel).
MAX_ENTRIES = 4096
# The commands that load a Linux kernel (linuxefi and linux16 on older distributions).
LINUX_COMMANDS = ('linux', 'linuxefi', 'linux16')
# menuentry options that take a value (grub-core/commands/menuentry.c); $menuentry_id_option is --id.
_VALUE_OPTIONS = ('--class', '--users', '--hotkey', '--id', '--source', '$menuentry_id_option',
                  '${menuentry_id_option}')
_ID_OPTIONS = ('--id', '$menuentry_id_option', '${menuentry_id_option}')
_OPENS = ('if', 'for', 'while', 'until', 'function')
_CLOSES = ('fi', 'done')
_ASSIGNMENT = re.compile(r'^(?:set\s+)?default=')
_VARIABLE = re.compile(r'^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))$')


class MenuEntry:
    """A ``menuentry`` (``children`` None) or a ``submenu``; ``names_known`` False when a variable
    makes its title or id unknown; ``conditional``: inside an ``if``, a loop or a function."""

    __slots__ = ('title', 'entry_id', 'image', 'children', 'conditional', 'names_known')

    def __init__(self, title, entry_id, conditional, names_known):
        self.title = title
        self.entry_id = entry_id
        self.image = None       # the first argument of its linux command, as written
        self.children = None
        self.conditional = conditional
        self.names_known = names_known

    def may_be_named(self, name):
        """Whether ``name`` is, or may be, this entry's title or id."""
        return not self.names_known or name in (self.title, self.entry_id)


class GrubMenu:
    """The top-level entries of a grub.cfg and what its top level sets ``default`` to."""

    def __init__(self, entries, defaults, complete=True):
        self.entries = entries
        self.defaults = defaults    # ('text', value), ('variable', name) or ('unknown', value) of each
        self.complete = complete    # False: read only up to MAX_ENTRIES entries

    def default_value(self, grubenv):
        """``(value, from grubenv, certain)`` of GRUB's ``default`` variable at boot: the one-shot
        ``next_entry`` where grub.cfg honours it, else what the top level sets (``saved_entry``
        from the environment block); None when nothing sets it. ``from grubenv``: the
        environment block holds the value. ``grubenv(name)``: one of its variables, or None."""
        next_entry = ('variable', 'next_entry')
        if next_entry in self.defaults and grubenv('next_entry'):
            return grubenv('next_entry'), True, True
        values = set(value for value in self.defaults if value != next_entry)
        if not values:
            return None, False, True
        if len(values) > 1:
            return None, False, False
        kind, value = values.pop()
        if kind == 'text':
            return value, False, True
        if kind == 'variable' and value == 'saved_entry':
            saved = grubenv('saved_entry')
            return saved, saved is not None, True
        return None, False, False

    def default_image(self, value):
        """``(image or None, certain)`` of the entry GRUB starts when ``default`` is ``value``
        (None: unset): the first argument of its linux command, None for an entry without one,
        and whenever the entry is not certain."""
        entries, certain = self.entries, self.complete
        while True:
            index, value, known = _pick(entries, value)
            certain = certain and known
            if index is None or not certain:
                return None, False
            entry = entries[index]
            if entry.children is None:
                return entry.image, True
            entries = entry.children


def _pick(entries, value):
    """``(index or None, the value for a submenu, certain)`` of the entry of ``entries`` that
    ``value`` picks; index None when there is no entry at all."""
    if not entries:
        return None, None, True
    head, rest = _split_path(value) if value is not None else (None, None)
    number = _grub_number(head) if head is not None else -1
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
    """The entry number GRUB's strtoul (base 0) reads at the start of ``text``: -1 when GRUB
    gives up on it (too large for its int), None when it starts with no number at all."""
    text = text.lstrip(' \t\n\r\f\v')
    base, digits = 10, '0123456789'
    if text.startswith('0x'):
        base, digits, text = 16, '0123456789abcdef', text[2:]
    elif len(text) > 1 and text[0] == '0' and text[1] in '01234567':
        base, digits = 8, '01234567'
    count = 0
    while count < len(text) and text[count].lower() in digits:
        count += 1
    if not count:
        return None
    value = int(text[:count], base)
    if value >= 1 << 64:
        return -1
    value &= 0xffffffff
    return value if value < 1 << 31 else -1


def _words(command):
    """GRUB script words of ``command`` as ``(text, known)``, quotes and backslashes removed;
    ``known`` False for a word with a variable outside single quotes. None when the command
    ends inside quotes."""
    words = []
    word, known, started = [], True, False
    at = 0
    while at < len(command):
        char = command[at]
        if char in ' \t':
            if started:
                words.append((''.join(word), known))
            word, known, started = [], True, False
            at += 1
            continue
        started = True
        if char == "'":
            end = command.find("'", at + 1)
            if end < 0:
                return None
            word.append(command[at + 1:end])
            at = end + 1
        elif char == '"':
            at += 1
            while at < len(command) and command[at] != '"':
                if command[at] == '\\' and at + 1 < len(command) and command[at + 1] in '\\"$':
                    at += 1
                elif command[at] == '$':
                    known = False
                word.append(command[at])
                at += 1
            if at >= len(command):
                return None
            at += 1
        elif char == '\\' and at + 1 < len(command):
            word.append(command[at + 1])
            at += 2
        else:
            known = known and char != '$'
            word.append(char)
            at += 1
    if started:
        words.append((''.join(word), known))
    return words


def _entry(words, conditional):
    """The MenuEntry of a ``menuentry`` or ``submenu`` command's words after the command name;
    options may come before or after the title."""
    title, entry_id, names_known = None, None, words is not None
    words = words or []
    at = 0
    while at < len(words):
        text, known = words[at]
        if text in _VALUE_OPTIONS:
            if text in _ID_OPTIONS and at + 1 < len(words):
                entry_id, id_known = words[at + 1]
                names_known = names_known and id_known
            at += 2
        elif text.startswith('--'):
            at += 1
        else:
            if title is None:
                title = text
                names_known = names_known and known
            at += 1
    return MenuEntry(title, entry_id, conditional, names_known)


def _default_assignment(command):
    """What a ``[set ]default=...`` command sets: ``('text', value)``, ``('variable', name)``, or
    ``('unknown', command)``."""
    words = _words(command) or []
    if words and words[0] == ('set', True):
        words = words[1:]
    if len(words) != 1 or not words[0][0].startswith('default='):
        return ('unknown', command)
    value, known = words[0][0][len('default='):], words[0][1]
    if known:
        return ('text', value)
    variable = _VARIABLE.match(value)
    return ('variable', variable.group(1) or variable.group(2)) if variable else ('unknown', value)


def _commands(line):
    """The commands of one line, split at ``;`` outside quotes, without comments and without
    the ``then``, ``else``, ``do`` or ``elif`` that may start them."""
    if ';' not in line and '#' not in line:
        return _without_keyword([line])
    commands, current, quote = [], [], None
    for char in line:
        if quote:
            quote = None if char == quote else quote
        elif char in '\'"':
            quote = char
        elif char == '#' and (not current or current[-1] in ' \t;'):
            break
        elif char == ';':
            commands.append(''.join(current))
            current = []
            continue
        current.append(char)
    commands.append(''.join(current))
    return _without_keyword(commands)


def _without_keyword(commands):
    """``commands`` stripped, without the ``then``, ``else``, ``do`` that may start them, and
    without ``elif`` ones (which change nothing GRUB's menu depends on)."""
    found = []
    for command in commands:
        words = command.split(None, 1)
        if words and words[0] in ('then', 'else', 'do'):
            words = words[1:] and words[1].split(None, 1)
        if words and words[0] != 'elif':
            found.append(' '.join(words).strip())
    return found


def parse_grub_menu(text):
    """The GrubMenu of a grub.cfg text, None when it has no menu entry (a BLS ``blscfg`` config,
    say); read up to MAX_ENTRIES entries. Raises nothing."""
    top = []
    count = 0
    levels = [(top, [])]        # (entries of a menu, the if/loop/function blocks open in it)
    entry, body = None, 0       # the menuentry being read, braces open in its body
    defaults = []
    for line in text.splitlines():
        for command in _commands(line):
            first = command.split(None, 1)[0]
            if entry is not None:
                # Inside a menuentry only its braces and its linux command matter.
                if command == '}':
                    entry, body = (None, 0) if not body else (entry, body - 1)
                elif command.endswith('{'):
                    body += 1
                elif first in LINUX_COMMANDS and entry.image is None:
                    words = _words(command)
                    entry.image = words[1][0] if words and len(words) > 1 else None
                continue
            entries, blocks = levels[-1]
            if first in ('menuentry', 'submenu') and command.endswith('{'):
                count += 1
                if count > MAX_ENTRIES:
                    return GrubMenu(top, defaults, complete=False)
                words = _words(command[:-1])
                opened = _entry(words and words[1:], bool(blocks))
                entries.append(opened)
                if first == 'submenu':
                    opened.children = []
                    levels.append((opened.children, []))
                else:
                    entry, body = opened, 0
            elif command == '}':
                if blocks and blocks[-1] == 'function':
                    blocks.pop()
                elif len(levels) > 1:
                    levels.pop()
            elif first in _OPENS:
                blocks.append(first)
            elif first in _CLOSES and blocks:
                blocks.pop()
            elif len(levels) == 1 and 'function' not in blocks and _ASSIGNMENT.match(command):
                defaults.append(_default_assignment(command))
    return GrubMenu(top, defaults) if top else None
