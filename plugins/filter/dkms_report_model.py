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
  - Packages, kernels and hosts come most uncovered first, then in natural order (C(web2) before
    C(web10)). Within a package, rows are grouped by each host's first inventory group and rows of
    identical cells are folded into one that names every host.
  - Every name and text is passed through with control and format characters (C0, C1, DEL, line
    separators, bidirectional and zero-width characters) shown as escapes such as C(\\x0d) or
    C(\\u202e), so that none can break a table row or reorder text; templates must still escape
    for their format (HTML, Markdown).
options:
  _input:
    description:
      - Host name to the registered result of M(kabi.dkms.dkms_facts), or to the C(dkms) facts
        themselves.
    type: dict
    required: true
  groups:
    description: Host name to its inventory groups (C(group_names)); rows are grouped by the first.
    type: dict
  generated_at:
    description:
      - When the report is made, UTC C(YYYY-MM-DDTHH:MM:SSZ); each host's fact age is measured from it.
    type: str
"""

EXAMPLES = r"""
- name: Build the model from the facts of the hosts of this play
  vars:
    hosts: "{{ ansible_play_hosts_all }}"
  ansible.builtin.set_fact:
    coverage: >-
      {{ dict(hosts | zip(hosts | map('extract', hostvars, ['ansible_facts', 'dkms'])))
         | kabi.dkms.dkms_report_model(groups=dict(hosts | zip(hosts | map('extract', hostvars, 'group_names'))),
                                       generated_at=now(utc=true, fmt='%Y-%m-%dT%H:%M:%SZ')) }}
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
    generated_at:
      description: The O(generated_at) given, or null.
      type: str
    statuses:
      description: The legend, in report order; each with C(name), C(covered) and C(meaning).
      type: list
      elements: dict
    summary:
      description:
        - Totals. C(hosts), C(hosts_reporting), C(hosts_failed), C(hosts_uncovered) (hosts with
          an uncovered kernel), C(hosts_default_uncovered) (next boot not covered), C(kernels),
          C(kernels_uncovered), C(kernels_stale) (counted over hosts), C(packages), C(unverified) (cells
          whose verdict could not be checked in full), C(oldest_facts) (seconds) and C(oldest_facts_age)
          (text such as C(5 h); both null without
          O(generated_at) or C(gathered_at)), and C(statuses), the number of (host, kernel, package)
          cells per status on non-stale kernels.
      type: dict
    failed:
      description: Hosts without facts, each with C(host), C(reason) and C(unreachable).
      type: list
      elements: dict
    hosts:
      description:
        - Per reporting host, most uncovered kernels first, C(host), C(anchor) (an HTML id),
          C(group), C(root), C(running_kernel), C(default_kernel), C(default_anchor),
          C(default_kernel_source), C(kabi_reader), C(gathered_at), C(age_seconds) and C(age) (null
          when unknown), C(kernels), C(stale_kernels), C(uncovered_kernels), C(unverified) and
          C(default_covered) (null when the next boot is unknown).
      type: list
      elements: dict
    kernels:
      description:
        - Every kernel release of the fleet, most uncovered first, with C(name), C(anchor), C(hosts)
          (that have it), C(uncovered) (hosts where it is not covered) and C(packages) (those not
          covered somewhere on it).
      type: list
      elements: dict
    facts:
      description: The C(dkms) facts of each reporting host, by host name.
      type: dict
    packages:
      description:
        - Per package, most uncovered first, C(name), C(anchor), C(newest) (over all hosts),
          C(uncovered) (cells), C(hosts), C(uncovered_hosts), C(kernels) (the columns, each with
          C(name), C(anchor) and its count of C(uncovered) cells), C(groups) (each with C(name) and
          its C(rows)) and C(rows) (all groups' rows in order).
        - Each row has C(host) (the first of C(hosts)), C(hosts) (every host the folded row stands
          for), C(anchors), C(group), C(default_kernel), C(uncovered) and C(cells), one per column,
          null where the host has no such kernel. A cell has C(status), C(covered), C(stale),
          C(version), C(outdated), C(verified) (null when the facts do not say), C(default) (next
          boot), C(running), C(headers), C(reasons) (why modules do not load, by kABI symbols or
          signatures) and C(notes).
      type: list
      elements: dict
"""

from collections.abc import Callable
from typing import Any

from ansible_collections.kabi.dkms.plugins.plugin_utils._report import report_model


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {'dkms_report_model': report_model}
