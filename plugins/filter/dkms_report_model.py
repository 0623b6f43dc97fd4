# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: dkms_report_model
short_description: Fleet DKMS coverage as hosts x kernels matrices, per package
version_added: 0.1.0
author: kabi.dkms developers
description:
  - Joins the C(dkms) facts of many hosts into the data the C(kabi.dkms.report) playbook renders,
    so that templates only loop.
  - Hosts whose result failed, was unreachable or skipped, or whose facts have another
    C(schema_version), are listed under C(failed) instead of the matrices.
  - Host names and kernel releases sort naturally (C(web2) before C(web10)). Values are passed
    through unescaped; templates must escape them.
options:
  _input:
    description:
      - Host name to the registered result of M(kabi.dkms.dkms_facts), or to the C(dkms) facts
        themselves.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Build the model from the facts of the hosts of this play
  vars:
    hosts: "{{ ansible_play_hosts_all }}"
  ansible.builtin.set_fact:
    coverage: >-
      {{ dict(hosts | zip(hosts | map('extract', hostvars, ['ansible_facts', 'dkms'])))
         | kabi.dkms.dkms_report_model }}
  run_once: true
"""

RETURN = r"""
_value:
  description: The report model.
  type: dict
  contains:
    schema_version:
      description: Version of this model's layout.
      type: int
    statuses:
      description: The legend, in report order; each with C(name), C(covered) and C(meaning).
      type: list
      elements: dict
    summary:
      description:
        - Totals. C(hosts), C(hosts_reporting), C(hosts_failed), C(hosts_uncovered) (hosts with
          an uncovered kernel), C(hosts_default_uncovered) (next boot not covered), C(kernels),
          C(kernels_uncovered), C(kernels_stale) (counted over hosts), C(packages), and
          C(statuses), the number of (host, kernel, package) cells per status on non-stale kernels.
      type: dict
    failed:
      description: Hosts without facts, each with C(host), C(reason) and C(unreachable).
      type: list
      elements: dict
    hosts:
      description:
        - Per reporting host C(host), C(root), C(running_kernel), C(default_kernel),
          C(default_kernel_source), C(kabi_reader), C(kernels), C(stale_kernels),
          C(uncovered_kernels) and C(default_covered) (null when the next boot is unknown).
      type: list
      elements: dict
    facts:
      description: The C(dkms) facts of each reporting host, by host name.
      type: dict
    packages:
      description:
        - Per package C(name), C(newest) (over all hosts), C(uncovered) (cells), C(kernels)
          (the columns, each with C(name) and its count of C(uncovered) cells) and C(rows).
        - Each row has C(host), C(default_kernel), C(uncovered) and C(cells), one per column,
          null where the host has no such kernel. A cell has C(status), C(covered), C(stale),
          C(version), C(outdated), C(default) (next boot), C(running), C(headers), C(reasons)
          (why modules do not load, such as missing or mismatched kABI symbols) and C(notes).
      type: list
      elements: dict
"""

from ansible_collections.kabi.dkms.plugins.plugin_utils._report import report_model


class FilterModule:
    def filters(self) -> dict:
        return {'dkms_report_model': report_model}
