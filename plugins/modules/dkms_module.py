#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: dkms_module
short_description: Build, install or remove one DKMS package version for chosen kernels, idempotently
version_added: 0.1.0
description:
  - Brings one DKMS package version to O(state) on every kernel in O(kernels) by running the real
    C(dkms) command (C(dkms install), C(dkms build) or C(dkms remove), one kernel at a time, argv lists,
    never a shell).
  - What the package is on each kernel is read from the dkms tree and the kernel's module tree before
    and after, with the same reader as M(kabi.dkms.dkms_facts), never from C(dkms status). dkms only
    runs for kernels that are not already in O(state), and C(changed) is true only when the tree changed.
  - Each kernel gets an outcome. V(done) and V(already) are success. V(no-headers) (no
    C(/lib/modules/K/build/include); dkms exit code 21) and V(excluded) (C(BUILD_EXCLUSIVE_*) rules the
    kernel out; exit code 77) are reported but are not failures, so a caller can skip them. V(build-failed)
    (exit code 10 or 7, with the tail of C(make.log)), V(version-refused) (exit code 6, or dkms linked the
    build but would not copy it over a same-or-newer module already in the kernel's tree) and V(failed)
    (any other exit code, or dkms exited 0 without reaching O(state)) make the module fail, after every
    other kernel has been handled.
  - Headers and C(BUILD_EXCLUSIVE_*) rules are checked before dkms runs, so check mode reports them too.
  - The whole sequence holds an exclusive C(flock) on O(lock_file), so two runs on one host never run
    dkms at the same time. Check mode reads without taking the lock.
  - O(state=absent) runs C(dkms remove -k K) only for kernels the version is built or installed for.
    It never touches weak-updates links, other versions or anything dkms did not make.
author:
  - kabi.dkms contributors (@kabi)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  name:
    description:
      - The DKMS package name (C(PACKAGE_NAME) in its C(dkms.conf)).
    type: str
    required: true
  version:
    description:
      - The package version.
      - Defaults to the newest registered version (PEP 440 order when C(packaging) is importable,
        rpm segment order otherwise).
      - With O(state=installed) or O(state=built), a version that is not registered but whose source is in
        the source tree (C(SOURCE_TREE/NAME-VERSION/dkms.conf)) is registered first with C(dkms add).
      - With O(state=absent) and no version, every registered version goes from the given kernels.
    type: str
  kernels:
    description:
      - Kernel releases to act on, one dkms run each, in this order.
      - Defaults to the running kernel, as dkms itself does without C(-k). Name kernels explicitly
        to build for a kernel installed for the next boot.
    type: list
    elements: str
  state:
    description:
      - V(installed) builds where needed and installs into each kernel's module tree.
      - V(built) builds without installing; an installed kernel also counts as built.
      - V(absent) uninstalls and removes the build for each kernel. dkms itself unregisters the version
        when its last kernel build goes.
    type: str
    choices: [installed, built, absent]
    default: installed
  arch:
    description:
      - The architecture to build for, passed as C(dkms -a). Defaults to the machine's (C(uname -m)).
    type: str
  force:
    description:
      - Pass C(--force) to the dkms commands this run needs, so dkms replaces a module of the same
        name and a same-or-newer version already in the kernel's tree, such as a weak-updates link
        that kABI says will not load. Kernels already in O(state) are still left alone.
    type: bool
    default: false
  no_depmod:
    description:
      - Pass C(--no-depmod) so dkms does not rewrite the kernel's C(modules.dep) (sandboxes).
    type: bool
    default: false
  dkms_tree:
    description:
      - The dkms tree, passed as C(--dkmstree). Defaults to what C(/etc/dkms/framework.conf) says, else
        C(/var/lib/dkms).
    type: path
  source_tree:
    description:
      - The source tree, passed as C(--sourcetree). Defaults to framework.conf, else C(/usr/src).
    type: path
  install_tree:
    description:
      - The kernels' module trees, passed as C(--installtree). Defaults to framework.conf, else C(/lib/modules).
      - dkms still finds headers in C(/lib/modules/K/build), whatever this says.
    type: path
  lock_file:
    description:
      - The file locked with C(flock) around the whole dkms sequence.
      - Defaults to C(/run/kabi-dkms/lock), or C(kabi-dkms.lock) beside O(dkms_tree) when that is
        given, so that sandboxes do not wait for the host.
      - The file must be owned by the user the module runs as (root) with no permission for others
        (created 0600), in a directory owned by that user that no one else can write (C(/run/kabi-dkms) is
        created 0700); otherwise the module fails without running dkms.
      - Other root tools can join in with C(flock /run/kabi-dkms/lock dkms ...).
    type: path
  lock_timeout:
    description:
      - Seconds to wait for the lock before failing.
    type: int
    default: 600
requirements:
  - dkms on the target (any 2.8 or 3.x).
notes:
  - Kernel package hooks and the dkms service do not take the lock; it serializes runs of this module
    and of anything else that locks O(lock_file).
  - The lock lives where only root can write, so no other local user can hold it and block this module
    (a lock file in a world-writable directory such as C(/run/lock) or C(/tmp) is refused, and so is one
    owned by another user or writable by others).
  - dkms 3.0.x exits 0 but copies nothing when a module of the same name and version is already in the
    kernel's tree, including a weak-updates link; this module reports that as V(version-refused). Use
    O(force=true) to rebuild natively over a weak link that does not load.
seealso:
  - module: kabi.dkms.dkms_facts
  - ref: kabi.dkms.dkms_coverage
    description: The role that builds only what dkms_facts reports as not covered.
'''

EXAMPLES = r'''
- name: Install the newest registered nvidia version for the next-boot kernel
  kabi.dkms.dkms_module:
    name: nvidia
    kernels: ["{{ ansible_facts['dkms']['default_kernel'] }}"]

- name: Build zfs 2.2.4 for two kernels without installing it
  kabi.dkms.dkms_module:
    name: zfs
    version: 2.2.4
    kernels: [6.1.0-55-amd64, 6.1.0-56-amd64]
    state: built

- name: Rebuild natively where a weak link does not load (kABI break)
  kabi.dkms.dkms_module:
    name: hello
    kernels: "{{ ansible_facts['dkms']['uncovered'] | selectattr('status', 'eq', 'weak-incompatible')
                 | map(attribute='kernel') | list }}"
    force: true

- name: Remove every version of hello from an old kernel
  kabi.dkms.dkms_module:
    name: hello
    kernels: [6.1.0-47-amd64]
    state: absent

- name: Work in a sandbox tree
  kabi.dkms.dkms_module:
    name: hello
    version: "1.0"
    kernels: [6.1.0-56-amd64]
    dkms_tree: /srv/sandbox/dkms
    source_tree: /srv/sandbox/src
    install_tree: /srv/sandbox/modules
    no_depmod: true
'''

RETURN = r'''
version:
  description: The version acted on; null for O(state=absent) without O(version).
  returned: always
  type: str
  sample: "1.0"
arch:
  description: The architecture used.
  returned: always
  type: str
  sample: x86_64
registered:
  description: Whether the version was (or in check mode would be) registered with C(dkms add) first.
  returned: always
  type: bool
lock_waited:
  description: Seconds spent waiting for O(lock_file).
  returned: when not in check mode
  type: float
  sample: 0.0
per_kernel:
  description: One entry per kernel of O(kernels), in that order.
  returned: always
  type: list
  elements: dict
  contains:
    kernel:
      description: The kernel release.
      type: str
    package:
      description: The package name (O(name)), so that entries of several runs can be merged.
      type: str
    version:
      description: The version acted on.
      type: str
    action:
      description: V(installed), V(built), V(removed), or V(unchanged) when dkms did not run.
      type: str
    outcome:
      description: V(done), V(already), V(no-headers), V(excluded), V(build-failed), V(version-refused) or V(failed).
        In check mode V(done) means the action would run.
      type: str
    changed:
      description: Whether this kernel's part of the dkms tree or module tree changed.
      type: bool
    msg:
      description: Why the outcome is not V(done) or V(already); null otherwise.
      type: str
    rc:
      description: dkms's exit code, null when dkms did not run.
      type: int
    cmd:
      description: The dkms argv that ran, its program named C(dkms) (the module runs the C(dkms) it finds on the target's PATH).
      type: list
      elements: str
    stdout:
      description: The last 30 lines of dkms's standard output.
      type: list
      elements: str
    stderr:
      description: The last 30 lines of dkms's standard error.
      type: list
      elements: str
    make_log:
      description: The last 30 lines of the build's C(make.log) when the outcome is V(build-failed).
      type: list
      elements: str
  sample: [{"kernel": "6.1.0-56-amd64", "package": "hello", "version": "1.0", "action": "installed", "outcome": "done",
            "changed": true, "msg": null, "rc": 0, "cmd": ["dkms", "install", "-m", "hello",
            "-v", "1.0", "-k", "6.1.0-56-amd64"], "stdout": ["..."], "stderr": [], "make_log": []}]
'''

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kabi.dkms.plugins.module_utils._zip_import import compiled_once

with compiled_once():
    from ansible_collections.kabi.dkms.plugins.module_utils._dkms_cli import (
        DkmsLock, DkmsModuleError, LockError, Manager, default_lock_file)
    from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootFS


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type='str', required=True),
            version=dict(type='str'),
            kernels=dict(type='list', elements='str'),
            state=dict(type='str', default='installed', choices=['installed', 'built', 'absent']),
            arch=dict(type='str'),
            force=dict(type='bool', default=False),
            no_depmod=dict(type='bool', default=False),
            dkms_tree=dict(type='path'),
            source_tree=dict(type='path'),
            install_tree=dict(type='path'),
            lock_file=dict(type='path'),
            lock_timeout=dict(type='int', default=600),
        ),
        supports_check_mode=True,
    )
    params = dict(module.params)
    params['kernels'] = params['kernels'] or [os.uname()[2]]
    dkms = module.get_bin_path('dkms', required=not module.check_mode)

    def runner(argv):
        return module.run_command([dkms] + argv[1:], environ_update={'LC_ALL': 'C'})

    try:
        if module.check_mode:
            result = Manager(RootFS('/'), module.warn, params, runner, True).run()
        else:
            lock = DkmsLock(params['lock_file'] or default_lock_file(params['dkms_tree']), params['lock_timeout'])
            with lock:
                result = Manager(RootFS('/'), module.warn, params, runner, False).run()
            result['lock_waited'] = lock.waited
    except (DkmsModuleError, LockError) as exc:
        module.fail_json(msg=str(exc))
    if result['failed']:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == '__main__':
    with compiled_once():   # also what main() imports only on the hosts that need it
        main()
