#!/usr/bin/env bash
# The report playbook over local hosts with their own test roots, then the outputs checked,
# the HTML in headless chromium. Needs gcc and Debian's chromium. Then the same report from the fact
# cache without gathering, and a report of 1,000 cached hosts (time, page weight, screenshots at 1
# and 1,000 hosts, printed PDF page count: build/logs/ under scripts/test.sh).
set -eux

target_dir=$(pwd)
python=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}
# ansible-test runs a copy of this directory outside the collection, but points
# ANSIBLE_COLLECTIONS_PATH at it; run by hand, the checkout sits at .../ansible_collections/kabi/dkms.
collections_path=${ANSIBLE_COLLECTIONS_PATH:-$(cd ../../../../../../.. && pwd)}
# build_roots imports the collection's test helpers by their package name.
export PYTHONPATH="$collections_path${PYTHONPATH:+:$PYTHONPATH}"
# JUNIT_OUTPUT_DIR is the collection's tests/output/junit under ansible-test.
output_dir=$(dirname "${JUNIT_OUTPUT_DIR:-../../../output/junit}")
mkdir -p "$output_dir"
screenshot=$(cd "$output_dir" && pwd)/report-screenshot.png
export ANSIBLE_HOST_KEY_CHECKING=false

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$python" build_roots.py "$work" "${REPORT_HOSTS:-4}"
# The gathering run fills a jsonfile fact cache, as a scheduled AWX/AAP gather job would.
export ANSIBLE_CACHE_PLUGIN=ansible.builtin.jsonfile ANSIBLE_CACHE_PLUGIN_CONNECTION="$work/cache"

# Relative dkms_report_dir: the report lands under the directory ansible-playbook runs in.
cd "$work"
ansible-playbook -i inventory.yml kabi.dkms.report "$@"
cd "$target_dir"

"$python" check_report.py "$work/dkms-report" "$screenshot"

# An absolute dkms_report_dir works too, and the same hosts give the same report.
ansible-playbook -i "$work/inventory.yml" kabi.dkms.report -e "dkms_report_dir=$work/again" "$@"
"$python" - "$work/dkms-report/coverage.json" "$work/again/coverage.json" <<'EOF'
import json
import sys


def timeless(path):
    """The report without the times that differ between runs."""
    report = json.load(open(path))
    report.pop('generated_at')
    report['summary'].pop('oldest_facts')
    report['summary'].pop('oldest_facts_age')
    for facts in report['hosts'].values():
        facts.pop('gathered_at')
    return report


first, again = (timeless(path) for path in sys.argv[1:])
assert first == again, 'the same hosts give the same report'
EOF

# From the cache (the last gathering run filled it): no host is contacted and no root is read (they
# are gone); the same facts come
# back, and hosts without cached facts are listed.
mv "$work/roots" "$work/roots.away"
ansible-playbook -i "$work/inventory.yml" kabi.dkms.report -e dkms_report_from_cache=true \
    -e "dkms_report_dir=$work/cached" "$@"
mv "$work/roots.away" "$work/roots"
"$python" - "$work/again/coverage.json" "$work/cached/coverage.json" <<'EOF'
import json
import sys
gathered, cached = (json.load(open(path)) for path in sys.argv[1:])
assert cached['hosts'] == gathered['hosts'], 'the cached report shows the gathered facts'
assert {f['host']: f['reason'] for f in cached['failed']} == {
    'down': 'no dkms facts in the fact cache', 'no-root': 'no dkms facts in the fact cache'}, cached['failed']
EOF
grep -q 'facts age' "$work/cached/index.html"

# A fleet: 1 and 1,000 hosts cloned in the cache, reported without gathering.
for hosts in 1 1000; do
    cache=$work/cache-$hosts
    cp -r "$work/cache" "$cache"
    "$python" scale_cache.py "$cache" "$hosts" "$work/fleet-$hosts.yml"
    start=$(date +%s%N)
    ANSIBLE_CACHE_PLUGIN_CONNECTION=$cache ansible-playbook -i "$work/fleet-$hosts.yml" kabi.dkms.report \
        -e dkms_report_from_cache=true -e "dkms_report_dir=$work/fleet-$hosts" "$@" >"$work/fleet-$hosts.log"
    seconds=$((($(date +%s%N) - start) / 1000000))
    grep -q "$hosts of $hosts host" "$work/fleet-$hosts.log" || { cat "$work/fleet-$hosts.log"; exit 1; }
    echo "report of $hosts cached hosts: ${seconds} ms"
    "$python" check_report.py --shots "$work/fleet-$hosts" "$output_dir/report-$hosts-hosts.png" "$output_dir/report-$hosts-hosts.pdf" \
        | tee "$output_dir/report-$hosts-hosts.json"
done
