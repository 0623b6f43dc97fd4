# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test roots for the README's examples, named as the README names things (nvidia 550.54.14 on
6.1.0-55/56-amd64), and an inventory of local hosts, one per case the reboot gate tells apart.

Usage: make_roots.py WORKDIR  (writes WORKDIR/roots/* and WORKDIR/inventory.yml)
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ansible_collections.kabi.dkms.tests.unit.ko_fixtures import KoBuilder
from ansible_collections.kabi.dkms.tests.unit.system_trees import SystemTree, build_demo

PACKAGE, VERSION = 'nvidia', '550.54.14'
OLD, NEW = '6.1.0-55-amd64', '6.1.0-56-amd64'


def next_covered(system: SystemTree) -> None:
    """The next boot (the newest kernel) has nvidia: reboot."""
    for release in (OLD, NEW):
        system.kernel(release)
    system.package(PACKAGE, VERSION, [PACKAGE])
    for release in (OLD, NEW):
        system.build(PACKAGE, VERSION, release)


def next_uncovered(system: SystemTree) -> None:
    """The next boot lacks nvidia: no reboot."""
    for release in (OLD, NEW):
        system.kernel(release)
    system.package(PACKAGE, VERSION, [PACKAGE])
    system.build(PACKAGE, VERSION, OLD)


def old_uncovered(system: SystemTree) -> None:
    """The next boot has nvidia, the older kernel does not: reboot; fails only the `all` scope."""
    for release in (OLD, NEW):
        system.kernel(release)
    system.package(PACKAGE, VERSION, [PACKAGE])
    system.build(PACKAGE, VERSION, NEW)


def no_default(system: SystemTree) -> None:
    """Headers but no kernel image: the next-boot kernel is unknown (null), no reboot."""
    system.kernel(NEW, installed=False)
    system.package(PACKAGE, VERSION, [PACKAGE])


def relative_source_links(root: Path) -> None:
    """dkms's source links, made relative: the facts resolve them inside the root, and
    dkms_module, pointed at the root's trees (dkms_tree, source_tree), on the host."""
    for link in root.glob('var/lib/dkms/*/*/source'):
        target = os.readlink(link)
        link.unlink()
        link.symlink_to(os.path.relpath(root / target.lstrip('/'), link.parent))


def main(workdir: Path) -> None:
    ko = KoBuilder(workdir / 'ko-cache')
    hosts = {}
    for make in (next_covered, next_uncovered, old_uncovered, no_default):
        root = workdir / 'roots' / make.__name__
        make(SystemTree(root, ko))
        relative_source_links(root)
        hosts[make.__name__] = {'readme_root': str(root)}
    # Every status, for the facts sample: not a host of the examples.
    build_demo(workdir / 'roots' / 'demo', ko)
    inventory = {
        # The README's plays name `all` and `dkms_hosts`.
        'dkms_hosts': {
            'hosts': hosts,
            'vars': {
                'ansible_connection': 'readme_local',
                'ansible_python_interpreter': '{{ ansible_playbook_python }}',
                # `become: true` in the examples; su needs no password from root, nor sudo.
                'ansible_become_method': 'ansible.builtin.su',
                # The role reads (and, with a root other than /, never builds on) the test root.
                'dkms_coverage_root': '{{ readme_root }}',
            },
        },
    }
    if os.geteuid() != 0:
        # Becoming root would need a password; the examples only read the test roots.
        inventory['dkms_hosts']['vars']['ansible_become'] = False
    # JSON is YAML: the inventory plugin reads it.
    (workdir / 'inventory.yml').write_text(json.dumps(inventory, indent=1))


if __name__ == '__main__':
    main(Path(sys.argv[1]))
