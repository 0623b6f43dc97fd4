# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.kabi.dkms.plugins.module_utils._grub_menu import (
    _grub_number,
    _split_path,
    _words,
    parse_grub_menu,
)
from ansible_collections.kabi.dkms.tests.unit.grub_fixtures import UUID, debian_grub_cfg

NEWEST, MIDDLE, OLDEST = '6.1.0-18-amd64', '6.1.0-17-amd64', '6.1.0-13-amd64'
ADVANCED = 'Advanced options for Debian GNU/Linux'


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
    assert parse_grub_menu(saved_menu).default_image(value) == ('/vmlinuz-%s' % release, True)


def test_saved_and_next_entry(saved_menu: str) -> None:
    menu = parse_grub_menu(saved_menu)
    assert menu.default_value({'saved_entry': '1>2'}.get) == ('1>2', True, True)
    # A one-shot grub-reboot comes first.
    assert menu.default_value({'saved_entry': '1>2', 'next_entry': '1>4'}.get) == ('1>4', True, True)
    assert menu.default_value({}.get) == (None, False, True)


@pytest.mark.parametrize(('grub_default', 'expected'), [('0', '0'), ('1>2', '1>2'), (title(NEWEST), title(NEWEST))])
def test_a_default_written_into_grub_cfg(tmp_path: Path, grub_default: str, expected: str) -> None:
    menu = parse_grub_menu(debian_grub_cfg(tmp_path, (OLDEST, NEWEST), grub_default))
    assert menu.default_value({'saved_entry': '0'}.get) == (expected, False, True)


CONDITIONAL = '''set default="%s"
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
    assert parse_grub_menu(CONDITIONAL % value).default_image(value) == expected


def test_more_than_one_default_set_or_a_variable_is_not_known() -> None:
    entry = "menuentry 'a' {\n  linux /boot/vmlinuz-1\n}\n"
    assert parse_grub_menu('set default=0\nset default=1\n' + entry).default_value({}.get)[2] is False
    assert parse_grub_menu('set default="${chosen_one}"\n' + entry).default_value({}.get)[2] is False
    # Inside a function a default is set only when it is called, as savedefault does with saved_entry.
    menu = parse_grub_menu('function f {\n  set default=7\n}\ndefault=0\n' + entry)
    assert menu.default_value({}.get) == ('0', False, True)


def test_no_menu_entry() -> None:
    assert parse_grub_menu('blscfg\n') is None
    assert parse_grub_menu('') is None


@pytest.mark.parametrize(('text', 'number'), [
    ('0', 0), ('12', 12), (' 3', 3), ('3abc', 3), ('010', 8), ('08', 8), ('0x1f', 31), ('4294967297', 1),
    ('99999999999999999999', -1), ('2147483648', -1), ('abc', None), ('0x', None), ('', None), ('-1', None),
])
def test_numbers_as_grub_reads_them(text: str, number: int | None) -> None:
    assert _grub_number(text) == number


def test_paths_and_words() -> None:
    assert _split_path('a>>b>c>d') == ('a>b', 'c>d')
    assert _split_path('a>') == ('a', None)
    assert _words("menuentry 'It'\\''s' \"q\\\"$x\" \\{ {") == [
        ('menuentry', True), ("It's", True), ('q"$x', False), ('{', True), ('{', True)]
    assert _words("menuentry 'open") is None


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(['menuentry ', 'submenu ', "'a'", '"b', '$x', ' {', '}', '\n', 'if x; then\n', 'fi\n',
                                 'function f {\n', 'linux /boot/vmlinuz-1\n', 'set default=', '1>0', '#', ';', '>']),
                max_size=40).map(''.join),
       st.one_of(st.none(), st.text(alphabet='01>ab x', max_size=6)))
def test_any_text_is_read_without_error(text: str, value: str | None) -> None:
    menu = parse_grub_menu(text)
    if menu is not None:
        image, certain = menu.default_image(value)
        assert image is None or isinstance(image, str)
        menu.default_value({'saved_entry': value}.get)
