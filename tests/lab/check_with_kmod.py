# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check dkms facts of the real lab against what dkms and kmod themselves say.

    python check_with_kmod.py FACTS.json

FACTS.json holds ``ansible_facts['dkms']`` gathered with root ``/``. Checked, for every kernel that
is not stale:

- ``dkms status``: every package dkms calls installed on a kernel is ``installed`` there (or
  ``broken`` with a reason), and every ``installed`` package is one dkms calls installed;
- the files: an installed module is a regular file with the same bytes as the dkms build it names,
  a weak module is a link in ``weak-updates/`` resolving to the file it names;
- the kABI verdict of every module that has one, against the CRCs ``modprobe --dump-modversions``
  prints and the kernel's symvers: ``mismatched`` lists exactly the symbols whose CRC differs,
  ``missing`` exactly those neither the kernel nor another module loadable there exports (exports
  from depmod's ``modules.symbols``, refused modules dropped until nothing changes), ``duplicates``
  exactly the symbols depmod says the module exports that the symvers gives to ``vmlinux``, and the
  status follows (compatible: installed or weak; not: broken for an installed copy,
  weak-incompatible for a weak link).

Prints one line per kernel and exits 1 listing every disagreement.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import filecmp
import gzip
import json
import os
import re
import subprocess
import sys

DKMS_STATUS_LINE = re.compile(r'^(?P<name>[^/]+)/(?P<version>[^,]+), (?P<kernel>[^,]+), [^:]+: (?P<state>\w+)')


def normalized(name):
    return name.replace('-', '_')


def dkms_status():
    """{(package, kernel): (version, state)} from ``dkms status``."""
    output = subprocess.run(['dkms', 'status'], check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout
    found = {}
    for line in output.splitlines():
        match = DKMS_STATUS_LINE.match(line)
        if match:
            found[(match.group('name'), match.group('kernel'))] = (match.group('version'), match.group('state'))
    return found


def check_dkms_status(facts, problems):
    status = dkms_status()
    for (package, kernel), (version, state) in sorted(status.items()):
        kernel_fact = facts['kernels'].get(kernel)
        if state != 'installed' or kernel_fact is None or package not in kernel_fact['packages']:
            continue
        entry = kernel_fact['packages'][package]
        if entry['status'] == 'installed' and entry['version'] == version:
            continue
        if entry['status'] == 'broken' and all(m['reason'] for m in entry['modules'].values() if m['status'] == 'broken'):
            continue
        problems.append('%s on %s: dkms says %s %s, the facts %s %s' % (
            package, kernel, version, state, entry['status'], entry['version']))
    for kernel, kernel_fact in sorted(facts['kernels'].items()):
        for package, entry in sorted(kernel_fact['packages'].items()):
            if entry['status'] == 'installed' and status.get((package, kernel)) != (entry['version'], 'installed'):
                problems.append('%s on %s: installed in the facts, dkms says %s' % (
                    package, kernel, status.get((package, kernel))))


def check_files(facts, problems):
    for kernel, kernel_fact in sorted(facts['kernels'].items()):
        weak_dir = '/lib/modules/%s/weak-updates/' % kernel
        for package, entry in sorted(kernel_fact['packages'].items()):
            for name, module in sorted(entry['modules'].items()):
                where = '%s/%s on %s' % (package, name, kernel)
                path, target = module['path'], module['target']
                if module['status'] == 'installed':
                    build_dir = '/var/lib/dkms/%s/%s/%s/' % (package, entry['version'], kernel)
                    if not (target.startswith(build_dir) and os.path.isfile(path) and not os.path.islink(path)
                            and filecmp.cmp(path, target, shallow=False)):
                        problems.append('%s: installed, but %s is not a copy of the build %s' % (where, path, target))
                elif module['status'] in ('weak', 'weak-incompatible'):
                    if not (path.startswith(weak_dir) and os.path.islink(path)
                            and os.path.realpath(path) == os.path.realpath(target)):
                        problems.append('%s: %s, but %s is not a weak link to %s' % (where, module['status'], path, target))


def read_symvers(path):
    """({symbol: CRC}, the symbols the kernel image itself exports) of a symvers file."""
    opener = gzip.open if path.endswith('.gz') else open
    crcs, built_in = {}, set()
    with opener(path, 'rt') as handle:
        for line in handle:
            fields = line.rstrip('\n').split('\t')
            if len(fields) >= 2:
                crcs[fields[1]] = int(fields[0], 16)
                if len(fields) >= 3 and fields[2] == 'vmlinux':
                    built_in.add(fields[1])
    return crcs, built_in


def dump_modversions(path):
    output = subprocess.run(['modprobe', '--dump-modversions', path], check=True, stdout=subprocess.PIPE,
                            universal_newlines=True).stdout
    return [(symbol, int(crc, 16)) for crc, symbol in (line.split('\t') for line in output.splitlines())]


def exporters(kernel):
    """{symbol: set of module names} from depmod's modules.symbols of the kernel."""
    found = {}
    with open('/lib/modules/%s/modules.symbols' % kernel) as handle:
        for line in handle:
            parts = line.split()
            if len(parts) == 3 and parts[0] == 'alias' and parts[1].startswith('symbol:'):
                found.setdefault(parts[1][len('symbol:'):], set()).add(normalized(parts[2]))
    return found


def expected_verdicts(kernel, symvers, imports):
    """{module: (missing, mismatched, duplicates)} at the fixed point of "refused modules export nothing"."""
    exported_by = exporters(kernel)
    crcs, built_in = symvers
    loadable = set(imports)
    while True:
        verdicts = {}
        for name, versions in imports.items():
            missing = sorted(set(symbol for symbol, crc in versions if symbol not in crcs
                                 and not exported_by.get(symbol, set()) & (loadable - set([name]))))
            mismatched = sorted(set(symbol for symbol, crc in versions if symbol in crcs and crcs[symbol] != crc))
            duplicates = sorted(symbol for symbol in built_in if name in exported_by.get(symbol, ()))
            verdicts[name] = (missing, mismatched, duplicates)
        refused = set(name for name in loadable if any(verdicts[name]))
        if not refused:
            return verdicts
        loadable -= refused


def check_modversions(facts, problems):
    for kernel, kernel_fact in sorted(facts['kernels'].items()):
        judged = dict(((package, name), module) for package, entry in kernel_fact['packages'].items()
                      for name, module in entry['modules'].items() if module['kabi'] is not None)
        if not judged:
            continue
        symvers = read_symvers(kernel_fact['symvers'])
        imports = dict((normalized(name), dump_modversions(module['path'])) for (dummy, name), module in judged.items())
        expected = expected_verdicts(kernel, symvers, imports)
        refused = 0
        for (package, name), module in sorted(judged.items()):
            missing, mismatched, duplicates = expected[normalized(name)]
            kabi = module['kabi']
            compatible = not missing and not mismatched and not duplicates and not kabi['namespaces']
            refused += not compatible
            weak = module['path'].startswith('/lib/modules/%s/weak-updates/' % kernel)
            status = ('weak' if weak else 'installed') if compatible else ('weak-incompatible' if weak else 'broken')
            if module['status'] == 'rejected' and compatible:
                status = 'rejected'     # the signature check's verdict, not kABI's
            if (kabi['missing'], kabi['mismatched'], kabi['duplicates'], kabi['compatible'], module['status']) != (
                    missing, mismatched, duplicates, compatible, status):
                problems.append('%s/%s on %s: facts say %s, missing %s, mismatched %s, duplicates %s; modprobe, depmod '
                                'and symvers say %s, missing %s, mismatched %s, duplicates %s'
                                % (package, name, kernel, module['status'], kabi['missing'], kabi['mismatched'],
                                   kabi['duplicates'], status, missing, mismatched, duplicates))
        print('%s: %d kABI verdicts checked against modprobe --dump-modversions and %s (%d refused)'
              % (kernel, len(judged), kernel_fact['symvers'], refused))


def main(path):
    with open(path) as handle:
        facts = json.load(handle)
    facts['kernels'] = dict((k, v) for k, v in facts['kernels'].items() if not v['stale'])
    problems = []
    check_dkms_status(facts, problems)
    check_files(facts, problems)
    print('dkms status and the module files checked on %d kernels' % len(facts['kernels']))
    if facts['kabi_reader']:
        check_modversions(facts, problems)
    for problem in problems:
        print('MISMATCH: ' + problem)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
