# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""In which order the coverage role builds: dependencies (dkms.conf's BUILD_DEPENDS) first.

A package whose modules import symbols of another DKMS package (MLNX OFED's stack, nvidia-fs on
nvidia) is built against that package's build for the same kernel, so on each kernel the
packages it depends on are built in an earlier round.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ansible.errors import AnsibleFilterError


def _depends(facts: Mapping[str, Any], package: str) -> list[str]:
    """BUILD_DEPENDS of a package; none when the facts cannot tell (null) or the package is unknown."""
    return list((facts.get('packages', {}).get(package) or {}).get('build_depends') or [])


def build_rounds(pairs: Sequence[Mapping[str, Any]], facts: Mapping[str, Any]) -> list[list[Mapping[str, Any]]]:
    """``pairs`` (entries of the facts' ``uncovered``: kernel, package, ...) in rounds: every pair
    comes after the pairs of the packages it depends on for the same kernel.

    Dependencies that need no build on that kernel impose nothing. Packages that depend on each
    other in a cycle share the last round, in their given order, as dkms would meet them.
    """
    if not isinstance(facts, Mapping) or 'packages' not in facts:
        raise AnsibleFilterError('dkms_build_rounds needs the dkms facts (ansible_facts[\'dkms\']) as its argument')
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Sequence) \
            or not all(isinstance(pair, Mapping) and 'kernel' in pair and 'package' in pair for pair in pairs):
        raise AnsibleFilterError('dkms_build_rounds takes a list of {kernel, package} entries, such as the '
                                 'facts\' uncovered list, not %r' % (pairs,))
    pending = list(pairs)
    rounds: list[list[Mapping[str, Any]]] = []
    while pending:
        waiting = set((pair['kernel'], pair['package']) for pair in pending)
        ready = [pair for pair in pending
                 if not any((pair['kernel'], dependency) in waiting for dependency in _depends(facts, pair['package'])
                            if dependency != pair['package'])]
        if not ready:  # a cycle: nothing can go first
            ready = pending
        rounds.append(ready)
        pending = [pair for pair in pending if not any(pair is chosen for chosen in ready)]
    return rounds


def failed_dependencies(pair: Mapping[str, Any], failed: Sequence[Mapping[str, Any]],
                        facts: Mapping[str, Any]) -> list[str]:
    """The packages ``pair`` depends on whose build failed on the same kernel."""
    broken = set(entry.get('package') for entry in failed if entry.get('kernel') == pair['kernel'])
    return [dependency for dependency in _depends(facts, pair['package']) if dependency in broken]
