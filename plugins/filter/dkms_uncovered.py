# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: dkms_uncovered
short_description: Kernels a DKMS package does not cover, from C(dkms_facts)
version_added: 0.1.0
author: kabi.dkms developers
description:
  - Returns the C(uncovered) entries of the facts that M(kabi.dkms.dkms_facts) sets,
    optionally only those of one package.
  - Stale kernel directories are never listed, as in the facts.
positional: package
options:
  _input:
    description: The facts, C(ansible_facts['dkms']).
    type: dict
    required: true
  package:
    description: Only entries of this DKMS package; all packages when omitted.
    type: str
"""

EXAMPLES = r"""
- name: Fail before a reboot that would lose the NVIDIA module
  ansible.builtin.assert:
    that: ansible_facts['dkms'] | kabi.dkms.dkms_uncovered('nvidia') | length == 0
    fail_msg: >-
      nvidia is not available for
      {{ ansible_facts['dkms'] | kabi.dkms.dkms_uncovered('nvidia') | map(attribute='kernel') | join(', ') }}

- name: Kernels that need any build
  ansible.builtin.debug:
    msg: "{{ ansible_facts['dkms'] | kabi.dkms.dkms_uncovered | map(attribute='kernel') | unique }}"
"""

RETURN = r"""
_value:
  description:
    - One entry per uncovered kernel and package, sorted by kernel then package.
    - Each entry has C(kernel), C(package), C(version) (the package's newest registered version, what
      a build would use, or null), C(status) (C(weak-incompatible), C(built), C(broken), C(rejected) or
      C(missing)) and C(headers) (whether dkms can build for the kernel).
  type: list
  elements: dict
"""

from collections.abc import Callable
from typing import Any

from ansible_collections.kabi.dkms.plugins.plugin_utils._report import uncovered


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {'dkms_uncovered': uncovered}
