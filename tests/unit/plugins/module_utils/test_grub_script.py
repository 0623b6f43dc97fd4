# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""GRUB script's lexer and grammar, against grub-common's grub-script-check (GRUB's own parser)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.kabi.dkms.plugins.module_utils._grub_script import (
    MAX_COMMANDS,
    MAX_DEPTH,
    MAX_LINE,
    MAX_WORDS,
    Unreadable,
    decoded,
    has_unquoted_variable,
    line_words,
    lone_variable,
    read_script,
)
from ansible_collections.kabi.dkms.tests.unit.grub_fixtures import grub_script_check


class Events:
    """A reading that keeps what the grammar tells it, in order."""

    def __init__(self) -> None:
        self.seen: list[tuple] = []

    def command(self, words: list[str]) -> None:
        self.seen.append(('command', *words))

    def keyword(self, word: str) -> None:
        self.seen.append(('keyword', word))

    def loop(self, name: str, words: list[str]) -> None:
        self.seen.append(('loop', name, *words))

    def open_block(self, words: list[str]) -> None:
        self.seen.append(('block', *words))

    def open_function(self, name: str) -> None:
        self.seen.append(('function', name))

    def close(self) -> None:
        self.seen.append(('close',))

    def finish(self) -> None:
        self.seen.append(('finish',))


def events(text: str) -> list[tuple]:
    reading = Events()
    read_script(text, reading)
    return reading.seen


def test_what_the_grammar_tells_of_a_menu() -> None:
    text = ('set default="0"  # a comment\n'
            'if [ "${next_entry}" ] ; then\n   set default="${next_entry}"\nfi\n'
            "function savedefault {\n  save_env saved_entry\n}\n"
            "menuentry 'Debian GNU/Linux' --class debian $menuentry_id_option 'gnulinux-simple' {\n"
            "\tlinux\t/boot/vmlinuz-6.1.0-18-amd64 root=UUID=x ro quiet\n}\n"
            'for f in a "b c"; do echo $f; done\n')
    assert events(text) == [
        ('command', 'set', 'default="0"'),
        ('keyword', 'if'), ('command', '[', '"${next_entry}"', ']'), ('keyword', 'then'),
        ('command', 'set', 'default="${next_entry}"'), ('keyword', 'fi'),
        ('function', 'savedefault'), ('command', 'save_env', 'saved_entry'), ('close',),
        ('block', 'menuentry', "'Debian GNU/Linux'", '--class', 'debian', '$menuentry_id_option', "'gnulinux-simple'"),
        ('command', 'linux', '/boot/vmlinuz-6.1.0-18-amd64', 'root=UUID=x', 'ro', 'quiet'), ('close',),
        ('loop', 'f', 'a', '"b c"'), ('keyword', 'do'), ('command', 'echo', '$f'), ('keyword', 'done'),
        ('finish',),
    ]


@pytest.mark.parametrize('script', [
    'set default=1; fi\n',                                      # a stray fi: GRUB skips the whole line
    'if true; set default=1; fi\n',                             # no then
    'if true; then set default=1; else true; else true; fi\n',
    'if true; then function f { true; }; fi\n',                 # functions only at the top level
    'if true; then\nfi\n',                                      # an empty branch
    "menuentry 'x' {\n}\n",                                     # an empty body
    'set default=1 | true\n',
    '; set default=1\n',
    'function f;\n{\n  true\n}\n',                            # newlines may come before its body, not a ;
    'echo [[\n',
    'echo $\n',
    "echo 'open\n",
])
def test_what_grub_refuses_to_parse(tmp_path: Path, script: str) -> None:
    assert not grub_script_check(script + 'echo\n', tmp_path)
    with pytest.raises(Unreadable):
        events(script)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.sampled_from(['if', 'then', 'else', 'elif', 'fi', 'for x in a', 'while', 'do', 'done',
                                           'function f', '{', '}', 'echo', 'true', '[ "$x" ]', "menuentry 'a'",
                                           'linux /a', 'set default=1', '"q"', '$x', '#c', '|', '[[', 'in', 'x=1']),
                          st.sampled_from([' ', '\n', ';', '', '; '])),
                min_size=1, max_size=16).map(lambda parts: ''.join(piece + gap for piece, gap in parts)))
def test_what_grub_refuses_is_never_read(tmp_path_factory: pytest.TempPathFactory, script: str) -> None:
    script += '\necho\n'     # grub-script-check refuses a file of no command at all, which GRUB runs
    if not grub_script_check(script, tmp_path_factory.mktemp('check')):
        with pytest.raises(Unreadable):
            events(script)


@pytest.mark.parametrize(('text', 'reason'), [
    ('#' * (MAX_LINE + 1) + '\n', 'a line of more than %d characters' % MAX_LINE),
    ('echo a\n' * (MAX_COMMANDS + 1), 'more than %d commands' % MAX_COMMANDS),
    ('if true; then\n' * (MAX_DEPTH + 1), 'blocks nested more than %d deep' % MAX_DEPTH),
    ('echo ' + 'a ' * MAX_WORDS + '\n', 'a command of more than %d words' % MAX_WORDS),
    ('echo ' + '"a" ' * MAX_WORDS + '\n', 'a command of more than %d words' % MAX_WORDS),
    ('fi\r\n', 'carriage returns or NUL characters, which GRUB reads otherwise'),
])
def test_reading_stops_at_what_no_generated_grub_cfg_has(text: str, reason: str) -> None:
    with pytest.raises(Unreadable, match=reason):
        events(text)


def test_words_as_written_and_their_text() -> None:
    assert decoded("'It'\\''s'") == ("It's", True)
    assert decoded('"q\\"$x\\$"\\{') == ('q"$x${', False)
    assert decoded("'$x'\\$y") == ('$x$y', True)
    assert decoded('a*b') == ('a*b', False)     # GRUB expands * against the files there
    assert lone_variable('"${kernelopts}"') == ('kernelopts', True)
    assert lone_variable('$x') == ('x', False)
    assert lone_variable('a$x') is None
    assert has_unquoted_variable('a$x"b"') and has_unquoted_variable('${x}')
    assert not has_unquoted_variable('a"$x"') and not has_unquoted_variable("'$x'") and not has_unquoted_variable('\\$x')


def test_the_words_of_a_line() -> None:
    assert line_words("\tlinux\t/vmlinuz-1 root=/dev/sda1 ro  # quiet") == ['linux', '/vmlinuz-1', 'root=/dev/sda1', 'ro']
    assert line_words('linux /vmlinuz-1 $kernelopts; echo') == ['linux', '/vmlinuz-1', '$kernelopts']
    assert line_words("linux /vmlinuz-1 'open") is None
    assert line_words('linux /vmlinuz-1 | true') is None
