#!/usr/bin/env bash
# Builds temporary system trees with gcc-compiled modules and checks the facts through ansible.
set -eux
# ansible-test runs a copy of this directory and points ANSIBLE_COLLECTIONS_PATH at the collection;
# run by hand, the checkout sits at .../ansible_collections/kabi/dkms.
collections_parent=${ANSIBLE_COLLECTIONS_PATH:-$(cd ../../../../../../.. && pwd)}
python=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}
trees=$(mktemp -d)
trap 'rm -rf "$trees"' EXIT
PYTHONPATH=${collections_parent%%:*} "$python" make_trees.py "$trees"
ansible-playbook -i inventory check_facts.yml -e "trees=$trees" "$@"
