# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Static reading of shell variable assignments (dkms.conf, framework.conf).

dkms sources these files in bash. Running them to learn their values would execute
third-party code as root, so they are read as text, the way bash would parse them:
words, quoting and escapes, ``;``/``&&``/``||``/pipelines, compound commands, functions,
here-documents. Assignments (``=``, ``+=``, ``=()``, ``NAME[i]=``, ``declare``/``export``)
and ``$VAR``/``${VAR}``/``${VAR[i]}``/``${VAR[@]}`` of static values are followed; what
shell logic decides (a branch, a loop, a function call, command substitution, ``eval``,
``source`` of another file) makes only the variables it could change *unknown*, which
callers report as null rather than guess. One pass over the text: linear in its size.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.kabi.dkms.plugins.module_utils._lazy_re import LazyPattern
from ansible_collections.kabi.dkms.plugins.module_utils._shell_conditions import (
    BINARY_OPERATORS, Operand, bracket_status, double_bracket_status, double_bracket_syntax_error, status_of_test)


class _Unknown(object):
    """What shell logic decides: pickled as a reference to UNKNOWN, so that a dkms tree read in
    another process (see _dkms_tree.loads_tree) keeps ``is UNKNOWN`` true."""

    __slots__ = ()

    def __reduce__(self):
        return 'UNKNOWN'

    def __repr__(self):
        return 'UNKNOWN'


UNKNOWN = _Unknown()
_ABSENT = object()


_NAME = LazyPattern(r'[A-Za-z_][A-Za-z0-9_]*\Z')
_NAME_AT = LazyPattern(r'[A-Za-z_][A-Za-z0-9_]*')
_BRACED_REFERENCE = LazyPattern(r'([A-Za-z_][A-Za-z0-9_]*)(?:\[(@|\*|[0-9]+)\])?\Z')
_BRACED_ASSIGNMENT = LazyPattern(r'([A-Za-z_][A-Za-z0-9_]*)(?:\[[^\]]*\])?:?=')
_SUBSCRIPT_OPEN = LazyPattern(r'[A-Za-z_][A-Za-z0-9_]*\[')
_SUBSCRIPTED_NAME = LazyPattern(r'([A-Za-z_][A-Za-z0-9_]*)\[')
_ELEMENT_INDEX = LazyPattern(r'\[([^\]]*)\]=')
# The escapes of $'...' that give a character by its code: octal, \xHH, \uHHHH, \UHHHHHHHH.
_ANSI_CODE = LazyPattern(r'(([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|u([0-9A-Fa-f]{1,4})|U([0-9A-Fa-f]{1,8}))')
_DECIMAL = LazyPattern(r'[0-9]+\Z')
# A subscript written in decimal is read up to this many digits; a longer one is not told.
_INDEX_DIGITS = 9
# So every index below this one reads back from its decimal text.
DECIMAL_INDEX_LIMIT = 10 ** _INDEX_DIGITS
_OCTAL = LazyPattern(r'[0-7]+\Z')
_ARITHMETIC_ASSIGNS = LazyPattern(r'(^|[^=!<>])=($|[^=])|\+\+|--')
_PLAIN = LazyPattern(r'[^ \t\n;&|()<>\\\'"$`]+')
_PLAIN_QUOTED = LazyPattern(r'[^\\$`"]+')
_OPERATORS = {';': (';;&', ';;', ';&'), '&': ('&&', '&>>', '&>'), '|': ('||', '|&'),
              '<': ('<<<', '<<-', '<<', '<&', '<>'), '>': ('>>', '>&', '>|')}
# Compound commands nested deeper than this are read as "anything may change".
NESTING_LIMIT = 40
_ASSIGNMENT_PREFIX = LazyPattern(r'([A-Za-z_][A-Za-z0-9_]*)(?:\[([^\]]*)\])?(\+?)=')
_METACHARACTERS = ' \t\n;&|()<>'
# A line the parser reads as one plain assignment of a literal (or as nothing: blank, comment).
# Most conf files are only such lines; they are read without building words and commands.
_LITERAL_ASSIGNMENT_LINE = re.compile(
    r'[ \t]*(?:([A-Za-z_][A-Za-z0-9_]*)(?:\[(0|[1-9][0-9]{0,8})\])?='
    r'(?:"([^"\\$`]*)"|\'([^\']*)\'|([A-Za-z0-9_./:,+@%-]*))(?:[ \t]+(?:#.*)?)?|#.*)?\Z')
_SPECIAL_PARAMETERS = '@*#?-$!0123456789'
_DECLARATIONS = ('declare', 'typeset', 'local', 'export', 'readonly')
# Builtins that can change variables in ways a static reader does not follow.
_OPAQUE_BUILTINS = ('eval', 'set', 'mapfile', 'readarray', 'let', 'shopt', 'getopts', 'exec',
                    'trap', 'alias', 'enable', 'builtin', 'command', 'coproc', 'caller', 'wait')
# What opens an extglob pattern before its "(" (dkms sets extglob); as a word, what it matches in the
# working directory.
_EXTGLOB_OPENERS = '?*+@!'
_EXTGLOB = LazyPattern(r'[%s]\(' % re.escape(_EXTGLOB_OPENERS))
# What a ${...} bash reads starts with: the names of a prefix (${!x*}); or a length or
# indirection, a parameter, a subscript, then an operator or the end.
_PARAMETER_EXPANSION = LazyPattern(r'![A-Za-z_][A-Za-z0-9_]*[*@]$|[#!]?(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+|[-@*#?$!])'
                                   r'(?:\[[^\]]*\])?(?:$|[:=?+#%/^,@-])')
# ${X?message} and ${X:?message}: bash stops where X is unset (or empty).
_REQUIRED = LazyPattern(r'([A-Za-z_][A-Za-z0-9_]*)(:?)\?')
# Variables bash gives values of its own, whatever was assigned to them.
_DYNAMIC = frozenset(('RANDOM', 'SRANDOM', 'LINENO', 'SECONDS', 'EPOCHSECONDS', 'EPOCHREALTIME', 'BASHPID',
                      'GROUPS', 'PIPESTATUS', 'BASH_REMATCH', '_', 'HISTCMD', 'FUNCNAME', 'OPTIND', 'BASH_COMMAND',
                      'BASH_SUBSHELL', 'BASH_LINENO', 'BASH_SOURCE', 'BASH_ARGC', 'BASH_ARGV', 'DIRSTACK'))
# The blanks bash splits unquoted expansions on, with IFS as it starts.
_FIELD_SEPARATORS = LazyPattern('[ \t\n]+')
# Variables bash makes readonly itself.
_BASH_READONLY = ('BASHOPTS', 'BASH_VERSINFO', 'EUID', 'PPID', 'SHELLOPTS', 'UID')
# The options of the read builtin that take a value (-a names the array it fills).
_READ_OPTIONS_WITH_VALUES = 'adinNptu'
# Reserved words that only close or continue a compound command: elsewhere bash stops on them.
_CLOSERS = ('then', 'elif', 'else', 'fi', 'do', 'done', 'esac', '}', ']]')
# What starts a compound command, the body of a function (besides "(" and "((").
_COMPOUND_OPENERS = ('{', 'if', 'while', 'until', 'for', 'select', 'case', '[[')
# A file descriptor number before a redirection operator.
_DESCRIPTOR = LazyPattern(r'[0-9]+(?=[<>])')
_RESERVED = ('if', 'then', 'elif', 'else', 'fi', 'case', 'esac', 'for', 'select', 'while', 'until', 'do',
             'done', 'function', '{', '}', '!', '[[', ']]', 'time', 'in')
_ANSI_ESCAPES = {'n': '\n', 't': '\t', 'r': '\r', 'a': '\a', 'b': '\b', 'f': '\f', 'v': '\v', 'e': '\x1b',
                 'E': '\x1b', '\\': '\\', "'": "'", '"': '"', '?': '?'}


class ShellSyntaxError(ValueError):
    """Bash would stop sourcing the file here."""


class _EndOfText(ShellSyntaxError):
    """The text ends inside a quote, a substitution or a command: bash stops there, having run
    every line before, even inside a command substitution."""


class _Record:
    """What changed since a point of the reading: each name's state before its first change
    (only what changes is recorded), and whether anything could change then."""

    __slots__ = ('before', 'opaque')

    def __init__(self, opaque):
        self.before = {}
        self.opaque = opaque


class ShellVars:
    """Values of the scalar and array variables a shell fragment assigns."""

    def __init__(self, preset=None, unset=()):
        """``preset``: {name: value, or {index: value} for an array}; ``unset``: names known unset."""
        self.scalars = {}
        self.arrays = {}
        for name, value in (preset or {}).items():
            if isinstance(value, dict):
                self.arrays[name] = dict(value)
            else:
                self.scalars[name] = value
        # True once the file ran a command that may set any variable (source, eval...).
        self.opaque = False
        self.functions = set()  # the names of the functions the file defines (in a subshell too)
        # Names known to be unset (bash expands them to ''), rather than left to the environment.
        self.settled = set(unset)
        # The _Records being kept: the line being read (undone when bash would not run it), and
        # commands that may turn out to run in a subshell, or not at all.
        self._records = []
        self._line = None

    def _state(self, name):
        array = self.arrays.get(name)
        return self.scalars.get(name, _ABSENT), dict(array) if array is not None else None, name in self.settled

    def _save(self, name):
        state = None
        for record in self._records:
            if name not in record.before:
                state = state or self._state(name)
                record.before[name] = state

    def begin(self):
        """Start a record of what changes from now on, for ``undo`` and ``changed``; ``end`` it."""
        record = _Record(self.opaque)
        self._records.append(record)
        return record

    def end(self, record):
        self._records.remove(record)

    def undo(self, record):
        """Undo what changed since ``record`` began."""
        for name, (scalar, array, settled) in record.before.items():
            self.scalars.pop(name, None)
            self.arrays.pop(name, None)
            self.settled.discard(name)
            if scalar is not _ABSENT:
                self.scalars[name] = scalar
            if array is not None:
                self.arrays[name] = dict(array)
            if settled:
                self.settled.add(name)
        self.opaque = record.opaque

    def changed(self, record):
        """The names whose value is not what it was when ``record`` began."""
        return sorted(name for name, state in record.before.items() if self._state(name) != state)

    def begin_line(self):
        """Start recording the changes of one line."""
        if self._line is not None:
            self.end(self._line)
        self._line = self.begin()

    def roll_back(self):
        """Undo the changes of the current line."""
        if self._line is not None:
            self.undo(self._line)
            self.end(self._line)
        self._line = None

    def get(self, name):
        """The value, None when never assigned, UNKNOWN when shell logic decides it."""
        if name in self.scalars:
            return self.scalars[name]
        if name in self.arrays:
            return self.arrays[name].get(0)
        return UNKNOWN if self.opaque else None

    def get_array(self, name):
        """{index: value} of an array, None when absent, UNKNOWN when not static."""
        if name in self.arrays:
            return self.arrays[name]
        if name in self.scalars:
            value = self.scalars[name]
            return value if value is UNKNOWN or value is None else {0: value}
        return UNKNOWN if self.opaque else None

    def assigned(self):
        """The names get_array gives a value for (known or not); None when that is every name."""
        if self.opaque:
            return None
        names = set(self.arrays)
        names.update(name for name, value in self.scalars.items() if value is not None)
        return names

    def expand(self, name, index=None):
        """What ``$name`` (``${name[index]}``, index '@'/'*' for all) expands to, or UNKNOWN."""
        if name in _DYNAMIC:
            return UNKNOWN
        elements = self.get_array(name)
        if elements is UNKNOWN:
            return UNKNOWN
        if elements is None:
            return '' if name in self.settled else UNKNOWN
        if index in ('@', '*'):
            values = [elements[key] for key in sorted(elements)]
            return UNKNOWN if UNKNOWN in values else values
        value = elements.get(index or 0, '')
        return '' if value is None else value

    def forget(self, name):
        self._save(name)
        self.scalars[name] = UNKNOWN
        self.arrays.pop(name, None)
        self.settled.discard(name)

    def unset(self, name, index=None):
        self._save(name)
        if index is not None:
            elements = self.get_array(name)
            if elements is UNKNOWN:
                return
            if elements:
                self.arrays[name] = dict(elements)
                self.scalars.pop(name, None)
                self.arrays[name].pop(index, None)
            return
        self.scalars[name] = None
        self.arrays.pop(name, None)
        self.settled.add(name)

    def make_opaque(self):
        """After source/eval/set..., any variable may hold anything."""
        for name in list(self.settled):
            self._save(name)
        self.opaque = True
        self.settled.clear()
        for name in list(self.scalars) + list(self.arrays):
            self.forget(name)

    def assign(self, name, index, value, append):
        """``name[index]=value`` (index None: the scalar or element 0); ``append`` for ``+=``."""
        self._save(name)
        if index is None and name not in self.arrays:
            if append:
                old = self.expand(name)
                value = UNKNOWN if old is UNKNOWN or value is UNKNOWN else old + value
            self.scalars[name] = value
            self.settled.discard(name)
            return
        elements = self.get_array(name)
        if elements is UNKNOWN:
            return
        if name not in self.arrays:     # changed in place after that: _save kept a copy to roll back to
            elements = self.arrays[name] = dict(elements or {})
            self.scalars.pop(name, None)
        key = 0 if index is None else index
        if append:
            old = elements.get(key, '')
            value = UNKNOWN if old is UNKNOWN or value is UNKNOWN else old + value
        elements[key] = value

    def assign_array(self, name, entries, append):
        """``name=(...)`` / ``name+=(...)`` with ``entries`` a list of (index or None, value)."""
        self._save(name)
        if entries is UNKNOWN:
            self.forget(name)
            return
        elements = self.get_array(name) if append else {}
        if elements is UNKNOWN:
            return
        elements = dict(elements or {})
        following = max(elements) + 1 if elements else 0
        for index, value in entries:
            index = following if index is None else index
            elements[index] = value
            following = index + 1
        self.scalars.pop(name, None)
        self.settled.discard(name)
        self.arrays[name] = elements


class _Part:
    """One piece of a word: literal text, a variable expansion, or something not static."""

    __slots__ = ('kind', 'text', 'quoted', 'index')

    def __init__(self, kind, text, quoted, index=None):
        self.kind = kind        # 'lit', 'var' or 'unknown'
        self.text = text        # the literal text, or the variable's name
        self.quoted = quoted
        self.index = index      # var: None, an int, '@' or '*'


class _Word:
    __slots__ = ('parts', 'raw')

    def __init__(self, parts, raw):
        self.parts = parts
        self.raw = raw

    def literal(self):
        """The word's text when it is one plain unquoted literal (keywords, names), else None."""
        if len(self.parts) == 1 and self.parts[0].kind == 'lit' and not self.parts[0].quoted:
            return self.parts[0].text
        return None


def _word_value(word, variables):
    """The word's value as an assignment computes it (no splitting, no globbing), or UNKNOWN."""
    out = []
    for position, part in enumerate(word.parts):
        if part.kind == 'unknown':
            return UNKNOWN
        if part.kind == 'lit':
            if not part.quoted and position == 0 and part.text.startswith('~'):
                return UNKNOWN  # tilde expansion: $HOME
            out.append(part.text)
            continue
        value = variables.expand(part.text, part.index)
        if value is UNKNOWN:
            return UNKNOWN
        out.append(' '.join(value) if isinstance(value, list) else value)
    return ''.join(out)


def _has_tilde(word):
    """Whether the word has an unquoted ~ (after = or : bash expands it, even in an argument)."""
    return any(part.kind == 'lit' and not part.quoted and '~' in part.text for part in word.parts)


def _word_fields(word, variables):
    """The fields a word expands to as a command argument or array element, or UNKNOWN.

    Unquoted expansions are split on blanks; unquoted glob or brace characters would depend
    on the file system, so they make the word unknown.
    """
    fields = []
    current = None
    for position, part in enumerate(word.parts):
        if part.kind == 'unknown':
            return UNKNOWN
        if part.kind == 'lit':
            if not part.quoted and (any(c in part.text for c in '*?[') or _EXTGLOB.search(part.text) or
                                    ('{' in part.text and '}' in part.text) or
                                    (position == 0 and part.text.startswith('~'))):
                return UNKNOWN
            if part.quoted or part.text:
                current = (current or '') + part.text
            continue
        value = variables.expand(part.text, part.index)
        if value is UNKNOWN or (not part.quoted and variables.get('IFS') is not None):
            return UNKNOWN
        values = value if isinstance(value, list) else [value]
        if part.quoted and part.index == '*':
            values = [' '.join(values)]
        for number, item in enumerate(values):
            if number:
                fields.append(current or '')
                current = None
            if part.quoted:
                current = (current or '') + item
                continue
            if any(c in item for c in '*?[') or _EXTGLOB.search(item):
                return UNKNOWN
            pieces = _FIELD_SEPARATORS.split(item.strip(' \t\n')) if item.strip(' \t\n') else []
            if not pieces:
                continue
            if item[:1] in ' \t\n' and current is not None:
                fields.append(current)
                current = None
            for piece in pieces[:-1]:
                fields.append((current or '') + piece)
                current = None
            current = (current or '') + pieces[-1]
            if item[-1:] in ' \t\n':
                fields.append(current)
                current = None
    if current is not None:
        fields.append(current)
    return fields


class _Effects:
    """Where a command's effects go: the variables, a function's record, or nowhere."""

    def __init__(self, variables=None, conditional=False):
        self.variables = variables      # None: a subshell or a function body
        self.conditional = conditional
        self.names = set()              # names a function body may assign
        self.opaque = False             # the function body may change anything
        self.readonly = set()           # names a function body makes readonly everywhere

    def branch(self):
        """The effects of commands that may or may not run."""
        if self.variables is None or self.conditional:
            return self
        effects = _Effects(self.variables, True)
        return effects

    def touch(self, name):
        self.names.add(name)
        if self.variables is not None and self.conditional:
            self.variables.forget(name)

    def forget(self, name):
        """``name`` changes to a value not known here, whether or not the commands are conditional."""
        self.names.add(name)
        if self.variables is not None:
            self.variables.forget(name)

    def make_opaque(self):
        self.opaque = True
        if self.variables is not None:
            self.variables.make_opaque()

    @property
    def applies(self):
        return self.variables is not None and not self.conditional


class _Parser:
    """Bash's grammar, as far as needed to tell which assignments run unconditionally."""

    def __init__(self, text, variables, source, readonly=_BASH_READONLY):
        self.text = text
        self.pos = 0
        self.variables = variables
        self.source = source
        self.functions = {}
        self.heredocs = []
        self.side_effects = []          # names the current command's ${X:=...} may assign
        self.returned = False           # a `return` may have ended the file already
        self.depth = 0
        self.status = None              # exit status of the last command: 0, 1, or None (unknown)
        self.line_start = True
        self.substitutions = 0          # command substitutions the cursor is in
        self.readonly = set(readonly)   # names declared readonly (None: a name not known)
        self.commands = 0               # and-or lists read so far (a compound's part holds one at least)
        self.loops = 0                  # loops the cursor is in
        self.matching_changed = False   # a shopt ran: [[ ]] may match otherwise than by default

    # -- characters and tokens --------------------------------------------------------

    def peek(self, offset=0):
        index = self.pos + offset
        return self.text[index] if index < len(self.text) else ''

    def skip_blanks(self, newlines=False):
        """Skip blanks, line continuations and comments (and newlines when asked)."""
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char in ' \t':
                self.pos += 1
            elif char == '\\' and self.peek(1) == '\n':
                self.pos += 2
            elif char == '#':
                end = text.find('\n', self.pos)
                self.pos = len(text) if end < 0 else end
            elif char == '\n' and newlines:
                self.newline()
            else:
                break

    def newline(self):
        """Consume a newline, then the bodies of the here-documents started on that line."""
        self.pos += 1
        self.line_start = True
        pending, self.heredocs = self.heredocs, []
        for delimiter, strip_tabs in pending:
            while self.pos < len(self.text):
                end = self.text.find('\n', self.pos)
                end = len(self.text) if end < 0 else end
                line = self.text[self.pos:end]
                body = line.lstrip('\t') if strip_tabs else line
                if self.substitutions and body.startswith(delimiter) and body[len(delimiter):].lstrip(' \t')[:1] == ')':
                    # bash ends it there, at "EOF)", and reads the ) that ends the substitution
                    self.pos += len(line) - len(body) + len(delimiter)
                    break
                self.pos = min(end + 1, len(self.text))
                if body == delimiter:
                    break

    def operator(self):
        """The control or redirection operator at the cursor (not consumed), or ''."""
        char = self.peek()
        if not char or char not in ';&|()<>\n':
            return ''
        for candidate in _OPERATORS.get(char, ()):
            if self.text.startswith(candidate, self.pos):
                return candidate
        return char

    def _subscript_end(self, pos):
        """The position after the ``]`` closing the subscript that starts at ``pos``."""
        text = self.text
        depth = 1
        while pos < len(text):
            char = text[pos]
            if char == '\\':
                pos += 2
                continue
            if char in '\'"':
                end = text.find(char, pos + 1)
                if end < 0:
                    break
                pos = end
            elif char == '[':
                depth += 1
            elif char == ']':
                depth -= 1
                if not depth:
                    return pos + 1
            pos += 1
        raise _EndOfText('unterminated subscript')

    def plain_token(self):
        """The unquoted word at the cursor when it is plain text (a reserved word, a name), else ''."""
        match = _PLAIN.match(self.text, self.pos)
        if not match or (match.end() < len(self.text) and self.text[match.end()] not in _METACHARACTERS):
            return ''
        return match.group(0)

    def word(self, assignment=False):
        """Read one word at the cursor (quotes, escapes, expansions), or None.

        Where an assignment may stand, bash reads ``NAME[`` up to the matching ``]`` whatever
        it holds (blanks, newlines): ``X[ 1 ]=a`` is one word, an unclosed one a syntax error.
        """
        start = self.pos
        parts = []
        text = self.text
        subscript = _SUBSCRIPT_OPEN.match(text, self.pos) if assignment else None
        if subscript:
            self.pos = self._subscript_end(subscript.end())
            self._literal(parts, text[start:self.pos], False)
        while self.pos < len(text):
            char = text[self.pos]
            if self.peek(1) == '(' and (char in '<>' or char in _EXTGLOB_OPENERS):
                if char in '<>':
                    # <(commands) or >(commands): a path only the run knows
                    self.pos += 2
                    self.substitution()
                    parts.append(_Part('unknown', '', False))
                else:
                    # An extglob pattern (dkms sets extglob before it sources dkms.conf): one word.
                    end = self.pos
                    self.pos += 1
                    self.skip_balanced('(', ')', comments=False)
                    self._literal(parts, text[end:self.pos], False)
                continue
            if char in _METACHARACTERS:
                break
            if char == '\\':
                if self.peek(1) == '\n':
                    self.pos += 2
                    continue
                if self.pos + 1 >= len(text):
                    self.pos += 1
                    break
                self._literal(parts, text[self.pos + 1], True)
                self.pos += 2
            elif char == "'":
                end = text.find("'", self.pos + 1)
                if end < 0:
                    raise _EndOfText('unterminated single quote')
                self._literal(parts, text[self.pos + 1:end], True)
                self.pos = end + 1
            elif char == '"':
                self.pos += 1
                self._double_quoted(parts)
            elif char in '$`':
                self._expansion(parts, False)
            else:
                end = _PLAIN.match(text, self.pos).end()
                if text[end:end + 1] == '(' and text[end - 1] in _EXTGLOB_OPENERS:
                    end -= 1    # an extglob pattern starts: read above
                self._literal(parts, text[self.pos:end], False)
                self.pos = end
        if self.pos == start:
            return None
        return _Word(parts, text[start:self.pos])

    @staticmethod
    def _literal(parts, text, quoted):
        if parts and parts[-1].kind == 'lit' and parts[-1].quoted == quoted:
            parts[-1].text += text
        else:
            parts.append(_Part('lit', text, quoted))

    def _expansion(self, parts, quoted):
        """The ``$...`` or backquoted command at the cursor."""
        if self.peek() == '$':
            self._dollar(parts, quoted)
        else:
            self._backquote()
            parts.append(_Part('unknown', '', quoted))

    def _double_quoted(self, parts):
        text = self.text
        start_len = len(parts)
        while True:
            if self.pos >= len(text):
                raise _EndOfText('unterminated double quote')
            char = text[self.pos]
            if char == '"':
                self.pos += 1
                if len(parts) == start_len:
                    self._literal(parts, '', True)
                return
            if char == '\\' and self.peek(1) in '$`"\\\n':
                if self.peek(1) != '\n':
                    self._literal(parts, self.peek(1), True)
                self.pos += 2
            elif char in '$`':
                self._expansion(parts, True)
            else:
                match = _PLAIN_QUOTED.match(text, self.pos)
                end = match.end() if match else self.pos + 1  # a backslash that escapes nothing
                self._literal(parts, text[self.pos:end], True)
                self.pos = end

    def _dollar(self, parts, quoted):
        text = self.text
        following = self.peek(1)
        if following == '(':
            if self.peek(2) == '(':
                self.pos += 1
                self.skip_balanced('(', ')')    # $((arithmetic))
            else:
                self.pos += 2
                self.substitution()
            parts.append(_Part('unknown', '', quoted))
            return
        if following == '{':
            self.pos += 2
            start = self.pos
            self.skip_balanced('{', '}', opened=True)
            self._braced(text[start:self.pos - 1], parts, quoted)
            return
        if following == "'" and not quoted:
            self.pos += 2
            text, known = self._ansi_c()
            if known:
                self._literal(parts, text, True)
            else:
                parts.append(_Part('unknown', '', quoted))
            return
        if following == '"' and not quoted:
            self.pos += 2
            self._double_quoted(parts)  # $"..." is translated text: with no catalogue, itself
            return
        match = _NAME_AT.match(text, self.pos + 1)
        if match:
            parts.append(_Part('var', match.group(0), quoted))
            self.pos = match.end()
        elif following and following in _SPECIAL_PARAMETERS:
            parts.append(_Part('unknown', '', quoted))
            self.pos += 2
        else:
            self._literal(parts, '$', quoted)  # bash leaves a `$` before anything else as it is
            self.pos += 1

    def _braced(self, inner, parts, quoted):
        """``${...}``: a plain, indexed or whole-array reference is followed; others are unknown.
        One bash cannot read (``${a b}``) stops it: a bad substitution."""
        if not _PARAMETER_EXPANSION.match(inner) or self._may_be_missing(_REQUIRED.match(inner)):
            raise _Stopped()
        match = _BRACED_REFERENCE.match(inner)
        if match:
            index = match.group(2)
            if index and index not in '@*':
                index = _arithmetic_index(index)
                if index is None:
                    parts.append(_Part('unknown', '', quoted))
                    return
            parts.append(_Part('var', match.group(1), quoted, index))
            return
        assigned = _BRACED_ASSIGNMENT.match(inner)
        if assigned:
            self.side_effects.append(assigned.group(1))  # ${X:=default} assigns X
        parts.append(_Part('unknown', '', quoted))

    def _may_be_missing(self, required):
        """Whether ``${X?...}`` (``${X:?...}``) may find X unset (or empty), which stops bash."""
        if required is None:
            return False
        name, colon = required.groups()
        elements = self.variables.get_array(name)
        if elements is None:
            return True     # unset, or the environment's
        value = UNKNOWN if elements is UNKNOWN else elements.get(0, '')
        return value is UNKNOWN or (bool(colon) and not value)

    def _ansi_c(self):
        """``(text, known)`` of ``$'...'`` (cursor after the quote): not known where an escape
        gives a NUL (bash ends the text there) or a byte past ASCII (what the locale makes of it).

        As bash: the lexer finds the closing quote first (a backslash takes any character with
        it, a quote too), then the escapes of what it holds are read."""
        text = self.text
        end = self.pos
        while end < len(text) and text[end] != "'":
            end += 2 if text[end] == '\\' else 1
        if end >= len(text):
            raise _EndOfText('unterminated $\'')
        inner, self.pos = text[self.pos:end], end + 1
        out, known, at = [], True, 0
        while at < len(inner):
            char = inner[at]
            escaped = inner[at + 1] if char == '\\' and at + 1 < len(inner) else ''
            code = _ANSI_CODE.match(inner, at + 1) if escaped else None
            if escaped in _ANSI_ESCAPES:
                out.append(_ANSI_ESCAPES[escaped])
                at += 2
            elif escaped == 'c' and at + 2 < len(inner):
                # \cX: control-X; \c\\ takes both backslashes
                control = inner[at + 2]
                at += 4 if inner[at + 2:at + 4] == '\\\\' else 3
                value = 0x7f if control == '?' else ord(control.upper()) & 0x1f
                known = known and value > 0 and ord(control) < 0x80
                out.append(chr(value))
            elif code:
                digits = code.group(2) or code.group(3) or code.group(4) or code.group(5)
                value = int(digits, 8 if code.group(2) else 16)
                known = known and 0 < value < 0x80
                out.append(chr(value) if 0 < value < 0x80 else '')
                at = code.end()
            else:
                out.append(char)    # a backslash before anything else stays, \c at the end too
                at += 1
        return ''.join(out), known

    def _backquote(self):
        text = self.text
        self.pos += 1
        while self.pos < len(text):
            char = text[self.pos]
            if char == '\\':
                self.pos += 2
                continue
            self.pos += 1
            if char == '`':
                return
        raise _EndOfText('unterminated backquote')

    def substitution(self):
        """The commands of ``$(...)``, ``<(...)`` or ``>(...)`` (the cursor after its ``(``), read
        up to the ``)`` that ends them as bash's grammar reads them (a case pattern's ``)`` does
        not, nor one in a here-document). They run in a subshell: only their syntax counts."""
        start, pending = self.pos, len(self.heredocs)
        saved = (self.side_effects, self.status, self.returned, self.functions, self.line_start)
        self.functions = dict(self.functions)
        self.substitutions += 1
        try:
            end = self.command_list(_Effects(), ())
            if end is None:
                raise _EndOfText('unterminated command substitution')
            if end != ')':
                raise ShellSyntaxError('unexpected %s' % end)
            self.pos += 1
        except _EndOfText:
            raise
        except ShellSyntaxError:
            raise _SubstitutionSyntaxError()
        except (_TooDeep, _Stopped) as exc:
            if self.substitutions > 1 and isinstance(exc, _TooDeep):
                raise
            # Nested past what is followed, or an error that ends its subshell alone: its end
            # found by balancing parentheses instead.
            self.pos = start
            del self.heredocs[pending:]
            self.skip_balanced('(', ')', opened=True)
        finally:
            self.substitutions -= 1
            self.side_effects, self.status, self.returned, self.functions, self.line_start = saved

    def skip_balanced(self, opener, closer, opened=False, comments=True):
        """Move past the ``closer`` matching the ``opener`` at the cursor, honouring quotes.

        Iterative, so nesting depth costs no recursion; every character is looked at once.
        """
        text = self.text
        if not opened:
            self.pos += 1
        stack = [closer]
        while self.pos < len(text):
            char = text[self.pos]
            self.pos += 1
            if char == '\\':
                self.pos += 1
            elif char == "'" and stack[-1] != '"':
                end = text.find("'", self.pos)
                if end < 0:
                    break
                self.pos = end + 1
            elif char == '"':
                if stack[-1] == '"':
                    stack.pop()
                else:
                    stack.append('"')
            elif char == '`':
                if stack[-1] == '`':
                    stack.pop()
                else:
                    stack.append('`')
            elif char == '$' and self.peek() in '({':
                stack.append(')' if self.peek() == '(' else '}')
                self.pos += 1
            elif char == stack[-1]:
                stack.pop()
            elif stack[-1] in ')' and char == '(':
                stack.append(')')
            elif comments and char == '#' and stack[-1] == ')' and text[self.pos - 2:self.pos - 1] in (' ', '\t', '\n'):
                end = text.find('\n', self.pos)
                self.pos = len(text) if end < 0 else end
            if not stack:
                return
        raise _EndOfText('unterminated %s' % opener)

    # -- commands -----------------------------------------------------------------------

    def run(self):
        try:
            if self.command_list(_Effects(self.variables), ()) is not None:
                raise ShellSyntaxError('a ) or ;; that ends nothing')
        except ShellSyntaxError:
            # bash ran every line before the one it could not parse, and nothing after.
            self.variables.roll_back()
        except _Returned:
            return
        except (_TooDeep, _Stopped, _SubstitutionSyntaxError):
            self.variables.make_opaque()

    def command_list(self, effects, stops):
        """Commands up to one of the reserved words ``stops`` (returned), ')', ';;' or the end."""
        self.depth += 1
        if self.depth > NESTING_LIMIT:
            raise _TooDeep()
        try:
            return self._command_list(effects, stops)
        finally:
            self.depth -= 1

    def _command_list(self, effects, stops):
        while True:
            self.skip_blanks(newlines=True)
            if self.pos >= len(self.text):
                if stops:
                    raise _EndOfText('unexpected end of file')
                return None
            if self.depth == 1 and self.line_start and not self.substitutions:
                # bash parses a whole line before it runs any of it: a syntax error undoes it all.
                self.variables.begin_line()
                self.line_start = False
            operator = self.operator()
            if operator in (')', ';;', ';&', ';;&'):
                return operator
            token = self.plain_token()
            if token in stops:
                self.pos += len(token)
                return token
            self.and_or(effects)

    def part(self, effects, stops):
        """A part of a compound command: a list of one command or more, ended by one of ``stops``,
        which is returned. bash refuses anything else (``then fi``, ``if :; then )``)."""
        commands = self.commands
        end = self.command_list(effects, stops)
        if end not in stops or self.commands == commands:   # (at the end of the text command_list raised)
            raise ShellSyntaxError('unexpected %s' % end)
        return end

    def and_or(self, effects):
        """Pipelines joined by && and ||: what follows runs, is skipped, or may run, by the status."""
        self.commands += 1
        current = effects.branch() if self.returned else effects
        record = self.variables.begin()
        try:
            self._and_or(current, record)
        finally:
            self.variables.end(record)

    def _and_or(self, current, record):
        ops = self.pipeline(current)
        while True:
            status = self.status
            self.skip_blanks()
            operator = self.operator()
            if operator in ('&&', '||'):
                self._commit(ops, current)
                self.pos += 2
                self.skip_blanks(newlines=True)
                self.command_ahead()
                if status is None:
                    current = current.branch()
                elif (operator == '&&') != (status == 0):
                    self.pipeline(_Effects())  # never runs
                    self.status = status
                    ops = []
                    continue
                ops = self.pipeline(current)
                if status is None and (self.status == 0) == (operator == '&&'):
                    # Where the right side may not have run, the list ends with the left side's
                    # status: only a right side that fails after && (succeeds after ||) tells it.
                    self.status = None
                continue
            if operator == '&':
                self.pos += 1  # the whole list runs in the background, in a subshell
                self.variables.undo(record)
                self.status = 0
            else:
                self._commit(ops, current)
                if operator == ';':
                    self.pos += 1
                elif operator == '\n':
                    self.newline()
            return

    def command_ahead(self):
        """After ``&&``, ``||`` or ``|`` bash reads a command: the end of the text, or an operator
        that ends one, is a syntax error."""
        if self.pos >= len(self.text):
            raise _EndOfText('unexpected end of file')
        if self.operator() in (')', ';', '&', '|', '&&', '||', '|&', ';;', ';&', ';;&'):
            raise ShellSyntaxError('unexpected %s' % self.operator())

    def pipeline(self, effects):
        """One pipeline; a single command's effects are returned to be committed by the caller."""
        self.skip_blanks()
        negated = self.text.startswith('!', self.pos) and self.peek(1) in ' \t'
        if negated:
            self.pos += 1
        self.status = None
        record = self.variables.begin()
        try:
            ops = self.command(effects)
        finally:
            self.variables.end(record)
        if negated and self.status is not None:
            self.status = int(not self.status)
        piped = False
        while True:
            self.skip_blanks()
            if self.operator() not in ('|', '|&'):
                break
            if not piped:
                self.variables.undo(record)     # a compound command's assignments stay in its subshell
            self.pos += 2 if self.operator() == '|&' else 1
            self.skip_blanks(newlines=True)
            self.command_ahead()
            self.command(_Effects())  # every part of a pipeline runs in a subshell
            piped = True
            self.status = None
        return [] if piped else ops

    def command(self, effects):
        self.skip_blanks()
        if self.text.startswith('((', self.pos):
            start = self.pos
            self.skip_balanced('(', ')')
            self.compound_end()
            return [('arith', self.text[start:self.pos])]
        if self.peek() == '(':
            self.pos += 1
            self.part(_Effects(), (')',))   # a subshell: its effects stay there
            self.pos += 1
            self.compound_end()
            return []
        saved = self.pos
        keyword = self.plain_token()
        self.pos += len(keyword)
        if keyword in ('if', 'while', 'until', 'for', 'select', 'case', '{', '[[', 'function'):
            record = self.variables.begin()
            try:
                self.compound(keyword, effects)
            finally:
                self.variables.end(record)
            if keyword not in ('{', 'function', '[['):
                # Which of its commands ran last, if any, is not known here (a group's is its last).
                self.status = None
            if self.compound_end():
                # It runs only if its redirections work: what it changed may not have changed.
                for name in self.variables.changed(record):
                    effects.forget(name)
            return []
        if keyword and keyword not in _RESERVED and '=' not in keyword:
            self.skip_blanks()
            if self.peek() == '(':
                self.pos += 1
                self.skip_blanks()
                if self.peek() == ')':
                    self.pos += 1
                    self.function_body(keyword)
                    return []
        self.pos = saved
        return self.simple_command(self._evaluates(effects))

    def _evaluates(self, effects):
        """Whether tests run where ``effects`` go may be answered from the variables as they are
        now: not in a function's body, which runs later with the variables of then, nor in a loop."""
        return effects.variables is not None and not self.loops

    def compound(self, keyword, effects):
        branch = effects.branch()
        if keyword == 'if':
            self.if_clause(effects)
        elif keyword in ('while', 'until', 'for', 'select'):
            self.loop(keyword, branch)
        elif keyword == 'case':
            self.case(branch)
        elif keyword == '{':
            self.part(effects, ('}',))
        elif keyword == '[[':
            self.status = self.double_brackets(self._evaluates(effects))
        else:
            self.skip_blanks()
            name = self.word()
            self.skip_blanks()
            if self.text.startswith('()', self.pos):
                self.pos += 2
            self.function_body(name.literal() if name is not None else None)

    def loop(self, keyword, branch):
        """A loop's condition and body, which may run any number of times, each time with the
        variables the time before left: no test in them is answered from the variables now."""
        self.loops += 1
        try:
            self._loop(keyword, branch)
        finally:
            self.loops -= 1

    def _loop(self, keyword, branch):
        if keyword in ('while', 'until'):
            self.part(branch, ('do',))
            self.part(branch, ('done',))
        elif keyword in ('for', 'select'):
            self.skip_blanks()
            if self.text.startswith('((', self.pos):
                self.skip_balanced('(', ')')
                branch.make_opaque()
            else:
                name = self.word()
                if name is not None and name.literal():
                    branch.touch(name.literal())
                self.skip_blanks(newlines=True)
                if self.plain_token() == 'in':
                    self.pos += 2
                    self.skip_blanks()
                    while self.word() is not None:
                        self.skip_blanks()
            self.skip_blanks()
            if self.operator() == ';':
                self.pos += 1
            elif self.operator() == '\n':
                self.newline()
            self.skip_blanks(newlines=True)
            # The body: do ... done, or bash's older { ... }.
            body = self.plain_token()
            if body not in ('do', '{'):
                raise ShellSyntaxError('%s without do' % keyword)
            self.pos += len(body)
            self.part(branch, ('done' if body == 'do' else '}',))

    def if_clause(self, effects):
        """``if``/``elif``/``else``: a condition whose status is known picks its branch, which
        runs as surely as the ``if`` does; the branches it rules out never run."""
        closed = False      # a condition before was true: nothing after it runs
        unsure = False      # a condition before may have been true
        end = 'elif'
        while end == 'elif':
            reached = _Effects() if closed else effects.branch() if unsure else effects
            self.part(reached, ('then',))
            status = self.status if not closed else 1
            body = _Effects() if closed or status == 1 else effects.branch() if unsure or status is None else effects
            end = self.part(body, ('elif', 'else', 'fi'))
            closed = closed or status == 0
            unsure = unsure or status is None
        if end == 'else':
            self.part(_Effects() if closed else effects.branch() if unsure else effects, ('fi',))

    def case(self, effects):
        self.skip_blanks()
        self.word()
        self.skip_blanks(newlines=True)
        if self.word_text() != 'in':
            raise ShellSyntaxError('case without in')
        while True:
            self.skip_blanks(newlines=True)
            saved = self.pos
            if self.word_text() == 'esac':
                return
            self.pos = saved
            if self.peek() == '(':
                self.pos += 1
            while True:  # patterns separated by |
                self.skip_blanks()
                if self.word() is None and self.peek() != '|':
                    break
                self.skip_blanks()
                if self.peek() == '|':
                    self.pos += 1
            if self.peek() != ')':
                raise ShellSyntaxError('case pattern without )')
            self.pos += 1
            end = self.command_list(effects, ('esac',))
            if end == 'esac':
                return
            if end not in (';;', ';&', ';;&'):
                raise ShellSyntaxError('bad case item')
            self.pos += len(end)

    def word_text(self):
        token = self.plain_token()
        self.pos += len(token)
        return token

    def double_brackets(self, evaluate):
        """Read a ``[[ ... ]]`` test; its status when ``evaluate`` and its words are known (its
        words may hold ( ) | < > that are not operators there: with any of them, None)."""
        words = []
        start = self.pos
        while True:
            self.skip_blanks(newlines=True)
            if self.pos >= len(self.text):
                raise _EndOfText('unterminated [[')
            if self.text.startswith(']]', self.pos) and \
                    (self.pos + 2 >= len(self.text) or self.text[self.pos + 2] in _METACHARACTERS):
                self.pos += 2
                break
            word = self.word()
            if word is None:
                self.pos += 1
                words.append(None)
            else:
                words.append(word)
        if None in words:
            return None
        written = [word.literal() for word in words]
        while written[:1] == ['!']:
            written.pop(0)
        if double_bracket_syntax_error(written):
            # bash reads [[ ]], [[ -n ]], [[ a b ]] as a syntax error, and stops there.
            raise ShellSyntaxError('a conditional expression bash cannot parse')
        if not evaluate or self.matching_changed or self.variables.opaque or self.variables.get('IFS') is not None \
                or '\n' in self.text[start:self.pos]:
            return None     # matching, joining or the grammar otherwise than by default
        operands = []
        for word in words:
            value = _word_value(word, self.variables)
            if value is UNKNOWN or (_has_tilde(word) and word.literal() not in BINARY_OPERATORS):
                return None
            operands.append(Operand(value, all(part.quoted for part in word.parts),
                                    not any(part.quoted for part in word.parts), word.literal() is not None))
        return double_bracket_status(operands)

    def compound_end(self):
        """Redirections, then what bash reads after a compound command: a separator, or a reserved
        word that closes one around it (``fi``, ``done``...); any other word is a syntax error.
        Whether there were redirections."""
        redirected = self.redirections()
        if self.peek() not in ('', '\n', ';', '&', '|', ')') and self.plain_token() not in _CLOSERS:
            raise ShellSyntaxError('a word after a compound command')
        return redirected

    def function_body(self, name):
        """A function definition: its body runs only when called, so it is recorded, not run."""
        record = _Effects()
        self.skip_blanks(newlines=True)
        if self.peek() != '(' and self.plain_token() not in _COMPOUND_OPENERS:
            raise ShellSyntaxError('a function body that is not a compound command')
        self.command(record)
        self.status = None  # the definition's, not its body's (a readonly function refuses it)
        if name:
            self.functions[name] = record
            if not self.substitutions:
                self.variables.functions.add(name)

    def redirections(self):
        """Read the redirections at the cursor; whether there were any."""
        redirected = False
        while True:
            self.skip_blanks()
            descriptor = _DESCRIPTOR.match(self.text, self.pos)   # 2>/dev/null
            if descriptor:
                self.pos = descriptor.end()
            operator = self.operator()
            if operator[:1] not in ('<', '>') and operator not in ('&>', '&>>'):
                return redirected
            self.redirect(operator)
            self.status = None  # a redirection that fails fails the command
            redirected = True

    def redirect(self, operator):
        self.pos += len(operator)
        self.skip_blanks()
        target = self.word()
        if target is None:
            raise ShellSyntaxError('redirection without a target')
        if operator in ('<<', '<<-'):
            delimiter = _static_text(target) or ''
            self.heredocs.append((delimiter, operator == '<<-'))

    def simple_command(self, evaluate=False):
        """Assignments, then a command and its arguments; returns the effects as ops. ``evaluate``:
        a test's status may be answered from the variables (see _evaluates)."""
        self.side_effects = []
        ops = []
        command = None
        arguments = []
        redirected = False
        while True:
            self.skip_blanks()
            operator = self.operator()
            if (operator and operator[:1] in '<>' or operator in ('&>', '&>>')) and \
                    not (operator in '<>' and self.peek(1) == '('):    # not <(commands)
                self.redirect(operator)
                redirected = True
                continue
            word = self.word(assignment=command is None or (command.literal() in _DECLARATIONS))
            if word is None:
                break
            if self.peek() in '<>' and word.raw.isdigit():
                continue  # a file descriptor number before a redirection
            assignment = _ASSIGNMENT_PREFIX.match(word.raw)
            declaring = command is not None and command.literal() in _DECLARATIONS
            if assignment and (command is None or declaring):
                op = self.assignment(word, assignment)
                if command is None:
                    ops.append(op)
                else:
                    arguments.append(op)
                continue
            if command is None:
                command = word
            else:
                arguments.append(word)
        if self.peek() == '(' or (command is not None and command.literal() in _CLOSERS and not ops):
            raise ShellSyntaxError('unexpected token')     # (after assignments, fi is a command's name)
        if command is None and not ops and not redirected and self.operator() in (';', '&', '&&', '||', '|', '|&'):
            raise ShellSyntaxError('unexpected %s' % self.operator())    # no command before it
        side_effects = [('forget', name) for name in self.side_effects]
        if command is None:
            self.status = 0 if not side_effects and not redirected and all(
                part.kind != 'unknown' for op in ops if op[0] == 'assign' for part in op[3].parts) else None
            return ops + side_effects
        name = _static_text(command)
        # A function may stand for the builtin: one defined before, by eval or source, or, in a
        # function's body or a loop, one defined by the time it runs.
        builtin = evaluate and name not in self.functions and not self.variables.opaque
        self.status = {'true': 0, ':': 0, 'false': 1}.get(name) if not arguments and builtin else None
        if name in ('[', 'test') and builtin:
            self.status = self._test_status(name, arguments)
        if redirected:
            self.status = None  # a redirection that fails (< a file not there) fails the command
        subscript = _SUBSCRIPTED_NAME.match(command.raw)
        if subscript and not ops:
            # `X[ 1 ]=a`, `X[${#X[@]}]=a`: bash reads an assignment this reader cannot follow.
            return side_effects + [('forget', subscript.group(1))]
        return side_effects + self.command_ops(command, arguments)

    def _test_status(self, name, arguments):
        """The status of the ``[`` or ``test`` builtin with these arguments, None when not known."""
        if self.variables.get('IFS') is not None:
            return None     # "${A[*]}" joined, $X split, otherwise than by default
        fields = []
        for argument in arguments:
            expanded = _word_fields(argument, self.variables)
            if expanded is UNKNOWN or _has_tilde(argument):
                return None
            fields.extend(expanded)
        return bracket_status(fields) if name == '[' else status_of_test(fields)

    def assignment(self, word, match):
        """The op of ``NAME=...``, ``NAME[i]+=...`` or ``NAME=(...)``."""
        name, index_text, append = match.group(1), match.group(2), bool(match.group(3))
        start = self._split_prefix(word, match.end())
        index = None
        if index_text is not None:
            index = _arithmetic_index(index_text) if start is not None else None
            if index is None:
                start = None
        if word.raw.endswith('=') and self.peek() == '(' and index_text is None:
            self.pos += 1
            entries = self.array_literal()
            return ('array', name, entries if start is not None else UNKNOWN, append)
        if start is None:
            return ('forget', name)
        return ('assign', name, index, _Word(word.parts[start:], word.raw[match.end():]), append)

    @staticmethod
    def _split_prefix(word, length):
        """Cut the ``NAME[i]=`` prefix off the word's first part; None when it spans parts."""
        first = word.parts[0] if word.parts else None
        if first is None or first.kind != 'lit' or first.quoted or len(first.text) < length:
            return None
        rest = first.text[length:]
        word.parts = ([_Part('lit', rest, False)] if rest else []) + word.parts[1:]
        return 0

    def array_literal(self):
        """Entries of ``(a "b c" [5]=d)`` as (index or None, Word); the cursor is after '('."""
        entries = []
        while True:
            self.skip_blanks(newlines=True)
            if self.peek() == ')':
                self.pos += 1
                return entries
            word = self.word()
            if word is None:
                raise ShellSyntaxError('bad array element')
            match = _ELEMENT_INDEX.match(word.raw)
            if match:
                index = _arithmetic_index(match.group(1))
                if index is None or self._split_prefix(word, match.end()) is None:
                    index = UNKNOWN
                entries.append((index, word))
            else:
                entries.append((None, word))

    def command_ops(self, command, arguments):
        name = _static_text(command)
        if name is None:
            # `$cmd args`: whatever the command is, it may be a builtin that assigns.
            return [('opaque',)]
        if name in _DECLARATIONS:
            ops = self.declaration_ops(arguments)
            options = ''.join(word.raw for word in arguments if isinstance(word, _Word) and word.raw.startswith('-'))
            if (name == 'readonly' or 'r' in options) and 'f' not in options:
                names = [argument[1] if not isinstance(argument, _Word) else _static_text(argument)
                         for argument in arguments if not (isinstance(argument, _Word) and argument.raw.startswith(('-', '+')))]
                # Inside a function, only these outlive it: declare -r alone makes a local.
                ops.append(('readonly', names, name == 'readonly' or 'g' in options))
            return ops
        if name == 'unset':
            return [('unset', word) for word in arguments if isinstance(word, _Word) and not
                    word.raw.startswith('-')] if not any(
                        isinstance(w, _Word) and w.raw == '-f' for w in arguments) else []
        if name in ('.', 'source'):
            return [('source', arguments[0] if arguments and isinstance(arguments[0], _Word) else None)]
        if name == 'return':
            return [('return',)]
        if name == 'exit':
            return [('exit',)]
        if name == 'read':
            return _read_ops(arguments)
        if name == 'shopt':
            self.matching_changed = True    # nocasematch: [[ == ]] and =~ ignore case
        if name in _OPAQUE_BUILTINS or (name == 'printf' and any(
                isinstance(w, _Word) and w.raw.startswith('-v') for w in arguments)):
            return [('opaque',)]
        if name in self.functions:
            return [('call', self.functions[name])]
        return []

    @staticmethod
    def declaration_ops(arguments):
        ops = []
        options = ''
        for argument in arguments:
            if isinstance(argument, _Word):
                if argument.raw.startswith(('-', '+')):
                    options += argument.raw
                continue
            if any(flag in options for flag in 'Ainulc'):  # (-u, -l, -c change the case of the value)
                ops.append(('opaque',) if 'n' in options else ('forget', argument[1]))
            elif 'p' not in options and 'f' not in options:
                ops.append(argument)
        return ops

    # -- effects ------------------------------------------------------------------------

    def _commit(self, ops, effects):
        for op in ops:
            kind = op[0]
            if kind == 'return':
                if effects.variables is None:
                    continue  # a function's return, or a subshell's
                if effects.applies:
                    raise _Returned()
                self.returned = True
            elif kind == 'exit':
                # The sourcing subshell ends there: dkms gets nothing of it.
                if effects.applies:
                    raise _Stopped()
                effects.make_opaque()
                if effects.variables is not None:
                    self.returned = True
            elif kind == 'arith':
                if _ARITHMETIC_ASSIGNS.search(op[1]):
                    effects.make_opaque()
            elif kind == 'opaque':
                effects.make_opaque()
            elif kind == 'call':
                for name in sorted(op[1].names):
                    effects.forget(name)
                if op[1].opaque:
                    effects.make_opaque()
                self._commit([('readonly', sorted(op[1].readonly, key=str), True)], effects)
            elif kind == 'source':
                self._source(op[1], effects)
            elif kind == 'readonly':
                if effects.variables is not None:
                    self.readonly.update(op[1])
                elif op[2]:
                    effects.readonly.update(op[1])  # a function's body: when it is called
            elif kind in ('assign', 'array') and effects.variables is not None and \
                    (op[1] in self.readonly or None in self.readonly):
                # Assigning a readonly variable stops bash there, and a sourcing subshell with it:
                # what the caller keeps then is its own.
                raise _Stopped()
            elif kind == 'forget' and effects.variables is not None and op[1] in self.readonly:
                continue    # ${X:=...} or read leave a readonly X as it is (or stop)
            else:
                self._assign(op, effects)

    def _assign(self, op, effects):
        kind, name = op[0], op[1]
        if kind == 'unset':
            literal = _static_text(op[1])
            target = _ASSIGNMENT_PREFIX.match(literal + '=') if literal is not None else None
            if target is None or target.end() != len(literal) + 1:
                effects.make_opaque()
                return
            name = target.group(1)
            if effects.variables is not None and (name in self.readonly or None in self.readonly):
                # unset fails on a readonly variable: on one whose name was not told, it may
                if name not in self.readonly:
                    effects.forget(name)
                return
            index = _arithmetic_index(target.group(2)) if target.group(2) is not None else None
            effects.touch(name)
            if effects.applies:
                if target.group(2) is not None and index is None:
                    self.variables.forget(name)
                else:
                    self.variables.unset(name, index)
            return
        effects.touch(name)
        if not effects.applies:
            return
        variables = self.variables
        if kind == 'forget':
            variables.forget(name)
        elif kind == 'array':
            entries = op[2]
            if entries is not UNKNOWN:
                values = []
                for index, word in entries:
                    if index is UNKNOWN:
                        entries = UNKNOWN
                        break
                    if index is None:
                        fields = _word_fields(word, variables)
                        if fields is UNKNOWN:
                            entries = UNKNOWN
                            break
                        values.extend((None, field) for field in fields)
                    else:
                        values.append((index, _word_value(word, variables)))
                else:
                    entries = values
            variables.assign_array(name, entries, op[3])
        else:
            variables.assign(name, op[2], _word_value(op[3], variables), op[4])

    def _source(self, word, effects):
        """``. file``: a file the caller can read as data (the kernel's .config) or anything."""
        data = self.source(word.raw) if self.source and word is not None else None
        if data is None:
            effects.make_opaque()
            return
        if isinstance(data, str):
            # Only variables named with this prefix change, to values not known here.
            variables = self.variables
            for name in [n for n in set(variables.scalars) | set(variables.arrays) | variables.settled
                         if n.startswith(data)]:
                effects.forget(name)
            return
        for name, value in sorted(data.items()):
            effects.touch(name)
            if effects.applies:
                self.variables.assign(name, None, value, False)


def _read_ops(arguments):
    """The ops of ``read``: the variables it names (``REPLY`` when none, the ``-a`` array) change
    to what only the run reads; anything may, when a word is not static."""
    texts = [_static_text(word) if isinstance(word, _Word) else None for word in arguments]
    if None in texts:
        return [('opaque',)]
    names, at = [], 0
    while at < len(texts) and texts[at].startswith('-') and texts[at] != '--':
        option = texts[at]
        for offset, letter in enumerate(option[1:], 1):
            if letter in _READ_OPTIONS_WITH_VALUES:
                value = option[offset + 1:] or (texts[at + 1] if at + 1 < len(texts) else None)
                at += 0 if option[offset + 1:] else 1
                if letter == 'a' and value is not None:
                    names.append(value)
                break
        at += 1
    names += texts[at + (at < len(texts) and texts[at] == '--'):]
    if not all(_NAME.match(name) for name in names):
        return [('opaque',)]
    return [('forget', name) for name in names or ['REPLY']]


class _TooDeep(Exception):
    """Compound commands nested beyond NESTING_LIMIT."""


class _Stopped(Exception):
    """The run may stop here, where the reading cannot tell what the caller keeps."""


class _SubstitutionSyntaxError(Exception):
    """A command substitution bash cannot parse. bash 5.2 parses one as it reads its line, and the
    error ends the whole sourcing subshell (dkms gets no variable at all); earlier bash fails only
    the substitution, when it runs. Which bash the host has is not known here."""


class _Returned(Exception):
    """An unconditional ``return``: bash stops reading the sourced file there."""


def _static_text(word):
    """The text of a word made of literal parts only (quoted or not), else None."""
    if any(part.kind != 'lit' for part in word.parts):
        return None
    return ''.join(part.text for part in word.parts)


def _arithmetic_index(text):
    """The value of an array subscript that is a plain number (bash reads 010 as octal)."""
    text = text.strip()
    if not _DECIMAL.match(text):
        return None
    if len(text) > 1 and text.startswith('0'):
        return int(text, 8) if _OCTAL.match(text) else None
    return int(text) if len(text) <= _INDEX_DIGITS else None


def parse_shell_vars(text, preset=None, unset=(), source=None, readonly=()):
    """Read the static assignments of a shell fragment without executing anything.

    ``preset``: variables set before the fragment runs (a value may be UNKNOWN); ``unset``:
    names known to be unset then (they expand to ''); ``source``: a callable given the word
    of a ``.``/``source`` command as written (``"$kernel_source_dir/.config"``), returning a
    mapping {name: value} of what that file sets, or a prefix when only variables named with it change (to
    values not known), or None when the file may change anything; ``readonly``: names the
    caller made readonly, besides bash's own.
    """
    variables = ShellVars(preset, unset)
    readonly = frozenset(_BASH_READONLY).union(readonly)
    if not read_literal_assignments(text, variables, readonly):
        _Parser(text, variables, source, readonly).run()
    return variables


def read_literal_assignments(text, variables, readonly=_BASH_READONLY):
    """Assign what a text made only of literal assignment lines (and blank or comment lines)
    says to ``variables``, as the parser would, and return True; False, with nothing assigned,
    when any line holds more, or assigns one of the names ``readonly``."""
    assignments = _literal_assignments(text, readonly)
    if assignments is None:
        return False
    for name, index, value in assignments:
        variables.assign(name, index, value, False)
    return True


def _literal_assignments(text, readonly=_BASH_READONLY):
    """[(name, index or None, value)] of a text made only of lines that assign a literal (and
    blank or comment lines), in order; None when any line holds more (the parser reads it)."""
    assignments = []
    match_line = _LITERAL_ASSIGNMENT_LINE.match
    for line in text.split('\n'):
        match = match_line(line)
        if match is None:
            return None
        name, index, double_quoted, single_quoted, bare = match.groups()
        if name in readonly:
            return None     # the parser reads what that does
        if name is not None:
            value = double_quoted if double_quoted is not None else \
                single_quoted if single_quoted is not None else bare
            assignments.append((name, int(index) if index is not None else None, value))
    return assignments
