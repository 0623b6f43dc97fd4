#!/usr/bin/env bash
# The README's YAML examples, verbatim, against test roots: every playbook and task list runs in
# check mode (the reboot gate picks exactly the hosts whose next boot is a different, covered
# kernel), the facts sample shows only keys the facts have, and the role's failure rule holds per
# dkms_coverage_fail_scope.
set -eux -o pipefail

python=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}
collections_path=${ANSIBLE_COLLECTIONS_PATH:-$(cd ../../../../../../.. && pwd)}
export PYTHONPATH="${collections_path%%:*}${PYTHONPATH:+:$PYTHONPATH}"
readme=${collections_path%%:*}/ansible_collections/kabi/dkms/README.md
export ANSIBLE_HOST_KEY_CHECKING=false ANSIBLE_NOCOLOR=1
# The hosts connect through readme_local: `local` under another name, that reboot's check mode accepts.
export ANSIBLE_CONNECTION_PLUGINS=$PWD/connection_plugins

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$python" make_roots.py "$work"
"$python" examples.py extract "$readme" "$work/examples" >"$work/examples.txt"
inventory=$work/inventory.yml

ran=0
while read -r example; do
    case $example in
        play-*|tasks-*)
            ansible-playbook -i "$inventory" --check "$work/examples/$example" "$@" | tee "$work/$example.log"
            ran=$((ran + 1))
            if grep -q 'ansible.builtin.reboot' "$work/examples/$example"; then
                # The hosts a reboot task changed (in check mode: would reboot), over all reboot tasks.
                rebooted=$(awk '/^TASK \[/ {reboot = /Reboot/} reboot && /^changed: \[/ {print}' "$work/$example.log" \
                    | sed 's/^changed: \[\(.*\)\].*/\1/' | sort -u | tr '\n' ' ')
                [[ $rebooted == 'next_covered old_uncovered ' ]] || { echo "$example rebooted: $rebooted"; exit 1; }
            fi
            ;;
        data-*)
            if grep -q '^dkms:' "$work/examples/$example"; then
                ansible-playbook -i "$inventory" dump_facts.yml -e "facts_root=$work/roots/demo" \
                    -e "facts_file=$work/demo-facts.json" "$@"
                "$python" examples.py check-sample "$work/examples/$example" "$work/demo-facts.json"
            fi
            ;;
    esac
done <"$work/examples.txt"
[[ $ran -ge 5 ]] || { echo "only $ran runnable examples found in $readme"; exit 1; }

ansible-playbook -i "$inventory" fail_scope.yml -e fail_scope=all \
    -e '{"expected_failing": ["next_uncovered", "old_uncovered", "no_default"]}' "$@"
ansible-playbook -i "$inventory" fail_scope.yml -e fail_scope=default -e '{"expected_failing": ["next_uncovered"]}' "$@"

# A package name the dkms tree does not register is named in a warning, not silently "covered".
ansible-playbook -i "$inventory" --check --limit next_covered fail_scope.yml -e fail_scope=all \
    -e '{"expected_failing": [], "packages": ["nvidia", "nosuch"]}' "$@" 2>&1 | tee "$work/unknown.log"
grep -q 'packages: nosuch is not registered in the dkms tree' "$work/unknown.log"

# module_defaults through the collection's action group.
ansible-playbook -i "$inventory" group_defaults.yml "$@"
