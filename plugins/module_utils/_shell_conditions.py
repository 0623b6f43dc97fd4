# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The exit status of bash's tests, ``[``/``test`` and ``[[ ]]``, when their operands are known.

dkms.conf files decide with them (``[[ "$kernelver" =~ "-rt-" ]] && build_exclude=yes``,
``if [ "$CONFIG_PREEMPT_RT" = "y" ]``). Each function answers 0 (true), 1 (false) or None
where bash would give an error, or where the answer depends on what is not read here: the file
system (``-f``, ``-d``...), a glob or extglob pattern, arithmetic beyond plain integers, the
``-a``/``-o``/``<``/``>`` forms. None leaves the reader's guessing-free default: either branch
may run.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections import namedtuple

from ansible_collections.kabi.dkms.plugins.module_utils._lazy_re import LazyPattern

# What test takes as an integer (blanks around it, a sign), and what [[ ]] reads as a plain
# decimal one (elsewhere it is arithmetic: 010 is octal there, x a variable).
_TEST_INTEGER = LazyPattern(r'[ \t]*[-+]?[0-9]+[ \t]*\Z')
_DECIMAL = LazyPattern(r'-?(0|[1-9][0-9]*)\Z')
# bash's integers are 64 bits: past them test refuses the operand, and [[ ]] wraps it round.
_INTEGER_LIMIT = 2 ** 63
_INTEGER_OPERATORS = {'-eq': lambda a, b: a == b, '-ne': lambda a, b: a != b, '-lt': lambda a, b: a < b,
                      '-le': lambda a, b: a <= b, '-gt': lambda a, b: a > b, '-ge': lambda a, b: a >= b}
# The operators of test and [[ ]], as bash spells them (< and > are read apart, as shell operators).
UNARY_OPERATORS = frozenset('-%s' % letter for letter in 'abcdefghknoprstuvwxzGLNORS')
BINARY_OPERATORS = frozenset(('=', '==', '!=', '=~', '-nt', '-ot', '-ef')).union(_INTEGER_OPERATORS)
# test's own: no =~, and -a, -o, < and > (quoted there) besides.
_TEST_BINARY_OPERATORS = BINARY_OPERATORS.difference(('=~',)).union(('-a', '-o', '<', '>'))
# What makes a word of [[ ]] a pattern rather than a string: glob and extglob characters, and a
# backslash that escapes one.
_PATTERN_CHARACTERS = LazyPattern(r'[*?\[\\]|[@!+]\(')


class Operand(namedtuple('Operand', ['value', 'quoted', 'unquoted', 'literal'])):
    """One word of ``[[ ]]``: its expanded value, whether all of it was quoted, whether none of it
    was (a pattern's or a regex's special characters count only unquoted), and whether it is
    written as plain text (only such a word is an operator)."""

    __slots__ = ()


def _status(truth):
    return None if truth is None else (0 if truth else 1)


def _negated(status):
    return None if status is None else 1 - status


def _string_unary(operator, operand):
    """``-n`` and ``-z``; None for the other unary tests, which ask the file system."""
    if operator == '-n':
        return operand != ''
    if operator == '-z':
        return operand == ''
    return None


def _integer(text, pattern):
    """The value of an integer operand, None when ``pattern`` does not take it or it is past 64 bits."""
    if not pattern.match(text):
        return None
    value = int(text)
    return value if -_INTEGER_LIMIT <= value < _INTEGER_LIMIT else None


def _compared(left, operator, right, pattern):
    left, right = _integer(left, pattern), _integer(right, pattern)
    if left is None or right is None:
        return None     # bash: "integer expression expected" (status 2), or arithmetic
    return _INTEGER_OPERATORS[operator](left, right)


def _test_binary(left, operator, right):
    if operator in ('=', '=='):
        return left == right
    if operator == '!=':
        return left != right
    if operator in _INTEGER_OPERATORS:
        return _compared(left, operator, right, _TEST_INTEGER)
    return None


def status_of_test(arguments):
    """The status of ``test`` with these arguments (for ``[``, without its closing ``]``), by the
    number of arguments as POSIX and bash decide it; None where this cannot tell."""
    count = len(arguments)
    if count == 0:
        return 1
    if count == 1:
        return _status(arguments[0] != '')
    if count == 2:
        if arguments[0] == '!':
            return _negated(status_of_test(arguments[1:]))
        return _status(_string_unary(arguments[0], arguments[1]))
    if count == 3:
        if arguments[1] in _TEST_BINARY_OPERATORS:
            return _status(_test_binary(*arguments))
        if arguments[0] == '!':
            return _negated(status_of_test(arguments[1:]))
        if arguments[0] == '(' and arguments[2] == ')':
            return status_of_test(arguments[1:2])
        return None
    if count == 4:
        if arguments[0] == '!':
            return _negated(status_of_test(arguments[1:]))
        if arguments[0] == '(' and arguments[3] == ')':
            return status_of_test(arguments[1:3])
    return None


def bracket_status(arguments):
    """The status of ``[ ... ]`` with these arguments, the closing ``]`` included."""
    if not arguments or arguments[-1] != ']':
        return None     # bash: "missing `]'", status 2
    return status_of_test(arguments[:-1])


def _matches(left, operator, right):
    """``[[ left == right ]]``, ``!=`` and ``=~``: the right side a string where quoted, a pattern
    or a regex where not."""
    if operator == '=~':
        if any(ord(character) > 127 for character in left.value + right.value):
            return None     # what . or a class matches beyond ASCII depends on the locale
        if right.quoted:
            return right.value in left.value
        if not right.unquoted:
            return None
        # Imported only here: the matcher is a sizeable module to compile.
        from ansible_collections.kabi.dkms.plugins.module_utils._ere import EreError, EreUnsupported, ere_search
        try:
            return ere_search(right.value, left.value)
        except (EreError, EreUnsupported):
            return None     # an invalid regex is status 2 in bash
    if not right.quoted and _PATTERN_CHARACTERS.search(right.value):
        return None
    equal = left.value == right.value
    return equal if operator in ('=', '==') else not equal


def double_bracket_syntax_error(written):
    """Whether bash refuses to parse ``[[ ... ]]`` whose words, after its leading ``!``, are written
    so (each as plain text, or None; no ``&&``, ``||``, parentheses or < > among them): an
    operator without its operand, two words that are no unary test, three that are no binary one."""
    count = len(written)
    return (count == 0 or (count == 1 and written[0] in UNARY_OPERATORS) or
            (count == 2 and written[0] not in UNARY_OPERATORS) or
            (count == 3 and written[1] not in BINARY_OPERATORS))


def double_bracket_status(operands):
    """The status of ``[[ ... ]]`` whose words are these Operands (no ``&&``, ``||`` or
    parentheses among them)."""
    if operands and operands[0].value == '!' and operands[0].literal:
        return _negated(double_bracket_status(operands[1:]))
    count = len(operands)
    if count == 1:
        return _status(operands[0].value != '')
    if count == 2 and operands[0].literal:
        return _status(_string_unary(operands[0].value, operands[1].value))
    if count == 3 and operands[1].literal:
        operator = operands[1].value
        if operator in ('=', '==', '!=', '=~'):
            return _status(_matches(operands[0], operator, operands[2]))
        if operator in _INTEGER_OPERATORS:
            return _status(_compared(operands[0].value, operator, operands[2].value, _DECIMAL))
    return None
