# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bash's tests as the dkms.conf reader answers them, each answer checked against bash itself."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ansible_collections.kabi.dkms.plugins.module_utils._shell_conditions import (
    Operand, bracket_status, double_bracket_status, status_of_test)
from ansible_collections.kabi.dkms.plugins.module_utils._shell_vars import UNKNOWN, parse_shell_vars

PRESETS = {'kernelver': '6.1.0-28-rt-amd64', 'E': '', 'S': 'a b', 'N': '10'}
BASH = shutil.which('bash')

# (condition, what bash decides: True, False, or None where the reader cannot tell).
CONDITIONS = [
    ('[ "$kernelver" = "6.1.0-28-rt-amd64" ]', True),
    ('[ "$kernelver" == 6.1.0-28-rt-amd64 ]', True),
    ('[ "$kernelver" != "6.1.0-28-rt-amd64" ]', False),
    ('test "$kernelver" = x', False),
    ('[ -n "$E" ]', False),
    ('[ -z "$E" ]', True),
    ('[ -n $E ]', True),            # one argument, "-n": a non-empty string
    ('[ "$E" ]', False),
    ('[ ]', False),
    ('[ ! -z "$kernelver" ]', True),
    ('! [ "$E" = "" ]', False),
    ('[ \\( "$E" \\) ]', False),
    ('[ $N -gt 9 ]', True),
    ('[ " 10 " -eq "$N" ]', True),
    ('[ -3 -lt -2 ]', True),
    ('[ 9223372036854775807 -gt -9223372036854775808 ]', True),
    ('[ 9223372036854775808 -gt 1 ]', None),    # past 64 bits: refused
    ('[ $S = "a b" ]', None),       # two fields: bash says "too many arguments"
    ('[ x -eq 1 ]', None),          # "integer expression expected"
    ('[ -f /etc/passwd ]', None),   # the file system is not read
    ('[ "$kernelver" = x -o 1 = 1 ]', None),
    ('[ "$kernelver" = x', None),   # no closing ]
    ('[ x y ]', None),
    ('[[ "$kernelver" =~ "-rt-" ]]', True),
    ('[[ $kernelver =~ -rt- ]]', True),
    ('[[ $kernelver =~ ^6[.]1[.] ]]', True),
    ('[[ $kernelver =~ ^5 ]]', False),
    ('[[ $kernelver =~ ^6\\.1 ]]', None),     # part quoted, part a regex
    ('[[ $kernelver =~ ( ]]', None),
    ('[[ $kernelver == 6.1.0-28-rt-amd64 ]]', True),
    ('[[ $kernelver = "6.1.0-28-rt-amd64" ]]', True),
    ('[[ $kernelver != 6.1.0-28-rt-amd64 ]]', False),
    ('[[ $kernelver == 6.1* ]]', None),       # a glob pattern
    ('[[ $kernelver == "6.1"* ]]', None),
    ('[[ $kernelver == "6.1*" ]]', False),    # quoted: a string
    ('[[ $kernelver == @(6|5).* ]]', None),   # an extglob pattern
    ('[[ -n $E ]]', False),                   # no word splitting in [[ ]]
    ('[[ $E ]]', False),
    ('[[ ! $E ]]', True),
    ('[[ $S == "a b" ]]', True),
    ('[[ 10 -lt 9 ]]', False),
    ('[[ $N -eq 10 ]]', True),
    ('[[ 010 -eq 8 ]]', None),                # arithmetic: octal
    ('[[ 9223372036854775807 -gt 0 ]]', True),
    ('[[ 9223372036854775808 -gt 0 ]]', None),  # arithmetic wraps it round
    ('[[ -f /etc/passwd ]]', None),
    ('[[ -z "$kernelver" || -n x ]]', None),
    ('[[ a < b ]]', None),
    ('[[ "$UNSET_HERE" == "" ]]', None),  # the environment may set it
    ('[[ $E == -n ]]', False),
    ('[[ -q ]]', True),                       # not an operator: a string
    ('[ "$kernelver" < /nonexistent ]', None),  # a redirection that fails fails the test
    ('[[ $N -eq 10 ]] </nonexistent', None),
    ('f() { false; }', None),                 # a definition's status, not its body's
]


# Whole files: what the reader knows of each variable must be what bash leaves.
FILES = [
    'A=1\n[[ -n ]] && R=yes\nB=2\n',            # a syntax error: bash stops before its line
    'A=1\nif [[ ! ]]; then R=yes; fi\nB=2\n',
    'A=1\n[[ ! -z ]] || R=no\nB=2\n',
    'A=1\nf() { [[ -n ]]; }\nB=2\n',            # even where it would never run
    'f() { false; } && R=yes\n',
    'R=no\n: </nonexistent && R=yes\n',
    'R=no\n{ true; } </nonexistent || R=yes\n',
    'R=no\nif [ "$kernelver" = 6.1 ] 2>/dev/null; then R=yes; fi\n',
    # Found by a red-team pass against bash.
    'op="=="\n[[ a $op a ]] && R=yes || R=no\n',       # an operator from a variable: a syntax error
    'A=1; [[ a b ]] && R=yes; B=2\n',
    'R=no\n[[ a ==\n a ]] && R=yes\n',
    'R=no\n[ x=~ = "x=~" ] && R=yes\n',                # ~ after = is expanded, even in an argument
    'IFS=,\nA=(x y)\n[ "${A[*]}" = "x,y" ] && R=yes || R=no\n',
    "x=$'\\r'\n[ $x ] && R=yes || R=no\n",             # IFS splits on blanks, not on every space
    "x='!(q)'\n[ $x = '!(q)' ] && R=yes || R=no\n",
    'shopt -s nocasematch\n[[ A == a ]] && R=yes || R=no\n',
    "eval 'test() { return 0; }'\ntest a = b && R=yes\n",
    'true() { return 1; }\nif true; then R=yes; else R=no; fi\n',
    'f() { if false; then R=1; fi; }\nfalse() { return 0; }\nR=0\nf\n',
    'R=no\nif [ a = b ] & then R=yes; fi\n',           # a list sent to the background has status 0
    'if [ a = a ]; then R=1; fi | cat\n',               # ... and runs in a subshell, as a pipeline does
    '[ a = a ] && R=1 || B=2 &\n',
    'if [ a = a ]; then R=1; fi >/nonexistent/x\n',
    'R=no\n[ a = a ] && exit\nR=after\n',
    'RANDOM=5\n[ "$RANDOM" = 5 ] && R=yes || R=no\n',
    "re='[[:alpha:]-z]'\n[[ - =~ $re ]] && R=yes || R=no\n",
    "[[ caf\u00e9 =~ ^caf.$ ]] && R=yes || R=no\n",
]


# Sources ./conf as dkms does, then prints the variables A, B and R that are set.
SOURCE_AND_PRINT = ''.join("%s='%s'\n" % item for item in PRESETS.items()) + (
    'shopt -s extglob\nsource ./conf 2>/dev/null\n'
    'for n in A B R; do if [ -n "${!n+set}" ]; then printf "%s=%s\\n" "$n" "${!n}"; fi; done\n')


@pytest.mark.skipif(BASH is None, reason='no bash to compare with')
@pytest.mark.parametrize('text', FILES)
def test_files_read_as_bash_leaves_them(text: str, tmp_path: Path) -> None:
    (tmp_path / 'conf').write_text(text)
    run = subprocess.run([BASH, '-c', SOURCE_AND_PRINT], capture_output=True, text=True, check=True,
                         cwd=tmp_path, env={'PATH': '/usr/bin:/bin'})
    bash = dict(line.split('=', 1) for line in run.stdout.splitlines())
    variables = parse_shell_vars(text, PRESETS)
    for name in ('A', 'B', 'R'):
        value = variables.get(name)
        if value is not UNKNOWN:
            assert value == bash.get(name), name


def reader_answer(condition: str) -> object:
    text = 'if %s; then\n  R=yes\nelse\n  R=no\nfi\n' % condition
    value = parse_shell_vars(text, PRESETS).get('R')
    return UNKNOWN if value is UNKNOWN else value == 'yes'


def bash_answer(condition: str) -> bool:
    script = ''.join("%s='%s'\n" % item for item in PRESETS.items()) + \
        'shopt -s extglob\nif %s; then R=yes; else R=no; fi\nprintf %%s "$R"\n' % condition
    run = subprocess.run([BASH, '-c', script], capture_output=True, text=True, check=True, env={'PATH': '/usr/bin:/bin'})
    return run.stdout == 'yes'


@pytest.mark.skipif(BASH is None, reason='no bash to compare with')
@pytest.mark.parametrize(('condition', 'expected'), CONDITIONS)
def test_the_reader_answers_as_bash(condition: str, expected: bool | None) -> None:
    answer = reader_answer(condition)
    if expected is None:
        assert answer is UNKNOWN
    else:
        assert answer is expected
        assert bash_answer(condition) is expected


@pytest.mark.parametrize(('arguments', 'status'), [
    (['a', '=', 'a', ']'], 0),
    (['!', 'a', '=', 'a', ']'], 1),
    (['-n', ''], None),      # no closing ]
    ([], None),
])
def test_bracket_needs_its_closing_bracket(arguments: list[str], status: int | None) -> None:
    assert bracket_status(arguments) == status


@pytest.mark.parametrize(('arguments', 'status'), [
    (['!'], 0),
    (['=', '=', '='], 0),
    (['!', '=', 'x'], 1),
    (['!', '!', 'x'], 0),
    (['(', '', ')'], 1),
    (['(', '-z', '', ')'], 0),
    (['a', '-a', 'b'], None),
    (['a', 'b', 'c', 'd', 'e'], None),
])
def test_status_by_argument_count(arguments: list[str], status: int | None) -> None:
    assert status_of_test(arguments) == status


def test_an_invalid_regex_is_not_answered() -> None:
    operands = [Operand('x', False, True, True), Operand('=~', False, True, True), Operand('a{1', False, True, True)]
    assert double_bracket_status(operands) is None
