# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build the demo system tree, and check the dkms facts gathered from it.

    make_demo_tree.py build ROOT              ROOT anew, from system_trees.build_demo (gcc-built modules)
    make_demo_tree.py check ROOT OUTPUT       OUTPUT: what `ansible localhost -m kabi.dkms.dkms_facts
                                              -a root=ROOT` printed with the minimal callback

The collection must be importable: run it with the directory holding ``ansible_collections`` on
PYTHONPATH (scripts/demo.sh and scripts/test.sh do).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from ansible_collections.kabi.dkms.tests.unit.ko_fixtures import KoBuilder
from ansible_collections.kabi.dkms.tests.unit.system_trees import build_demo

ABI = '6.1.0-47-amd64'
NEWER = '6.1.0-50-amd64'
# What build_demo makes, per (kernel, package): the status the facts must report.
EXPECTED = {
    (ABI, 'hello'): 'installed',
    (ABI + '+clone', 'hello'): 'weak',
    (ABI + '+broken', 'hello'): 'weak-incompatible',
    (NEWER, 'hello'): 'missing',
    (ABI, 'gpu'): 'excluded',
    (ABI + '+clone', 'gpu'): 'excluded',
    (ABI + '+broken', 'gpu'): 'excluded',
    (NEWER, 'gpu'): 'installed',
}


def build(root: Path) -> None:
    """ROOT anew; compiled objects are cached beside it so a rebuild costs no gcc run."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    build_demo(root, KoBuilder(root.parent / (root.name + '.ko-cache')))
    print('demo tree: %s' % root)


def facts_of(output: str) -> dict[str, Any]:
    """ansible_facts['dkms'] from an ad-hoc run's ``localhost | SUCCESS => {...}``."""
    status, sep, result = output.partition(' => ')
    if not sep:
        raise SystemExit('no result in the ansible output:\n%s' % output)
    if 'SUCCESS' not in status:
        raise SystemExit('dkms_facts did not succeed:\n%s' % output)
    return json.loads(result)['ansible_facts']['dkms']


def problems(root: Path, dkms: dict[str, Any]) -> list[str]:
    """Every way the facts differ from EXPECTED (empty when they agree)."""
    found = []
    if dkms.get('schema_version') != 1:
        found.append('schema_version is %r' % dkms.get('schema_version'))
    if dkms.get('root') != str(root):
        found.append('root is %r, not %r' % (dkms.get('root'), str(root)))
    # Without a kABI reader the broken clone cannot be told from a good one: plain weak.
    checked = dkms.get('kabi_reader') is not None
    expected = {key: 'weak' if status == 'weak-incompatible' and not checked else status
                for key, status in EXPECTED.items()}
    for (kernel, package), status in sorted(expected.items()):
        got = dkms['kernels'].get(kernel, {}).get('packages', {}).get(package, {}).get('status')
        if got != status:
            found.append('%s on %s: %r, expected %r' % (package, kernel, got, status))
    uncovered = sorted((u['kernel'], u['package'], u['status']) for u in dkms['uncovered'])
    want = sorted((k, p, s) for (k, p), s in expected.items() if s in ('weak-incompatible', 'missing'))
    if uncovered != want:
        found.append('uncovered is %s, expected %s' % (uncovered, want))
    if dkms['summary']['uncovered'] != len(want):
        found.append('summary.uncovered is %r' % dkms['summary']['uncovered'])
    return found


def check(root: Path, output: Path) -> int:
    dkms = facts_of(output.read_text())
    found = problems(root, dkms)
    for problem in found:
        print('MISMATCH: %s' % problem)
    verdict = '%d mismatches' % len(found) if found else 'as expected'
    print('%d kernels, kabi_reader %s: %s' % (len(dkms['kernels']), dkms['kabi_reader'], verdict))
    return 1 if found else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='command', required=True)
    sub.add_parser('build').add_argument('root', type=Path)
    check_parser = sub.add_parser('check')
    check_parser.add_argument('root', type=Path)
    check_parser.add_argument('output', type=Path)
    args = parser.parse_args()
    if args.command == 'build':
        build(args.root.absolute())
        return 0
    return check(args.root.absolute(), args.output)


if __name__ == '__main__':
    sys.exit(main())
