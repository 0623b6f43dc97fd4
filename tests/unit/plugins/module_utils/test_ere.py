# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The POSIX ERE matcher against bash's own ``[[ text =~ pattern ]]``.

STATUSES holds what bash 5.2 (glibc regcomp) returned for each pair: 0 match, 1 no match,
2 invalid pattern; it was recorded by running bash, and is checked here without running it.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ansible_collections.kabi.dkms.plugins.module_utils._ere import (
    STEP_BUDGET, Ere, EreError, EreUnsupported, ere_search)

STATUSES = [
    ('a{', 'abc', 2),
    ('*a', '*a', 2),
    ('()a', 'a', 0),
    ('a{,2}b', 'ab', 0),
    ('a{,2}b', 'aaab', 0),
    ('+a', 'a', 2),
    ('a|*b', 'ab', 2),
    ('(|x)', 'x', 0),
    ('a**', 'a', 0),
    ('^*6', '6.1', 2),          # glibc repeats no anchor
    ('x|^+', '6.1', 2),
    ('6$?', '6', 2),
    ('(^)*6', '6.1', 0),        # a group holding one it does
    ('[[:alpha:]]b', 'ab', 0),
    ('[[:alpha:]]b', '1b', 1),
    ('[]a]]', 'a]', 0),
    ('a\\.b', 'a.b', 0),
    ('a\\.b', 'axb', 1),
    ('(', 'x', 2),
    ('x)', 'x', 1),
    (')', ')', 0),
    ('a{2,1}', 'a', 2),
    ('a^b', 'a^b', 1),
    ('a$b', 'a$b', 1),
    ('[z-a]', 'x', 2),
    ('a{3}', 'aaa', 0),
    ('a{3}', 'aa', 1),
    ('a{32768}', 'a', 2),
    ('^6\\.1\\.', '6.1.0-47-amd64', 0),
    ('a\\', 'a\\', 2),
    ('{', '{', 2),
    ('x{a', 'x{', 2),
    ('a}', 'a}', 0),
    ('a{1}{2}b', 'ab', 1),
    ('a{1}{2}b', 'aab', 0),
    ('[a\\-z]', '-', 1),
    ('[\\]', '\\', 0),
    ('[a-]', '-', 0),
    ('[a-c-e]', 'b', 2),
    ('[[:upper:]]', 'A', 0),
    ('[[:foo:]]', 'a', 2),
    ('[[.a.]]', 'a', 0),
    ('(^5\\.|-rt-)', '6.1.0-1-rt-amd64', 0),
    ('(^5\\.|-rt-)', '6.1.0-47-amd64', 1),
    ('^(5\\.|6\\.[0-4])($|[.-])', '6.1.0-47-amd64', 0),
    ('^(5\\.|6\\.[0-4])($|[.-])', '6.5.0-1-amd64', 1),
    ('^(.+)+-rt$', '5.14.0-427.13.1.el9_4.x86_64', 1),
    ('^(.+)+-rt$', '5.10.0-28-rt', 0),
    ('^(x86_64|aarch64)$', 'x86_64', 0),
    ('(x86_64|aarch64|armv7l)', 'armv7l', 0),
    ('\\w\\W\\w', 'a_b', 1),
    ('a\\sb', 'a b', 0),
    ('a\\Sb', 'ab', 1),
    ('a[^b]c', 'abc', 1),
    ('a[^b]c', 'axc', 0),
    ('^$', '', 0),
    ('$', 'x', 0),
    ('^a$|^ab$', 'ab', 0),
    ('a?b+c*', 'ab', 0),
    ('\\d', 'd', 0),
    ('\\d', '1', 1),
    ('^(ab){2}$', 'abab', 0),
    ('^(ab){2}$', 'ababab', 1),
    ('[[:digit:][:alpha:]]', 'a', 0),
    ('^.$', 'é', 0),
    ('el[0-9]+(_[0-9]+)?$', 'el8_10', 0),
]


def status(pattern: str, text: str) -> int:
    try:
        return 0 if ere_search(pattern, text) else 1
    except EreError:
        return 2


@pytest.mark.parametrize(('pattern', 'text', 'expected'), STATUSES)
def test_as_bash(pattern: str, text: str, expected: int) -> None:
    assert status(pattern, text) == expected


@pytest.mark.parametrize('pattern', ['(a)\\1', 'a\\b', '\\<a', '[[=a=]]x', '[[.ch.]]'])
def test_unsupported(pattern: str) -> None:
    with pytest.raises(EreUnsupported):
        ere_search(pattern, 'aa')


def test_catastrophic_pattern_on_a_long_release() -> None:
    # Backtracking engines take minutes here; the NFA visits each state once per character.
    release = '5.14.0-427.13.1.el9_4.x86_64' * 40 + 'x'
    assert ere_search('^(.+)+-rt$', release) is False
    assert ere_search('^(a|a?)+$', 'a' * 2000 + 'b') is False


def test_budget() -> None:
    pattern = Ere('(a{1,100})')
    with pytest.raises(EreUnsupported):
        pattern.search('a' * (STEP_BUDGET // len(pattern.program) + 1))
    with pytest.raises(EreUnsupported):
        Ere('((a{1,100}){1,100}){1,100}')
    with pytest.raises(EreUnsupported):
        Ere('(' * 500 + ')' * 500)


PATTERN_TOKENS = st.sampled_from(['a', 'b', '.', '*', '+', '?', '|', '(', ')', '[', ']', '^', '$', '\\', '-', '{',
                                  '}', ',', '1', '2', '[:alpha:]', '[^', '\\.', 'x86_64', '-rt'])


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.lists(PATTERN_TOKENS, max_size=20).map(''.join), st.text(alphabet='ab.-1x', max_size=30))
@example('[', '')
@example('a{', 'a')
@example('\\', '')
def test_every_pattern_compiles_or_is_refused(pattern: str, text: str) -> None:
    try:
        assert ere_search(pattern, text) in (True, False)
    except (EreError, EreUnsupported):
        pass
