# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The README's YAML examples, taken verbatim and made runnable against test roots.

    examples.py extract MARKDOWN OUTDIR   one file per ```yaml block: play-N.yml (a playbook, as
                                          written), tasks-N.yml (a task list, inside a play that
                                          first gathers the facts) or data-N.yml (a sample)
    examples.py check-sample SAMPLE FACTS every key the sample shows exists in real facts (JSON)

The plays get one addition: module_defaults that point kabi.dkms's modules at each host's test
root (the host variable readme_root); the tasks themselves are untouched.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

BLOCK = re.compile(r'^```yaml\n(.*?)^```', re.MULTILINE | re.DOTALL)
ROOT_DEFAULTS = {
    'kabi.dkms.dkms_facts': {'root': '{{ readme_root }}'},
    'kabi.dkms.dkms_module': {
        'dkms_tree': '{{ readme_root }}/var/lib/dkms',
        'source_tree': '{{ readme_root }}/usr/src',
        'install_tree': '{{ readme_root }}/lib/modules',
    },
}


def kind(block: Any) -> str:
    if isinstance(block, list) and block and all(isinstance(item, dict) for item in block):
        return 'play' if all('hosts' in item for item in block) else 'tasks'
    return 'data'


def indented(text: str, spaces: int) -> str:
    return ''.join(' ' * spaces + line if line.strip() else line for line in text.splitlines(True))


def extract(markdown: Path, outdir: Path) -> None:
    """Each block's text stays as written: plays get module_defaults after their hosts line, task
    lists are indented into a play."""
    outdir.mkdir(parents=True, exist_ok=True)
    defaults = 'module_defaults:\n' + indented(yaml.safe_dump(ROOT_DEFAULTS, sort_keys=False), 2)
    for number, match in enumerate(BLOCK.finditer(markdown.read_text()), 1):
        text = match.group(1)
        block_kind = kind(yaml.safe_load(text))
        if block_kind == 'play':
            text = '---\n' + re.sub(r'^(  hosts: .*\n)', lambda hosts: hosts.group(1) + indented(defaults, 2),
                                    text, flags=re.MULTILINE)
        elif block_kind == 'tasks':
            text = ('---\n- name: README tasks\n  hosts: all\n  gather_facts: false\n' + indented(defaults, 2)
                    + '  pre_tasks:\n    - name: Gather the DKMS facts the example reads\n'
                    + '      kabi.dkms.dkms_facts:\n  tasks:\n' + indented(text, 4))
        name = '%s-%d.yml' % (block_kind, number)
        (outdir / name).write_text(text)
        print(name)


def keys_missing(sample: Any, real: Any, path: str) -> list[str]:
    """Paths of keys in ``sample`` that ``real`` does not have.

    Mappings keyed by a name (kernels, packages, modules) are compared entry by entry against the
    union of the real entries' keys, since the sample's names need not be the real ones.
    """
    if not isinstance(sample, dict) or not isinstance(real, dict):
        return []
    missing = []
    if path.rsplit('.', 1)[-1] in ('kernels', 'packages', 'modules'):
        union = merged(entry for entry in real.values() if isinstance(entry, dict))
        for name, entry in sample.items():
            if isinstance(entry, dict):
                missing += keys_missing_flat(entry, union, '%s.%s' % (path, name))
        return missing
    return keys_missing_flat(sample, real, path)


def merged(entries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Every key of every entry; mappings under one key are merged the same way."""
    union: dict[str, Any] = {}
    for entry in entries:
        for key, value in entry.items():
            if isinstance(value, dict) and isinstance(union.get(key), dict):
                union[key] = merged([union[key], value])
            elif not isinstance(union.get(key), dict):
                union[key] = value
    return union


def keys_missing_flat(sample: dict[str, Any], real: dict[str, Any], path: str) -> list[str]:
    missing = []
    for key, value in sample.items():
        if key not in real:
            missing.append('%s.%s' % (path, key))
        else:
            missing += keys_missing(value, real[key], '%s.%s' % (path, key))
    return missing


def check_sample(sample_path: Path, facts_path: Path) -> None:
    sample = yaml.safe_load(sample_path.read_text())
    real = json.loads(facts_path.read_text())
    missing = keys_missing(sample['dkms'], real, 'dkms')
    if missing:
        sys.exit('%s shows keys the facts do not have: %s' % (sample_path.name, ', '.join(missing)))
    print('%s: every key is in the real facts' % sample_path.name)


if __name__ == '__main__':
    if sys.argv[1] == 'extract':
        extract(Path(sys.argv[2]), Path(sys.argv[3]))
    elif sys.argv[1] == 'check-sample':
        check_sample(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        sys.exit(__doc__)
