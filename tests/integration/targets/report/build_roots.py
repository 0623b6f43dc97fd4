# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test roots and an inventory for the report target: the shared demo system (every status)
and a fully covered one, each shared by several local hosts.

Usage: build_roots.py WORKDIR HOSTS  (writes WORKDIR/roots/* and WORKDIR/inventory.yml)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ansible_collections.kabi.dkms.tests.unit.ko_fixtures import KoBuilder
from ansible_collections.kabi.dkms.tests.unit.system_trees import SystemTree, build_demo

# A name no shell or HTML should take literally: the report must escape it.
HOSTILE_HOST = 'evil<b>x</b>|`y`&z'


def mixed_root(root: Path, ko: KoBuilder) -> None:
    """The demo system plus a package built but not installed and a stale kernel directory."""
    system = build_demo(root, ko)
    system.package('zfs', '2.2.9', ['zfs'])
    system.build('zfs', '2.2.9', '6.1.0-50-amd64', install=False)
    system.path('/lib/modules/6.1.0-40-amd64/weak-updates').mkdir(parents=True)


def covered_root(root: Path, ko: KoBuilder) -> None:
    system = SystemTree(root, ko)
    system.kernel('6.1.0-47-amd64')
    system.package('hello', '1.0', ['hello'])
    system.build('hello', '1.0', '6.1.0-47-amd64')


def main(workdir: Path, hosts: int) -> None:
    ko = KoBuilder(workdir / 'ko-cache')
    roots = {}
    for name, make in (('mixed', mixed_root), ('covered', covered_root)):
        roots[name] = workdir / 'roots' / name
        make(roots[name], ko)
    kinds = list(roots)
    members: dict[str, dict[str, str]] = {
        'host%d' % index: {'dkms_report_root': str(roots[kinds[index % len(kinds)]])} for index in range(1, hosts + 1)
    }
    members[HOSTILE_HOST] = {'dkms_report_root': str(roots['mixed'])}
    members['no-root'] = {'dkms_report_root': str(workdir / 'roots/absent')}
    inventory = {
        'local': {
            'hosts': members,
            'vars': {'ansible_connection': 'local', 'ansible_python_interpreter': '{{ ansible_playbook_python }}'},
        },
        # Nothing listens on the discard port: the host is unreachable at once.
        'unreachable': {
            'hosts': {'down': {'ansible_host': '127.0.0.1', 'ansible_port': 9, 'ansible_connection': 'ssh'}},
        },
    }
    # JSON is YAML: the inventory plugin reads it, and no YAML library is needed here.
    (workdir / 'inventory.yml').write_text(json.dumps(inventory, indent=1))


if __name__ == '__main__':
    main(Path(sys.argv[1]), int(sys.argv[2]))
