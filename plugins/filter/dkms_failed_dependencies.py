# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: dkms_failed_dependencies
short_description: The BUILD_DEPENDS of a (kernel, package) pair whose build failed on that kernel
version_added: 0.1.0
author: kabi.dkms developers
description:
  - Returns the packages that the entry's package names in C(BUILD_DEPENDS) and that appear among
    C(failed) for the same kernel, so that a dependent build is reported instead of attempted blindly.
positional: failed, facts
options:
  _input:
    description: One entry with C(kernel) and C(package).
    type: dict
    required: true
  failed:
    description: Entries with C(kernel) and C(package) whose build failed.
    type: list
    elements: dict
    required: true
  facts:
    description: The facts, C(ansible_facts['dkms']).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Say which failed dependency blocks a build
  ansible.builtin.debug:
    msg: "{{ item | kabi.dkms.dkms_failed_dependencies(failed_builds, ansible_facts['dkms']) }}"
  loop: "{{ ansible_facts['dkms']['uncovered'] }}"
  vars:
    failed_builds: [{kernel: 6.1.0-57-amd64, package: mlnx-ofed-kernel}]
"""

RETURN = r"""
_value:
  description: Package names, in C(BUILD_DEPENDS) order; empty when nothing blocks the build.
  type: list
  elements: str
"""

from collections.abc import Callable
from typing import Any

from ansible_collections.kabi.dkms.plugins.plugin_utils._build_order import failed_dependencies


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {'dkms_failed_dependencies': failed_dependencies}
