#!/usr/bin/env bash
# The report playbook over local hosts with their own test roots, then the outputs checked,
# the HTML in headless chromium. Needs gcc and Debian's chromium (apt: chromium chromium-driver).
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

# Relative dkms_report_dir: the report lands under the directory ansible-playbook runs in.
cd "$work"
ansible-playbook -i inventory.yml kabi.dkms.report "$@"
cd "$target_dir"

"$python" check_report.py "$work/dkms-report" "$screenshot"

# An absolute dkms_report_dir works too, and the same hosts give the same report.
ansible-playbook -i "$work/inventory.yml" kabi.dkms.report -e "dkms_report_dir=$work/again" "$@"
cmp "$work/dkms-report/coverage.json" "$work/again/coverage.json"
