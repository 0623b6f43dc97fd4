# -*- coding: utf-8 -*-
# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which BLS entry Red Hat's GRUB starts: the order its ``blscfg`` command lists the entries in
(grub-core/commands/blscfg.c of RHEL 8's GRUB, and of RHEL 9's, 10's and Fedora's, which differ),
and the entry a ``default`` value names among them and grub.cfg's own entries.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools

from ansible_collections.kabi.dkms.plugins.module_utils._grub_menu import UNKNOWN, entry_names, red_hat_entry_index
from ansible_collections.kabi.dkms.plugins.module_utils._vercmp import compare_releases

# The GRUBs whose blscfg lists entries its own way, in the order they came:
# RHEL 8's (Fedora 28 and 29's) ranks the entries by version first where every entry has one,
# then by file name, and reads '+' as any separator; Fedora 30's ranks them by file name alone;
# RHEL 9's (10.0's, Fedora 31 to 44's) reads '+' as after the end of a version (as rpm reads '^');
# RHEL 10's since 10.0 and Fedora 45's also list an entry with an `efi` key, and chainload it.
RHEL8_GRUB, FEDORA30_GRUB, RHEL9_GRUB, EFI_GRUB = 'rhel8', 'fedora30', 'rhel9', 'efi'
GRUBS = (RHEL8_GRUB, FEDORA30_GRUB, RHEL9_GRUB, EFI_GRUB)
# (ranks by version first, the character after the end of a version)
_RULES = {RHEL8_GRUB: (True, None), FEDORA30_GRUB: (False, None), RHEL9_GRUB: (False, '+'), EFI_GRUB: (False, '+')}


def _split(text, with_name):
    """blscfg's split_package_string(): ``[name,] version, release`` of a text, at its last
    dashes; a missing version takes the release's place."""
    head, dash, release = text.rpartition('-')
    if not dash:
        head, release = text, None
    name, version = None, head
    if with_name:
        name, dash, version = head.rpartition('-')
        if not dash:
            name, version = head, None
    if version is None:
        version, release = release, None
    return ([name or ''] if with_name else []) + [version or '', release or '']


def _split_compare(one, two, with_name, after_end):
    """blscfg's split_cmp(), ``after_end`` as for compare_releases."""
    for first, second in zip(_split(one, with_name), _split(two, with_name)):
        found = compare_releases(first, second, after_end)
        if found:
            return found
    return 0


def listing_orders(entries, grubs=GRUBS):
    """``{GRUB: ids}``: the entries each of ``grubs`` lists, newest first (``entries``: ``{id:
    {key: value}}`` as blscfg reads each file; blscfg lists those with a ``linux`` key). A GRUB's
    ids are None where two entries rank the same (RHEL 8's lists them either way, as the file
    system returns them, later ones drop one), or where it lists an entry with an ``efi`` key,
    which boots what the reading does not tell."""
    with_versions = all('version' in fields for fields in entries.values())

    def comparison(by_versions, after_end):
        def compare(one, two):
            found = 0
            if by_versions:
                found = _split_compare(entries[one]['version'], entries[two]['version'], False, after_end)
            return found or _split_compare(one, two, True, after_end)
        return compare

    orders, ranked = {}, {}
    for grub in grubs:
        versions_first, after_end = _RULES[grub]
        rules = (versions_first and with_versions, after_end)
        if rules not in ranked:     # GRUBs that rank alike, ranked once
            compare = comparison(*rules)
            order = sorted(entries, key=functools.cmp_to_key(compare), reverse=True)
            tied = any(compare(one, two) == 0 for one, two in zip(order, order[1:]))
            ranked[rules] = None if tied else [entry_id for entry_id in order if 'linux' in entries[entry_id]]
        chainloads = grub == EFI_GRUB and any('efi' in fields for fields in entries.values())
        orders[grub] = None if chainloads else ranked[rules]
    return orders


def started_entry(order, entries, own, value):
    """``(what, named)`` of the entry GRUB starts when ``default`` is ``value`` (None: unset):
    ``what`` the id of a BLS entry listed in ``order``, else the MenuEntry of grub.cfg's ``own``
    entries, listed after them; ``named``: the value names it. None when that cannot be told."""
    if order is None:
        return None
    names = [(entry_id, entries[entry_id].get('title', entries[entry_id]['linux'])) for entry_id in order]
    names += entry_names(own)
    index = red_hat_entry_index(value, names) if value is not None else None
    if index is None:
        index, named = 0, False     # GRUB starts the first
    else:
        named = True
    if index is UNKNOWN or index >= len(names):
        return None
    return (order[index] if index < len(order) else own[index - len(order)]), named
