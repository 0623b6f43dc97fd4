# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build the system trees the dkms_facts target inspects: make_trees.py OUTPUT_DIR."""

from __future__ import annotations

import sys
from pathlib import Path

from ansible_collections.kabi.dkms.tests.unit.ko_fixtures import KoBuilder, kmod_program
from ansible_collections.kabi.dkms.tests.unit.system_trees import SystemTree, build_demo, dkms_conf

ABI = '6.1.0-47-amd64'


def build_more(root: Path, ko: KoBuilder) -> None:
    """Compressed weak links, several versions, built-only and broken packages."""
    system = SystemTree(root, ko)
    system.bios_boot()      # no Secure Boot: every signature check is known
    # The kmod that loads them, built with every format, as kmod 34 builds tell it.
    kmod_program(ko, root, '34', '+ZSTD +XZ +ZLIB +OPENSSL')
    system.kernel(ABI)
    for suffix in ('gz', 'xz', 'zst'):
        system.kernel('%s+%s' % (ABI, suffix), abi=ABI)
    system.kernel('6.1.0-50-amd64')
    system.kernel('6.1.0-56-amd64', headers=False)
    for suffix in ('gz', 'xz', 'zst'):
        name = 'comp' + suffix
        system.package(name, '1.0', [name])
        system.build(name, '1.0', ABI, compress='.' + suffix)
        system.weak_link_build('%s+%s' % (ABI, suffix), ABI)
    # multi: 1.0 serves the old ABI, 2.0 the new one; only 6.1.0-56 lacks it.
    system.package('multi', '1.0', ['multi'])
    system.package('multi', '2.0', ['multi'])
    system.build('multi', '1.0', ABI)
    system.build('multi', '2.0', '6.1.0-50-amd64')
    # built: compiled for 6.1.0-50 but never installed.
    system.package('builtonly', '0.1', ['builtonly'])
    system.build('builtonly', '0.1', '6.1.0-50-amd64', install=False)
    # exclusive: BUILD_EXCLUSIVE_KERNEL keeps it to the 6.1.0-50 kernel.
    system.package('exclusive', '3', ['exclusive'],
                   conf=dkms_conf('exclusive', '3', ['exclusive'], 'BUILD_EXCLUSIVE_KERNEL="^6\\.1\\.0-50-"\n'))


def main() -> None:
    out = Path(sys.argv[1])
    ko = KoBuilder(out / 'ko-cache')
    build_demo(out / 'demo', ko)
    build_more(out / 'more', ko)


if __name__ == '__main__':
    main()
