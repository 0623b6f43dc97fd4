# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whole DKMS systems under a temporary root, made of real files and gcc-built modules.

One builder serves the unit tests, the integration targets, the demo and the benchmark,
so every one of them looks at the same shapes: kernels with headers and symvers, a dkms
tree with sources, builds and install links, and RHEL-style weak links.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from ansible_collections.kabi.dkms.tests.unit.ko_fixtures import KoBuilder, gzip_file, xz_file, zstd_file

VERMAGIC_SUFFIX = 'SMP preempt mod_unload modversions '
# Symbols every test module imports; module_layout is the classic kABI canary.
BASE_SYMBOLS = ('module_layout', '_printk', 'kfree')
COMPRESSORS = {'.gz': gzip_file, '.xz': xz_file, '.zst': zstd_file}
# A Debian-like kernel config: signatures checked but not enforced unless Secure Boot is on.
KERNEL_CONFIG = ('CONFIG_X86_64=y\nCONFIG_SMP=y\nCONFIG_PREEMPT=y\nCONFIG_MODULE_UNLOAD=y\nCONFIG_MODVERSIONS=y\n'
                 'CONFIG_MODULE_SIG=y\nCONFIG_SECURITY_LOCKDOWN_LSM=y\nCONFIG_SECURITY_LOCKDOWN_LSM_EARLY=y\n'
                 'CONFIG_LOCK_DOWN_IN_EFI_SECURE_BOOT=y\n'
                 'CONFIG_INTEGRITY_PLATFORM_KEYRING=y\nCONFIG_LOAD_UEFI_KEYS=y\n'
                 'CONFIG_IMA=y\nCONFIG_IMA_ARCH_POLICY=y\nCONFIG_IMA_SECURE_AND_OR_TRUSTED_BOOT=y\n')


def abi_crcs(abi: str, symbols: Sequence[str] = BASE_SYMBOLS) -> dict[str, int]:
    """Stable CRCs for one kernel ABI: kernels of one ABI share them, others do not."""
    return {symbol: int(hashlib.sha256(('%s:%s' % (abi, symbol)).encode()).hexdigest()[:8], 16)
            for symbol in symbols}


def dkms_conf(name: str, version: str, modules: Sequence[str], extra: str = '') -> str:
    lines = ['PACKAGE_NAME="%s"' % name, 'PACKAGE_VERSION="%s"' % version, 'AUTOINSTALL="yes"']
    for index, module in enumerate(modules):
        lines.append('BUILT_MODULE_NAME[%d]="%s"' % (index, module))
        lines.append('DEST_MODULE_LOCATION[%d]="/updates/dkms"' % index)
    return '\n'.join(lines) + '\n' + extra


class SystemTree:
    """Builds a system under ``root``; every method takes in-root names, not host paths."""

    def __init__(self, root: Path, ko: KoBuilder, arch: str = 'x86_64') -> None:
        self.root = root
        self.ko = ko
        self.arch = arch
        self.kernel_crcs: dict[str, dict[str, int]] = {}
        self.modules: dict[tuple[str, str], list[str]] = {}

    def path(self, in_root: str) -> Path:
        return self.root / in_root.lstrip('/')

    def kernel(self, release: str, abi: str | None = None, installed: bool = True, headers: bool = True,
               symvers: str = 'build', crcs: Mapping[str, int] | None = None,
               this_module_size: int | None = None) -> dict[str, int]:
        """A kernel: image and in-tree module list, headers, a symvers file.

        ``abi`` names its kABI (the release by default): kernels of one ABI accept each
        other's modules. ``symvers`` is where the symvers goes: ``build`` (Module.symvers in
        the headers), ``boot`` (/boot/symvers-K.gz), ``lib`` (/lib/modules/K/symvers.gz)
        or ``none``. ``this_module_size``: its sizeof(struct module), as its in-tree module
        carries it (the test modules' size by default). Returns the kernel's exported CRCs.
        """
        exports = dict(crcs) if crcs is not None else abi_crcs(abi or release)
        self.kernel_crcs[release] = exports
        modules_dir = self.path('/lib/modules/%s' % release)
        modules_dir.mkdir(parents=True, exist_ok=True)
        if installed:
            self.path('/boot').mkdir(parents=True, exist_ok=True)
            self.path('/boot/vmlinuz-%s' % release).write_bytes(b'not a real kernel image\n')
            in_tree = self.ko.build_ko(modules_dir / 'kernel/drivers/misc', 'intree_dummy',
                                       vermagic='%s %s' % (release, VERMAGIC_SUFFIX),
                                       versions={'module_layout': exports['module_layout']},
                                       this_module_size=this_module_size)
            (modules_dir / 'modules.order').write_text(str(in_tree.relative_to(modules_dir)) + '\n')
        text = ''.join('0x%08x\t%s\tvmlinux\tEXPORT_SYMBOL\t\n' % (crc, symbol) for symbol, crc in exports.items())
        if headers:
            (modules_dir / 'build/include').mkdir(parents=True, exist_ok=True)
            (modules_dir / 'build/.config').write_text(KERNEL_CONFIG)
        if symvers == 'build':
            (modules_dir / 'build').mkdir(parents=True, exist_ok=True)
            (modules_dir / 'build/Module.symvers').write_text(text)
        elif symvers == 'boot':
            self.path('/boot').mkdir(parents=True, exist_ok=True)
            self.path('/boot/symvers-%s.gz' % release).write_bytes(gzip.compress(text.encode()))
        elif symvers == 'lib':
            (modules_dir / 'symvers.gz').write_bytes(gzip.compress(text.encode()))
        return exports

    def dkms_script(self, version: str) -> None:
        """The dkms command of that version: the facts read its version line, never run it."""
        script = self.path('/usr/sbin/dkms')
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text('#!/bin/bash\n# not a working dkms: only its version\ncase "$1" in\n'
                          '    -V|--version)\n        echo "dkms-%s"\n        exit 0\n        ;;\nesac\nexit 1\n' % version)
        script.chmod(0o755)

    def package(self, name: str, version: str, modules: Sequence[str], conf: str | None = None,
                source: bool = True) -> None:
        """Register a package version: source directory with dkms.conf and the source link.

        ``source=False`` leaves the source link dangling (a broken version).
        """
        self.modules[(name, version)] = list(modules)
        source_dir = self.path('/usr/src/%s-%s' % (name, version))
        if source:
            source_dir.mkdir(parents=True, exist_ok=True)
            (source_dir / 'dkms.conf').write_text(conf if conf is not None else dkms_conf(name, version, modules))
        version_dir = self.path('/var/lib/dkms/%s/%s' % (name, version))
        version_dir.mkdir(parents=True, exist_ok=True)
        link = version_dir / 'source'
        if not link.is_symlink():
            link.symlink_to('/usr/src/%s-%s' % (name, version))

    def build(self, name: str, version: str, release: str, install: bool = True, compress: str = '',
              crcs: Mapping[str, int] | None = None) -> list[Path]:
        """Build every module of a package version for ``release`` and optionally install it.

        Modules import the kernel's CRCs (or ``crcs``); later modules import a symbol the
        first one exports, like a driver split into a core and a client. ``compress`` is
        '', '.gz', '.xz' or '.zst'.
        """
        imports = dict(crcs) if crcs is not None else dict(self.kernel_crcs[release])
        module_dir = self.path('/var/lib/dkms/%s/%s/%s/%s/module' % (name, version, release, self.arch))
        module_dir.mkdir(parents=True, exist_ok=True)
        made = []
        modules = self.modules[(name, version)]
        for module in modules:
            versions = dict(imports)
            if module != modules[0]:
                versions[modules[0] + '_export'] = 0x5151
            ko = self.ko.build_ko(module_dir, module, vermagic='%s %s' % (release, VERMAGIC_SUFFIX),
                                  versions=versions, exports=[module + '_export'])
            if compress:
                compressed = COMPRESSORS[compress](ko)
                ko.unlink()
                ko = compressed
            made.append(ko)
        if install:
            self.install(name, version, release)
        return made

    def install(self, name: str, version: str, release: str) -> None:
        """Copy the build into the kernel's updates/dkms and write dkms's install link."""
        module_dir = self.path('/var/lib/dkms/%s/%s/%s/%s/module' % (name, version, release, self.arch))
        dest = self.path('/lib/modules/%s/updates/dkms' % release)
        dest.mkdir(parents=True, exist_ok=True)
        for built in sorted(module_dir.iterdir()):
            (dest / built.name).write_bytes(built.read_bytes())
        link = self.path('/var/lib/dkms/%s/kernel-%s-%s' % (name, release, self.arch))
        if link.is_symlink():
            link.unlink()
        link.symlink_to('%s/%s/%s' % (version, release, self.arch))

    def bios_boot(self, cmdline: str = 'quiet') -> None:
        """A machine that boots without EFI (so without Secure Boot) through GRUB with ``cmdline``."""
        self.path('/sys/firmware').mkdir(parents=True, exist_ok=True)
        self.path('/etc/default').mkdir(parents=True, exist_ok=True)
        self.path('/etc/default/grub').write_text('GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="%s"\n'
                                                  'GRUB_CMDLINE_LINUX=""\n' % cmdline)

    def weak_link(self, release: str, provider: str, filename: str, subdir: str = '') -> Path:
        """An absolute weak-updates link on ``release`` to ``provider``'s updates/dkms file."""
        link = self.path('/lib/modules/%s/weak-updates/%s' % (release, subdir)) / filename
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to('/lib/modules/%s/updates/dkms/%s' % (provider, filename))
        return link

    def weak_link_build(self, release: str, provider: str) -> None:
        """Weak links on ``release`` for every file installed on ``provider``, as weak-modules makes them."""
        for installed in sorted(self.path('/lib/modules/%s/updates/dkms' % provider).iterdir()):
            self.weak_link(release, provider, installed.name)


def hello_weak_linked(root: Path, ko: KoBuilder, abi: str, clone: str) -> SystemTree:
    """hello 1.0 built and installed by dkms for ``abi``, weak-linked into ``clone`` of the same kABI."""
    system = SystemTree(root, ko)
    system.kernel(abi)
    system.kernel(clone, abi=abi)
    system.package('hello', '1.0', ['hello'])
    system.build('hello', '1.0', abi)
    system.weak_link_build(clone, abi)
    return system


def build_demo(root: Path, ko: KoBuilder) -> SystemTree:
    """A small system that shows every status the facts know.

    hello 1.0 installed on 6.1.0-47-amd64; 6.1.0-47-amd64+clone (same kABI) weak-linked;
    6.1.0-47-amd64+broken (one CRC changed) weak-linked but incompatible; 6.1.0-50-amd64
    missing; nvidia-like 550.54.14 excluded on kernels older than 6.1.0-50 by BUILD_EXCLUSIVE
    (KERNEL_MIN, which dkms 3.0.11 and later know: the system has dkms 3.4.3).
    """
    system = SystemTree(root, ko)
    system.dkms_script('3.4.3')
    system.bios_boot()
    abi = '6.1.0-47-amd64'
    system.kernel(abi)
    system.kernel(abi + '+clone', abi=abi)
    broken = dict(abi_crcs(abi))
    broken['kfree'] ^= 0x1
    system.kernel(abi + '+broken', crcs=broken)
    system.kernel('6.1.0-50-amd64')
    system.package('hello', '1.0', ['hello', 'hello_ext'])
    system.build('hello', '1.0', abi)
    system.weak_link_build(abi + '+clone', abi)
    system.weak_link_build(abi + '+broken', abi)
    gpu_conf = dkms_conf('gpu', '550.54.14', ['gpu'], 'BUILD_EXCLUSIVE_KERNEL_MIN="6.1.0-50"\n')
    system.package('gpu', '550.54.14', ['gpu'], conf=gpu_conf)
    system.build('gpu', '550.54.14', '6.1.0-50-amd64')
    os.makedirs(system.path('/etc/dkms'), exist_ok=True)
    return system
