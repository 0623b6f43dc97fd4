# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side reading of ``ansible_facts['dkms']``: coverage queries and the report model.

Everything here is pure: plain dicts in, plain dicts out, so the filters stay thin and the
report templates only loop over what :func:`report_model` prepared.
"""

from __future__ import annotations

import hashlib
import re
import time
from calendar import timegm
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
    'rejected': 'present and kABI-compatible, but the kernel refuses its signature at boot',
    'missing': 'nothing for this kernel',
}
UNKNOWN_STATUS = 'unknown'

# Long symbol lists are cut in the report cells; coverage.json keeps the full facts.
MAX_SYMBOLS_SHOWN = 12

# Characters no report may print as they are: C0 and C1 controls, DEL, line and paragraph
# separators, and the bidirectional and zero-width format characters that reorder or hide text.
_CONTROL = re.compile('[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]')
UNGROUPED = 'ungrouped'
TIME_FORMAT = '%Y-%m-%dT%H:%M:%SZ'


def visible(value: Any) -> Any:
    """Text with every control or format character shown as an escape (``\\x0d``, ``\\u202e``),
    so that no name can break a table row, a Markdown line or the reading order; None stays None."""
    if value is None:
        return None
    return _CONTROL.sub(lambda found: '\\x%02x' % ord(found.group()) if ord(found.group()) < 0x100
                        else '\\u%04x' % ord(found.group()), str(value))


def anchor(prefix: str, name: str) -> str:
    """A stable id for a host or kernel: readable, HTML- and URL-safe, unique by the hash."""
    raw = str(name).encode('utf-8', 'surrogateescape')
    return '%s-%s-%s' % (prefix, re.sub('[^A-Za-z0-9_.-]+', '_', str(name))[:40], hashlib.sha1(raw).hexdigest()[:8])


def _epoch(stamp: Any) -> int | None:
    try:
        return timegm(time.strptime(str(stamp), TIME_FORMAT))
    except ValueError:
        return None


def age_text(seconds: int | None) -> str | None:
    """``42 s``, ``7 min``, ``5 h``, ``3 d``: how old facts are, to the unit that matters."""
    if seconds is None:
        return None
    for unit, size in (('d', 86400), ('h', 3600), ('min', 60)):
        if seconds >= size:
            return '%d %s' % (seconds // size, unit)
    return '%d s' % max(seconds, 0)


def version_sort(versions: Iterable[Any]) -> list[str]:
    """Package versions as text, oldest first, in the order the facts use.

    The input is text-sorted first, so versions the rpm-style fallback deems equal
    (``1.0``, ``1_0``) come out the same way whatever order they came in.
    """
    ordered: list[str] = sort_versions(sorted(str(version) for version in versions))
    return ordered


def _by_name(names: Iterable[str]) -> list[str]:
    """Unique host or kernel names in natural order (``web2`` before ``web10``)."""
    ordered: list[str] = sort_releases(set(names))
    return ordered


def uncovered(facts: Facts, package: str | None = None) -> list[dict[str, Any]]:
    """The ``uncovered`` entries of the facts, of one package when ``package`` is given."""
    return [
        dict(entry) for entry in facts.get('uncovered') or ()
        if package is None or entry.get('package') == package
    ]


def kernel_covered(facts: Facts, kernel: str | None, verified: bool = False) -> bool:
    """Whether every applicable package is available for ``kernel``; an unknown (or null) kernel is not.

    With ``verified``, also every package's verdict must have been checked in full: a package whose
    ``verified`` is false fails it (facts without the key are taken as they are).
    """
    info = (facts.get('kernels') or {}).get(kernel)
    if not (info and info.get('covered')):
        return False
    return not verified or all((entry or {}).get('verified') is not False
                               for entry in (info.get('packages') or {}).values())


def _symbols(label: str, names: Iterable[Any] | None) -> str | None:
    texts = [str(name) for name in names or ()]
    if not texts:
        return None
    more = len(texts) - MAX_SYMBOLS_SHOWN
    shown = ', '.join(texts[:MAX_SYMBOLS_SHOWN])
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
            _symbols('exports what the kernel exports already', kabi.get('duplicates')),
            'vermagic differs' if kabi.get('vermagic') is False else None,
        ]
        if module.get('status') == 'broken':
            problems.append('broken: %s -> %s' % (module.get('path'), module.get('target')))
        signature = module.get('signature') or {}
        if module.get('status') == 'rejected' or signature.get('trusted') is False:
            problems.append('signed by %s, not trusted by this kernel' % signature['signer']
                            if signature.get('signed') and signature.get('signer') else 'not signed')
        if module.get('shadowed_by'):
            problems.append('shadowed by %s' % module['shadowed_by'])
        shown = [problem for problem in problems if problem]
        if shown or kabi.get('compatible') is False:
            reasons.append(visible('%s: %s' % (name, '; '.join(shown) or 'kABI incompatible')))
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
    if package.get('verified') is False:
        notes.append('not verified: a rule that decides coverage could not be checked')
    signatures = kernel_info.get('module_signatures') or {}
    if signatures.get('enforced'):
        notes.append('module signatures enforced (%s)' % (signatures.get('reason') or 'reason unknown'))
    return {
        'status': status,
        # Stale kernels are shown but never count as uncovered.
        'covered': stale or status in COVERED_STATUSES,
        'stale': stale,
        'version': visible(package.get('version')),
        'outdated': bool(package.get('outdated')),
        'verified': package.get('verified'),
        'default': kernel == host.get('default_kernel'),
        'running': kernel == host.get('running_kernel'),
        'headers': bool(kernel_info.get('headers')),
        'reasons': _module_reasons(package.get('modules') or {}),
        'notes': [visible(note) for note in notes],
    }


def _host_entry(host: str, facts: Facts, group: str, now: int | None) -> dict[str, Any]:
    kernels = facts.get('kernels') or {}
    live = [info for info in kernels.values() if not info.get('stale')]
    gathered = _epoch(facts.get('gathered_at'))
    age = now - gathered if now is not None and gathered is not None else None
    return {
        'host': visible(host),
        'anchor': anchor('host', host),
        'group': visible(group),
        'root': visible(facts.get('root')),
        'running_kernel': visible(facts.get('running_kernel')),
        'default_kernel': visible(facts.get('default_kernel')),
        'default_anchor': anchor('kernel', facts['default_kernel']) if facts.get('default_kernel') else None,
        'default_kernel_source': visible(facts.get('default_kernel_source')),
        'kabi_reader': visible(facts.get('kabi_reader')),
        'gathered_at': visible(facts.get('gathered_at')),
        'age_seconds': age,
        'age': age_text(age),
        'kernels': len(live),
        'stale_kernels': len(kernels) - len(live),
        'uncovered_kernels': sum(1 for info in live if not info.get('covered')),
        'unverified': sum(1 for info in live for entry in (info.get('packages') or {}).values()
                          if (entry or {}).get('verified') is False),
        'default_covered': kernel_covered(facts, facts['default_kernel']) if facts.get('default_kernel') else None,
    }


def _primary_group(names: Any) -> str:
    """The first inventory group a host is in (Ansible lists them sorted), else ``ungrouped``."""
    groups = [str(name) for name in names or () if name not in ('all', UNGROUPED)] if isinstance(names, list) else []
    return groups[0] if groups else UNGROUPED


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


def _rank(names: Iterable[str]) -> dict[str, int]:
    """Each name's place in natural order (``web2`` before ``web10``), for sort keys."""
    return {name: index for index, name in enumerate(_by_name(names))}


def _fold(rows: list[dict[str, Any]], rank: Mapping[str, int]) -> list[dict[str, Any]]:
    """Rows of one group whose cells are identical become one row with every host named, the
    most uncovered cells first, then by the first host's name."""
    folded: dict[str, dict[str, Any]] = {}
    for row in rows:
        key = repr(row['cells'])
        if key in folded:
            folded[key]['hosts'].append(row['host'])
            folded[key]['anchors'].append(row['anchor'])
        else:
            folded[key] = dict(row, hosts=[row['host']], anchors=[row['anchor']])
    return sorted(folded.values(), key=lambda row: (-row['uncovered'], rank[row['host']]))


def report_model(results: Mapping[str, Any], groups: Mapping[str, Any] | None = None,
                 generated_at: str | None = None) -> dict[str, Any]:
    """The report's data: totals, failed hosts, hosts, kernels, and per package a hosts x kernels matrix.

    ``results`` maps host names to registered ``kabi.dkms.dkms_facts`` results or to the
    ``dkms`` facts themselves; ``groups`` maps host names to their inventory groups (rows are
    grouped by the first); ``generated_at`` (UTC, ``YYYY-MM-DDTHH:MM:SSZ``) dates the report and
    gives each host's fact age. Packages come most uncovered first; within a package, rows are
    grouped, identical rows folded into one naming every host, and sorted most uncovered first.
    Every name is passed through :func:`visible`; templates must still escape for their format.
    """
    groups = groups or {}
    now = _epoch(generated_at) if generated_at else None
    facts_by_host: dict[str, Facts] = {}
    failed = []
    for host in _by_name(results):
        facts, failure = _facts_or_failure(results[host])
        if facts is None:
            failure = failure or {}
            failed.append(dict(failure, host=visible(host), anchor=anchor('host', host),
                               reason=visible(failure.get('reason'))))
        else:
            facts_by_host[host] = facts
    group_of = {host: _primary_group(groups.get(host)) for host in facts_by_host}
    group_rank = _rank(group_of.values())
    group_rank[UNGROUPED] = len(group_rank)  # last
    host_rank = _rank(facts_by_host)
    hosts = [_host_entry(host, facts, group_of[host], now) for host, facts in facts_by_host.items()]
    # Every kernel of the fleet, with the hosts that have it; packages add what they leave uncovered.
    kernel_totals: dict[str, dict[str, Any]] = {}
    for facts in facts_by_host.values():
        for kernel, info in (facts.get('kernels') or {}).items():
            total = kernel_totals.setdefault(kernel, {'name': visible(kernel), 'anchor': anchor('kernel', kernel),
                                                      'hosts': 0, 'uncovered': 0, 'packages': []})
            total['hosts'] += 1
            total['uncovered'] += not info.get('stale') and not info.get('covered')

    counts = dict.fromkeys(list(STATUSES) + [UNKNOWN_STATUS], 0)
    unverified = 0
    packages = []
    for name in _by_name(p for facts in facts_by_host.values() for p in facts.get('packages') or {}):
        package_hosts = [host for host in facts_by_host if name in (facts_by_host[host].get('packages') or {})]
        newest_by_host = {host: facts_by_host[host]['packages'][name].get('newest') for host in package_hosts}
        newest_known = [v for v in newest_by_host.values() if v is not None]
        kernels = _by_name(k for host in package_hosts for k in facts_by_host[host].get('kernels') or {})
        column_uncovered = [0] * len(kernels)
        rows_by_group: dict[str, list[dict[str, Any]]] = {}
        uncovered_hosts = 0
        for host in package_hosts:
            facts = facts_by_host[host]
            host_kernels = facts.get('kernels') or {}
            cells: list[dict[str, Any] | None] = []
            for index, kernel in enumerate(kernels):
                kernel_info = host_kernels.get(kernel) or {}
                package = kernel_info.get('packages', {}).get(name)
                if package is None:
                    cells.append(None)
                    continue
                cell = _cell(facts, kernel, kernel_info, package, newest_by_host[host])
                if not cell['stale']:
                    counts[cell['status']] += 1
                    unverified += cell['verified'] is False
                if not cell['covered']:
                    column_uncovered[index] += 1
                cells.append(cell)
            uncovered = sum(1 for cell in cells if cell and not cell['covered'])
            uncovered_hosts += uncovered > 0
            rows_by_group.setdefault(group_of[host], []).append({
                'host': host,
                'anchor': anchor('host', host),
                'group': visible(group_of[host]),
                'default_kernel': visible(facts.get('default_kernel')),
                'uncovered': uncovered,
                'cells': cells,
            })
        for kernel, uncovered in zip(kernels, column_uncovered):
            if uncovered:
                kernel_totals[kernel]['packages'].append(visible(name))
        row_groups = [{'name': visible(group), 'rows': _fold(rows_by_group[group], host_rank)}
                      for group in sorted(rows_by_group, key=group_rank.__getitem__)]
        for row in (row for group in row_groups for row in group['rows']):
            row['hosts'] = [visible(host) for host in row['hosts']]
            row['host'] = row['hosts'][0]
        packages.append({
            'name': visible(name),
            'anchor': anchor('package', name),
            'newest': visible(version_sort(newest_known)[-1]) if newest_known else None,
            'kernels': [{'name': visible(k), 'anchor': anchor('kernel', k), 'uncovered': n}
                        for k, n in zip(kernels, column_uncovered)],
            'uncovered': sum(column_uncovered),
            'hosts': len(package_hosts),
            'uncovered_hosts': uncovered_hosts,
            'groups': row_groups,
            'rows': [row for group in row_groups for row in group['rows']],
        })
    # Most trouble first: uncovered cells, then hosts with one, then the name.
    package_rank = _rank(package['name'] for package in packages)
    packages.sort(key=lambda package: (-package['uncovered'], -package['uncovered_hosts'], package_rank[package['name']]))
    kernel_rank = _rank(kernel_totals)
    kernel_list = [kernel_totals[k] for k in sorted(kernel_totals, key=lambda k: (-kernel_totals[k]['uncovered'], kernel_rank[k]))]

    oldest = max((host['age_seconds'] for host in hosts if host['age_seconds'] is not None), default=None)
    entries = dict(zip(facts_by_host, hosts))
    return {
        'schema_version': SCHEMA_VERSION,
        'generated_at': visible(generated_at),
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
            'unverified': unverified,
            'oldest_facts': oldest,
            'oldest_facts_age': age_text(oldest),
            'statuses': {status: n for status, n in counts.items() if n or status not in (UNKNOWN_STATUS, 'rejected')},
        },
        'failed': failed,
        'hosts': [entries[host] for host in sorted(
            entries, key=lambda host: (-entries[host]['uncovered_kernels'], group_rank[group_of[host]], host_rank[host]))],
        'kernels': kernel_list,
        'facts': facts_by_host,
        'packages': packages,
    }
