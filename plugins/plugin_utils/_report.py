# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side reading of ``ansible_facts['dkms']``: coverage queries and the report model.

Everything here is pure: plain dicts in, plain dicts out, so the filters stay thin and the
report templates only loop over what :func:`report_model` prepared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# The module side already orders releases and versions and says what counts as covered;
# the report must agree with the facts.
from ansible_collections.kabi.dkms.plugins.module_utils._coverage import COVERED_STATUSES, SCHEMA_VERSION
from ansible_collections.kabi.dkms.plugins.module_utils._dkms_tree import sort_versions
from ansible_collections.kabi.dkms.plugins.module_utils._kernels import sort_releases

Facts = Mapping[str, Any]

# Report order: covered statuses first, then the ones that need work, worst last.
STATUSES: dict[str, str] = {
    'installed': 'built by dkms for this kernel and installed in its module tree',
    'weak': 'weak-updates links to a build for another kernel; kABI says it loads',
    'excluded': 'BUILD_EXCLUSIVE rules this kernel out: nothing to do',
    'weak-incompatible': 'weak-updates links exist but kABI says a module will not load',
    'built': 'built for this kernel but not installed',
    'broken': 'claims to be installed but files are missing or differ, or a weak link dangles',
    'missing': 'nothing for this kernel',
}
UNKNOWN_STATUS = 'unknown'

# Long symbol lists are cut in the report cells; coverage.json keeps the full facts.
MAX_SYMBOLS_SHOWN = 12


def version_sort(versions: Iterable[Any]) -> list[str]:
    """Package versions as text, oldest first, in the order the facts use.

    The input is text-sorted first, so versions the rpm-style fallback deems equal
    (``1.0``, ``1_0``) come out the same way whatever order they came in.
    """
    return sort_versions(sorted(str(version) for version in versions))


def _by_name(names: Iterable[str]) -> list[str]:
    """Unique host or kernel names in natural order (``web2`` before ``web10``)."""
    return sort_releases(set(names))


def uncovered(facts: Facts, package: str | None = None) -> list[dict[str, Any]]:
    """The ``uncovered`` entries of the facts, of one package when ``package`` is given."""
    return [
        dict(entry) for entry in facts.get('uncovered') or ()
        if package is None or entry.get('package') == package
    ]


def kernel_covered(facts: Facts, kernel: str) -> bool:
    """Whether every applicable package is available for ``kernel``; an unknown kernel is not."""
    info = (facts.get('kernels') or {}).get(kernel)
    return bool(info and info.get('covered'))


def _symbols(label: str, names: Iterable[Any]) -> str | None:
    names = [str(name) for name in names or ()]
    if not names:
        return None
    more = len(names) - MAX_SYMBOLS_SHOWN
    shown = ', '.join(names[:MAX_SYMBOLS_SHOWN])
    return '%s: %s%s' % (label, shown, ' (+%d more)' % more if more > 0 else '')


def _module_reasons(modules: Mapping[str, Any]) -> list[str]:
    """Why the modules of one package cell do not load: kABI verdicts, dangling links, shadows."""
    reasons = []
    for name in sorted(modules):
        module = modules[name] or {}
        kabi = module.get('kabi') or {}
        problems = [
            _symbols('missing symbols', kabi.get('missing')),
            _symbols('mismatched CRCs', kabi.get('mismatched')),
            _symbols('namespaces not imported', kabi.get('namespaces')),
            'vermagic differs' if kabi.get('vermagic') is False else None,
        ]
        if module.get('status') == 'broken':
            problems.append('broken: %s -> %s' % (module.get('path'), module.get('target')))
        if module.get('shadowed_by'):
            problems.append('shadowed by %s' % module['shadowed_by'])
        problems = [problem for problem in problems if problem]
        if problems or kabi.get('compatible') is False:
            reasons.append('%s: %s' % (name, '; '.join(problems) or 'kABI incompatible'))
    return reasons


def _cell(host: Facts, kernel: str, kernel_info: Facts, package: Facts, newest: Any) -> dict[str, Any]:
    status = package.get('status')
    if status not in STATUSES:
        status = UNKNOWN_STATUS
    stale = bool(kernel_info.get('stale'))
    notes = []
    if package.get('provider_kernel'):
        notes.append('via %s' % package['provider_kernel'])
    if package.get('outdated'):
        notes.append('older than the newest version %s' % newest)
    if status == 'missing' and not kernel_info.get('headers'):
        notes.append('no headers: dkms cannot build for it')
    if stale:
        notes.append('stale kernel directory: not counted')
    return {
        'status': status,
        # Stale kernels are shown but never count as uncovered.
        'covered': stale or status in COVERED_STATUSES,
        'stale': stale,
        'version': package.get('version'),
        'outdated': bool(package.get('outdated')),
        'default': kernel == host.get('default_kernel'),
        'running': kernel == host.get('running_kernel'),
        'headers': bool(kernel_info.get('headers')),
        'reasons': _module_reasons(package.get('modules') or {}),
        'notes': notes,
    }


def _host_entry(host: str, facts: Facts) -> dict[str, Any]:
    kernels = facts.get('kernels') or {}
    live = [info for info in kernels.values() if not info.get('stale')]
    return {
        'host': host,
        'root': facts.get('root'),
        'running_kernel': facts.get('running_kernel'),
        'default_kernel': facts.get('default_kernel'),
        'default_kernel_source': facts.get('default_kernel_source'),
        'kabi_reader': facts.get('kabi_reader'),
        'kernels': len(live),
        'stale_kernels': len(kernels) - len(live),
        'uncovered_kernels': sum(1 for info in live if not info.get('covered')),
        'default_covered': kernel_covered(facts, facts['default_kernel']) if facts.get('default_kernel') else None,
    }


def _facts_or_failure(result: Any) -> tuple[Facts | None, dict[str, Any] | None]:
    """Split a registered ``dkms_facts`` result (or bare facts) into facts or a failure."""
    if not isinstance(result, Mapping):
        return None, {'reason': 'no result', 'unreachable': False}
    if result.get('unreachable') or result.get('failed') or result.get('skipped'):
        reason = result.get('msg') or ('skipped' if result.get('skipped') else 'failed')
        return None, {'reason': str(reason), 'unreachable': bool(result.get('unreachable'))}
    facts = result if 'schema_version' in result else (result.get('ansible_facts') or {}).get('dkms')
    if not isinstance(facts, Mapping):
        return None, {'reason': 'no dkms facts in the result', 'unreachable': False}
    if facts.get('schema_version') != SCHEMA_VERSION:
        return None, {'reason': 'unsupported schema_version %r' % facts.get('schema_version'), 'unreachable': False}
    return facts, None


def report_model(results: Mapping[str, Any]) -> dict[str, Any]:
    """The report's data: totals, failed hosts, and per package a hosts x kernels matrix.

    ``results`` maps host names to registered ``kabi.dkms.dkms_facts`` results or to the
    ``dkms`` facts themselves. Rows, columns and packages come sorted (hosts and kernels
    naturally, e.g. ``web2`` before ``web10``), and every cell says whether it is covered,
    so templates need no logic of their own.
    """
    facts_by_host: dict[str, Facts] = {}
    failed = []
    for host in _by_name(results):
        facts, failure = _facts_or_failure(results[host])
        if facts is None:
            failed.append(dict(failure or {}, host=host))
        else:
            facts_by_host[host] = facts

    counts = dict.fromkeys(list(STATUSES) + [UNKNOWN_STATUS], 0)
    packages = []
    for name in _by_name(p for facts in facts_by_host.values() for p in facts.get('packages') or {}):
        hosts = [host for host in facts_by_host if name in (facts_by_host[host].get('packages') or {})]
        newest_by_host = {host: facts_by_host[host]['packages'][name].get('newest') for host in hosts}
        newest_known = [v for v in newest_by_host.values() if v is not None]
        kernels = _by_name(k for host in hosts for k in facts_by_host[host].get('kernels') or {})
        column_uncovered = [0] * len(kernels)
        rows = []
        for host in hosts:
            facts = facts_by_host[host]
            host_kernels = facts.get('kernels') or {}
            cells: list[dict[str, Any] | None] = []
            for index, kernel in enumerate(kernels):
                kernel_info = host_kernels.get(kernel)
                package = (kernel_info or {}).get('packages', {}).get(name)
                if package is None:
                    cells.append(None)
                    continue
                cell = _cell(facts, kernel, kernel_info, package, newest_by_host[host])
                if not cell['stale']:
                    counts[cell['status']] += 1
                if not cell['covered']:
                    column_uncovered[index] += 1
                cells.append(cell)
            rows.append({
                'host': host,
                'default_kernel': facts.get('default_kernel'),
                'uncovered': sum(1 for cell in cells if cell and not cell['covered']),
                'cells': cells,
            })
        packages.append({
            'name': name,
            'newest': version_sort(newest_known)[-1] if newest_known else None,
            'kernels': [{'name': k, 'uncovered': n} for k, n in zip(kernels, column_uncovered)],
            'uncovered': sum(column_uncovered),
            'rows': rows,
        })

    hosts = [_host_entry(host, facts) for host, facts in facts_by_host.items()]
    return {
        'schema_version': SCHEMA_VERSION,
        'statuses': [
            {'name': status, 'covered': status in COVERED_STATUSES, 'meaning': meaning}
            for status, meaning in STATUSES.items()
        ],
        'summary': {
            'hosts': len(results),
            'hosts_reporting': len(facts_by_host),
            'hosts_failed': len(failed),
            'hosts_uncovered': sum(1 for host in hosts if host['uncovered_kernels']),
            'hosts_default_uncovered': sum(1 for host in hosts if host['default_covered'] is False),
            'kernels': sum(host['kernels'] for host in hosts),
            'kernels_uncovered': sum(host['uncovered_kernels'] for host in hosts),
            'kernels_stale': sum(host['stale_kernels'] for host in hosts),
            'packages': len(packages),
            'statuses': {status: n for status, n in counts.items() if n or status != UNKNOWN_STATUS},
        },
        'failed': failed,
        'hosts': hosts,
        'facts': facts_by_host,
        'packages': packages,
    }
