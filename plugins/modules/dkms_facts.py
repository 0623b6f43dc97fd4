#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: dkms_facts
short_description: Per-kernel DKMS and weak-modules coverage, with kABI verification
version_added: 0.1.0
description:
  - Tells, for every kernel under O(root), whether every DKMS package will be there when that
    kernel boots, either built by DKMS for it or provided by a RHEL-style C(weak-updates/) symlink
    to a build for another kernel that is really kABI-compatible.
  - Reads the dkms tree, the kernels' module trees and the C(.ko) files directly. It never runs
    C(dkms status), never executes C(dkms.conf) or any other file it reads, and never changes anything.
  - Every weak link gets a kABI verdict from the target kernel's symvers (the first of
    C(/boot/symvers-K.gz), C(/boot/symvers-K.xz), C(/lib/modules/K/symvers.gz), C(/lib/modules/K/symvers.xz),
    C(/lib/modules/K/build/Module.symvers)) unless O(kabi_check=false).
  - C(.ko) files are read with pyelftools when it is importable on the target, otherwise with
    kmod's C(modinfo) and C(modprobe --dump-modversions).
  - Unreadable or malformed items produce one warning each and are reported as not covered; the
    module fails only when nothing at all can be read.
author:
  - kabi.dkms contributors (@kabi)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.facts
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  facts:
    support: full
  platform:
    platforms: posix
options:
  root:
    description:
      - The system to inspect, V(/) for the running host, or a mounted image or test tree.
      - Every absolute symlink inside it resolves under O(root), never on the host.
      - The running kernel is only reported when O(root=/).
    type: path
    default: /
  packages:
    description:
      - Limit the report to these DKMS package names. All packages by default. A name the dkms tree does
        not register is warned about (nothing can be reported for it).
    type: list
    elements: str
  kabi_check:
    description:
      - Compute a kABI verdict for every weak link. With V(false) weak links count as coverage
        from the file system alone and every C(kabi) is null.
    type: bool
    default: true
  dkms_tree:
    description:
      - The dkms tree inside O(root). Defaults to what C(/etc/dkms/framework.conf) says, else C(/var/lib/dkms).
    type: path
  source_tree:
    description:
      - The dkms source tree inside O(root). Defaults to framework.conf, else C(/usr/src).
    type: path
requirements:
  - pyelftools on the target for the fastest kABI verdicts (kmod is used otherwise).
notes:
  - Index the facts with brackets, as in C(ansible_facts['dkms']['kernels']['6.1.0-47-amd64']),
    because kernel releases contain dots and dashes.
  - Add the module to implicit fact gathering with C(ansible_facts_modules=[setup, kabi.dkms.dkms_facts]).
  - C(dkms.conf) is read statically. Values that depend on shell logic (conditionals, command
    substitution) are reported as null rather than guessed.
  - Package versions are ordered by PEP 440 when C(packaging) is importable on the target and every
    version parses; otherwise, and for kernel releases, by rpm's segment comparison.
seealso:
  - module: kabi.dkms.dkms_module
'''

EXAMPLES = r'''
- name: Gather DKMS coverage
  kabi.dkms.dkms_facts:

- name: Reboot only when the next-boot kernel has every DKMS module
  ansible.builtin.reboot:
  when: ansible_facts['dkms']['kernels'][ansible_facts['dkms']['default_kernel']]['covered']

- name: Name every kernel that would boot without a module
  ansible.builtin.debug:
    msg: "{{ item.kernel }} lacks {{ item.package }} ({{ item.status }})"
  loop: "{{ ansible_facts['dkms']['uncovered'] }}"

- name: Inspect a mounted image without kABI checks
  kabi.dkms.dkms_facts:
    root: /mnt/image
    packages: [nvidia, zfs]
    kabi_check: false
'''

RETURN = r'''
ansible_facts:
  description: Facts to add to ansible_facts.
  returned: always
  type: complex
  contains:
    dkms:
      description:
        - DKMS coverage of every kernel under O(root).
        - C(kernels[K].packages[P].status) is one of V(installed) (built by dkms for K and its files
          are in K's module tree), V(weak) (every module resolves through C(weak-updates/) to a dkms
          build for another kernel and kABI says it loads on K, or no reader could check), V(weak-incompatible)
          (kABI says a weak-linked module will not load), V(built) (built, not installed), V(broken)
          (claims to be installed but files are missing or differ, or a weak link dangles), V(missing),
          V(excluded) (C(BUILD_EXCLUSIVE_*) rules K out). V(installed), V(weak) and V(excluded) count as covered.
        - Stale kernels (leftover directories without image, in-tree modules or headers) are reported
          but never counted in C(uncovered) or C(summary).
      returned: always
      type: dict
      contains:
        schema_version:
          description: Version of this schema.
          type: int
          sample: 1
        root:
          description: The inspected root.
          type: str
          sample: /
        gathered_at:
          description:
            - When the module began gathering, in UTC (ISO 8601, C(YYYY-MM-DDTHH:MM:SSZ)), so that facts
              read back from a fact cache tell their age.
          type: str
          sample: "2026-11-29T18:40:12Z"
        running_kernel:
          description: The running kernel release, null when O(root) is not V(/).
          type: str
          sample: 6.1.0-47-amd64
        default_kernel:
          description: The kernel the next boot uses, null if unknown.
          type: str
          sample: 6.1.0-56-amd64
        default_kernel_source:
          description: How C(default_kernel) was found.
          type: str
          sample: grubby
        kabi_reader:
          description: What reads C(.ko) files, V(pyelftools) or V(kmod); null when neither is available.
          type: str
          sample: pyelftools
        packages:
          description: DKMS packages by name with C(versions) (oldest first), C(newest), C(autoinstall)
            (null when not static), C(modules) and C(broken_versions).
          type: dict
          sample: {"hello": {"versions": ["1.0"], "newest": "1.0", "autoinstall": true,
                   "modules": ["hello"], "broken_versions": []}}
        kernels:
          description:
            - Kernels by release with C(installed), C(stale), C(headers), C(running), C(default),
              C(symvers), C(covered) and C(packages) (per package C(status), C(covered), C(version), C(outdated),
              C(provider_kernel) and per module C(status), C(path), C(target), C(kabi), C(shadowed_by)).
            - C(kabi) is null when not checked, else C(compatible) and why not, as the kernel loader would
              refuse the module; C(missing) (imported symbols the kernel does not export to this module,
              GPL-only exports included when the module's license is not GPL-compatible), C(mismatched)
              (exported with another CRC), C(namespaces) (symbol namespaces the module would have to import
              with C(MODULE_IMPORT_NS)) and C(vermagic) (whether it matches, null when unknown).
          type: dict
        uncovered:
          description: Every (kernel, package) pair that is not covered, sorted by kernel then package.
          type: list
          elements: dict
          sample: [{"kernel": "6.1.0-50-amd64", "package": "hello", "version": "1.0",
                    "status": "missing", "headers": true}]
        summary:
          description: Counts of non-stale kernels, covered and uncovered kernels, and packages.
          type: dict
          sample: {"kernels": 4, "covered": 3, "uncovered": 1, "packages": 1}
'''

import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kabi.dkms.plugins.module_utils._coverage import gather_facts
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootFS


def main():
    module = AnsibleModule(
        argument_spec=dict(
            root=dict(type='path', default='/'),
            packages=dict(type='list', elements='str'),
            kabi_check=dict(type='bool', default=True),
            dkms_tree=dict(type='path'),
            source_tree=dict(type='path'),
        ),
        supports_check_mode=True,
    )
    # When gathering began, in UTC: cached facts tell their age by it.
    gathered_at = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())
    root = module.params['root']
    try:
        os.listdir(root)
    except OSError as exc:
        # Nothing at all can be read: the only case where the module fails.
        module.fail_json(msg='cannot read root %s: %s' % (root, exc))

    warned = set()

    def warn(message):
        if message not in warned:
            warned.add(message)
            module.warn(message)

    def runner(argv):
        return module.run_command(argv, environ_update={'LC_ALL': 'C'})

    facts = gather_facts(RootFS(root, snapshot=True), warn, packages=module.params['packages'],
                         kabi_check=module.params['kabi_check'], runner=runner, root=root,
                         dkms_tree=module.params['dkms_tree'], source_tree=module.params['source_tree'])
    facts['gathered_at'] = gathered_at
    unknown = [name for name in module.params['packages'] or () if name not in facts['packages']]
    if unknown:
        # A misspelt or uninstalled name would otherwise read as "every kernel is covered".
        warn('packages: %s %s not registered in the dkms tree, so nothing is reported for %s'
             % (', '.join(unknown), 'is' if len(unknown) == 1 else 'are', 'it' if len(unknown) == 1 else 'them'))
    module.exit_json(changed=False, ansible_facts={'dkms': facts})


if __name__ == '__main__':
    main()
