# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: dkms_version_sort
short_description: Order DKMS package versions, oldest first
version_added: 0.1.0
author: kabi.dkms developers
description:
  - Sorts package versions with the C(packaging) library's PEP 440 rules when every version
    in the list is a PEP 440 version (C(550.54.14), C(2.2.0rc1)).
  - Otherwise, or when C(packaging) is not importable, the whole list is sorted with rpm's
    segment comparison (C(rpmvercmp)), as M(kabi.dkms.dkms_facts) orders versions - runs of
    digits compare as numbers and rank above runs of letters, C(~) sorts before the end of the
    version, and with all runs equal the longer version is newer. One rule per list keeps the
    order consistent; versions rpm deems equal (C(1.0), C(1_0)) keep their text order.
options:
  _input:
    description: Versions; numbers are taken as their text.
    type: list
    elements: raw
    required: true
requirements:
  - packaging (on the controller; ansible-core depends on it)
"""

EXAMPLES = r"""
- name: Newest registered version of zfs ("2.2.10" after "2.2.9")
  ansible.builtin.debug:
    msg: "{{ ansible_facts['dkms']['packages']['zfs']['versions'] | kabi.dkms.dkms_version_sort | last }}"
"""

RETURN = r"""
_value:
  description: The versions as strings, oldest first.
  type: list
  elements: str
"""

from collections.abc import Callable
from typing import Any

from ansible_collections.kabi.dkms.plugins.plugin_utils._report import version_sort


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {'dkms_version_sort': version_sort}
