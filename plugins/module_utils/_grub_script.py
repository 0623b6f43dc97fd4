# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""GRUB script as GRUB's own lexer and grammar read it (grub-core/script/yylex.l, parser.y).

``read_script`` tells a reading what each part of a grub.cfg text is (commands as the words
written, keywords, loops, blocks, functions) and stops with ``Unreadable`` at the first thing
GRUB would refuse to parse: GRUB skips such a statement, and what follows may depend on it.
Words stay as written; ``decoded`` gives the text of one where no variable makes it unknown.
Nothing here knows what a command does: that is the reading's (``_grub_menu``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.kabi.dkms.plugins.module_utils._lazy_re import LazyPattern

# Far more than grub-mkconfig writes: characters in a line (a kernel's command line is at most a
# few KiB), words in a command, commands in all (a dozen for each of thousands of entries).
MAX_LINE = 65536
MAX_WORDS = 4096
MAX_COMMANDS = 65536
# Far deeper than grub-mkconfig nests blocks, conditions and loops (a few levels).
MAX_DEPTH = 64

# GRUB script's lexer (grub-core/script/yylex.l), one line at a time: a word joins plain
# characters, quoted texts, escapes and variables; a quote or an escape left open runs on.
_TOKEN = LazyPattern(r"""
    (?P<blank>[ \t]+)
  | (?P<comment>\#.*)
  | (?P<operator>\|\||&&|;;|[|&<>])
  | (?P<semicolon>;)
  | (?P<brace>[{}])
  | (?P<word>(?:
        [^{}|&$;<>\ \t'"\\]+
      | "(?:[^\\"]+|\\.)*(?:"|(?P<open_double>))
      | '[^']*(?:'|(?P<open_single>))
      | \\.
      | \$(?:[A-Za-z_][A-Za-z0-9_]*|\{[A-Za-z_][A-Za-z0-9_]*\}|[0-9]+|\{[0-9]+\}|[?\#*@]|\{[?\#*@]\}
             |"(?:[^\\"]+|\\.)*(?:"|(?P<open_i18n>)))
    )+)
  | (?P<bad>.)
""", re.VERBOSE)
_PIECE = LazyPattern(r"""(?P<plain>[^'"\\$]+)|'(?P<single>[^']*)'|"(?P<double>(?:[^\\"]+|\\.)*)"|\\(?P<escaped>.)"""
                     r"""|(?P<variable>\$(?:"(?:[^\\"]+|\\.)*"|\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*|[0-9]+|[?#*@]))""")
# What makes the tokens of a line more than its blank-separated words, or a word more than its text.
_SPECIAL = LazyPattern(r'[{}|&;<>\'"\\$#]')
_BLANK_RUN = LazyPattern(r'[ \t]+')
_QUOTED = LazyPattern(r'[\'"\\$*?]')
# Unquoted, GRUB splits a variable's value at blanks, and expands * and ? against the files there.
SPLITS = LazyPattern(r'[ \t\n\r\f\v*?]')
_DOUBLE_ESCAPE = LazyPattern(r'\\([\\"$])')
# Reserved words: keywords where the grammar takes them, never a command's name.
_RESERVED = frozenset(('case', 'do', 'done', 'elif', 'else', 'esac', 'fi', 'for', 'function', 'if', 'in',
                       'select', 'then', 'until', 'while'))
NAME = LazyPattern(r'^[A-Za-z_][A-Za-z0-9_]*$')
# A word that is a variable, quoted or not, after plain characters or none: x"${y}", $y.
PREFIXED_VARIABLE = LazyPattern(r'^([A-Za-z0-9_]*)(")?\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))(?(2)")$')


class Unreadable(Exception):
    """What GRUB would refuse to parse, or what the reading cannot follow: the reading stops."""


def decoded(raw):
    """``(text, known)`` of a GRUB script word as written: quotes and backslashes removed;
    ``known`` False when a variable outside single quotes makes the text unknown."""
    if not _QUOTED.search(raw):
        return raw, True
    text, known = [], True
    for piece in _PIECE.finditer(raw):
        kind = piece.lastgroup
        if kind == 'double':
            inside = piece.group(kind)
            known = known and not re.search(r'(?<!\\)(?:\\\\)*\$', inside)
            text.append(_DOUBLE_ESCAPE.sub(r'\1', inside))
        elif kind == 'variable':
            known = False
            text.append(piece.group(kind))
        else:
            known = known and not (kind == 'plain' and SPLITS.search(piece.group(kind)))
            text.append(piece.group(kind))
    return ''.join(text), known


def lone_variable(raw):
    """``(name, quoted)`` of a word that is one variable (``$x``, ``"${x}"``), else None."""
    found = PREFIXED_VARIABLE.match(raw)
    return (found.group(3) or found.group(4), bool(found.group(2))) if found and not found.group(1) else None


class _Grammar:
    """GRUB script's grammar (grub-core/script/parser.y) over grub.cfg, a line at a time: it
    tells ``reading`` what each part is, and raises Unreadable at the first thing GRUB would
    refuse to parse (GRUB skips such a statement, and what follows may depend on it)."""

    def __init__(self, reading):
        self.reading = reading
        # [kind, part, commands in the part] of each open if ('cond', 'then', 'else'), loop
        # ('cond', 'head', 'body'), block ('{' after a command: a menu entry's body) or function
        self.frames = []
        self.words = []             # the words of the command being read
        self.after = None           # what the last tokens leave open: 'end' (a delimiter must follow), or a for or function header
        self.header = []            # the words of that header
        self.commands = 0

    def line(self, line):
        if len(line) > MAX_LINE:
            raise Unreadable('a line of more than %d characters' % MAX_LINE)
        if self.after is None and not _SPECIAL.search(line):
            # Most lines: words and blanks alone (a command at the start of a line, or a keyword).
            words = [word for word in _BLANK_RUN.split(line) if word]
            if words and words[0] not in _RESERVED and '[[' not in words and ']]' not in words:
                if len(words) > MAX_WORDS:
                    raise Unreadable('a command of more than %d words' % MAX_WORDS)
                self.words = words
                self._delimiter(newline=True)
                return
        for token in _TOKEN.finditer(line):
            kind = token.lastgroup
            if kind == 'comment':
                break
            if kind == 'word' and token.group('open_double', 'open_single', 'open_i18n') == (None, None, None):
                self._word(token.group())
            elif kind == 'semicolon':
                self._delimiter(newline=False)
            elif kind == 'brace':
                self._open() if token.group() == '{' else self._close()
            elif kind != 'blank':
                raise Unreadable('a quote or a line that runs on, or text GRUB does not parse')
        self._delimiter(newline=True)

    def finish(self):
        if self.frames or self.after not in (None, 'end'):
            raise Unreadable('a block, a condition or a loop that does not end')

    def _word(self, raw):
        after = self.after
        if raw in ('[[', ']]') or after == 'end':
            raise Unreadable('a command GRUB does not parse')
        if after == 'for name' or after == 'function name':
            if not NAME.match(raw) or raw in _RESERVED:
                raise Unreadable('a loop or function without a name')
            self.header.append(raw)
            self.after = 'for in' if after == 'for name' else 'function brace'
        elif after == 'for in':
            if raw != 'in':
                raise Unreadable('a for loop without in')
            self.after = 'for words'
        elif after == 'for words':
            self.header.append(raw)
        elif after == 'function brace':
            raise Unreadable('a function without its body')
        elif not self.words and raw in _RESERVED:
            self._keyword(raw)
        else:
            if len(self.words) >= MAX_WORDS:
                raise Unreadable('a command of more than %d words' % MAX_WORDS)
            self.words.append(raw)

    def _keyword(self, keyword):
        top = self.frames[-1] if self.frames else [None, None, 0]
        if keyword in ('if', 'while', 'until'):
            self._push('if' if keyword == 'if' else 'loop', 'cond')
        elif keyword in ('for', 'function'):
            if keyword == 'function' and self.frames:
                raise Unreadable('a function defined inside a block')
            self.after, self.header = keyword + ' name', []
            return
        elif keyword == 'then' and top[:2] == ['if', 'cond'] and top[2]:
            top[1:] = ['then', 0]
        elif keyword in ('elif', 'else') and top[:2] == ['if', 'then'] and top[2]:
            top[1:] = ['cond' if keyword == 'elif' else 'else', 0]
        elif keyword == 'do' and top[0] == 'loop' and (top[1] == 'head' or top[1] == 'cond' and top[2]):
            top[1:] = ['body', 0]
        elif keyword in ('fi', 'done') and top[2] and top[:2] in (['if', 'then'], ['if', 'else'], ['loop', 'body']) \
                and (keyword == 'fi') == (top[0] == 'if'):
            self.frames.pop()
            self._ended()
        else:
            raise Unreadable('%s where GRUB does not take it' % keyword)
        self.reading.keyword(keyword)

    def _count(self):
        self.commands += 1
        if self.commands > MAX_COMMANDS:
            raise Unreadable('more than %d commands' % MAX_COMMANDS)

    def _push(self, kind, part):
        if len(self.frames) >= MAX_DEPTH:
            raise Unreadable('blocks nested more than %d deep' % MAX_DEPTH)
        self.frames.append([kind, part, 0])

    def _ended(self):
        """A command made of blocks ended: it counts, and a delimiter must follow."""
        if self.frames:
            self.frames[-1][2] += 1
        self.after = 'end'

    def _command_ends(self):
        if self.words:
            self._count()
            self.reading.command(self.words)
            self.words = []
            if self.frames:
                self.frames[-1][2] += 1
            return True
        return False

    def _delimiter(self, newline):
        after = self.after
        if self._command_ends() or after == 'end':
            self.after = None
        elif after == 'for words':
            self._push('loop', 'head')
            self.reading.loop(self.header[0], self.header[1:])
            self.after = None
        elif (after is not None or not newline) and not (after == 'function brace' and newline):
            raise Unreadable('a command, a loop or a function that ends too soon')

    def _open(self):
        if self.after == 'function brace':
            self._push('function', 'body')
            self.reading.open_function(self.header[0])
            self.after = None
        elif self.words and self.after is None:
            self._count()
            self._push('block', 'body')
            words, self.words = self.words, []
            self.reading.open_block(words)
        else:
            raise Unreadable('a { where GRUB does not take one')

    def _close(self):
        if not self._command_ends() and self.after not in (None, 'end'):
            raise Unreadable('a } where GRUB does not take one')
        top = self.frames[-1] if self.frames else [None, None, 0]
        if top[0] not in ('block', 'function') or not top[2]:
            raise Unreadable('a } where GRUB does not take one, or an empty block')
        self.frames.pop()
        self.reading.close()
        if top[0] == 'block':
            self._ended()
        else:
            self.after = 'end'


def read_script(text, reading):
    """Tell ``reading`` what GRUB's grammar makes of ``text``, in order: ``command(words)``,
    ``keyword(word)``, ``loop(name, words)``, ``open_block(words)`` (a command with a body: a
    menu entry), ``open_function(name)``, ``close()`` and at the end ``finish()``; raises
    Unreadable, which the reading may raise too."""
    if '\r' in text or '\0' in text:
        # GRUB reads a carriage return as part of a word ("fi\r" is no fi), a NUL as a line's end.
        raise Unreadable('carriage returns or NUL characters, which GRUB reads otherwise')
    grammar = _Grammar(reading)
    for line in text.split('\n'):
        grammar.line(line)
    grammar.finish()
    reading.finish()


def line_words(line):
    """The words of the first command of a grub.cfg line as written (quotes and variables in
    them), up to a ``;`` or a comment; None when the line holds more than words (a brace, an
    operator) or runs on."""
    words = []
    for token in _TOKEN.finditer(line):
        kind = token.lastgroup
        if kind in ('comment', 'semicolon'):
            break
        if kind != 'blank' and (kind != 'word' or token.group('open_double', 'open_single', 'open_i18n') != (None,) * 3):
            return None
        if kind == 'word':
            words.append(token.group())
    return words


def has_unquoted_variable(word):
    """Whether a word as written holds a variable outside quotes: GRUB splits its value into words."""
    return any(piece.lastgroup == 'variable' for piece in _PIECE.finditer(word))
