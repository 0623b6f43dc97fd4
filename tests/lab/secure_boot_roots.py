# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test roots for the Secure Boot lab cases, made from the real lab's dkms-signed modules.

    PYTHONPATH=<dir holding ansible_collections> python secure_boot_roots.py OUTDIR KERNEL CLONE

Each root under OUTDIR holds KERNEL (its dkms installs: the modules dkms built and signed with
/var/lib/dkms/mok.key) and CLONE (its weak-updates links to them), the dkms tree of those
packages, KERNEL's headers' config and symvers, and /var/lib/dkms/mok.pub; then:

- ``sb-untrusted``: Secure Boot on, MokListRT holding a certificate that is not dkms's;
- ``sb-trusted``: Secure Boot on, MokListRT holding dkms's certificate;
- ``sig-enforce``: Secure Boot off (so the MOK list holding dkms's certificate is not loaded),
  ``module.sig_enforce=1`` in the BLS entries, dkms's certificate built into the kernel (a self-built
  kernel's build/certs/signing_key.x509), and the modules of kabitest and kabidep-provider unsigned
  (stripped, as builds dkms did not sign): kabidep-consumer is signed but needs the provider;
- ``no-efivars``: no /sys at all, as in a disk image: whether signatures are enforced is unknown.

EFI variables are written in the efivarfs format by the unit tests' EfiRoot.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ansible_collections.kabi.dkms.tests.unit.signing_fixtures import EfiRoot, rsa_key

DKMS_TREE = '/var/lib/dkms'
DKMS_CERTIFICATE = '/var/lib/dkms/mok.pub'
UNSIGNED_PACKAGES = ('kabitest', 'kabidep-provider')
# Where a self-built kernel's headers keep the certificate built into it.
BUILTIN_CERTIFICATE = '/certs/signing_key.x509'


def copy(source, root, follow=True):
    """Copy the host path ``source`` to the same path under ``root`` (a tree, file or link)."""
    target = root + source
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if os.path.isdir(source) and not os.path.islink(source):
        shutil.copytree(source, target, symlinks=True)
    else:
        shutil.copy2(source, target, follow_symlinks=follow)
    return target


def installed_packages(kernel):
    """{package: version} of what dkms installed for ``kernel``."""
    found = {}
    for link in glob.glob('%s/*/kernel-%s-*' % (DKMS_TREE, kernel)):
        found[link.split('/')[-2]] = os.readlink(link).split('/')[0]
    return found


def base_root(root, kernel, clone):
    """The kernels, their dkms packages and headers, as on the host."""
    modules = '/lib/modules/%s' % kernel
    for name in os.listdir(modules):
        if name not in ('build', 'source'):
            copy(os.path.join(modules, name), root)
    headers = os.path.realpath(modules + '/build')
    # What the facts read of headers: the config, the symvers and that include/ exists.
    for name in ('.config', 'Module.symvers', 'include/generated'):
        copy(os.path.join(headers, name), root)
    os.symlink(headers, root + modules + '/build')
    clone_dir = '/lib/modules/%s' % clone
    for name in ('kernel', 'weak-updates', 'modules.order', 'modules.builtin', 'modules.builtin.modinfo', 'build'):
        copy(os.path.join(clone_dir, name), root, follow=False)
    for package, version in installed_packages(kernel).items():
        copy('%s/%s/%s/%s' % (DKMS_TREE, package, version, kernel), root)
        copy('%s/%s/kernel-%s-%s' % (DKMS_TREE, package, kernel, os.uname()[4]), root, follow=False)
        copy('%s/%s/%s/source' % (DKMS_TREE, package, version), root, follow=False)
        copy('/usr/src/%s-%s/dkms.conf' % (package, version), root)
    copy(DKMS_CERTIFICATE, root)


def certificate_der():
    with open(DKMS_CERTIFICATE, 'rb') as handle:
        return handle.read()


def boot_entry(root, kernel, options):
    """A BLS entry for ``kernel`` with the command line ``options``."""
    entry = os.path.join(root, 'boot/loader/entries/lab-%s.conf' % kernel)
    os.makedirs(os.path.dirname(entry), exist_ok=True)
    with open(entry, 'w') as handle:
        handle.write('title Lab %s\nversion %s\nlinux /vmlinuz-%s\noptions root=/dev/vda1 ro %s\n'
                     % (kernel, kernel, kernel, options))


def strip_signatures(root, kernel, package, version):
    """The package's modules as a build dkms did not sign: stripping drops the appended signature."""
    built = glob.glob('%s%s/%s/%s/%s/*/module/*.ko' % (root, DKMS_TREE, package, version, kernel))
    for path in built:
        installed = glob.glob('%s/lib/modules/%s/updates/**/%s' % (root, kernel, os.path.basename(path)),
                              recursive=True)
        subprocess.run(['strip', '-g', path], check=True)
        for copy_path in installed:
            shutil.copy2(path, copy_path)


def main(outdir, kernel, clone):
    if os.path.exists(outdir):
        shutil.rmtree(outdir)
    keys = tempfile.mkdtemp()
    try:
        other = rsa_key(Path(keys), 'other', '/CN=Not the DKMS key')
        roots = {}
        for name in ('sb-untrusted', 'sb-trusted', 'sig-enforce', 'no-efivars'):
            roots[name] = os.path.join(outdir, name)
            base_root(roots[name], kernel, clone)
            for release in (kernel, clone):
                boot_entry(roots[name], release, 'module.sig_enforce=1' if name == 'sig-enforce' else 'quiet')
        firmware = (('sb-untrusted', True, [other.der]), ('sb-trusted', True, [certificate_der()]),
                    ('sig-enforce', False, [certificate_der()]))
        for name, secure_boot, enrolled in firmware:
            efi = EfiRoot(Path(roots[name]))
            efi.secure_boot(secure_boot)
            efi.mok_list(enrolled)
        builtin = roots['sig-enforce'] + os.path.realpath('/lib/modules/%s/build' % kernel) + BUILTIN_CERTIFICATE
        os.makedirs(os.path.dirname(builtin))
        shutil.copy(DKMS_CERTIFICATE, builtin)
        for package in UNSIGNED_PACKAGES:
            strip_signatures(roots['sig-enforce'], kernel, package, installed_packages(kernel)[package])
    finally:
        shutil.rmtree(keys)
    for name, path in sorted(roots.items()):
        print('%s: %s' % (name, path))


if __name__ == '__main__':
    main(*sys.argv[1:4])
