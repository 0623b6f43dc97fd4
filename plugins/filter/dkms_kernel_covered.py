# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: dkms_kernel_covered
short_description: Whether every DKMS package is available for a kernel
version_added: 0.1.0
author: kabi.dkms developers
description:
  - Reads the C(covered) verdict of one kernel from the facts that M(kabi.dkms.dkms_facts) sets.
  - A kernel is covered when every applicable package is C(installed), C(weak) (kABI says it
    loads) or C(excluded) for it.
  - A kernel the facts do not know, or a null one (C(default_kernel) when the next boot is unknown), is
    not covered.
positional: kernel
options:
  _input:
    description: The facts, C(ansible_facts['dkms']).
    type: dict
    required: true
  kernel:
    description: A kernel release, for example C(6.1.0-47-amd64).
    type: str
    required: true
  verified:
    description:
      - Also require that every package's verdict on the kernel was checked in full (C(verified) is not
        false). Facts without C(verified) are taken as they are.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Reboot only into a kernel that has every DKMS module
  ansible.builtin.reboot:
  when: ansible_facts['dkms'] | kabi.dkms.dkms_kernel_covered(ansible_facts['dkms']['default_kernel'])
"""

RETURN = r"""
_value:
  description: V(true) when the kernel is known and covered.
  type: bool
"""

from collections.abc import Callable
from typing import Any

from ansible_collections.kabi.dkms.plugins.plugin_utils._report import kernel_covered


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {'dkms_kernel_covered': kernel_covered}
