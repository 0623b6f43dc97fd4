# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Regular expressions compiled when first used behave as compiled ones."""

from __future__ import annotations

import copy
import importlib
import pickle
import re
from pathlib import Path

from ansible_collections.kabi.dkms.plugins.module_utils._lazy_re import LazyPattern

MODULE_UTILS = Path(__file__).resolve().parents[4] / 'plugins' / 'module_utils'


def test_a_lazy_pattern_is_compiled_when_first_used() -> None:
    source = r'([a-z]+)(\[[0-9]+\])?='
    pattern, compiled = LazyPattern(source), re.compile(source)
    assert 'match' not in vars(pattern)
    for text in ('ab[1]=c', '1 x=', 'a=b=c', ''):
        assert str(pattern.match(text)) == str(compiled.match(text))
        assert str(pattern.search(text)) == str(compiled.search(text))
        assert pattern.split(text) == compiled.split(text)
    assert pattern.fullmatch('x=').group(1) == 'x'
    assert vars(pattern)['match'] == compiled.match
    assert pattern.groups == 2


def test_its_flags_are_those_it_was_given() -> None:
    assert LazyPattern(r'^b$', re.MULTILINE).search('a\nb\nc').group() == 'b'
    assert LazyPattern(r'^b$').search('a\nb\nc') is None
    assert LazyPattern(br'X.Y', re.DOTALL | re.IGNORECASE).fullmatch(b'x\ny') is not None


def test_it_copies_and_pickles_as_a_compiled_pattern_does() -> None:
    for used in (False, True):
        pattern = LazyPattern(r'a+', re.IGNORECASE)
        if used:
            pattern.match('a')
        for copied in (copy.copy(pattern), copy.deepcopy(pattern), pickle.loads(pickle.dumps(pattern))):
            assert copied.match('xAa') is None and copied.search('xAa').group() == 'Aa'


def _lazy_patterns(value: object) -> list[LazyPattern]:
    """The LazyPatterns of a module-level value: itself, or those in its tuples."""
    if isinstance(value, LazyPattern):
        return [value]
    return [found for item in value for found in _lazy_patterns(item)] if isinstance(value, tuple) else []


def test_every_lazy_pattern_of_the_collection_compiles() -> None:
    """Compiled only when a host needs one, a broken pattern would fail there: here, all compile."""
    patterns = []
    for path in sorted(MODULE_UTILS.glob('_*.py')):
        module = importlib.import_module('ansible_collections.kabi.dkms.plugins.module_utils.' + path.stem)
        patterns += [pattern for value in vars(module).values() for pattern in _lazy_patterns(value)]
    assert len(patterns) > 60
    for pattern in patterns:
        assert isinstance(pattern.pattern, (str, bytes))     # compiled on this first use, or re.error
