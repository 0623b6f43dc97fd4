# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report filters, called the way Jinja calls them: through each plugin's FilterModule."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import given, strategies as st

from ansible_collections.kabi.dkms.plugins.filter import (
    dkms_kernel_covered, dkms_report_model, dkms_uncovered, dkms_version_sort,
)
from ansible_collections.kabi.dkms.plugins.module_utils import _dkms_tree

FIXTURES = Path(__file__).parent / 'fixtures'


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def plugin(module: Any, name: str) -> Callable[..., Any]:
    return module.FilterModule().filters()[name]


uncovered = plugin(dkms_uncovered, 'dkms_uncovered')
kernel_covered = plugin(dkms_kernel_covered, 'dkms_kernel_covered')
version_sort = plugin(dkms_version_sort, 'dkms_version_sort')
report_model = plugin(dkms_report_model, 'dkms_report_model')


def test_uncovered_all_and_per_package() -> None:
    facts = load('mixed.json')
    assert uncovered(facts) == facts['uncovered']
    assert [(e['kernel'], e['status']) for e in uncovered(facts, 'zfs')] == [
        ('6.1.0-47-amd64+clone', 'broken'), ('6.1.0-50-amd64', 'built'),
    ]
    assert uncovered(facts, 'nvidia') == []
    assert uncovered(load('covered.json')) == []


def test_kernel_covered() -> None:
    facts = load('mixed.json')
    assert kernel_covered(facts, '6.1.0-47-amd64') is True
    assert kernel_covered(facts, '6.1.0-47-amd64+bad') is False
    assert kernel_covered(facts, '9.9.9-unknown') is False


@pytest.mark.parametrize(('versions', 'expected'), [
    (['1.10', '1.9', '1.0'], ['1.0', '1.9', '1.10']),
    # PEP 440: pre-releases come before the release, post-releases after.
    (['2.2.0', '2.2.0.post1', '2.2.0rc1', 550.54], ['2.2.0rc1', '2.2.0', '2.2.0.post1', '550.54']),
    # Not PEP 440 (a git snapshot): the whole list falls back to rpm-style segments,
    # where a run of letters ranks below a run of digits.
    (['1.0-git20240101', '1.0', '1.0-10', '1.0-9'], ['1.0', '1.0-git20240101', '1.0-9', '1.0-10']),
    ([], []),
])
def test_version_sort(versions: list[Any], expected: list[str]) -> None:
    assert version_sort(versions) == expected


def test_version_sort_without_packaging(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_dkms_tree, '_version_key_pep440', lambda: (None, None))
    assert version_sort(['1.10', '1.9', '1.10a']) == ['1.9', '1.10', '1.10a']


@given(st.lists(st.from_regex(r'[0-9a-z]{1,4}([.~_-][0-9a-z]{1,4}){0,3}', fullmatch=True), max_size=8))
def test_version_sort_is_a_stable_total_order(versions: list[str]) -> None:
    ordered = version_sort(versions)
    assert sorted(ordered) == sorted(versions)
    assert version_sort(list(reversed(versions))) == ordered
    assert version_sort(ordered) == ordered


def registered(facts: dict[str, Any]) -> dict[str, Any]:
    return {'changed': False, 'ansible_facts': {'dkms': facts}}


def test_report_model_matrix_and_totals() -> None:
    model = report_model({
        'web10': registered(load('mixed.json')),
        'web2': load('covered.json'),
        'down': {'unreachable': True, 'msg': 'ssh: connect to host down port 22: Connection refused'},
        'old': {'failed': True, 'msg': 'MODULE FAILURE'},
        'future': dict(load('covered.json'), schema_version=2),
    })
    assert [(f['host'], f['unreachable']) for f in model['failed']] == [
        ('down', True), ('future', False), ('old', False),
    ]
    assert model['summary'] == {
        'hosts': 5, 'hosts_reporting': 2, 'hosts_failed': 3, 'hosts_uncovered': 1,
        'hosts_default_uncovered': 1, 'kernels': 7, 'kernels_uncovered': 4, 'kernels_stale': 1,
        'packages': 2, 'unverified': 0, 'oldest_facts': None, 'oldest_facts_age': None,
        'statuses': {'installed': 3, 'weak': 2, 'excluded': 2, 'weak-incompatible': 1,
                     'built': 1, 'broken': 1, 'missing': 2},
    }
    assert [h['host'] for h in model['hosts']] == ['web10', 'web2'], 'most uncovered kernels first'

    hello, zfs = model['packages']
    assert (hello['name'], hello['newest'], hello['uncovered']) == ('hello', '1.10', 3)
    assert [k['name'] for k in hello['kernels']] == [
        '5.14.0-427.13.1.el9_4.x86_64', '5.14.0-503.11.1.el9_5.x86_64', '6.1.0-40-amd64',
        '6.1.0-47-amd64', '6.1.0-47-amd64+bad', '6.1.0-47-amd64+clone', '6.1.0-50-amd64', '6.1.0-56-amd64',
    ]
    assert [k['uncovered'] for k in hello['kernels']] == [0, 0, 0, 0, 1, 0, 1, 1]
    web10, web2 = hello['rows']
    assert (web2['host'], web2['uncovered'], web2['cells'][2]) == ('web2', 0, None)
    assert [c and c['status'] for c in web10['cells']] == [
        None, None, 'missing', 'installed', 'weak-incompatible', 'weak', 'missing', 'missing',
    ]
    stale, running, bad, clone, missing, default = web10['cells'][2:]
    assert stale['stale'] and stale['covered']
    assert running['running'] and running['outdated'] and not running['default']
    assert missing['notes'] == [] and not missing['covered']
    assert default['default'] and default['notes'] == ['no headers: dkms cannot build for it']
    assert clone['notes'] == ['via 6.1.0-47-amd64', 'older than the newest version 1.10']
    assert bad['reasons'] == [
        'hello_ext: missing symbols: hello_helper; mismatched CRCs: _printk, module_layout; vermagic differs',
    ]
    assert [r['host'] for r in zfs['rows']] == ['web10']
    assert [c and c['status'] for c in zfs['rows'][0]['cells']] == [
        'missing', 'excluded', 'excluded', 'broken', 'built', 'installed',
    ]
    assert zfs['rows'][0]['cells'][3]['reasons'] == [
        'zfs: broken: /lib/modules/6.1.0-47-amd64+clone/weak-updates/zfs.ko'
        ' -> /lib/modules/6.1.0-45-amd64/updates/dkms/zfs.ko',
    ]


def test_report_model_cuts_long_symbol_lists_and_rejects_unknown_statuses() -> None:
    facts = load('covered.json')
    package = facts['kernels']['5.14.0-503.11.1.el9_5.x86_64']['packages']['hello']
    package['status'] = '<script>'
    package['modules']['hello']['kabi'] = {
        'compatible': False, 'missing': ['sym%d' % i for i in range(20)], 'mismatched': [], 'vermagic': True,
    }
    cell = report_model({'h': facts})['packages'][0]['rows'][0]['cells'][1]
    assert cell['status'] == 'unknown' and not cell['covered']
    assert cell['reasons'] == ['hello: missing symbols: %s (+8 more)' % ', '.join('sym%d' % i for i in range(12))]


def test_report_model_names_namespaces_not_imported() -> None:
    facts = load('covered.json')
    package = facts['kernels']['5.14.0-503.11.1.el9_5.x86_64']['packages']['hello']
    package['status'] = 'weak-incompatible'
    package['modules']['hello']['kabi'] = {
        'compatible': False, 'missing': [], 'mismatched': [], 'namespaces': ['CXL'], 'vermagic': True,
    }
    cell = report_model({'h': facts})['packages'][0]['rows'][0]['cells'][1]
    assert cell['reasons'] == ['hello: namespaces not imported: CXL']


def test_report_model_names_exports_the_kernel_has_already() -> None:
    facts = load('covered.json')
    package = facts['kernels']['5.14.0-503.11.1.el9_5.x86_64']['packages']['hello']
    package['status'] = 'weak-incompatible'
    package['modules']['hello']['kabi'] = {
        'compatible': False, 'missing': [], 'mismatched': [], 'namespaces': [], 'duplicates': ['netdev_tx_sent_queue'],
        'vermagic': True,
    }
    cell = report_model({'h': facts})['packages'][0]['rows'][0]['cells'][1]
    assert cell['reasons'] == ['hello: exports what the kernel exports already: netdev_tx_sent_queue']


def test_report_model_of_nothing() -> None:
    model = report_model({})
    assert model['packages'] == [] and model['failed'] == [] and model['summary']['hosts'] == 0


def test_kernel_covered_null_and_verified() -> None:
    facts = load('mixed.json')
    assert kernel_covered(facts, None) is False
    assert kernel_covered(facts, '6.1.0-47-amd64', verified=True) is True, 'facts without verified count as they are'
    facts['kernels']['6.1.0-47-amd64']['packages']['hello']['verified'] = False
    assert kernel_covered(facts, '6.1.0-47-amd64') is True
    assert kernel_covered(facts, '6.1.0-47-amd64', verified=True) is False


def test_report_orders_by_trouble_folds_identical_rows_and_groups() -> None:
    covered, mixed = load('covered.json'), load('mixed.json')
    results = {'web%d' % n: covered for n in range(1, 12)}
    results.update({'db2': mixed, 'db10': mixed, 'lone': covered})
    groups = {host: ['webservers'] for host in results if host.startswith('web')}
    groups.update({'db2': ['databases', 'eu'], 'db10': ['databases'], 'lone': ['ungrouped']})
    model = report_model(results, groups=groups)
    assert [p['name'] for p in model['packages']] == ['hello', 'zfs']
    hello = model['packages'][0]
    assert [g['name'] for g in hello['groups']] == ['databases', 'webservers', 'ungrouped']
    databases, webservers, ungrouped = hello['groups']
    assert [row['hosts'] for row in databases['rows']] == [['db2', 'db10']], 'identical rows fold, in natural order'
    assert [row['hosts'] for row in webservers['rows']] == [['web%d' % n for n in range(1, 12)]]
    assert [row['hosts'] for row in ungrouped['rows']] == [['lone']]
    assert (hello['hosts'], hello['uncovered_hosts']) == (14, 2)
    assert [h['host'] for h in model['hosts']][:2] == ['db2', 'db10']
    assert {h['group'] for h in model['hosts']} == {'databases', 'webservers', 'ungrouped'}
    assert model['kernels'][0]['uncovered'] == 2 and model['kernels'][-1]['uncovered'] == 0
    anchors = [h['anchor'] for h in model['hosts']] + [k['anchor'] for k in model['kernels']]
    assert len(set(anchors)) == len(anchors) and all(re.fullmatch(r'[A-Za-z0-9_.-]+', a) for a in anchors)


def test_report_tells_each_hosts_fact_age() -> None:
    old, new = load('covered.json'), load('covered.json')
    old['gathered_at'], new['gathered_at'] = '2026-11-28T10:00:00Z', '2026-11-29T11:59:18Z'
    model = report_model({'old': old, 'new': new, 'undated': load('covered.json')}, generated_at='2026-11-29T12:00:00Z')
    ages = {h['host']: (h['gathered_at'], h['age']) for h in model['hosts']}
    assert ages == {'old': ('2026-11-28T10:00:00Z', '1 d'), 'new': ('2026-11-29T11:59:18Z', '42 s'),
                    'undated': (None, None)}
    assert model['generated_at'] == '2026-11-29T12:00:00Z'
    assert (model['summary']['oldest_facts'], model['summary']['oldest_facts_age']) == (26 * 3600, '1 d')


def test_report_maps_every_control_character() -> None:
    facts = load('covered.json')
    kernel = '5.14.0-503.11.1.el9_5.x86_64'
    facts['kernels'][kernel + '\r|\u202e'] = facts['kernels'].pop(kernel)
    model = report_model({'a\x1b[31mb\nc\x85': facts})
    names = [model['hosts'][0]['host'], model['packages'][0]['rows'][0]['host']] + [k['name'] for k in model['kernels']]
    assert names[:2] == ['a\\x1b[31mb\\x0ac\\x85'] * 2
    assert kernel + '\\x0d|\\u202e' in names
    assert not any(re.search('[\x00-\x1f\x7f-\x9f\u202e]', name) for name in names)


def test_report_handles_signatures_rejected_and_unverified() -> None:
    facts = load('covered.json')
    kernel = facts['kernels']['5.14.0-503.11.1.el9_5.x86_64']
    kernel['module_signatures'] = {'enforced': True, 'reason': 'secure_boot', 'trusted_keys': []}
    package = kernel['packages']['hello']
    package.update(status='rejected', covered=False, verified=False)
    package['modules']['hello']['signature'] = {'signed': True, 'signer': 'DKMS key', 'key_id': '19:2d', 'trusted': False}
    model = report_model({'h': facts})
    cell = model['packages'][0]['rows'][0]['cells'][1]
    assert (cell['status'], cell['covered'], cell['verified']) == ('rejected', False, False)
    assert cell['reasons'] == ['hello: signed by DKMS key, not trusted by this kernel']
    assert 'module signatures enforced (secure_boot)' in cell['notes']
    assert any(note.startswith('not verified') for note in cell['notes'])
    assert model['summary']['unverified'] == 1 and model['summary']['statuses']['rejected'] == 1
    assert model['hosts'][0]['unverified'] == 1
