#!/usr/bin/env bash
# Builds temporary system trees with gcc-compiled modules and checks the facts through ansible.
set -eux
collections_parent=$(cd ../../../../../.. && pwd)
trees=$(mktemp -d)
trap 'rm -rf "$trees"' EXIT
PYTHONPATH=$collections_parent python make_trees.py "$trees"
ansible-playbook -i inventory check_facts.yml -e "trees=$trees" "$@"
