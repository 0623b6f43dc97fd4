# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The static dkms.conf reader against what bash and dkms make of the corpus (expected.json).

A variable the reader gives must equal bash's value after dkms's safe_source; a variable
the case lists as dynamic (or shell logic) must be unknown. expected.json is written by
dkms_conf_corpus/generate.py, which runs bash in a sandbox; these tests never run anything.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from ansible_collections.kabi.dkms.plugins.module_utils._dkms_conf import DkmsConf, conf_variables
from ansible_collections.kabi.dkms.plugins.module_utils._ere import EreError, ere_search
from ansible_collections.kabi.dkms.plugins.module_utils._kernels import parse_kconfig
from ansible_collections.kabi.dkms.plugins.module_utils._shell_vars import UNKNOWN
from ansible_collections.kabi.dkms.tests.unit.plugins.module_utils.dkms_conf_corpus.cases import (
    ARCH, CASES, KERNEL, KERNEL_CONFIG_TEXT, TREES, VARIABLES)

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'dkms_conf_corpus')
with open(os.path.join(CORPUS, 'expected.json')) as _handle:
    EXPECTED = json.load(_handle)
FLAVOURS = {'dkms-3.0.10': (3, 0, 10), 'dkms-3.4': (3, 4, 3)}
PARAMETERS = [pytest.param(case, flavour, id='%s-%s' % (case['name'], flavour)) for case in CASES for flavour in FLAVOURS]


def bash_values(case: dict, flavour: str) -> dict[str, dict[int, str]]:
    found = EXPECTED[case['name']][flavour]['variables']
    return dict((name, dict((int(index), value) for index, value in elements.items())) for name, elements in found.items())


def known(elements: Any) -> bool:
    return elements is not UNKNOWN and (elements is None or UNKNOWN not in elements.values())


def compare(values: dict, expected: dict, unknown_allowed: list[str], version: tuple[int, ...]) -> None:
    for name in VARIABLES:
        got = values.get(name)
        if name in unknown_allowed and name in conf_variables(version):
            assert not known(got), '%s should be unknown, read as %r' % (name, got)
        else:
            assert known(got), '%s is unknown, bash reads %r' % (name, expected.get(name))
            assert (got or None) == expected.get(name), name


def test_corpus_is_complete() -> None:
    assert len(CASES) >= 40
    assert sorted(EXPECTED) == sorted(case['name'] for case in CASES), 'run generate.py after changing cases.py'


@pytest.mark.parametrize(('case', 'flavour'), PARAMETERS)
def test_without_a_kernel(case: dict, flavour: str) -> None:
    conf = DkmsConf([case['text']], case['name'], case['version'], FLAVOURS[flavour], TREES)
    compare(conf.readings[0].values, bash_values(case, flavour), case['dynamic'], FLAVOURS[flavour])


@pytest.mark.parametrize(('case', 'flavour'), PARAMETERS)
def test_for_the_kernel(case: dict, flavour: str) -> None:
    conf = DkmsConf([case['text']], case['name'], case['version'], FLAVOURS[flavour], TREES)
    readings = conf.kernel_readings(KERNEL, ARCH, lambda: parse_kconfig(KERNEL_CONFIG_TEXT))
    compare(readings[0].values, bash_values(case, flavour), case['logic'], FLAVOURS[flavour])


@pytest.mark.parametrize(('case', 'flavour'), PARAMETERS)
def test_exclusive_patterns_match_as_bash(case: dict, flavour: str) -> None:
    values = bash_values(case, flavour)
    for key in ('kernel', 'arch'):
        pattern = values.get('BUILD_EXCLUSIVE_' + key.upper(), {}).get(0)
        for release, status in EXPECTED[case['name']][flavour][key].items():
            try:
                ours = 0 if ere_search(pattern, release) else 1
            except EreError:
                ours = 2
            assert ours == status, (pattern, release)
