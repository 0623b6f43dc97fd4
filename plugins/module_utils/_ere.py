# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""POSIX extended regular expressions as bash's ``[[ text =~ regex ]]`` matches them.

dkms tests ``BUILD_EXCLUSIVE_KERNEL`` and ``BUILD_EXCLUSIVE_ARCH`` with bash's ``=~``,
which hands the pattern to the C library's ``regcomp(REG_EXTENDED)``. Python's ``re`` is a
different dialect (``\\d``, lazy quantifiers, ``(?``, ``{`` rules) and backtracks: one
careless pattern such as ``^(.+)+-rt$`` takes minutes on a long kernel release. This
module parses the ERE itself and runs it as a Thompson NFA, so a match costs at most
``len(text) * program size`` steps; beyond ``STEP_BUDGET`` it gives up with
``EreUnsupported`` instead of stalling the facts of a whole host.

glibc rules followed (checked against bash 5.2): ``^`` and ``$`` are anchors anywhere,
an unmatched ``)`` is literal, ``*``/``+``/``?``/``{`` with nothing before them and
``a{`` without a valid interval are errors, ``{,n}`` means ``{0,n}``, a backslash is
literal inside brackets, ``\\w \\W \\s \\S`` are classes. Back-references, word
boundaries, equivalence classes and multi-character collating elements are not supported
(``EreUnsupported``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Largest count glibc accepts in an interval (RE_DUP_MAX).
RE_DUP_MAX = 0x7fff
PROGRAM_LIMIT = 4000
STEP_BUDGET = 2000000
NESTING_LIMIT = 100

_CLASSES = {
    'alpha': lambda c: c.isalpha(),
    'digit': lambda c: '0' <= c <= '9',
    'alnum': lambda c: c.isalnum(),
    'upper': lambda c: c.isupper(),
    'lower': lambda c: c.islower(),
    'space': lambda c: c in ' \t\n\r\f\v',
    'blank': lambda c: c in ' \t',
    'punct': lambda c: c.isprintable() and not c.isalnum() and not c.isspace() and ord(c) < 128,
    'print': lambda c: c.isprintable(),
    'graph': lambda c: c.isprintable() and not c.isspace(),
    'cntrl': lambda c: ord(c) < 32 or ord(c) == 127,
    'xdigit': lambda c: c in '0123456789abcdefABCDEF',
}


def _word_character(char):
    return char.isalnum() or char == '_'


class EreError(ValueError):
    """The pattern does not compile: bash's ``=~`` returns 2."""


class EreUnsupported(ValueError):
    """The pattern uses what this matcher does not model, or is too big to match in budget."""


class _CharSet:
    """One position's test: listed characters, ranges and classes, possibly negated."""

    __slots__ = ('chars', 'ranges', 'classes', 'negated')

    def __init__(self, chars=(), ranges=(), classes=(), negated=False):
        self.chars = frozenset(chars)
        self.ranges = tuple(ranges)
        self.classes = tuple(classes)
        self.negated = negated

    def matches(self, char):
        found = (char in self.chars or any(low <= char <= high for low, high in self.ranges)
                 or any(test(char) for test in self.classes))
        return found != self.negated


_ANY = _CharSet(negated=True)


class _Parser:
    """Recursive descent over the pattern; builds the AST as nested tuples."""

    def __init__(self, pattern):
        self.pattern = pattern
        self.pos = 0
        self.depth = 0

    def peek(self):
        return self.pattern[self.pos] if self.pos < len(self.pattern) else None

    def parse(self):
        node = self.alternation()
        if self.pos != len(self.pattern):
            raise EreError('unexpected %r at %d' % (self.peek(), self.pos))
        return node

    def alternation(self):
        branches = [self.branch()]
        while self.peek() == '|':
            self.pos += 1
            branches.append(self.branch())
        return branches[0] if len(branches) == 1 else ('alt', branches)

    def branch(self):
        items = []
        while True:
            char = self.peek()
            if char is None or char == '|' or (char == ')' and self.depth):
                break
            if char in '*+?{':
                # glibc refuses to repeat an anchor too (a group that holds one it takes).
                if not items or items[-1][0] in ('bol', 'eol'):
                    raise EreError('%r with nothing to repeat' % char)
                items[-1] = self.quantified(items[-1])
                continue
            items.append(self.atom())
        return ('cat', items)

    def quantified(self, node):
        char = self.pattern[self.pos]
        self.pos += 1
        if char == '*':
            return ('rep', node, 0, None)
        if char == '+':
            return ('rep', node, 1, None)
        if char == '?':
            return ('rep', node, 0, 1)
        end = self.pattern.find('}', self.pos)
        if end < 0:
            raise EreError('unterminated interval')
        low, sep, high = self.pattern[self.pos:end].partition(',')
        if not (low.isdigit() or low == '') or not (high.isdigit() or high == '') or \
                (not sep and not low) or not all(c in '0123456789,' for c in self.pattern[self.pos:end]):
            raise EreError('bad interval')
        low = int(low) if low else 0
        high = (int(high) if high else None) if sep else low
        if low > RE_DUP_MAX or (high is not None and (high > RE_DUP_MAX or high < low)):
            raise EreError('bad interval bounds')
        self.pos = end + 1
        return ('rep', node, low, high)

    def atom(self):
        char = self.pattern[self.pos]
        self.pos += 1
        if char == '(':
            if self.depth >= NESTING_LIMIT:
                raise EreUnsupported('groups nested deeper than %d' % NESTING_LIMIT)
            self.depth += 1
            inner = self.alternation()
            self.depth -= 1
            if self.peek() != ')':
                raise EreError('unbalanced (')
            self.pos += 1
            return ('group', inner)
        if char == '^':
            return ('bol',)
        if char == '$':
            return ('eol',)
        if char == '.':
            return ('set', _ANY)
        if char == '[':
            return ('set', self.bracket())
        if char == '\\':
            return self.escape()
        return ('set', _CharSet(char))

    def escape(self):
        if self.pos >= len(self.pattern):
            raise EreError('trailing backslash')
        char = self.pattern[self.pos]
        self.pos += 1
        if char in 'wW':
            return ('set', _CharSet(classes=(_word_character,), negated=char == 'W'))
        if char in 'sS':
            return ('set', _CharSet(classes=(_CLASSES['space'],), negated=char == 'S'))
        if char in '123456789bB<>`\'':
            raise EreUnsupported('\\%s (back-reference or word boundary)' % char)
        return ('set', _CharSet(char))

    def bracket(self):
        negated = self.peek() == '^'
        if negated:
            self.pos += 1
        chars, ranges, classes = set(), [], []
        first = True
        while True:
            if self.pos >= len(self.pattern):
                raise EreError('unterminated [')
            char = self.pattern[self.pos]
            if char == ']' and not first:
                self.pos += 1
                return _CharSet(chars, ranges, classes, negated)
            first = False
            if self.pattern.startswith('[:', self.pos):
                end = self.pattern.find(':]', self.pos + 2)
                name = self.pattern[self.pos + 2:end] if end >= 0 else None
                if name not in _CLASSES:
                    raise EreError('unknown character class')
                classes.append(_CLASSES[name])
                self.pos = end + 2
                if self.peek() == '-' and self.pos + 1 < len(self.pattern) and self.pattern[self.pos + 1] != ']':
                    raise EreError('a range from a character class')
                continue
            low = self.bracket_char()
            if self.peek() == '-' and self.pos + 1 < len(self.pattern) and self.pattern[self.pos + 1] != ']':
                self.pos += 1
                if self.pattern.startswith('[:', self.pos):
                    raise EreError('a range to a character class')
                high = self.bracket_char()
                if high < low:
                    raise EreError('reversed range')
                ranges.append((low, high))
                if self.peek() == '-' and self.pos + 1 < len(self.pattern) and self.pattern[self.pos + 1] != ']':
                    raise EreError('range endpoint used twice')
            else:
                chars.add(low)

    def bracket_char(self):
        if self.pattern.startswith('[=', self.pos):
            raise EreUnsupported('equivalence class (its members depend on the locale)')
        if self.pattern.startswith('[.', self.pos):
            end = self.pattern.find('.]', self.pos + 2)
            inner = self.pattern[self.pos + 2:end] if end >= 0 else ''
            if len(inner) != 1:
                raise EreUnsupported('collating element %r' % inner)
            self.pos = end + 2
            return inner
        char = self.pattern[self.pos]
        self.pos += 1
        return char


def _emit(node, program):
    """Append the instructions of ``node`` to ``program`` (Thompson construction)."""
    if len(program) > PROGRAM_LIMIT:
        raise EreUnsupported('pattern too large to match in bounded time')
    kind = node[0]
    if kind == 'set':
        program.append(['set', node[1]])
    elif kind in ('bol', 'eol'):
        program.append([kind])
    elif kind == 'group':
        _emit(node[1], program)
    elif kind == 'cat':
        for item in node[1]:
            _emit(item, program)
    elif kind == 'alt':
        jumps = []
        for branch in node[1][:-1]:
            split = len(program)
            program.append(['split', split + 1, None])
            _emit(branch, program)
            jumps.append(len(program))
            program.append(['jmp', None])
            program[split][2] = len(program)
        _emit(node[1][-1], program)
        for jump in jumps:
            program[jump][1] = len(program)
    else:
        _emit_repeat(node, program)


def _emit_repeat(node, program):
    _kind, item, low, high = node
    for _copy in range(low):
        _emit(item, program)
    if high is None:
        split = len(program)
        program.append(['split', split + 1, None])
        _emit(item, program)
        program.append(['jmp', split])
        program[split][2] = len(program)
        return
    splits = []
    for _optional in range(high - low):
        splits.append(len(program))
        program.append(['split', len(program) + 1, None])
        _emit(item, program)
    for split in splits:
        program[split][2] = len(program)


class Ere:
    """A compiled ERE; ``search`` tells whether it matches anywhere in a text."""

    def __init__(self, pattern):
        self.pattern = pattern
        program = []
        _emit(_Parser(pattern).parse(), program)
        program.append(['match'])
        self.program = program

    def search(self, text):
        """True when the pattern matches somewhere in ``text`` (bash ``[[ text =~ re ]]``)."""
        if (len(text) + 1) * len(self.program) > STEP_BUDGET:
            raise EreUnsupported('%d characters against a %d-step pattern exceeds the budget'
                                 % (len(text), len(self.program)))
        current = []
        seen = [-1] * len(self.program)
        for position in range(len(text) + 1):
            if self._add(current, 0, position, text, seen):
                return True
            if position == len(text):
                return False
            char = text[position]
            following = []
            stamp = position + 1
            for pc in current:
                if self.program[pc][1].matches(char) and self._add(following, pc + 1, stamp, text, seen):
                    return True
            current = following
        return False

    def _add(self, threads, start, position, text, seen):
        """Follow the empty moves from ``start``; True when they reach the end of the pattern.

        ``seen`` marks instructions already visited at this position (the NFA's state set).
        """
        stack = [start]
        while stack:
            pc = stack.pop()
            if seen[pc] == position:
                continue
            seen[pc] = position
            op = self.program[pc]
            kind = op[0]
            if kind == 'match':
                return True
            if kind == 'set':
                threads.append(pc)
            elif kind == 'jmp':
                stack.append(op[1])
            elif kind == 'split':
                stack.append(op[2])
                stack.append(op[1])
            elif kind == 'bol':
                if position == 0:
                    stack.append(pc + 1)
            elif position == len(text):
                stack.append(pc + 1)
        return False


def ere_search(pattern, text):
    """True/False like bash's ``[[ text =~ pattern ]]``; raises EreError or EreUnsupported."""
    return Ere(pattern).search(text)
