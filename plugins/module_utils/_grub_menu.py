# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""GRUB's menu as grub-mkconfig writes it to grub.cfg, and the entry GRUB starts by default.

Read, never run: ``menuentry`` and ``submenu`` blocks with their title, their id (``--id`` or
``$menuentry_id_option``) and, for an entry, the image its ``linux`` command loads; and, in
order, what the top level does to ``default`` and the environment block's variables
(``load_env``, ``set``, ``if [ "${next_entry}" ]``...), as 00_header writes it.

GRUB picks the default the way ``get_entry_number()`` in grub-core/normal/menu.c does: a number
counts entries, else the first entry whose title or id is the value up to its first ``>`` (``>>``
stands for a ``>``); a value that names no entry or counts past the last starts the first entry;
what follows the ``>`` picks inside a submenu. Red Hat's GRUB reads the value otherwise (an id,
a title, then a whole number): for a menu in ``/boot/grub2`` only an answer both readings give
counts.

Whatever the reading cannot follow makes the answer uncertain, never a guess: an entry inside an
``if``, a loop or a function counted past or possibly named; a title or id with a variable; an
entry not written the way grub-mkconfig writes one (on one line with its body, a quote or a line
running on, options GRUB refuses); a ``default`` or environment variable changed where the
reading cannot tell whether it runs (an ``if`` it cannot decide, a function, a submenu, another
command); a sourced file that may exist (Debian's ``custom.cfg``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# Far more entries than any generated menu has (one normal and one recovery entry per kernel).
MAX_ENTRIES = 4096
# The commands that load a Linux kernel (linuxefi and linux16 on older distributions).
LINUX_COMMANDS = ('linux', 'linuxefi', 'linux16')
# The variables that decide the default: GRUB's own, and those 00_header moves between.
TRACKED = ('default', 'next_entry', 'saved_entry', 'prev_saved_entry')
# menuentry options (grub-core/commands/menuentry.c) that take a value; $menuentry_id_option is --id.
_VALUE_OPTIONS = ('--class', '--users', '--hotkey', '--id')
_ID_OPTIONS = ('--id', '$menuentry_id_option', '${menuentry_id_option}')
_REFUSED_OPTIONS = ('-h', '--help', '--usage', '--source')
_SOURCES = ('source', 'configfile', '.')
_VARIABLE = re.compile(r'^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))$')
# Tests of the top level the reading decides: a variable set or not, a file of GRUB's directory.
_SET_TEST = re.compile(r'^\[\s+(-z\s+)?"?\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?"?\s+\]$')
_FILE_TEST = re.compile(r'^\[\s+(-[fs])\s+"?\$\{?(prefix|config_directory)\}?"?/([^\s/"]+)"?\s+\]$')
_KEYWORD = re.compile(r'(then|do|else)(?:[ \t]+|$)')
_TRACKED_WORD = re.compile(r'\b(%s)\b' % '|'.join(TRACKED))
# An answer not known.
UNKNOWN = object()


class MenuEntry:
    """A ``menuentry`` (``children`` None) or a ``submenu``; ``names_known`` False when a variable
    makes its title or id unknown; ``conditional``: inside an ``if``, a loop or a function."""

    __slots__ = ('title', 'entry_id', 'image', 'children', 'conditional', 'names_known')

    def __init__(self, title, entry_id, conditional, names_known):
        self.title = title
        self.entry_id = entry_id
        self.image = None       # what its linux command loads, as written; UNKNOWN when a condition decides
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
        None when nothing sets it; ``from grubenv``: the environment block holds the value.

        ``grubenv(name)``: a variable of the environment block next to grub.cfg (None: unset);
        ``prefix_file(name)``: ``'missing'``, ``'empty'`` or ``'present'`` for a file of that
        directory, None when it cannot be told.
        """
        state = _Evaluation(grubenv, prefix_file or (lambda name: None))
        for step in self.steps:
            state.run(step)
        value = state.values.get('default')
        if value is UNKNOWN or state.unknown_sources:
            return None, False, False
        return (value[0], value[1], True) if value is not None else (None, False, True)

    def default_image(self, value, red_hat_too=False):
        """``(image or None, certain)`` of the entry GRUB starts when ``default`` is ``value``
        (None: unset): the first argument of its linux command, None for an entry without one
        and whenever the entry is not certain. ``red_hat_too``: only an entry Red Hat's reading
        of the value also starts is certain."""
        image, certain = _entry_image(self.entries, value, _pick) if self.reason is None else (None, False)
        if certain and red_hat_too and _entry_image(self.entries, value, _pick_red_hat) != (image, True):
            return None, False
        return image, certain


def _entry_image(entries, value, pick):
    certain = True
    while True:
        index, value, known = pick(entries, value)
        certain = certain and known
        if index is None or not certain:
            return None, False
        entry = entries[index]
        if entry.children is None:
            return (entry.image, True) if entry.image is not UNKNOWN else (None, False)
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
    """The same as ``_pick``, the way Red Hat's GRUB reads ``default``: an id, else a title, else
    the whole value as a number; a submenu keeps the value, which is not followed here."""
    if not entries:
        return None, None, True
    if value is not None:
        for names in ('entry_id', 'title'):
            for index, entry in enumerate(entries):
                if not entry.names_known:
                    return None, None, False
                if getattr(entry, names) == value:
                    return index, None, not entry.conditional and entry.children is None
        stripped = value.rstrip(' ')
        if stripped and all(char in '0123456789' for char in stripped):
            number = _grub_number(stripped)
            if number is UNKNOWN:
                return None, None, False
            if number < len(entries):
                return number, None, not any(entry.conditional for entry in entries[:number + 1]) \
                    and entries[number].children is None
    return 0, None, not entries[0].conditional and entries[0].children is None


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
    text = text.lstrip(' \t\n\r')     # grub_isspace(): no form feed, no vertical tab
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
    significant = text[:count].lstrip('0')
    if len(significant) > 11:
        return UNKNOWN      # more than 2**31 in any base, and no int() of thousands of digits
    value = int(significant or '0', base)
    return value if value < 1 << 31 else UNKNOWN


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
    """The MenuEntry of a ``menuentry`` or ``submenu`` command's words after the command name
    (options before or after the title), None for one GRUB refuses or the reading cannot follow."""
    if words is None:
        return None
    title, entry_id, names_known = None, None, True
    at = 0
    while at < len(words):
        text, known = words[at]
        option, equals, inline = text.partition('=')
        if text in _REFUSED_OPTIONS or option in _REFUSED_OPTIONS:
            return None
        if option in _VALUE_OPTIONS and equals:
            value, value_known, at = (inline, known), known, at + 1
        elif text in _VALUE_OPTIONS or text in _ID_OPTIONS:
            if at + 1 >= len(words):
                return None
            value, value_known, at = words[at + 1], words[at + 1][1], at + 2
        elif text.startswith('--'):
            at += 1
            continue
        else:
            if title is None:
                title = text
                names_known = names_known and known
            at += 1
            continue
        if value[0].startswith('-'):
            return None     # "missing mandatory option"
        if option in _ID_OPTIONS or text in _ID_OPTIONS:
            entry_id = value[0]
            names_known = names_known and value_known
    if title is None:
        return None
    return MenuEntry(title, entry_id, conditional, names_known)


def _commands(line):
    """The commands of one line, split at ``;`` outside quotes, without comments; None when the
    line ends inside quotes or runs on to the next."""
    if not any(char in line for char in ';#\'"\\'):
        return _without_keyword([line])
    commands, current, quote = [], [], None
    at = 0
    while at < len(line):
        char = line[at]
        if quote == "'":
            quote = None if char == "'" else quote
        elif char == '\\':
            if at + 1 >= len(line):
                return None     # runs on to the next line
            current.append(line[at:at + 2])
            at += 2
            continue
        elif quote == '"':
            quote = None if char == '"' else quote
        elif char in '\'"':
            quote = char
        elif char == '#' and (not current or current[-1] in ' \t;'):
            break
        elif char == ';':
            commands.append(''.join(current))
            current = []
            at += 1
            continue
        current.append(char)
        at += 1
    if quote:
        return None
    commands.append(''.join(current))
    return _without_keyword(commands)


def _without_keyword(commands):
    """``commands`` without the blanks around them (GRUB's: spaces and tabs); ``then`` and ``do``
    dropped from their start, ``else`` made a command of its own."""
    found = []
    for command in commands:
        command = command.strip(' \t')
        at = 0
        keyword = _KEYWORD.match(command)
        while keyword:
            if keyword.group(1) == 'else':
                found.append('else')
            at = keyword.end()
            keyword = _KEYWORD.match(command, at)
        if command[at:]:
            found.append(command[at:])
    return found


def _first_word(command):
    return command.partition(' ')[0].partition('\t')[0]


class _Reading:
    """What ``parse_grub_menu`` keeps track of while it reads."""

    def __init__(self):
        self.top = []
        self.levels = [(self.top, [])]  # (entries of a menu, the if/loop/function blocks open in it)
        self.entry = None               # the menuentry being read,
        self.body = []                  # and the blocks open in its body
        self.steps = []
        self.functions = set()          # functions that change what the default depends on
        self.function = None            # [name, changes, blocks open] of a top-level function being read
        self.count = 0
        self.reason = None              # set once the menu cannot be followed


def parse_grub_menu(text):
    """The GrubMenu of a grub.cfg text, None when it has no menu entry (a BLS ``blscfg`` config,
    say); read up to MAX_ENTRIES entries. Raises nothing."""
    reading = _Reading()
    for line in text.split('\n'):
        commands = _commands(line)
        if commands is None:
            reading.reason = 'a quote or a line that runs on to the next'
        for command in commands or ():
            _read_command(reading, command)
            if reading.reason:
                break
        if reading.reason:
            return GrubMenu(reading.top, reading.steps, reading.reason)
    return GrubMenu(reading.top, reading.steps) if reading.top else None


def _read_command(reading, command):
    """Take one command into ``reading`` (``reason`` set once the menu cannot be followed)."""
    first = _first_word(command)
    if reading.entry is not None:
        _read_body(reading, command, first)
        return
    entries, blocks = reading.levels[-1]
    if first in ('menuentry', 'submenu'):
        reading.count += 1
        words = _words(command[:-1]) if command.endswith('{') else None
        opened = _entry(words[1:], bool(blocks)) if words else None
        if reading.count > MAX_ENTRIES:
            reading.reason = 'more than %d menu entries, more than GRUB\'s tools write' % MAX_ENTRIES
            return
        if opened is None:
            reading.reason = 'a menu entry GRUB refuses, or not written the way grub-mkconfig writes one'
            return
        entries.append(opened)
        if first == 'submenu':
            opened.children = []
            reading.levels.append((opened.children, []))
        else:
            reading.entry, reading.body = opened, []
        return
    function = reading.function
    if command == '}':
        if blocks and blocks[-1] == 'function':
            blocks.pop()
            if function is not None:
                function[2] -= 1
                if not function[2]:
                    if function[1]:
                        reading.functions.add(function[0])
                    reading.function = None
        elif len(reading.levels) > 1:
            reading.levels.pop()
        return
    if first in ('if', 'for', 'while', 'until', 'function'):
        blocks.append(first)
    elif first in ('fi', 'done') and blocks:
        blocks.pop()
    if first == 'function' and len(reading.levels) == 1:
        if function is None:
            function = reading.function = [command.split()[1] if len(command.split()) > 1 else '', False, 0]
        function[2] += 1
        # Its first command may follow the brace on the same line.
        function[1] = function[1] or _changes_default(command.partition('{')[2], None)
        return
    if len(reading.levels) > 1 or function is not None:
        if _changes_default(command, first):
            if function is not None:
                function[1] = True
            else:
                reading.reason = 'a submenu that changes what picks its entries'
        return
    reading.steps.append(_step(command, first, reading.functions))


def _read_body(reading, command, first):
    """A command of a menuentry's body: its braces, blocks and linux commands."""
    entry, body = reading.entry, reading.body
    if command == '}':
        if body:
            body.pop()
        else:
            reading.entry = None
    elif command.endswith('{'):
        body.append('{')
    elif first in ('if', 'for', 'while', 'until'):
        body.append(first)
    elif first in ('fi', 'done') and body:
        body.pop()
    elif first in LINUX_COMMANDS:
        words = _words(command)
        image = words[1][0] if words and len(words) > 1 else None
        # GRUB loads each linux command's image in turn: the last one run counts.
        entry.image = UNKNOWN if body or entry.image is UNKNOWN else image


def _changes_default(command, first):
    return first in ('load_env', 'unset', 'eval', 'read') + _SOURCES or bool(_TRACKED_WORD.search(command))


def _step(command, first, functions):
    """What one top-level command does to the default: ``('if', test)``, ``('else',)``,
    ``('end',)``, ``('set', name, value)``, ``('load_env',)``, ``('source', path)`` or
    ``('unknown', names)`` (those variables can no longer be told), else ``('none',)``."""
    if first == 'if':
        return ('if', command[2:].strip())
    if first == 'elif':
        return ('elif', command[4:].strip())
    if first in ('for', 'while', 'until'):
        return ('unsure',)
    if command == 'else':
        return ('else',)
    if first in ('fi', 'done'):
        return ('end',)
    if first in functions:
        return ('unknown', TRACKED)
    words = _words(command)
    if words is None:
        return ('unknown', TRACKED)
    texts = [text for text, known in words]
    if texts == ['load_env']:
        return ('load_env',)
    if first in _SOURCES:
        return ('source', words[1] if len(words) > 1 else None)
    if first in ('load_env', 'eval', 'read'):
        return ('unknown', TRACKED)
    if first in ('set', 'unset') or (len(words) == 1 and '=' in texts[0]):
        assignments = words[1:] if first in ('set', 'unset') else words
        if len(assignments) == 1:
            name, equals, value = assignments[0][0].partition('=')
            if name in TRACKED and (equals or first == 'unset'):
                return ('set', name, _assigned(value, assignments[0][1]) if equals else None)
    if first in ('save_env', 'export', 'echo'):
        return ('none',)
    names = tuple(set(found.group(1) for found in _TRACKED_WORD.finditer(command)))
    return ('unknown', names) if names else ('none',)


def _assigned(value, known):
    """The value of an assignment: ``('text', value)``, ``('variable', name)`` or UNKNOWN."""
    if known:
        return ('text', value)
    variable = _VARIABLE.match(value)
    if variable and (variable.group(1) or variable.group(2)) in TRACKED:
        return ('variable', variable.group(1) or variable.group(2))
    return UNKNOWN


class _Evaluation:
    """The top level's steps run in order over the variables that decide the default; an ``if``
    it cannot decide makes what its branches change unknown."""

    def __init__(self, grubenv, prefix_file):
        self.grubenv = grubenv
        self.prefix_file = prefix_file
        self.values = {}            # {name: (value, from grubenv)} or UNKNOWN; absent: unset
        # [this branch runs, a branch ran] of each open block: True, False or None (cannot tell),
        # and how many open blocks do not run, and cannot be told, in all
        self.frames = []
        self.counts = {False: 0, None: 0, True: 0}
        self.unknown_sources = False

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
        elif kind in ('elif', 'else') and self.frames:
            frame = self.frames[-1]
            if self.runs(but_last=True) is False or frame[1] is True:
                self._branch(frame, False)
            elif frame[1] is None:
                self._branch(frame, None)
            else:
                self._branch(frame, self._test(step[1]) if kind == 'elif' else True)
                frame[1] = frame[0]
        elif kind == 'end' and self.frames:
            self.counts[self.frames.pop()[0]] -= 1
        elif kind in ('load_env', 'source', 'set', 'unknown'):
            runs = self.runs()
            if runs is False:
                return
            if kind == 'load_env':
                for name in TRACKED:
                    found = self.grubenv(name)
                    if found is not None:
                        self._set(name, (found, True), runs)
            elif kind == 'source':
                self._source(step[1])
            elif kind == 'set':
                self._set(step[1], self._value(step[2]), runs)
            else:
                for name in step[1]:
                    self.values[name] = UNKNOWN

    def _test(self, test):
        test = test.rstrip(';').strip()
        found = _SET_TEST.match(test)
        if found:
            value = self.values.get(found.group(2))
            if value is UNKNOWN or found.group(2) not in TRACKED:
                return None
            is_set = value is not None and value[0] != ''
            return not is_set if found.group(1) else is_set
        found = _FILE_TEST.match(test)
        if found:
            state = self.prefix_file(found.group(3))
            if state is None:
                return None
            return state == 'present' if found.group(1) == '-s' else state != 'missing'
        return None

    def _value(self, assigned):
        if assigned is None or assigned is UNKNOWN:
            return assigned
        if assigned[0] == 'text':
            return (assigned[1], False)
        value = self.values.get(assigned[1])
        # An unset variable reads as the empty string.
        return value if value is not None else ('', False)

    def _set(self, name, value, runs):
        if runs is None and self.values.get(name) != value:
            value = UNKNOWN
        if value is None:
            self.values.pop(name, None)
        else:
            self.values[name] = value

    def _source(self, path):
        """A sourced file that may exist can add entries and set anything."""
        if path is not None and not path[1]:
            found = re.match(r'^\$\{?(prefix|config_directory)\}?/([^/]+)$', path[0])
            if found and self.prefix_file(found.group(2)) == 'missing':
                return
        self.unknown_sources = True
