# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The coverage role's build order: BUILD_DEPENDS first, per kernel."""

from __future__ import annotations

from typing import Any

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kabi.dkms.plugins.plugin_utils._build_order import build_rounds, failed_dependencies

FACTS: dict[str, Any] = {'packages': {
    'mlnx-ofed-kernel': {'build_depends': []},
    'srp': {'build_depends': ['mlnx-ofed-kernel']},
    'iser': {'build_depends': ['mlnx-ofed-kernel', 'srp']},
    'dynamic': {'build_depends': None},
    'a': {'build_depends': ['b']},
    'b': {'build_depends': ['a']},
}}


def pair(kernel: str, package: str) -> dict[str, str]:
    return {'kernel': kernel, 'package': package, 'status': 'missing'}


def names(rounds: list[list[Any]]) -> list[list[str]]:
    return [['%s/%s' % (entry['kernel'], entry['package']) for entry in round_] for round_ in rounds]


def test_dependencies_first_on_each_kernel() -> None:
    pairs = [pair('k1', 'iser'), pair('k1', 'srp'), pair('k1', 'mlnx-ofed-kernel'), pair('k2', 'srp')]
    # On k2 the provider needs no build: srp goes at once.
    assert names(build_rounds(pairs, FACTS)) == [['k1/mlnx-ofed-kernel', 'k2/srp'], ['k1/srp'], ['k1/iser']]


def test_unknown_depends_and_cycles_do_not_block() -> None:
    pairs = [pair('k', 'a'), pair('k', 'b'), pair('k', 'dynamic'), pair('k', 'not-registered')]
    assert names(build_rounds(pairs, FACTS)) == [['k/dynamic', 'k/not-registered'], ['k/a', 'k/b']]


def test_failed_dependencies_on_the_same_kernel() -> None:
    failed = [{'kernel': 'k1', 'package': 'mlnx-ofed-kernel'}, {'kernel': 'k2', 'package': 'srp'}]
    assert failed_dependencies(pair('k1', 'iser'), failed, FACTS) == ['mlnx-ofed-kernel']
    assert failed_dependencies(pair('k2', 'iser'), failed, FACTS) == ['srp']
    assert failed_dependencies(pair('k3', 'iser'), failed, FACTS) == []


@pytest.mark.parametrize('pairs, facts', [('k1', FACTS), ([{'kernel': 'k'}], FACTS), ([], {'kernels': {}})])
def test_bad_input_is_refused_with_a_sentence(pairs: Any, facts: Any) -> None:
    with pytest.raises(AnsibleFilterError, match='dkms_build_rounds'):
        build_rounds(pairs, facts)
