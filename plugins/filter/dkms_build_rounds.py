# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: dkms_build_rounds
short_description: Order (kernel, package) builds so that BUILD_DEPENDS come first
version_added: 0.1.0
author: kabi.dkms developers
description:
  - Splits entries such as the facts' C(uncovered) list into rounds. On each kernel, a package comes in a
    later round than the packages its C(dkms.conf) names in C(BUILD_DEPENDS) that are built on that kernel
    too, as dkms needs their build to build it.
  - Packages whose C(build_depends) fact is null (not static) impose no order. Packages that depend on
    each other in a cycle share the last round.
positional: facts
options:
  _input:
    description: Entries with at least C(kernel) and C(package).
    type: list
    elements: dict
    required: true
  facts:
    description: The facts, C(ansible_facts['dkms']), for each package's C(build_depends).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Build round by round
  ansible.builtin.debug:
    msg: "{{ ansible_facts['dkms']['uncovered'] | kabi.dkms.dkms_build_rounds(ansible_facts['dkms']) }}"
"""

RETURN = r"""
_value:
  description: A list of rounds, each a list of the input entries, first round first.
  type: list
  elements: list
"""

from collections.abc import Callable
from typing import Any

from ansible_collections.kabi.dkms.plugins.plugin_utils._build_order import build_rounds


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {'dkms_build_rounds': build_rounds}
