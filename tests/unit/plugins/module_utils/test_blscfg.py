# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How Red Hat's GRUB lists BLS entries and which one it starts (rhboot/grub2's blscfg.c and
menu.c, rhel-8 and rhel-9 branches)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.kabi.dkms.plugins.module_utils._blscfg import (
    EFI_GRUB,
    FEDORA30_GRUB,
    RHEL8_GRUB,
    RHEL9_GRUB,
    listing_orders,
    started_entry,
)
from ansible_collections.kabi.dkms.plugins.module_utils._grub_menu import parse_grub_menu
from ansible_collections.kabi.dkms.plugins.module_utils._vercmp import compare_releases


@pytest.mark.parametrize(('one', 'two', 'rhel9', 'rhel8'), [
    ('6.8.0+', '6.8.0', 1, 0),              # RHEL 9: + after the end; RHEL 8: a separator
    ('6.8.0+1', '6.8.0.1', -1, 0),
    ('6.8.0^1', '6.8.0.1', 0, 0),           # ^ is a separator to both (not to rpm)
    ('1.0~rc1', '1.0', -1, -1),
    ('1.a', '1.1', -1, -1),                 # a number is newer than letters
    ('01', '1', 0, 0),
    ('5.14.0-70', '5.14.0-503', -1, -1),
])
def test_how_blscfg_compares_versions(one: str, two: str, rhel9: int, rhel8: int) -> None:
    # Its copies of rpmvercmp: '+' after the end of a version (RHEL 9), or a separator (RHEL 8).
    assert (compare_releases(one, two, '+'), compare_releases(two, one, '+')) == (rhel9, -rhel9)
    assert (compare_releases(one, two, None), compare_releases(two, one, None)) == (rhel8, -rhel8)


@given(st.text('0123ab.-_~', max_size=8), st.text('0123ab.-_~', max_size=8))
def test_without_plus_or_caret_blscfg_compares_as_rpm(one: str, two: str) -> None:
    assert compare_releases(one, two, '+') == compare_releases(one, two, None) == compare_releases(one, two)


def entry(release: str, version: bool = True, linux: bool = True) -> dict:
    fields = {'title': 'Linux (%s)' % release}
    if version:
        fields['version'] = release
    if linux:
        fields['linux'] = '/vmlinuz-%s' % release
    return fields


def test_rhel_8_ranks_versions_first_where_every_entry_has_one() -> None:
    # A cloud image's first kernel keeps the image's machine id in its file name.
    entries = {'9c1a-4.18.0-305.el8.x86_64': entry('4.18.0-305.el8.x86_64'),
               '1f0e-4.18.0-513.el8.x86_64': entry('4.18.0-513.el8.x86_64')}
    by_id = ['9c1a-4.18.0-305.el8.x86_64', '1f0e-4.18.0-513.el8.x86_64']
    assert listing_orders(entries) == {RHEL8_GRUB: by_id[::-1], FEDORA30_GRUB: by_id, RHEL9_GRUB: by_id, EFI_GRUB: by_id}
    entries['9c1a-4.18.0-305.el8.x86_64'] = entry('4.18.0-305.el8.x86_64', version=False)
    assert listing_orders(entries)[RHEL8_GRUB] == by_id


def test_entries_that_rank_the_same_leave_the_order_untold() -> None:
    # RHEL 9 drops one of them, RHEL 8 lists them in the file system's order; one without a
    # linux key (never listed) counts too.
    entries = {'m-6.8.0^1': entry('6.8.0^1'), 'm-6.8.0.1': entry('6.8.0.1', linux=False)}
    assert listing_orders(entries, (RHEL9_GRUB,)) == {RHEL9_GRUB: None}
    assert listing_orders({'m-6.8.0+': entry('6.8.0+'), 'm-6.8.0': entry('6.8.0')}) == {
        RHEL8_GRUB: None, FEDORA30_GRUB: None, RHEL9_GRUB: ['m-6.8.0+', 'm-6.8.0'], EFI_GRUB: ['m-6.8.0+', 'm-6.8.0']}


def test_an_efi_entry_is_listed_by_the_grubs_that_chainload_it() -> None:
    # A unified kernel image: RHEL 10 after 10.0 and Fedora 45 list it (its kernel is not told).
    uki = dict(entry('6.12.0-60.el10', linux=False), efi='/EFI/Linux/uki.efi')
    entries = {'m-6.12.0-55.el10': entry('6.12.0-55.el10'), 'm-6.12.0-60.el10': uki}
    assert listing_orders(entries, (RHEL9_GRUB, EFI_GRUB)) == {RHEL9_GRUB: ['m-6.12.0-55.el10'], EFI_GRUB: None}


def test_the_entry_a_default_starts() -> None:
    entries = {'m-2': entry('2'), 'm-1': entry('1'), 'm-0': dict(entry('0'), title='')}
    order = listing_orders(entries, (RHEL9_GRUB,))[RHEL9_GRUB]
    own = parse_grub_menu("blscfg\nmenuentry 'Custom' --id custom {\n  linux /vmlinuz-1 debug\n}\n").entries
    assert started_entry(order, entries, own, None) == ('m-2', False)
    assert started_entry(order, entries, own, '1') == ('m-1', True)
    assert started_entry(order, entries, own, 'Linux (1)') == ('m-1', True)
    assert started_entry(order, entries, own, 'custom') == (own[0], True)
    assert started_entry(order, entries, own, 'nothing') == ('m-2', False)
    assert started_entry(order, entries, own, '/vmlinuz-0') == ('m-2', False)     # a blank title is its title
    unnamed = parse_grub_menu('menuentry "$title" {\n  linux /vmlinuz-1\n}\n').entries    # names not told
    assert started_entry(order, entries, unnamed, 'nothing') is None
    assert started_entry(order, entries, unnamed, 'm-1') == ('m-1', True)
    assert started_entry(None, entries, own, None) is None
