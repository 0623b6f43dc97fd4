# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The static shell reader: what it knows, what it calls unknown, and that it never runs anything."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ansible_collections.kabi.dkms.plugins.module_utils._dkms_tree import read_package
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootFS
from ansible_collections.kabi.dkms.plugins.module_utils._shell_vars import (
    UNKNOWN, ShellVars, _literal_assignments, _Parser, parse_shell_vars, read_literal_assignments)
from ansible_collections.kabi.dkms.tests.unit.plugins.module_utils.dkms_conf_corpus.cases import CASES


def value(text: str, name: str, preset: dict[str, str] | None = None) -> Any:
    return parse_shell_vars(text, preset).get(name)


def array(text: str, name: str) -> Any:
    return parse_shell_vars(text).get_array(name)


class TestLiterals:
    @pytest.mark.parametrize(('text', 'expected'), [
        ('X=plain', 'plain'),
        ('X="double quoted"', 'double quoted'),
        ("X='single $Y `cmd` $(cmd)'", 'single $Y `cmd` $(cmd)'),
        ('X=', ''),
        ('X=""', ''),
        ('X="a\\"b\\\\c"', 'a"b\\c'),
        ('X=\\$A', '$A'),
        ('X="a\\nb"', 'a\\nb'),
        ('X=a\\ b', 'a b'),
        ("X='a'\"b\"c", 'abc'),
        ('X=hello#not-a-comment', 'hello#not-a-comment'),
        ('X="v" # comment', 'v'),
        ('  X="indented"  ', 'indented'),
        ('export X="exported"', 'exported'),
        ('declare -r X=1', '1'),
        ('X="*.ko"', '*.ko'),
        ('X=*.ko', '*.ko'),       # no pathname expansion in assignments
        ('X=$\'a\\tb\\\'c\'', "a\tb'c"),
        ("X=$'hello\\x5fdrv'", 'hello_drv'),          # bash's $'...' codes: hex, Unicode, octal, control
        ("X=$'a\\u0041\\U00000042\\101\\cA'", 'aABA\x01'),
        ("X=$'\\x\\q'", '\\x\\q'),                       # no digits: the backslash stays
        ("X=$'\\c'", '\\c'),                             # \c before the closing quote stays as it is
        ("X=$'\\c\\'x'", "\x1c'x"),                       # the quote, escaped, is the lexer's: \c takes the backslash
        ("X=$'a\\c\\\\\\\\b'", 'a\x1c\\b'),                   # \c\\ takes both backslashes
        ('X=$"translated"', 'translated'),
        ('X="a$"', 'a$'),
        ('X="($|[.-])"', '($|[.-])'),   # bash leaves a `$` before a non-name character as it is
        ('X=\'\'"" ', ''),
        ('X="line \\\ncontinued"', 'line continued'),
        ('X=joined\\\nword', 'joinedword'),
    ])
    def test_static_values(self, text: str, expected: str) -> None:
        assert value(text, 'X') == expected

    @pytest.mark.parametrize('text', ["X=$'a\\x00b'", "X=$'\\xff'", "X=$'\\u00e9'", "X=$'\\c@'"])
    def test_codes_bash_ends_at_or_the_locale_decides(self, text: str) -> None:
        assert value(text, 'X') is UNKNOWN     # a NUL ends bash's text; past ASCII the locale decides

    @pytest.mark.parametrize('text', [
        'X=~/src',                # tilde expansion depends on $HOME
        'X+=more',                # X may come from the environment
        'X="${Y:-default}"',      # parameter expansions beyond ${VAR} and ${VAR[i]}
        'X=$1',
        'X="$(uname -r)"',
    ])
    def test_not_static(self, text: str) -> None:
        assert value('Y=set\n' + text, 'X') is UNKNOWN

    @pytest.mark.parametrize('text', [
        'X=a b',                  # runs command b with X in its environment only
        'X="unterminated',        # bash stops at the syntax error
        "X='unterminated",
        'X=(a b',
        'echo (\nX=1',
        'fi\nX=1',
        'a[a[\nX=1',               # the subscript never closes: a syntax error
    ])
    def test_not_assigned_by_bash(self, text: str) -> None:
        assert value(text, 'X') is None

    def test_syntax_error_keeps_what_ran_before(self) -> None:
        variables = parse_shell_vars('A=1\nif true; then\nB=2\nC="open\n')
        assert variables.get('A') == '1'
        assert variables.get('C') is None

    def test_escaped_dollar_in_double_quotes(self) -> None:
        assert value('A=1\nX="\\$A"', 'X') in ('$A', UNKNOWN)

    def test_later_assignment_wins_and_comments_are_skipped(self) -> None:
        text = '# X=commented\nX=first\n\n   # X=also-commented\nX=second\n'
        assert value(text, 'X') == 'second'

    def test_never_assigned_is_none(self) -> None:
        assert value('X=1', 'OTHER') is None
        assert array('X=1', 'OTHER') is None

    def test_preset_and_override(self) -> None:
        preset = {'PACKAGE_NAME': 'hello', 'PACKAGE_VERSION': '1.0'}
        variables = parse_shell_vars('PACKAGE_VERSION="2.0"\n', preset)
        assert variables.get('PACKAGE_NAME') == 'hello'
        assert variables.get('PACKAGE_VERSION') == '2.0'
        assert preset['PACKAGE_VERSION'] == '1.0'

    def test_crlf_bom_and_lone_cr(self) -> None:
        # bash: the BOM makes the first word a command name; CR is an ordinary character.
        text = '\ufeffPACKAGE_NAME="hello"\r\nPACKAGE_VERSION=1.0\r\nAUTOINSTALL=yes\rX=old-mac\r\n'
        variables = parse_shell_vars(text)
        assert variables.get('PACKAGE_NAME') is None
        assert variables.get('PACKAGE_VERSION') == '1.0\r'
        assert variables.get('AUTOINSTALL') == 'yes\rX=old-mac\r'
        assert variables.get('X') is None

    def test_crlf_shell_logic_is_a_syntax_error(self) -> None:
        variables = parse_shell_vars('A=1\r\nif true; then\r\n  B=2\r\nfi\r\nC=3\r\n')
        assert variables.get('A') == '1\r'
        assert variables.get('B') is None and variables.get('C') is None

    def test_non_ascii_values(self) -> None:
        assert value('X="modulé ü"', 'X') == 'modulé ü'


class TestExpansion:
    def test_simple_expansions(self) -> None:
        text = 'A=hello\nB="${A}-1.0"\nC=$A.ko\nD="$A/${B}"\nE=\'$A\'\n'
        variables = parse_shell_vars(text)
        assert variables.get('B') == 'hello-1.0'
        assert variables.get('C') == 'hello.ko'
        assert variables.get('D') == 'hello/hello-1.0'
        assert variables.get('E') == '$A'

    def test_preset_expands(self) -> None:
        assert value('BUILT_MODULE_NAME[0]="${PACKAGE_NAME}_core"', 'BUILT_MODULE_NAME',
                     {'PACKAGE_NAME': 'zfs'}) == 'zfs_core'

    def test_unset_and_dkms_runtime_variables_are_unknown(self) -> None:
        # dkms sets kernelver, arch... when it sources the file: not static.
        assert value('MAKE[0]="make KVER=$kernelver"', 'MAKE') is UNKNOWN
        assert value('X="${UNSET}"', 'X') is UNKNOWN

    def test_unknown_propagates(self) -> None:
        assert value('A=$(uname -r)\nB="${A}"', 'B') is UNKNOWN

    def test_array_references(self) -> None:
        text = 'A=(x "y z")\nB="${A[1]}"\nC="${A[@]}"\nD=(pre "${A[@]}" post)\nE=(${A[@]})\nF="${A[7]}"\n'
        variables = parse_shell_vars(text)
        assert variables.get('B') == 'y z'
        assert variables.get('C') == 'x y z'
        assert variables.get_array('D') == {0: 'pre', 1: 'x', 2: 'y z', 3: 'post'}
        assert variables.get_array('E') == {0: 'x', 1: 'y', 2: 'z'}
        assert variables.get('F') == ''

    def test_known_unset_names_expand_to_nothing(self) -> None:
        variables = parse_shell_vars('X="a${GONE}b"\nY+=c\n', unset=('GONE', 'Y'))
        assert variables.get('X') == 'ab'
        assert variables.get('Y') == 'c'


class TestArrays:
    def test_indexed_and_sparse(self) -> None:
        text = 'BUILT_MODULE_NAME[0]=a\nBUILT_MODULE_NAME[2]="c"\nBUILT_MODULE_NAME[10]=k\n'
        assert array(text, 'BUILT_MODULE_NAME') == {0: 'a', 2: 'c', 10: 'k'}
        assert value(text, 'BUILT_MODULE_NAME') == 'a'

    def test_sparse_without_element_zero(self) -> None:
        assert array('X[1]=a\nX[3]=c', 'X') == {1: 'a', 3: 'c'}
        assert value('X[1]=a\nX[3]=c', 'X') is None

    def test_literal(self) -> None:
        assert array('X=(a "b c" \'d $e\' ${F})', 'X') is UNKNOWN
        assert array('F=f\nX=(a "b c" \'d $e\' ${F})', 'X') == {0: 'a', 1: 'b c', 2: 'd $e', 3: 'f'}
        assert array('declare -a X=( one  two )', 'X') == {0: 'one', 1: 'two'}
        assert array('X=()', 'X') == {}

    @pytest.mark.parametrize(('text', 'expected'), [
        ('X=([3]=x y)', {3: 'x', 4: 'y'}),
        ('X=(a)\nX+=(b)', {0: 'a', 1: 'b'}),
        ('X=()\nX+=("a")\nX+=(b c)', {0: 'a', 1: 'b', 2: 'c'}),
        ('X=(\n a  # first\n b\n)', {0: 'a', 1: 'b'}),
        ('X[010]=octal', {8: 'octal'}),
        ('X=(a)\nX[0]+=b', {0: 'ab'}),
        ('X[ 1 ]=a', {1: 'a'}),
        ('X=(a b c)\nunset "X[1]"', {0: 'a', 2: 'c'}),
    ])
    def test_static(self, text: str, expected: dict[int, str]) -> None:
        assert array(text, 'X') == expected

    @pytest.mark.parametrize('text', [
        'X=(a $(ls))',
        'X=(a *.ko)',             # pathname expansion in an array literal
        'X=({a,b})',              # brace expansion
        'X[$i]=a',
        'X[i+1]=a',
        'X[${#X[@]}]=a',
    ])
    def test_not_static(self, text: str) -> None:
        assert array(text, 'X') is UNKNOWN

    def test_scalar_becomes_element_zero(self) -> None:
        assert array('X=0\nX[1]=a', 'X') == {0: '0', 1: 'a'}
        assert array('X=only', 'X') == {0: 'only'}

    def test_unknown_element(self) -> None:
        elements = array('X[0]=a\nX[1]=`hostname`', 'X')
        assert elements[0] == 'a'
        assert elements[1] is UNKNOWN

    def test_unknown_scalar_stays_unknown_when_indexed(self) -> None:
        assert array('X=$(cmd)\nX[1]=a', 'X') is UNKNOWN

    def test_literal_replaces_array(self) -> None:
        assert array('X[5]=old\nX=(new)', 'X') == {0: 'new'}

    def test_scalar_assignment_keeps_other_elements(self) -> None:
        assert array('X=(a b)\nX=c', 'X') == {0: 'c', 1: 'b'}


class TestShellLogic:
    @pytest.mark.parametrize('text', [
        'X=$(touch canary)',
        'X="$(uname -r)"',
        'X=`uname -r`',
        'X="prefix-`uname -r`"',
        'X=$((1 + 2))',
    ])
    def test_command_substitution(self, text: str) -> None:
        assert value(text, 'X') is UNKNOWN

    def test_if_block(self) -> None:
        text = ('X=before\n'
                'if [ "$kernelver" = "6.1" ]; then\n'
                '    X=inside\n'
                'elif true; then\n'
                '    Y=other\n'
                'else\n'
                '    Z[0]=third\n'
                'fi\n'
                'AFTER=yes\n')
        variables = parse_shell_vars(text, {'kernelver': UNKNOWN})
        assert variables.get('X') is UNKNOWN
        assert variables.get('Y') is UNKNOWN
        # Past a condition that is true whatever came before, nothing runs.
        assert variables.get_array('Z') is None
        assert variables.get('AFTER') == 'yes'

    @pytest.mark.parametrize(('text', 'expected'), [
        # A known condition picks its branch; what it rules out never runs.
        ('X=a\nif [ "$kernelver" = 6.1 ]; then X=b; elif true; then Y=c; else Z=d; fi\n',
         {'X': 'b', 'Y': None, 'Z': None}),
        ('X=a\nif [ "$kernelver" = 5 ]; then X=b; elif true; then Y=c; else Z=d; fi\n',
         {'X': 'a', 'Y': 'c', 'Z': None}),
        ('if [ "$kernelver" = 5 ]; then X=b; elif false; then Y=c; else Z=d; fi\n', {'X': None, 'Y': None, 'Z': 'd'}),
        # The first condition unknown: the branch after a true one runs or not, none after it.
        ('if [ -e /x ]; then X=b; elif [ "$kernelver" = 6.1 ]; then Y=c; else Z=d; fi\n',
         {'X': UNKNOWN, 'Y': UNKNOWN, 'Z': None}),
        ('[[ "$kernelver" =~ "-rt-" ]] && build_exclude=yes\n', {'build_exclude': None}),
        ('[[ "$kernelver" =~ 6 ]] && build_exclude=yes\n', {'build_exclude': 'yes'}),
        ('[ -n "$kernelver" ] || X=empty\n', {'X': None}),
        # A function's body runs later, with the variables of then: its tests are not answered.
        ('V=\nf() { [ -n "$V" ] && Y=1; }\nV=set\nf\n', {'Y': UNKNOWN}),
        ('V=\nf() { if [ -n "$V" ]; then Y=1; fi; }\nV=set\nf\n', {'Y': UNKNOWN}),
        # A loop's body runs again with what the time before left.
        ('V=b\nfor i in 1 2; do [ "$V" = a ] && Y=1; V=a; done\n', {'Y': UNKNOWN}),
        ('V=a\nuntil [ "$V" = b ] && Y=1; do V=b; done\n', {'Y': UNKNOWN}),
        # A function named like the builtin is not the builtin.
        ('test() { return 0; }\ntest a = b && X=1\n', {'X': UNKNOWN}),
        # The test's words unknown, or the file system asked: either branch may run.
        ('[ "$(uname -r)" = 6.1 ] && X=1\n', {'X': UNKNOWN}),
        ('[ -d /lib/modules/$kernelver ] && X=1\n', {'X': UNKNOWN}),
    ])
    def test_conditions_with_known_words(self, text: str, expected: dict[str, Any]) -> None:
        variables = parse_shell_vars(text, {'kernelver': '6.1', 'arch': 'x86_64'})
        assert dict((name, variables.get(name)) for name in expected) == expected

    def test_one_line_if(self) -> None:
        variables = parse_shell_vars('if [ -n "$x" ]; then X=1; fi\nY=2\n')
        assert variables.get('X') is UNKNOWN
        assert variables.get('Y') == '2'

    def test_nested_blocks(self) -> None:
        text = ('if a; then\n'
                '  for k in 1 2; do\n'
                '    while b; do\n'
                '      X=1\n'
                '    done\n'
                '  done\n'
                '  Y=2\n'
                'fi\n'
                'Z=3\n')
        variables = parse_shell_vars(text)
        assert variables.get('X') is UNKNOWN
        assert variables.get('Y') is UNKNOWN
        assert variables.get('Z') == '3'

    @pytest.mark.parametrize(('text', 'expected'), [
        ('post_build() {\n    X=1\n}\n', None),          # defined, never called
        ('function post_build {\n    X=1\n}\n', None),
        ('post_build ()\n{\n    X=1\n}\n', None),
        ('helper() { X=1; }\nhelper\n', UNKNOWN),       # called: its body decides
        ('helper() { source x; }\nhelper\n', UNKNOWN),
        ('{\n  X=1\n}\n', '1'),                          # a group runs in the shell itself
        ('(\n  X=1\n)\n', None),                         # a subshell changes nothing
        ('X=1 | cat\n', None),
        ('X=1 &\n', None),
    ])
    def test_functions_groups_subshells(self, text: str, expected: Any) -> None:
        variables = parse_shell_vars(text + 'AFTER=yes\n')
        assert variables.get('X') is expected or variables.get('X') == expected
        assert variables.get('AFTER') == 'yes'

    def test_here_document_is_not_read_as_commands(self) -> None:
        variables = parse_shell_vars('cat <<EOF > x\nX=inside\nEOF\ncat <<-\'END\'\n\tY=inside\n\tEND\nZ=after\n')
        assert (variables.get('X'), variables.get('Y'), variables.get('Z')) == (None, None, 'after')

    def test_return_stops_reading(self) -> None:
        variables = parse_shell_vars('A=1\nreturn\nB=2\n')
        assert (variables.get('A'), variables.get('B')) == ('1', None)
        variables = parse_shell_vars('A=1\n[ -n "$x" ] && return\nB=2\n')
        assert (variables.get('A'), variables.get('B')) == ('1', UNKNOWN)

    def test_double_brackets_with_regex_characters(self) -> None:
        variables = parse_shell_vars('[[ $kernelver =~ ^(5|6)\\.[0-9]+ ]] && X=1\nY=2\n')
        assert (variables.get('X'), variables.get('Y')) == (UNKNOWN, '2')

    def test_assigning_expansion_makes_the_name_unknown(self) -> None:
        assert value('X=1\n: "${X:=2}"\n', 'X') is UNKNOWN

    def test_case_with_assignments_on_their_own_lines(self) -> None:
        text = ('case "$kernelver" in\n'
                '  5.*)\n'
                '    X=old\n'
                '    ;;\n'
                'esac\n'
                'AFTER=yes\n')
        variables = parse_shell_vars(text)
        assert variables.get('X') is UNKNOWN
        assert variables.get('AFTER') == 'yes'

    def test_case_with_assignments_after_the_pattern(self) -> None:
        text = ('case "$kernelver" in\n'
                '  5.*) BUILD_EXCLUSIVE_KERNEL="^5";;\n'
                '  *) X=other ;;\n'
                'esac\n')
        variables = parse_shell_vars(text)
        assert variables.get('BUILD_EXCLUSIVE_KERNEL') is UNKNOWN
        assert variables.get('X') is UNKNOWN

    @pytest.mark.parametrize('text', [
        'test -n "$kernelver" && X=y',
        '[ -f /etc/foo ] && X=y',
        '[[ $arch == x86_64 ]] || X=y',
        'grep -q foo bar && X[0]=y',
    ])
    def test_conditional_commands(self, text: str) -> None:
        assert value('X=before\n' + text, 'X') is UNKNOWN

    @pytest.mark.parametrize('text', [
        'source /etc/dkms/common',
        'eval "$(cat defaults)"',
        'set -a',
        'read $name < file',
    ])
    def test_opaque_commands(self, text: str) -> None:
        variables = parse_shell_vars(text + '\nAFTER=yes\n')
        assert variables.opaque
        assert variables.get('NEVER_ASSIGNED') is UNKNOWN
        assert variables.get_array('NEVER_ASSIGNED') is UNKNOWN
        assert variables.get('AFTER') == 'yes'

    @pytest.mark.parametrize(('text', 'expected'), [
        ('X=$(cat <<EOF\nx\nEOF)\n', UNKNOWN),              # bash ends the here-document at "EOF)"
        ('do-build() { make; }\n', None),                     # a function's name need not be an identifier
        ('X=1 fi\n', None),                                   # after an assignment, fi is a command's name
        ('declare -u X=foo\n', UNKNOWN),                      # bash makes it FOO
        ('X=$(echo ${a b})\n', UNKNOWN),                      # the error ends the substitution's subshell alone
    ])
    def test_what_bash_reads_on_after(self, text: str, expected: Any) -> None:
        variables = parse_shell_vars('A=p\n' + text + 'C=1\n')
        assert (variables.get('X'), variables.get('C')) == (expected, '1')

    @pytest.mark.parametrize(('text', 'stops'), [
        ('X=\n: ${X:?}\n', True),            # empty: bash stops with its message
        ('X=\n: ${X?}\n', False),            # empty is set
        (': ${NEVER_SET?}\n', True),          # unset, or the environment's: it may stop
        ('X=1\n: ${X:?}\n', False),
    ])
    def test_a_required_parameter(self, text: str, stops: bool) -> None:
        variables = parse_shell_vars(text + 'C=1\n')
        assert variables.opaque is stops and (variables.get('C') is UNKNOWN) is stops

    def test_a_bad_substitution_stops_bash(self) -> None:
        variables = parse_shell_vars('A=p\nX=${a b}\nC=1\n')
        assert variables.opaque and variables.get('C') is UNKNOWN
        assert not parse_shell_vars('A=${x%%-*}${#y[@]}${!z*}${v:-a b}${w/a/b}${u^^}${t[1]:2}${10}${#}\n').opaque

    @pytest.mark.parametrize('text', ['B=1 )', ';;', 'B="a")"'])
    def test_a_stray_closer_is_a_syntax_error(self, text: str) -> None:
        # bash ran the lines before, and runs nothing of this one or after it.
        variables = parse_shell_vars('A=p\n' + text + '\nC=1\n')
        assert (variables.get('A'), variables.get('B'), variables.get('C')) == ('p', None, None)

    @pytest.mark.parametrize(('text', 'expected'), [
        ('X=(!(zzz))', UNKNOWN),            # an extglob as a word: what it matches in the working directory
        ('X=("@(a)" b)', {0: '@(a)', 1: 'b'}),
        ('X=a\n: @(x #)\nX=b', {0: 'b'}),   # no comment inside an extglob
    ])
    def test_extglob_words(self, text: str, expected: Any) -> None:
        assert array(text, 'X') == expected

    @pytest.mark.parametrize(('text', 'told'), [
        ('readonly A=1\nA=2\nB=1\n', False),           # bash stops at the assignment, a subshell with it
        ('declare -r A=1\nA=2\n', False),
        ('if x; then readonly A; fi\nA=2\n', False),
        ('readonly $name\nA=2\n', False),
        ('readonly A=1\nB=1\n', True),
        ('readonly -f A\nA=2\nB=1\n', True),          # -f: functions
        ('f() { readonly A; A=1; }\nA=2\nB=1\n', True),  # never called
        ('( readonly A; A=1 )\nA=2\nB=1\n', True),     # the subshell stops, not the file
        ('X=$(readonly A; A=1)\nA=2\nB=1\n', True),
        ('B=1\nUID=0\n', False),                      # bash's own
        ('readonly A=1\nunset A\nB=1\n', True),        # unset fails, and bash goes on
        ('readonly A=1\n: ${A:=2}\nB=1\n', True),
        ('f() { readonly A=1; }\nf\nA=2\nB=1\n', False),     # readonly in a function is everywhere, once called
        ('f() { declare -r A=1; }\nf\nA=2\nB=1\n', True),    # declare -r alone makes a local
        ('g() { readonly A; }\nf() { g; }\nf\nA=2\nB=1\n', False),
    ])
    def test_assigning_a_readonly_variable(self, text: str, told: bool) -> None:
        variables = parse_shell_vars(text)
        assert (variables.get('B') is not UNKNOWN) is told and variables.opaque is not told

    @pytest.mark.parametrize('text', ['unset X', 'read X </dev/null'])
    def test_a_readonly_name_not_told(self, text: str) -> None:
        # X may be the readonly one, or not: whether the command changes it is not known.
        assert value('X=1\nreadonly $y\n' + text + '\n', 'X') is UNKNOWN

    def test_the_callers_readonly_variables(self) -> None:
        variables = parse_shell_vars('A=1\nexport_envs=x\nB=1\n', readonly=['export_envs'])
        assert variables.opaque and variables.get('B') is UNKNOWN
        assert parse_shell_vars('A=1\nexport_envs=x\n').get('A') == '1'

    @pytest.mark.parametrize(('text', 'changed'), [
        ('read X < file', ['X']),
        ('read -r < file', ['REPLY']),
        ('read -p "name? " -t 5 X Y', ['X', 'Y']),
        ('read -ra X <<< "a b"', ['X']),
        ('read -d "" -- X', ['X']),
        ('while read -r X; do :; done < <(ls)', ['X']),
    ])
    def test_read_changes_the_variables_it_names(self, text: str, changed: list[str]) -> None:
        names = ['X', 'Y', 'REPLY', 'KEPT']
        variables = parse_shell_vars(''.join('%s=1\n' % name for name in names) + text + '\n')
        assert not variables.opaque
        assert [name for name in names if variables.get(name) is UNKNOWN] == changed

    @pytest.mark.parametrize('text', ['. ./common.conf', '.\tcommon.conf'])
    def test_dot_command_is_opaque(self, text: str) -> None:
        variables = parse_shell_vars(text)
        assert variables.opaque
        assert variables.get('NEVER_ASSIGNED') is UNKNOWN

    def test_source_the_caller_reads_as_data(self) -> None:
        def source(raw: str) -> Any:
            return {'/known': {'CONFIG_A': 'y'}, '/prefix': 'CONFIG_'}.get(raw)

        text = 'CONFIG_B=before\nX=1\n. /known\nA="$CONFIG_A"\n. /prefix\nB="$CONFIG_A"\nC=$CONFIG_B\n'
        variables = parse_shell_vars(text, source=source)
        assert (variables.get('A'), variables.get('X'), variables.opaque) == ('y', '1', False)
        assert variables.get('B') is UNKNOWN and variables.get('C') is UNKNOWN
        assert parse_shell_vars('X=1\n. /other\n', source=source).get('X') is UNKNOWN

    def test_fresh_reader_is_not_opaque(self) -> None:
        variables = ShellVars()
        assert not variables.opaque
        assert variables.get('X') is None

    def test_opaque_command_after_assignment(self) -> None:
        assert value('X=1\neval "X=2"\n', 'X') is UNKNOWN

    @pytest.mark.parametrize('text', ['A=1; B=2', 'A=1 B=2', 'A=1 && B=2', 'A=1;B=2;', 'true; B=2'])
    def test_second_assignment_on_a_line(self, text: str) -> None:
        assert value(text, 'B') == '2'

    @pytest.mark.parametrize('text', ['test -n "$x" && B=2', '[ -f x ] || B=2', 'A=$(cmd) && B=2'])
    def test_assignment_after_and_or(self, text: str) -> None:
        assert value(text, 'B') is UNKNOWN

    @pytest.mark.parametrize('text', ['false && B=2', 'true || B=2', 'A=1 && false && B=2', 'A=1 || B=2'])
    def test_assignment_that_never_runs(self, text: str) -> None:
        assert value(text, 'B') is None

    def test_comment_ending_in_backslash(self) -> None:
        assert value('# see C:\\\nX=1\n', 'X') == '1'

    @pytest.mark.parametrize('text', ['readonly X=1', 'typeset X=1'])
    def test_other_declaration_builtins(self, text: str) -> None:
        assert value(text, 'X') == '1'

    @pytest.mark.parametrize('text', ['declare -A X=([a]=1)', 'declare -i X=1+1', 'declare -n X=Y'])
    def test_declarations_not_followed(self, text: str) -> None:
        assert value(text, 'X') is UNKNOWN


HOSTILE_CONF = '''\
PACKAGE_NAME="canary"
PACKAGE_VERSION="1.0"
BUILT_MODULE_NAME[0]="$(touch {canary})"
DEST_MODULE_NAME[0]=`touch {canary}`
MAKE[0]="make; touch {canary}"
AUTOINSTALL=$(touch {canary}; echo yes)
pre_build() {{
    touch {canary}
    BUILT_MODULE_NAME[1]=evil
}}
pre_build
eval "touch {canary}"
touch {canary} && CLEAN=yes
'''


class TestNothingRuns:
    def test_canary_parse(self, tmp_path: Path) -> None:
        canary = tmp_path / 'CANARY'
        variables = parse_shell_vars(HOSTILE_CONF.format(canary=canary))
        assert not canary.exists()
        # The eval near the end may change anything assigned before it.
        assert variables.opaque
        for name in ('PACKAGE_NAME', 'MAKE', 'BUILT_MODULE_NAME', 'DEST_MODULE_NAME', 'AUTOINSTALL', 'CLEAN'):
            assert variables.get(name) is UNKNOWN, name

    def test_canary_parse_before_any_eval(self, tmp_path: Path) -> None:
        canary = tmp_path / 'CANARY'
        text = HOSTILE_CONF.format(canary=canary).split('eval')[0]
        variables = parse_shell_vars(text)
        assert not canary.exists()
        assert variables.get('PACKAGE_NAME') == 'canary'
        assert variables.get('MAKE') == 'make; touch %s' % canary
        for name in ('BUILT_MODULE_NAME', 'DEST_MODULE_NAME', 'AUTOINSTALL'):
            assert variables.get(name) is UNKNOWN, name

    def test_canary_through_the_dkms_tree(self, tmp_path: Path) -> None:
        canary = tmp_path / 'CANARY'
        root = tmp_path / 'root'
        source = root / 'usr/src/canary-1.0'
        source.mkdir(parents=True)
        (source / 'dkms.conf').write_text(HOSTILE_CONF.format(canary=canary).replace('\n', '\r\n'))
        (root / 'var/lib/dkms/canary/1.0').mkdir(parents=True)
        os.symlink('/usr/src/canary-1.0', root / 'var/lib/dkms/canary/1.0/source')
        warnings: list[str] = []
        package = read_package(RootFS(str(root)), warnings.append, '/var/lib/dkms', 'canary')
        assert not canary.exists()
        conf = package.versions['1.0'].conf
        assert conf.autoinstall is None
        assert conf.dest_module_names() is None
        assert warnings == []


SHELL_TOKENS = st.sampled_from([
    'X', 'Y', 'A_1', '=', '+=', '[', ']', '[0]', '[1]', '(', ')', '{', '}', '"', "'", '`', '$', '${', '$(',
    '\\', ';', ';;', '&&', '||', '|', '&', '#', ' ', '\t', '\n', '\r\n', '\r', '\ufeff', 'if', 'then', 'fi',
    'case', 'esac', 'in', 'for', 'do', 'done', 'function', 'export ', 'declare -a ', 'source', '. ', 'eval',
    'é', '*', '~', '0', '10', 'yes',
])


def calls_to_read(text: str) -> int:
    """How many Python and C function calls reading ``text`` takes."""
    calls = [0]

    def count(frame: Any, event: str, arg: Any) -> None:
        if event in ('call', 'c_call'):
            calls[0] += 1

    sys.setprofile(count)
    try:
        parse_shell_vars(text)
    finally:
        sys.setprofile(None)
    return calls[0]


class TestProperties:
    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(st.text())
    @example('X=(')
    @example('X[')
    @example('\\')
    @example('"\\')
    def test_arbitrary_text_never_raises(self, text: str) -> None:
        variables = parse_shell_vars(text)
        assert isinstance(variables.opaque, bool)

    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(st.lists(SHELL_TOKENS, max_size=40).map(''.join))
    def test_shell_shaped_text_never_raises(self, text: str) -> None:
        variables = parse_shell_vars(text, {'PACKAGE_NAME': 'p'})
        for name in ('X', 'Y', 'A_1'):
            scalar = variables.get(name)
            assert scalar is None or scalar is UNKNOWN or isinstance(scalar, str)
            elements = variables.get_array(name)
            assert elements is None or elements is UNKNOWN or isinstance(elements, dict)

    @settings(max_examples=60, deadline=None, derandomize=True)
    @given(st.lists(SHELL_TOKENS, min_size=1, max_size=12).map(''.join))
    @example('a[')
    @example('$(')
    @example('((')
    @example('{ ')
    @example('if ')
    @example('X=(')
    @example('"$(')
    @example('${')
    @example('X=a\n')
    @example('f() { X=1; }\nf\n')
    @example('cat <<E\n')
    def test_linear_in_the_size_of_the_text(self, unit: str) -> None:
        # Work counted as function calls (no clock): twice the text, at most about twice the calls.
        small, large = calls_to_read(unit * 300), calls_to_read(unit * 600)
        assert large <= 2.2 * small + 200, (small, large)

    def test_unicode_digit_index(self) -> None:
        assert parse_shell_vars('X[\u00b2]=a').get_array('X') in (None, UNKNOWN, {})


LINE_TOKENS = st.sampled_from([
    'X', 'A_1', '_', '1X', '=', '+=', '[0]', '[1]', '[07]', '[10]', '[ 1 ]', '[1234567890]', '"', "'", 'a b',
    'yes', '-x', './y', 'a:b', '%@,+', '~', '*', '$X', '${X}', '`', '\\', '\\\n', '#', ' # c', ' ', '\t', '\n',
    '\r', '\r\n', 'é', '\ufeff', '\f', ';', '(', ')', 'if ', 'export ', 'unset X',
])
# An assignment line, then anything: most texts stay within what the literal read takes.
LITERAL_LINES = st.lists(st.tuples(st.sampled_from(['X', 'A_1', 'B']), st.sampled_from(['', '[0]', '[2]']),
                                   st.sampled_from(['"a b"', "'$x \"y'", 'v', '', '"é\\t"']),
                                   st.sampled_from(['', ' ', ' # note', '\t#']))
                         .map(lambda parts: '%s%s=%s%s' % parts)
                         | st.sampled_from(['', '  ', '# comment \\', '\t# x'])
                         | st.lists(LINE_TOKENS, max_size=6).map(''.join), max_size=8).map('\n'.join)


def parser_state(text: str, preset: dict[str, Any] | None = None, literal_read: bool = False) -> Any:
    """The variables' whole state after the parser (or the literal read) has read ``text``."""
    variables = ShellVars(preset, unset=['X', 'B'])
    if literal_read:
        assert read_literal_assignments(text, variables)
    else:
        _Parser(text, variables, None).run()
    return variables.scalars, variables.arrays, variables.settled, variables.opaque


def test_assigned_names_are_those_with_a_value() -> None:
    variables = parse_shell_vars('A=1\nunset B\nC[2]=x\nD=$(date)', {'P': 'p', 'B': 'b'}, unset=['E'])
    assert variables.assigned() == {'A', 'C', 'D', 'P'}
    assert all((variables.get_array(name) is not None) == (name in variables.assigned()) for name in 'ABCDEP')
    assert parse_shell_vars('A=1\neval "$X"').assigned() is None


class TestLiteralLines:
    """Texts of literal assignment lines skip the parser: exactly what the parser makes of them."""

    @settings(max_examples=400, deadline=None, derandomize=True)
    @given(LITERAL_LINES, st.sampled_from([None, {'X': {0: 'p', 3: 'q'}}, {'A_1': 'old'}]))
    @example('X="a"\r\nB=1', None)
    @example('X[010]=a', None)
    @example('X=~', None)
    @example('X=a#b', None)
    def test_same_as_the_parser(self, text: str, preset: Any) -> None:
        if _literal_assignments(text) is not None:
            assert parser_state(text, preset, literal_read=True) == parser_state(text, preset)

    @pytest.mark.parametrize('case', [case for case in CASES if _literal_assignments(case['text']) is not None],
                             ids=lambda case: case['name'])
    def test_corpus_files_read_alike(self, case: dict[str, Any]) -> None:
        assert parser_state(case['text'], literal_read=True) == parser_state(case['text'])

    @pytest.mark.parametrize('text', ['X="a $b"', 'X=a\\ b', 'X=$(date)', 'X[ 1 ]=a', 'X=(a b)', 'X+=a',
                                      'X="a"\r', 'X="a', 'X=a; Y=b', 'X=~/a', 'X[08]=a'])
    def test_anything_more_goes_to_the_parser(self, text: str) -> None:
        assert _literal_assignments(text) is None
