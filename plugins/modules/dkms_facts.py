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
  - Where the Python that Ansible runs the module with cannot import pyelftools, the module runs
    itself once more under the first system Python that can import it and run the module, of
    C(/usr/bin/python3), C(/usr/libexec/platform-python), then C(/usr/bin/python3.14) down to
    C(/usr/bin/python3.6), where distributions install their C(python3-pyelftools) packages. Only
    where none can is kmod used; a Python with pyelftools that cannot run the module is warned about.
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
  - Like C(dkms status), the module compares each installed copy with its dkms build. With a second
    CPU and many copies, a forked worker process compares them while the module reads the modules
    it judges; it only reads, and the module waits for it before it returns. A second CPU counts
    only where the CPU quota of the module's cgroups (a container's C(--cpus), a systemd unit's
    C(CPUQuota=)) allows at least 1.2 CPUs' time.
seealso:
  - module: kabi.dkms.dkms_module
'''

EXAMPLES = r'''
- name: Gather DKMS coverage
  kabi.dkms.dkms_facts:

- name: Reboot only when the next-boot kernel has every DKMS module (false when it is not known)
  ansible.builtin.reboot:
  when: ansible_facts['dkms'] | kabi.dkms.dkms_kernel_covered(ansible_facts['dkms']['default_kernel'])

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
          (kABI says a weak-linked module will not load, or its struct module is not the size K's is), V(built)
          (built, not installed), V(broken) (claims to be installed but files are missing or differ, are not a
          module for K, or import another kernel's CRCs or vermagic or carry its struct module, or are xz-compressed
          with a check K's own decompression lacks, or compressed in a format the system's kmod was built without;
          or a weak link dangles), V(rejected) (kABI-compatible, but K's signature
          check refuses it at boot, unsigned or signed by a key K does not trust while signatures are enforced,
          or a signature K refuses whatever the policy, among them one that cannot be parsed, not C(verified);
          or C(module_blacklist=) on K's next-boot command line names it),
          V(missing), V(excluded) (C(BUILD_EXCLUSIVE_*) rules K out). V(installed), V(weak) and V(excluded)
          count as covered.
        - Nothing is guessed. What cannot be checked is null, and the pair is not C(verified).
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
          description:
            - How C(default_kernel) was found, or null when nothing tells.
            - C(grubby) (on the running system), C(grubenv) (GRUB's C(next_entry), else C(saved_entry) where
              C(grub.cfg) boots it, naming a BLS entry or an entry of the C(grub.cfg) menu), C(bls) (where C(grub.cfg)
              lists BLS entries, the one its C(default) names, else the first), C(grub) (the entry of a C(grub.cfg)
              menu that its C(default) names, as a number, title or id path like C(1>2), else its first entry; where
              C(grub.cfg) lists BLS entries, one of its own entries), C(systemd-boot) (where systemd-boot 252 to 261
              is on the EFI system partition in C(/efi), C(/boot) or C(/boot/efi) and starts (without a C(grub.cfg),
              or where the firmware's boot options tell it starts rather than GRUB, tried as the firmware tries them
              (C(BootNext), then C(BootOrder)'s active ones, passing over a file it cannot load or an unsigned one
              under Secure Boot, following shim to the program beside it)); the entry systemd-boot starts as it
              chooses one, by C(LoaderEntryOneShot), then C(LoaderEntryPreferred) and C(loader.conf)'s C(preferred)
              (260 on), then C(LoaderEntryDefault) and C(loader.conf)'s C(default) (C(@saved) reading
              C(LoaderEntryLastBooted)), else the first entry in its order; its C(version) line, image name or x86
              image header names the kernel), C(newest) (when there is no boot loader file, the newest installed
              kernel with an image; the newest installed one when no image is found).
            - Null too when the entry GRUB starts boots no kernel under O(root) (a rescue entry, an entry left by a
              removed kernel), when C(grub.cfg) has no menu, with BLS entries or systemd-boot's files but no
              C(grub.cfg) and no systemd-boot loader, and (with a warning) when systemd-boot's choice cannot be told,
              as for another version, a C(grub.cfg) beside it when the firmware's boot entries do not tell which runs,
              its EFI variables not visible under O(root) (a disk image), a unified kernel image or an entry it adds
              itself (C(auto-windows)) that may be the one, entries that sort alike, C(/boot)'s entries changing the
              answer where it may not be a partition the loader reads, an entry that does not name its kernel
              (Pop!_OS's C(vmlinuz.efi)).
            - Null with C(default_kernel) when the menu's default entry boots no kernel under O(root), or cannot
              be told for sure (with a warning), as for an entry inside a condition counted past, a title that holds a
              variable, a default set where the reading cannot tell whether it runs, a C(custom.cfg) that
              C(grub.cfg) sources, a C(grub.cfg) not written the way C(grub-mkconfig) writes one, one GRUB would
              not parse, a command the reading does not know, an environment block that cannot be read.
          type: str
          sample: grubby
        kabi_reader:
          description: What reads C(.ko) files, V(pyelftools) or V(kmod); null when neither is available.
          type: str
          sample: pyelftools
        packages:
          description:
            - DKMS packages by name. What comes from C(dkms.conf) is read without running it, the way the
              target's dkms reads it (its version is read from C(/usr/sbin/dkms) under O(root)); a value that
              shell logic decides, or that the dkms versions the target may have read differently, is null.
          type: dict
          sample: {"hello": {"versions": ["1.0"], "newest": "1.0", "autoinstall": true,
                   "modules": ["hello"], "broken_versions": [], "build_depends": [], "no_weak_modules": false,
                   "obsolete_by": null, "build_exclusive": {"kernel": null, "arch": null, "kernel_min": null,
                   "kernel_max": null, "config": null},
                   "dkms_conf": {"path": "/usr/src/hello-1.0/dkms.conf", "dkms_version": "3.0.10",
                   "valid": true, "errors": []}, "failed_builds": []}}
          contains:
            package_name:
              description: One entry per package, keyed by its name (not literally C(package_name)); the
                C(dkms.conf) facts are those of its newest version.
              type: dict
              contains:
                versions:
                  description: Every registered version, oldest first.
                  type: list
                  elements: str
                newest:
                  description: The newest registered version.
                  type: str
                broken_versions:
                  description: Versions whose source link is dangling or missing.
                  type: list
                  elements: str
                autoinstall:
                  description:
                    - Whether C(dkms autoinstall) builds the package for a new kernel. dkms 3.1.7 and later
                      accept only V(yes) and V(no) (any case); older versions autoinstall on any non-empty
                      C(AUTOINSTALL), V(no) included.
                    - Null when not static.
                  type: bool
                modules:
                  description:
                    - Installed module names (C(DEST_MODULE_NAME), defaulting to C(BUILT_MODULE_NAME)), from the
                      builds in the dkms tree, else from C(dkms.conf) records counted as the target's dkms
                      counts them; V([]) when C(dkms.conf) declares no module.
                    - Null when not static.
                  type: list
                  elements: str
                build_depends:
                  description: C(BUILD_DEPENDS), the packages dkms builds first; null when not static.
                  type: list
                  elements: str
                no_weak_modules:
                  description: C(NO_WEAK_MODULES) is set, so dkms makes no weak-updates links; null when not static.
                  type: bool
                obsolete_by:
                  description:
                    - C(OBSOLETE_BY), the kernel release from which the package is no longer built (dkms 3.2.0
                      and later use it as C(BUILD_EXCLUSIVE_KERNEL_MAX) when that is unset).
                    - Null when unset or not static.
                  type: str
                build_exclusive:
                  description:
                    - The C(BUILD_EXCLUSIVE_*) rules as written (after dkms's own reading of the file), null
                      when any is not static. The per-kernel verdict is the package's C(excluded) status.
                    - A rule with per-module values (dkms 3.3.0 and later) is a list by module record.
                  type: dict
                  contains:
                    kernel:
                      description: C(BUILD_EXCLUSIVE_KERNEL), a POSIX extended regular expression matched
                        against the kernel release; null when unset.
                      type: raw
                    arch:
                      description: C(BUILD_EXCLUSIVE_ARCH), a POSIX extended regular expression matched
                        against the architecture; null when unset.
                      type: raw
                    kernel_min:
                      description: C(BUILD_EXCLUSIVE_KERNEL_MIN) (dkms 3.0.11 and later); null when unset.
                      type: raw
                    kernel_max:
                      description: C(BUILD_EXCLUSIVE_KERNEL_MAX) (dkms 3.0.11 and later); null when unset.
                      type: raw
                    config:
                      description: C(BUILD_EXCLUSIVE_CONFIG), kernel options that must (or, with C(!),
                        must not) be V(y) or V(m) (dkms 3.0.11 and later); null when unset.
                      type: raw
                dkms_conf:
                  description: Whether the target's dkms accepts the newest version's C(dkms.conf).
                  type: dict
                  contains:
                    path:
                      description: The C(dkms.conf) read, null when the newest version has none to read.
                      type: str
                    dkms_version:
                      description: The target's dkms version, read from its script; null when unknown (then
                        a fact is given only when every dkms version reads it the same way).
                      type: str
                    valid:
                      description: False when dkms refuses the file (it then builds nothing from it), true
                        when it accepts it, null when that cannot be known.
                      type: bool
                    errors:
                      description: Why dkms refuses the file, in the terms of dkms's own errors; with the
                        dkms version unknown, the reasons any version gives.
                      type: list
                      elements: str
                failed_builds:
                  description:
                    - Builds dkms started but did not finish, one per version at most. dkms keeps the
                      C(make.log) of its last build in the version's C(build/) directory and removes that
                      directory when a build succeeds, so a kernel without a build is told apart as tried.
                  type: list
                  elements: dict
                  contains:
                    version:
                      description: The package version.
                      type: str
                    kernel:
                      description: The kernel release the build was for, from the log's first line; null
                        when the log does not say.
                      type: str
                    arch:
                      description: The architecture the build was for; null when the log does not say.
                      type: str
                    log:
                      description: The log's path (under O(root)).
                      type: str
                    tail:
                      description: The log's last lines (at most 20, from its last 4 KiB).
                      type: list
                      elements: str
        dkms_certificate:
          description:
            - The certificate dkms signs modules with (C(/var/lib/dkms/mok.pub)) and whether it is
              enrolled as a MOK; null when there is none.
          type: dict
          contains:
            subject:
              description: The certificate's subject.
              type: str
            issuer:
              description: The certificate's issuer.
              type: str
            serial:
              description: The serial number, colon hex.
              type: str
            skid:
              description: The subject key identifier, colon hex, null when absent.
              type: str
            sha256:
              description: SHA-256 of the DER certificate.
              type: str
            path:
              description: Where it was read.
              type: str
            enrolled:
              description: In the MOK list (C(MokListRT)); null when that cannot be read.
              type: bool
            pending:
              description: Waiting in C(MokNew) for confirmation in MokManager at the next boot; null when unknown.
              type: bool
        kernels:
          description: Kernels by release (the keys are kernel releases).
          type: dict
          contains:
            kernel_release:
              description: One kernel, keyed by its release.
              type: dict
              contains:
                installed:
                  description: A kernel image or in-tree modules are present.
                  type: bool
                stale:
                  description: A leftover directory (no image, no in-tree modules, no headers); never counted as uncovered.
                  type: bool
                headers:
                  description: C(build/include) is present, so dkms can build for it.
                  type: bool
                running:
                  description: The running kernel (only when O(root=/)).
                  type: bool
                default:
                  description: The kernel the next boot uses.
                  type: bool
                symvers:
                  description: The symvers file used for kABI verdicts, null when there is none.
                  type: str
                covered:
                  description: Every package is covered on this kernel.
                  type: bool
                module_signatures:
                  description: Whether the kernel refuses unsigned or untrusted modules at its next boot, and why.
                  type: dict
                  contains:
                    enforced:
                      description: True, false, or null when it cannot be known (no EFI variables under O(root), no kernel config).
                      type: bool
                    reason:
                      description: Why enforced, V(secure_boot), V(sig_enforce), V(config) or V(lockdown); null otherwise.
                      type: str
                    detail:
                      description: A sentence on how the verdict was reached, or what is unknown.
                      type: str
                    secure_boot:
                      description: UEFI Secure Boot at the next boot (C(SecureBoot), C(SetupMode), shim's C(MokSBStateRT)); null when unknown,
                        also while a change of shim's validation (C(MokSB)) waits for confirmation.
                      type: bool
                    lockdown:
                      description: The lockdown level at the next boot (V(none), V(integrity), V(confidentiality)), null when unknown.
                        A kernel with the lockdown patches from before the lockdown LSM (RHEL 8) has one level, which restricts
                        what both of the LSM's do, V(confidentiality).
                      type: str
                    cmdline:
                      description: The file the next-boot command line was read from, null when none.
                      type: str
                    trusted_keys:
                      description: Certificates the kernel trusts for modules (C(subject), C(issuer), C(serial),
                        C(skid), C(sha256), C(source) such as V(MokListRT) or V(db)); null when not all are readable.
                      type: list
                      elements: dict
                    pending_keys:
                      description: Certificates waiting in C(MokNew) for enrollment at the next boot; empty where
                        the kernel reads no MOK list (no Secure Boot, or from 5.17 to 7.0 no
                        C(CONFIG_IMA_SECURE_AND_OR_TRUSTED_BOOT)), null when that is unknown.
                      type: list
                      elements: dict
                packages:
                  description: Each DKMS package on this kernel, keyed by package name.
                  type: dict
                  contains:
                    package_name:
                      description: One package on this kernel.
                      type: dict
                      contains:
                        status:
                          description:
                            - V(installed), V(weak), V(weak-incompatible), V(built), V(broken), V(rejected), V(missing)
                              or V(excluded); see the notes of C(dkms) above.
                          type: str
                        covered:
                          description: V(installed), V(weak) and V(excluded) count as covered.
                          type: bool
                        verified:
                          description:
                            - Every rule that could decide C(covered) was checked; false when something could not be
                              known (no symvers, no module reader, signature enforcement unknown, an unreadable file,
                              or one that may export what a module lacks, a compressed module with no kmod program to
                              tell which formats the system decompresses, a link or copy that C(modules.dep) does not
                              list).
                            - A reboot gate can ask for C(covered and verified).
                          type: bool
                        version:
                          description: The version that provides it, null when nothing does.
                          type: str
                        outdated:
                          description: Provided by an older version than the newest registered.
                          type: bool
                        provider_kernel:
                          description: For V(weak), the kernel the linked modules were built for.
                          type: str
                        modules:
                          description: Each module of the package, keyed by module name.
                          type: dict
                          contains:
                            module_name:
                              description: One module file as the kernel would see it.
                              type: dict
                              contains:
                                status:
                                  description: The module's status, in the same words as the package's.
                                  type: str
                                path:
                                  description: The file in the kernel's module tree (installed copy or weak link).
                                  type: str
                                target:
                                  description: The dkms build it comes from.
                                  type: str
                                kabi:
                                  description:
                                    - Null when not checked; otherwise what the kernel loader would say about its
                                      symbols, whatever the signature check says.
                                    - C(compatible); C(missing) (imported symbols nothing loadable on the kernel exports to
                                      this module, GPL-only exports included for a module whose license is not GPL-compatible);
                                      C(mismatched) (exported with another CRC); C(namespaces) (namespaces the module would have
                                      to import with C(MODULE_IMPORT_NS)); C(duplicates) (symbols the module exports that the
                                      kernel image, or an in-tree module it imports from, exports too, so the loader
                                      refuses it); C(vermagic) (whether it matches,
                                      null when unknown).
                                  type: dict
                                signature:
                                  description:
                                    - Null when not checked; otherwise C(signed), C(signer) (the issuer's CN),
                                      C(key_id) (serial or subject key identifier) and C(trusted) (a key the kernel trusts
                                      at its next boot matches, and an RSA signature matches the module's bytes; null when
                                      unknown, such as for a trusted signature of another kind).
                                  type: dict
                                shadowed_by:
                                  description:
                                    - A file modprobe would load instead of this weak link or installed copy (a better-ranked
                                      directory of depmod's search order, or a depmod.d override).
                                  type: str
                                reason:
                                  description: Why the module does not load, or what could not be checked; null otherwise.
                                  type: str
        uncovered:
          description: Every (kernel, package) pair of a non-stale kernel that is not covered, sorted by kernel then package.
          type: list
          elements: dict
          sample: [{"kernel": "6.1.0-50-amd64", "package": "hello", "version": "1.0",
                    "status": "missing", "headers": true}]
          contains:
            kernel:
              description: The kernel release.
              type: str
            package:
              description: The package name.
              type: str
            version:
              description: The package's newest registered version (what a build would use); null when it has none.
              type: str
            status:
              description: The pair's status, one that is not covered.
              type: str
              choices: [weak-incompatible, built, broken, rejected, missing]
            headers:
              description: Whether the kernel's headers are installed, so dkms can build for it.
              type: bool
        summary:
          description: Counts of non-stale kernels, covered and uncovered kernels, packages, and (kernel, package) pairs that are not verified.
          type: dict
          sample: {"kernels": 4, "covered": 3, "uncovered": 1, "packages": 1, "unverified": 0}
          contains:
            kernels:
              description: Kernels that are not stale.
              type: int
            covered:
              description: Those of them that are covered.
              type: int
            uncovered:
              description: Those of them that are not.
              type: int
            packages:
              description: Packages in the report.
              type: int
            unverified:
              description: (kernel, package) pairs of the non-stale kernels whose C(verified) is false.
              type: int
'''

import gc

# In a run of its own (not where tests import it), Python's cyclic garbage collector stays off while
# the collection's code is imported and the module starts (Ansible's AnsiballZ has imported its own
# code by then): there it would run a dozen times, for about 2 ms, and find next to nothing. main()
# turns it back on before the facts are gathered.
COLLECTOR_HELD = __name__ == '__main__' and gc.isenabled()
if COLLECTOR_HELD:
    gc.disable()

import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kabi.dkms.plugins.module_utils._zip_import import compiled_once

with compiled_once():
    from ansible_collections.kabi.dkms.plugins.module_utils._coverage import gather_facts
    from ansible_collections.kabi.dkms.plugins.module_utils._elftools_adapter import load_adapter
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
    elftools = load_adapter()
    if module.params['kabi_check'] and elftools is None:
        # Imported only here: most hosts have pyelftools, and every run compiles what it imports.
        from ansible_collections.kabi.dkms.plugins.module_utils._interpreters import rerun_with_elftools
        rerun_with_elftools(module, [module.params[name] for name in ('root', 'dkms_tree', 'source_tree')])
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

    if COLLECTOR_HELD:
        # What the imports made is frozen first: else the collector's first run would walk all of it.
        if hasattr(gc, 'freeze'):   # Python 3.7
            gc.freeze()
        gc.enable()
    facts = gather_facts(RootFS(root, snapshot=True), warn, packages=module.params['packages'],
                         kabi_check=module.params['kabi_check'], runner=runner, root=root,
                         dkms_tree=module.params['dkms_tree'], source_tree=module.params['source_tree'],
                         elftools=elftools)
    facts['gathered_at'] = gathered_at
    unknown = [name for name in module.params['packages'] or () if name not in facts['packages']]
    if unknown:
        # A misspelt or uninstalled name would otherwise read as "every kernel is covered".
        warn('packages: %s %s not registered in the dkms tree, so nothing is reported for %s'
             % (', '.join(unknown), 'is' if len(unknown) == 1 else 'are', 'it' if len(unknown) == 1 else 'them'))
    # exit_json ends the process: nothing made by then is garbage the cyclic collector could find,
    # so it is frozen, left out of the one at exit, and the collector is stopped: exit_json's copies
    # of the facts hold no cycles either, and are freed as they are let go.
    if hasattr(gc, 'freeze'):   # Python 3.7
        gc.freeze()
    gc.disable()
    module.exit_json(changed=False, ansible_facts={'dkms': facts})


if __name__ == '__main__':
    with compiled_once():   # also what main() imports only on the hosts that need it
        main()
