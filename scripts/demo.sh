#!/usr/bin/env bash
# The main job, end to end: gather kabi.dkms.dkms_facts and show per-kernel DKMS coverage.
#
#   scripts/demo.sh              this host when it has a dkms tree and kernels, else a demo tree
#   scripts/demo.sh --demo-tree  always the demo tree (build/demo-root: gcc-built modules, one kernel
#                                each installed, weak, weak-incompatible and missing)
#
# Needs gcc and one venv: scripts/bootstrap.sh --for demo (root only to apt-install a missing gcc).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$repo/scripts/lib.sh"
force_tree=false
case ${1:-} in
    --demo-tree) force_tree=true ;;
    '') ;;
    *) sed -n '2,8p' "${BASH_SOURCE[0]}"; exit 2 ;;
esac

bash "$repo/scripts/bootstrap.sh" --for demo
venv=$repo/.venv/core221
copy_collection
export ANSIBLE_COLLECTIONS_PATH=$collections_dir

host_has_dkms() {
    compgen -G '/var/lib/dkms/*/*/source' >/dev/null && compgen -G '/lib/modules/*/' >/dev/null
}

if ! $force_tree && host_has_dkms; then
    root=/
    echo "demo: this host has a dkms tree and kernels: inspecting /"
else
    root=$repo/build/demo-root
    PYTHONPATH=$collections_dir "$venv/bin/python" "$collection_copy/tests/demo/make_demo_tree.py" build "$root"
fi
# The venv's interpreter on the target side too: it has pyelftools, so the kABI verdicts come back.
"$venv/bin/ansible-playbook" -i localhost, "$collection_copy/tests/demo/demo.yml" \
    -e "demo_root=$root" -e "ansible_python_interpreter=$venv/bin/python"
