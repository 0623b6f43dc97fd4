# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.kabi.dkms.plugins.module_utils._grub_menu import (
    GRUBENV_SIGNATURE,
    UNKNOWN,
    GrubMenu,
    _grub_number,
    _split_path,
    bls_default_value,
    boot_variable_values,
    red_hat_entry_index,
    parse_grub_menu,
    parse_grubenv,
)
from ansible_collections.kabi.dkms.tests.unit.grub_fixtures import UUID, debian_grub_cfg, grub_script_check

NEWEST, MIDDLE, OLDEST = '6.1.0-18-amd64', '6.1.0-17-amd64', '6.1.0-13-amd64'
ADVANCED = 'Advanced options for Debian GNU/Linux'


def default_image(menu: GrubMenu, value: str | None, red_hat_too: bool = False) -> tuple:
    """(image, certain) of the entry GRUB starts when ``default`` is ``value``."""
    entry, certain = menu.default_entry(value, red_hat_too)
    return (entry.image, True) if certain else (None, False)


def title(release: str) -> str:
    return 'Debian GNU/Linux, with Linux %s' % release


def entry_id(release: str) -> str:
    return 'gnulinux-%s-advanced-%s' % (release, UUID)


@pytest.fixture(scope='module')
def saved_menu(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Debian's grub.cfg for three kernels with GRUB_DEFAULT=saved."""
    return debian_grub_cfg(tmp_path_factory.mktemp('grub'), (OLDEST, MIDDLE, NEWEST), 'saved')


@pytest.mark.parametrize(('value', 'release'), [
    (None, NEWEST),                                       # nothing set: the first entry
    ('0', NEWEST),
    ('1', NEWEST),                                        # the submenu, and its first entry
    ('1>2', MIDDLE),                                      # its entries: newest, its recovery, the next...
    ('1>4', OLDEST),
    ('%s>%s' % (ADVANCED, title(MIDDLE)), MIDDLE),        # what grub-set-default takes
    ('gnulinux-advanced-%s>%s' % (UUID, entry_id(OLDEST)), OLDEST),
    ('1>%s' % title(OLDEST), OLDEST),                     # a number, then a title
    ('0x1>02', MIDDLE),                                   # GRUB's strtoul: hexadecimal, octal
    (title(OLDEST), NEWEST),                              # a nested entry's title alone names nothing
    ('9', NEWEST),                                        # past the last entry: the first
    ('1>9', NEWEST),
    ('no such entry', NEWEST),
])
def test_the_entry_each_default_starts(saved_menu: str, value: str | None, release: str) -> None:
    # /boot is a file system of its own here: GRUB reads the images at its top.
    assert default_image(parse_grub_menu(saved_menu), value) == ('/vmlinuz-%s' % release, True)


def files(grubenv: str = 'present', custom: str | None = 'missing'):
    """prefix_file of GRUB's directory: its grubenv, and Debian's custom.cfg."""
    return {'grubenv': grubenv, 'custom.cfg': custom}.get


def test_saved_and_next_entry(saved_menu: str) -> None:
    menu = parse_grub_menu(saved_menu)
    assert menu.default_value({'saved_entry': '1>2'}, files()) == ('1>2', True, True)
    # A one-shot grub-reboot comes first.
    assert menu.default_value({'saved_entry': '1>2', 'next_entry': '1>4'}, files()) == ('1>4', True, True)
    # Nothing saved: the empty value, which names no entry.
    assert menu.default_value({}, files()) == ('', False, True)
    # No environment block: GRUB never loads it.
    assert menu.default_value({'saved_entry': '1>2'}, files(grubenv='missing')) == ('', False, True)
    # Debian's custom.cfg, sourced at the end, may add entries and set the default.
    assert menu.default_value({'saved_entry': '1>2'}, files(custom='present'))[2] is False
    assert menu.default_value({'saved_entry': '1>2'}, files(custom=None))[2] is False


@pytest.mark.parametrize(('grub_default', 'expected'), [('0', '0'), ('1>2', '1>2'), (title(NEWEST), title(NEWEST))])
def test_a_default_written_into_grub_cfg(tmp_path: Path, grub_default: str, expected: str) -> None:
    menu = parse_grub_menu(debian_grub_cfg(tmp_path, (OLDEST, NEWEST), grub_default))
    assert menu.default_value({'saved_entry': '0'}, files()) == (expected, False, True)


# 00_header's $menuentry_id_option.
ID_OPTION = '''if [ x"${feature_menuentry_id}" = xy ]; then
  menuentry_id_option="--id"
else
  menuentry_id_option=""
fi
export menuentry_id_option
'''
CONDITIONAL = ID_OPTION + '''set default="%s"
if [ "$grub_platform" = "efi" ]; then
  menuentry 'UEFI Firmware Settings' $menuentry_id_option 'uefi-firmware' {
    fwsetup
  }
fi
menuentry 'Linux 1' $menuentry_id_option 'one' {
  linux /boot/vmlinuz-1 root=/dev/sda1
}
menuentry "Linux $version" {
  linux /boot/vmlinuz-2
}
menuentry 'Linux 3' --id three {
  linux /boot/vmlinuz-3
}
'''


@pytest.mark.parametrize(('value', 'expected'), [
    ('1', (None, False)),                       # counted past an entry that may be missing
    ('one', ('/boot/vmlinuz-1', True)),         # named: the entry before it is not that one
    ('Linux 1', ('/boot/vmlinuz-1', True)),
    ('uefi-firmware', (None, False)),           # may be missing
    ('three', (None, False)),                   # an entry before it has a title GRUB expands
    ('nothing', (None, False)),                 # "Linux $version" may be that
])
def test_entries_that_may_be_missing_or_named_otherwise(value: str, expected: tuple) -> None:
    assert default_image(parse_grub_menu(CONDITIONAL % value), value) == expected


@pytest.mark.parametrize(('config', 'expected'), [
    ('set default=0\nset default=1\n', ('1', False, True)),          # in order: the last one
    ('default=2\nunset default\n', (None, False, True)),
    ('set "default=3"\n', ('3', False, True)),
    ('load_env\nset saved_entry=4\nset default="${saved_entry}"\n', ('4', False, True)),
    ('load_env\nset default="${saved_entry}"\nset saved_entry=4\n', ('5', True, True)),
    ('set default="${chosen_one}"\n', (None, False, False)),         # a variable the reading does not follow
    ('if [ x$a = xy ]; then set default=1; fi\n', (None, False, False)),
    ('if [ "${saved_entry}" ]; then set default=1; else set default=2; fi\n', ('2', False, True)),
    ('load_env\nif [ -z "$saved_entry" ]; then default=1; elif [ x$a = y ]; then default=2; fi\n', (None, False, False)),
    ('load_env\nif [ -z "$saved_entry" ]; then default=1; elif [ x = y ]; then default=2; fi\n', (None, False, True)),
    ('load_env\nif [ "$saved_entry" ]; then default=1; elif [ x = y ]; then default=2; else default=3; fi\n',
     ('1', False, True)),
    ('load_env -f /other/grubenv\nset default="${saved_entry}"\n', (None, False, False)),
    ('regexp --set=default "(1)" 1\n', (None, False, False)),
    ('source /boot/grub/more.cfg\n', (None, False, False)),
    # A function sets the default only when it is called, as savedefault sets saved_entry from an entry.
    ('function f {\n  set default=7\n}\ndefault=0\n', ('0', False, True)),
    ('function f { set default=7; }\ndefault=0\nf\n', (None, False, False)),
])
def test_what_the_top_level_does_to_the_default(config: str, expected: tuple) -> None:
    menu = parse_grub_menu(config + "set x=y\nmenuentry 'a' {\n  linux /boot/vmlinuz-1\n}\n")
    assert menu.default_value({'saved_entry': '5'}, files()) == expected


ENTRY_B = "menuentry 'B' {\n  linux /vmlinuz-B\n}\n"


@pytest.mark.parametrize('config', [
    "menuentry 'A' \\\n  --class x {\n  linux /vmlinuz-A\n}\n",  # a line that runs on
    "menuentry 'A\nx' {\n  linux /vmlinuz-A\n}\n",                 # a title over two lines
    "echo 'x\nmenuentry \"F\" {\n}\n'\n",                         # an entry inside a quoted text
    "menuentry 'A' --id '-x' {\n  linux /vmlinuz-A\n}\n",          # options GRUB refuses
    "menuentry 'A' --id {\n  linux /vmlinuz-A\n}\n",
    "menuentry --class x {\n  linux /vmlinuz-A\n}\n",
    "menuentry 'A' --usage {\n  linux /vmlinuz-A\n}\n",
    "submenu 'S' {\n  set default=1\n" + ENTRY_B + "}\n",        # a submenu that changes the default
])
def test_menus_the_reading_cannot_follow(config: str) -> None:
    menu = parse_grub_menu('set default=1\n' + config + ENTRY_B)
    assert menu.reason and default_image(menu, '1') == (None, False)


def test_what_a_linux_command_loads() -> None:
    # The last one run counts; one inside a condition may or may not run.
    menu = parse_grub_menu("menuentry 'A' {\n  linux /a\n  linux /b root=x\n}\n"
                           "menuentry 'B' {\n  if [ x ]; then linux /c; else linux /d; fi\n}\n")
    assert default_image(menu, '0') == ('/b', True) and default_image(menu, '1') == (None, False)
    menu = parse_grub_menu("menuentry 'A' --id=a {\n  linux /a\n}\nmenuentry 'It'\\''s \"B\"' {\n  linux /b\n}\n")
    assert default_image(menu, 'a') == ('/a', True) and default_image(menu, 'It\'s "B"') == ('/b', True)


def test_red_hat_reads_the_value_otherwise() -> None:
    # Red Hat's GRUB tries ids before titles and takes a number only whole.
    menu = parse_grub_menu("menuentry 'x' --id a {\n  linux /a\n}\nmenuentry 'y' --id x {\n  linux /b\n}\n")
    assert default_image(menu, 'x') == ('/a', True)
    assert default_image(menu, 'x', red_hat_too=True) == (None, False)
    assert default_image(menu, '1', red_hat_too=True) == ('/b', True)
    assert default_image(menu, '1a', red_hat_too=True) == (None, False)
    # An entry without an id goes by its title there too; one with an empty id does not.
    menu = parse_grub_menu("menuentry 'x' {\n  linux /a\n}\nmenuentry 'y' --id x {\n  linux /b\n}\n")
    assert default_image(menu, 'x', red_hat_too=True) == ('/a', True)
    menu = parse_grub_menu("menuentry 'x' --id '' {\n  linux /a\n}\nmenuentry 'y' --id x {\n  linux /b\n}\n")
    assert default_image(menu, 'x', red_hat_too=True) == (None, False)


def test_a_value_of_bytes_that_are_no_utf8_names_no_entry_for_sure() -> None:
    # Both read as U+FFFD; GRUB compares the bytes (b'\xfe' and b'\xff', say).
    menu = parse_grub_menu("menuentry 'A \ufffd' {\n  linux /a\n}\nmenuentry 'B' {\n  linux /b\n}\n")
    assert default_image(menu, 'A \ufffd') == (None, False)
    assert red_hat_entry_index('A \ufffd', [('A \ufffd', 'A \ufffd')]) is UNKNOWN


NAMES = [('id-a', 'Title A'), ('id-b', 'Title B'), ('c', 'c'), ('a>b', 'T>d')]


# menu.c's get_entry_number as Red Hat's GRUB has it (rhboot/grub2, rhel-8 and rhel-9 branches).
@pytest.mark.parametrize(('value', 'expected'), [
    ('id-b', 1),
    ('id-b>anything', 1),        # a lone > ends the name
    ('id-b rest', None),         # the first word is an id, and something follows it
    ('Title B', 1),
    ('Title B>x', 1),
    ('Title', None),
    ('a>>b', 3),                 # >> is >
    ('T>>d', 3),
    ('1', 1), (' 1', 1), ('0x1', 1), ('01', 1), ('010', None), ('08', None),   # 010 is 8: past the entries
    ('1 ', None), ('1a', None), ('-1', None), ('0x', None), ('', None), ('9', None),
    ('id-a\0x', 0),             # a C string
    ('99999999999', UNKNOWN),
])
def test_the_entry_red_hats_grub_starts(value: str, expected: int | None) -> None:
    assert red_hat_entry_index(value, NAMES) == expected


def test_entries_whose_names_are_not_told() -> None:
    assert red_hat_entry_index('id-a', [('id-a', 'A'), None]) == 0
    assert red_hat_entry_index('B', [('id-a', 'A'), None, ('B', 'B')]) is UNKNOWN
    assert red_hat_entry_index('1', [('id-a', 'A'), None]) is UNKNOWN


def test_no_menu_entry() -> None:
    assert parse_grub_menu('blscfg\n') is None
    assert parse_grub_menu('') is None


@pytest.mark.parametrize(('text', 'number'), [
    ('0', 0), ('12', 12), (' 3', 3), ('3abc', 3), ('010', 8), ('08', 8), ('0x1f', 31), ('0' * 5000 + '7', 7),
    ('abc', None), ('0x', None), ('', None), ('-1', None),
])
def test_numbers_as_grub_reads_them(text: str, number: int | None) -> None:
    assert _grub_number(text) == number


@pytest.mark.parametrize('text', ['2147483648', '4294967297', '1' * 5000])
def test_numbers_where_grubs_part_ways(text: str) -> None:
    # 32-bit GRUBs refuse 2**32 and more, 64-bit ones cut it to an int: not told.
    assert _grub_number(text) is UNKNOWN
    assert default_image(parse_grub_menu("menuentry 'a' {\n  linux /a\n}\n"), text) == (None, False)


def test_paths() -> None:
    assert _split_path('a>>b>c>d') == ('a>b', 'c>d')
    assert _split_path('a>') == ('a', None)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(['menuentry ', 'submenu ', "'a'", '"b', '$x', ' {', '}', '\n', 'if x; then\n', 'fi\n',
                                 'function f {\n', 'linux /boot/vmlinuz-1\n', 'set default=', '1>0', '#', ';', '>']),
                max_size=40).map(''.join),
       st.one_of(st.none(), st.text(alphabet='01>ab x', max_size=6)))
def test_any_text_is_read_without_error(text: str, value: str | None) -> None:
    menu = parse_grub_menu(text)
    if menu is not None:
        image, certain = default_image(menu, value)
        assert image is None or isinstance(image, str)
        menu.default_value({'saved_entry': value})


ENTRIES = "menuentry 'A' {\n  linux /vmlinuz-A\n}\n" + ENTRY_B


@pytest.mark.parametrize('script', [
    'set default=1; fi\n',                                      # a stray fi: GRUB skips the whole line
    'if true; then set default=1; done\n',
    'set default=1 }\n',
    'if true; then true; fi set default=1\n',
])
def test_scripts_grub_does_not_parse(tmp_path: Path, script: str) -> None:
    assert not grub_script_check(script + ENTRIES, tmp_path)
    menu = parse_grub_menu(script + ENTRIES)
    assert menu.reason
    assert menu.default_value({}, files()) == (None, False, False)
    assert default_image(menu, '1') == (None, False)


INITRDFAIL = '''load_env
if [ "${initrdfail}" = 1 ]; then
  set next_entry="${prev_entry}"
fi
if [ "${next_entry}" ]; then set default="${next_entry}"; else set default=0; fi
'''


@pytest.mark.parametrize(('script', 'grubenv', 'expected'), [
    ('if set default=1; then true; fi\n', {}, ('1', False, True)),      # a condition runs
    ('if load_env; then true; fi\nset default="${saved_entry}"\n', {'saved_entry': '5'}, ('5', True, True)),
    ('load_env\nset default=$saved_entry\n', {'saved_entry': '5'}, ('5', True, True)),
    ('load_env\nset default=$saved_entry\n', {'saved_entry': 'a b'}, (None, False, False)),  # GRUB splits it
    ('load_env\nif [ $saved_entry ]; then default=1; fi\n', {'saved_entry': ''}, (None, False, False)),
    ('load_env\nif [ $saved_entry ]; then default=1; fi\n', {'saved_entry': '5'}, ('1', False, True)),
    ('while set default=2; do true; done\n', {}, (None, False, False)),
    ('for default in 1 2; do true; done\n', {}, (None, False, False)),
    ('"set" default=2\n', {}, ('2', False, True)),                      # quotes go before GRUB looks it up
    ('"default"=3\n', {}, ('3', False, True)),
    ('${x}t=1\n', {}, (None, False, False)),                            # a variable names the command
    ('$c default=1\n', {}, (None, False, False)),
    ('set x=1\nset default=$x\n', {}, (None, False, False)),
    ('search --no-floppy --fs-uuid --set=root 0a1b\nset default=1\n', {}, ('1', False, True)),
    ('search --set=default 0a1b\n', {}, (None, False, False)),
    ('regexp --set=$v x y\n', {}, (None, False, False)),
    # Where GRUB's files are: moved, its tests and load_env read another directory.
    ('set prefix=/elsewhere\nif [ -s $prefix/grubenv ]; then load_env; fi\nset default="${saved_entry}"\n',
     {'saved_entry': '5'}, (None, False, False)),
    ('load_env\nif [ -s $prefix/grubenv ]; then load_env; fi\nset default="${saved_entry}"\n',
     {'saved_entry': '5', 'prefix': '/elsewhere'}, (None, False, False)),
    ('if [ -f ${config_directory}/grubenv ]; then load_env -f ${config_directory}/grubenv; fi\n'
     'set default="${saved_entry}"\n', {'saved_entry': '5'}, ('5', True, True)),     # Fedora's 00_header
    ('load_env -f /boot/other/grubenv\nset default="${saved_entry}"\n', {'saved_entry': '5'}, (None, False, False)),
    ('load_env next_entry\nset default="${saved_entry}"\n', {'saved_entry': '5'}, ('', False, True)),
    ('normal /boot/grub/other.cfg\n', {}, (None, False, False)),
    ('extract_entries_source /boot/grub/other.cfg\n', {}, (None, False, False)),
    # A one-shot boot of the entry before an initrd-less boot that failed (Ubuntu's 00_header).
    (INITRDFAIL, {'initrdfail': '1', 'prev_entry': '1'}, ('1', True, True)),
    (INITRDFAIL, {'initrdfail': '2', 'prev_entry': '1'}, ('0', False, True)),
    (INITRDFAIL, {}, ('0', False, True)),
    (INITRDFAIL.replace('= 1', '!= 1'), {'initrdfail': '1', 'prev_entry': '1'}, ('0', False, True)),
    (INITRDFAIL.replace('"${initrdfail}"', '$initrdfail'), {'prev_entry': '1'}, (None, False, False)),
    ('if hwmatch ${prefix}/gfxblacklist.txt 3; then true; fi\nset default=1\n', {}, ('1', False, True)),
    ('fwsetup --is-supported\nset default=1\n', {}, ('1', False, True)),
    ('set default=1\ndecrement default\n', {}, (None, False, False)),
    ('function f { frobnicate; }\nf\n', {}, (None, False, False)),
    ('function f { frobnicate; }\nset default=1\n', {}, ('1', False, True)),       # never called
])
def test_what_commands_and_conditions_do(tmp_path: Path, script: str, grubenv: dict, expected: tuple) -> None:
    assert grub_script_check(script + ENTRIES, tmp_path)
    assert parse_grub_menu(script + ENTRIES).default_value(grubenv, files()) == expected


# Red Hat's 08_fallback_counting, after 00_header's GRUB_DEFAULT=saved.
FALLBACK_COUNTING = ('load_env\nset default="${saved_entry}"\n'
                     'if [ -n "${boot_counter}" -a "${boot_success}" = "0" ]; then\n'
                     '  if  [ "${boot_counter}" = "0" -o "${boot_counter}" = "-1" ]; then\n'
                     '    set default=1\n    set boot_counter=-1\n  else\n    decrement boot_counter\n  fi\n'
                     '  save_env boot_counter\nfi\n')
TEST_AND_OR = 'load_env\nif [ %s ]; then default=1; else default=2; fi\n'


# What each gives, as grub-emu 2.06 runs it.
@pytest.mark.parametrize(('script', 'grubenv', 'expected'), [
    (FALLBACK_COUNTING, {'saved_entry': '5'}, ('5', True, True)),
    (FALLBACK_COUNTING, {'saved_entry': '5', 'boot_counter': '0', 'boot_success': '0'}, ('1', False, True)),
    (FALLBACK_COUNTING, {'saved_entry': '5', 'boot_counter': '-1', 'boot_success': '0'}, ('1', False, True)),
    (FALLBACK_COUNTING, {'saved_entry': '5', 'boot_counter': '1', 'boot_success': '1'}, ('5', True, True)),
    (FALLBACK_COUNTING, {'saved_entry': '5', 'boot_counter': '2', 'boot_success': '0'}, ('5', True, True)),
    (TEST_AND_OR % '"${saved_entry}" = 5 -a x = y', {'saved_entry': '5'}, ('2', False, True)),
    (TEST_AND_OR % '"${saved_entry}" = 6 -o x = x', {'saved_entry': '5'}, ('1', False, True)),
    (TEST_AND_OR % '! "${saved_entry}" = 6', {'saved_entry': '5'}, ('1', False, True)),
    (TEST_AND_OR % '"${saved_entry}" -a ! x', {'saved_entry': '5'}, ('2', False, True)),
    (TEST_AND_OR % 'x = y -o "${saved_entry}" = 5 -a ! ""', {'saved_entry': '5'}, ('1', False, True)),
    # A value that is an operator is read as one: "-n -n", "-z -z", "= = = =".
    (TEST_AND_OR % '"${saved_entry}" "${saved_entry}"', {'saved_entry': '-n'}, ('1', False, True)),
    (TEST_AND_OR % '"${saved_entry}" "${saved_entry}"', {'saved_entry': '-z'}, ('2', False, True)),
    (TEST_AND_OR % '"${saved_entry}" = "=" =', {'saved_entry': '='}, ('1', False, True)),
    (TEST_AND_OR % '! ! x', {}, ('1', False, True)),
    (TEST_AND_OR % '"" -o', {}, ('1', False, True)),
    (TEST_AND_OR % '!', {}, ('1', False, True)),
    # Parentheses group; a ")" ends the test there, the rest unread.
    (TEST_AND_OR % '! ( x = y -o x = x )', {}, ('2', False, True)),
    (TEST_AND_OR % '( x = x ) -a ( y = z )', {}, ('2', False, True)),
    (TEST_AND_OR % ') x = y', {}, ('1', False, True)),
    (TEST_AND_OR % '( ( ( x ) ) )', {}, ('1', False, True)),
    (TEST_AND_OR % '( = )', {}, ('2', False, True)),
    (TEST_AND_OR % '! ( )', {}, ('2', False, True)),
    (TEST_AND_OR % '( -n "" -o x ) -a ! ( "" )', {}, ('1', False, True)),
    (TEST_AND_OR % ' '.join(['('] * 40 + ['x'] + [')'] * 40), {}, (None, False, False)),     # deeper than read
    # What the reading does not decide.
    (TEST_AND_OR % 'x = y -o $a = b', {}, (None, False, False)),
    (TEST_AND_OR % '1 -lt 2', {}, (None, False, False)),
    (TEST_AND_OR % '-e $prefix/grubenv', {}, (None, False, False)),
    (TEST_AND_OR % '-f $prefix/grubenv -o x', {}, (None, False, False)),   # RHEL 7's GRUB stops after -f
])
def test_how_grubs_test_reads_its_arguments(tmp_path: Path, script: str, grubenv: dict, expected: tuple) -> None:
    assert grub_script_check(script + ENTRIES, tmp_path)
    assert parse_grub_menu(script + ENTRIES).default_value(grubenv, files()) == expected


@pytest.mark.parametrize('script', [
    'frobnicate\n',                                             # a command the reading does not know
    'boot\n',                                                   # GRUB may never show the menu
    'if true; then true; elif set default=1; then true; fi\n',
    "menuentry 'A' --unrestricted=x {\n  linux /a\n}\n",        # GRUB refuses these entries
    "menuentry 'A' --frob {\n  linux /a\n}\n",
    "menuentry 'A' -x {\n  linux /a\n}\n",
    "submenu 'S' {\n  for default in 1; do true; done\n" + ENTRY_B + "}\n",
    'set default=1\r\n',                                        # GRUB reads a carriage return as a character
])
def test_scripts_the_reading_cannot_follow(script: str) -> None:
    menu = parse_grub_menu(script + ENTRIES)
    assert menu.reason and menu.default_value({}, files())[2] is False


def test_the_id_option_is_00_headers() -> None:
    entries = "menuentry 'A' $menuentry_id_option 'a' {\n  linux /a\n}\nmenuentry 'B' $menuentry_id_option 'b' {\n  linux /b\n}\n"

    def default(script: str, grubenv: dict | None = None, **files_there: str) -> tuple:
        menu = parse_grub_menu(script + 'set default=b\n')
        value, dummy, certain = menu.default_value(grubenv or {}, {'grubenv': 'present', **files_there}.get)
        return default_image(menu, value) if certain else (None, False)

    assert default(ID_OPTION + entries) == ('/b', True)
    # Without 00_header's assignment it is empty: 'b' is no id, one more argument of the entry.
    assert default(entries) == (None, False)
    assert default(ID_OPTION + 'menuentry_id_option=""\n' + entries) == (None, False)
    # GRUB without menu entry ids, or told it has none, takes the else branch.
    assert default('set feature_menuentry_id=n\n' + ID_OPTION + entries) == (None, False)
    assert default('load_env\n' + ID_OPTION + entries, {'feature_menuentry_id': 'n'}) == (None, False)
    # The environment block may hold the option itself.
    assert default(ID_OPTION + 'load_env\n' + entries, {'menuentry_id_option': ''}) == (None, False)
    assert default(ID_OPTION + 'load_env\n' + entries, {'saved_entry': 'x'}) == ('/b', True)
    # A sourced file (01_users' user.cfg) that is not there changes nothing.
    users = 'if [ -f ${prefix}/user.cfg ]; then\n  source ${prefix}/user.cfg\nfi\n'
    assert default(ID_OPTION + users + entries, **{'user.cfg': 'missing'}) == ('/b', True)
    assert default(ID_OPTION + users + entries, **{'user.cfg': 'present'}) == (None, False)
    assert default(ID_OPTION + "menuentry 'A' --unrestricted $menuentry_id_option 'a' {\n  linux /a\n}\n"
                   + entries.replace("'b'", "'c'")) == ('/a', True)
    # A submenu's entries are read when it is entered, after the whole file, keeping only what
    # is exported.
    submenu = "submenu 'S' $menuentry_id_option s {\n" + entries + "}\n"
    header = ID_OPTION.replace('export menuentry_id_option\n', '')
    assert parse_grub_menu(ID_OPTION + submenu).default_value({}, files())[2] is True
    assert parse_grub_menu(header + submenu).default_value({}, files())[2] is False
    assert parse_grub_menu(ID_OPTION + submenu + 'menuentry_id_option=""\n').default_value({}, files())[2] is False


def test_what_an_entry_body_loads() -> None:
    menu = parse_grub_menu("menuentry 'A' { \"linux\" /a; }\nmenuentry 'B' { $loader /b; }\n"
                           "function boot_it { linux /c; }\nmenuentry 'C' { boot_it; }\n"
                           "menuentry 'D' {\n  linux /d-$version\n}\nmenuentry 'E' {\n  echo\n}\n")
    assert menu.reason is None
    assert [default_image(menu, str(number)) for number in range(5)] == [
        ('/a', True), (None, False), (None, False), (None, False), (None, True)]
    # Entries run after the whole file: a function defined later, or calling one that loads, counts.
    menu = parse_grub_menu("menuentry 'A' {\n  linux /a\n  later\n}\nfunction chain { later; }\n"
                           "menuentry 'B' {\n  linux /b\n  chain\n}\nfunction later { linux /c; }\n"
                           "menuentry 'C' {\n  linux /d\n  for x in 1; do linux /e; done\n}\n")
    assert [default_image(menu, str(number)) for number in range(3)] == [(None, False)] * 3
    assert menu.steps == []


def test_the_environment_block_as_grub_editenv_writes_it(tmp_path: Path) -> None:
    path = str(tmp_path / 'grubenv')
    subprocess.run(['grub-editenv', path, 'create'], check=True)
    subprocess.run(['grub-editenv', path, 'set', 'saved_entry=1>2', 'odd=a\nb\\c=d'], check=True)
    text = Path(path).read_text()
    assert len(text) == 1024 and parse_grubenv(text) == {'saved_entry': '1>2', 'odd': 'a\nb\\c=d'}


@pytest.mark.parametrize(('body', 'expected'), [
    ('a=1\n#x\\\nb=2\nc=3\n', {'a': '1', 'c': '3'}),           # an escaped newline runs a comment on
    ('a=1\nbroken\n', {'a': '1'}),                               # no = ends the reading
    ('a=1\nb=no end', {'a': '1'}),
    ('a=x\0y\n', {'a': 'x'}),
])
def test_the_environment_block_the_way_load_env_reads_it(body: str, expected: dict) -> None:
    assert parse_grubenv(GRUBENV_SIGNATURE + body) == expected
    assert parse_grubenv(body) == {}                             # no signature: GRUB refuses the file


@pytest.mark.parametrize(('text', 'reason'), [
    ('#' * 70000 + '\n', 'a line of more than 65536 characters'),     # the grammar's limits: see test_grub_script
    ("menuentry 'x' {\n  linux /x\n}\n" * 4097, 'more than 4096 menu entries, more than GRUB\'s tools write'),
    ('function f%d { true; }\n' * 257 % tuple(range(257)), 'more than 256 functions defined'),
    ('x' * 5000 + '\n', 'a command the reading does not know: ' + 'x' * 40),
])
def test_reading_stops_early_on_what_no_generated_menu_has(text: str, reason: str) -> None:
    assert parse_grub_menu(text + ENTRIES).reason == reason


P_Q = "menuentry P {\n  linux /p\n}\nmenuentry Q {\n  linux /q\n}\n"


@pytest.mark.parametrize(('script', 'grubenv', 'files_there'), [
    # A function runs as defined when it is called: a callee redefined later counts.
    ('function g { true; }\nfunction f { g; }\nfunction g { set default=1; }\nf\n', {}, {}),
    # GRUB runs a function named like a command the platform lacks (efi_gop is a module).
    ('function efi_gop { set default=1; }\nefi_gop\n', {}, {}),
    ('function play { set default=1; }\nplay\n', {}, {}),
    # save_env rewrites the block that a later load_env reads.
    ('set saved_entry=1\nsave_env saved_entry\nload_env\nset default="${saved_entry}"\n', {'saved_entry': '0'}, {}),
])
def test_what_runs_later_or_elsewhere_is_not_told(tmp_path: Path, script: str, grubenv: dict, files_there: dict) -> None:
    assert grub_script_check(P_Q + script, tmp_path)
    assert parse_grub_menu(P_Q + script).default_value(grubenv, {'grubenv': 'present', **files_there}.get)[2] is False


@pytest.mark.parametrize('script', [
    # A submenu's body runs when it is entered: with the functions defined last.
    "function h {\n  menuentry Z {\n    linux /z\n  }\n}\nsubmenu S {\n  h\n" + P_Q + "}\nset default='S>0'\n",
    "function h { true; }\nsubmenu S {\n  h\n" + P_Q + "}\nfunction h { set default=1; }\n",
    'while true; do true; done\n',                              # GRUB may never show its menu
])
def test_menus_that_change_after_the_reading(script: str) -> None:
    menu = parse_grub_menu(P_Q + script)
    assert menu.reason and menu.default_value({}, files())[2] is False


def test_what_grub_expands_or_boots_first() -> None:
    # Unquoted * and ? match files; an entry that boots stops there.
    menu = parse_grub_menu("menuentry /boot/vmlin* {\n  linux /p\n}\nmenuentry Q {\n  linux /boot/vmlinuz-?\n}\n"
                           "menuentry R {\n  linux '/boot/vmlinuz-?'\n}\nmenuentry S {\n  linux /a\n  boot\n  linux /b\n}\n"
                           "menuentry W {\n  linux /a\n  chainloader +1\n}\nmenuentry X {\n  linux /a\n  reboot\n}\n"
                           "menuentry Y {\n  chainloader +1\n  linux /a\n}\nmenuentry Z {\n  linux /a\n  if x; then boot; fi\n}\n")
    assert menu.reason is None
    assert default_image(menu, '/boot/vmlin*') == (None, False)
    assert [default_image(menu, str(number)) for number in range(1, 8)] == [
        (None, False), ('/boot/vmlinuz-?', True), ('/a', True), (None, True), (None, True), ('/a', True), (None, False)]
    assert parse_grub_menu('set default=0\0;set default=1\n' + P_Q).reason     # GRUB ends a line at a NUL
    # An option's value GRUB splits may hold an option it refuses: the entry may be missing.
    menu = parse_grub_menu("menuentry A --class $c {\n  linux /a\n}\nmenuentry B --class \"$c\" {\n  linux /b\n}\n" + P_Q)
    assert [default_image(menu, str(number)) for number in range(3)] == [(None, False), (None, False), (None, False)]
    menu = parse_grub_menu("menuentry B --class \"x$c\" {\n  linux /b\n}\n" + P_Q)
    assert default_image(menu, '1') == ('/p', True)


def test_an_empty_custom_cfg_changes_nothing(saved_menu: str) -> None:
    menu = parse_grub_menu(saved_menu)
    assert menu.default_value({'saved_entry': '1>2'}, files(custom='empty')) == ('1>2', True, True)


@pytest.mark.parametrize(('script', 'grubenv', 'expected'), [
    ('set x=a\nfunction f { x="b"; }\nmenuentry A { x=c; linux /a $x; }\n', {}, [None, 'a', 'b', 'c']),
    ('for x in a "b"; do true; done\n', {}, [None, 'a', 'b']),
    ('load_env\n', {'x': 'a'}, ['a']),
    ('set x=\n', {}, ['']),
    ('load_env\n', None, None),                                # the environment block cannot be read
    ('echo $x\n', {}, [None]),                                 # never set: unset (GRUB's own are not told)
    ('set x=a\nset x="$y"\n', {}, None),
    ('set x=a\nregexp --set=x a a\n', {}, None),
    ('set x=a\neval "$y"\n', {}, None),
    ('set x=a\nsource ${prefix}/custom.cfg\n', {}, None),
    ('set x=a\nsource ${prefix}/gone.cfg\n', {}, ['a']),
    ('set x=a\nset prefix=/else\nsource ${prefix}/gone.cfg\n', {}, None),
    ('set x=a\nfi\n', {}, None),
    ('set x=a\nload_env -f $prefix/other.env\n', {}, None),      # another block may hold it
    ('set x=a\nload_env -f $prefix/grubenv y\n', {'x': 'b'}, ['a']),    # a whitelist without it
    ('set x=a\nnet_get_dhcp_option x net0 1 string\n', {}, None),  # a command not known here that is given it
    ('set x=a\nfunction f { true; }\nf $y\n', {}, ['a']),       # a function's words are its parameters
    # The top level followed to one value: grub.cfg's own after load_env, or the block's.
    ('load_env\nset x=a\n', {'x': 'b'}, ['a']),
    ('load_env\nif [ -z "$x" ]; then set x=a; fi\n', {'x': 'b'}, ['b']),
    ('load_env\nif [ -z "$x" ]; then set x=a; fi\n', {}, ['a']),
    ('set x=a\nif [ "$y" ]; then set x=b; fi\n', {}, [None, 'a', 'b']),   # a condition not told: each
    ('function f { set x=b; }\nset x=a\nf\n', {}, [None, 'a', 'b']),     # a function may change it
    ('set x=a\nmenuentry A { set x=a; linux /a $x; }\n', {}, [None, 'a']),
    ('set x=a\nmenuentry A { set root=b; linux /a $x; }\n', {}, ['a']),
    # A submenu's entries see only what is exported.
    ('set x=a\nsubmenu S {\n  menuentry A { linux /a $x; }\n}\n', {}, [None, 'a']),
    ('set x=a\nexport x\nsubmenu S {\n  menuentry A { linux /a $x; }\n}\n', {}, ['a']),
    # unset: the variable is empty, and no longer exported.
    ('set x=a\nmenuentry A {\n  unset x\n  linux /a $x\n}\n', {}, [None, 'a']),
    ('set x=a\nfunction f { unset x; }\nmenuentry A {\n  f\n  linux /a $x\n}\n', {}, [None, 'a']),
    ('export x\nunset x\nset x=a\nsubmenu S {\n  menuentry A { linux /a $x; }\n}\n', {}, [None, 'a']),
    ('load_env --file=$prefix/grubenv\n', {'x': 'b'}, ['b']),
])
def test_every_value_a_variable_may_take(script: str, grubenv: dict | None, expected: list | None) -> None:
    assert boot_variable_values(script, 'x', grubenv, {'custom.cfg': 'present', 'gone.cfg': 'missing'}.get) == expected


@pytest.mark.parametrize(('script', 'expected'), [
    ('set x=a\nblscfg\nset x=b\n', ['a']),                 # blscfg expands the options as it runs
    ('load_env\nblscfg\n', ['c']),
    ('set x=a\n', [None, 'a']),                                # no blscfg: each value it may have
    ('set x=a\nblscfg\nset x=b\nblscfg\n', [None, 'a', 'b']),  # entries twice, with either value
    ('if [ "$y" ]; then blscfg; fi\nset x=a\n', [None, 'a']),
    ('set x=a\nmenuentry A { set x=b; }\nblscfg\n', ['a']),   # entries run later
])
def test_the_value_blscfg_expands(script: str, expected: list) -> None:
    assert boot_variable_values(script, 'x', {'x': 'c'}, {}.get, bls=True) == expected
    # A file sourced after blscfg, which what the entries run cannot change, does not count.
    assert boot_variable_values('set x=a\nblscfg\nsource $prefix/custom.cfg\n', 'x', {}, {}.get, bls=True) == ['a']


@pytest.mark.parametrize(('script', 'expected'), [
    ('load_env\nset default="${saved_entry}"\nblscfg\n', ('s', True, True)),
    ('set default=1\nblscfg\nset default=2\n', ('2', False, True)),   # the value when the menu shows
    ('blscfg\n', (None, False, True)),
    ('load_env\nset default="${saved_entry}"\n', (None, False, False)),            # no BLS entries listed
    ('set default=1\nblscfg\nblscfg\n', (None, False, False)),                    # listed twice
    ('set default=1\nif [ "$y" ]; then blscfg; fi\n', (None, False, False)),     # maybe listed
    ('set default=1\nblscfg\nsource $prefix/custom.cfg\n', (None, False, False)),
])
def test_the_default_of_a_menu_blscfg_lists(script: str, expected: tuple) -> None:
    assert bls_default_value(script, {'saved_entry': 's'}, {'custom.cfg': 'present'}.get) == expected


@pytest.mark.parametrize('name', ['root', 'grub_cpu', 'feature_all_video_module', 'chosen', 'default', 'timeout'])
def test_grubs_own_variables_are_not_told(name: str) -> None:
    # GRUB sets them itself: where grub.cfg does not, they are not empty.
    script = 'if [ -s $prefix/foo ]; then set %s=a; fi\nmenuentry A {\n  linux /a $%s\n}\n' % (name, name)
    assert boot_variable_values(script, name, {}, {'foo': 'missing'}.get) is None
