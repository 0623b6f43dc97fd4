# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fleet in the fact cache: the cached dkms facts of the hosts this target gathered for real,
cloned to HOSTS hosts in six inventory groups, gathered over the last day.

Usage: scale_cache.py CACHE_DIR HOSTS INVENTORY  (adds the clones' files to the jsonfile cache in
CACHE_DIR and writes INVENTORY naming them; no clone is ever contacted, the report reads the cache)
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Any

GROUPS = ('web', 'db', 'gpu', 'batch', 'ci', 'edge')


def cached_hosts(cache: Path) -> list[tuple[Path, str, dict[str, Any]]]:
    """(file, name prefix, facts) of each cached host with dkms facts, in name order.

    ansible-core 2.19+ wraps the facts as {"__payload__": "<json>"} in files named s1_HOST (the
    schema number may change); older cores write the facts as they are, in files named HOST.
    """
    found = []
    for path in sorted(cache.iterdir()):
        data = json.loads(path.read_text())
        wrapped = '__payload__' in data
        prefix = re.match(r's\d+_', path.name)
        if wrapped != bool(prefix):
            continue  # a host name with characters the cache hashes: its file name is no pattern
        facts = json.loads(data['__payload__']) if wrapped else data
        if 'dkms' in facts:
            found.append((path, prefix.group() if prefix else '', facts))
    return found


def main(cache: Path, hosts: int, inventory: Path) -> None:
    # The hosts with the most uncovered pairs first: a report of one host shows a matrix.
    sources = sorted(cached_hosts(cache), key=lambda source: -len(source[2]['dkms'].get('uncovered') or ()))
    if not sources:
        sys.exit('no cached dkms facts in %s' % cache)
    now = int(time.time())
    groups: dict[str, dict[str, Any]] = {group: {'hosts': {}} for group in GROUPS}
    for index in range(hosts):
        path, prefix, facts = sources[index % len(sources)]
        group = GROUPS[index % len(GROUPS)]
        name = '%s-%04d' % (group, index + 1)
        clone = dict(facts, dkms=dict(facts['dkms'], gathered_at=time.strftime(
            '%Y-%m-%dT%H:%M:%SZ', time.gmtime(now - (index * 86) % 86400))))
        text = json.dumps(clone)
        (cache / (prefix + name)).write_text(json.dumps({'__payload__': text}) if prefix else text)
        groups[group]['hosts'][name] = None
    # JSON is YAML. Nothing listens on the discard port: were the report to connect, it would fail at once.
    inventory.write_text(json.dumps({'all': {'children': groups, 'vars': {'ansible_host': '127.0.0.1',
                                                                          'ansible_port': 9}}}, indent=1))


if __name__ == '__main__':
    main(Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]))
