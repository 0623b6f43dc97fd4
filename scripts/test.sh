#!/usr/bin/env bash
# The whole test suite, stage by stage. Every stage runs (after the copy), each with a banner and
# its time; the summary at the end lists them and the exit status is non-zero if any failed.
#
#   scripts/test.sh                    stages 1-4
#   scripts/test.sh --lab              stages 1-5 (needs root; CI=true implies --lab)
#   scripts/test.sh --only units,lab   just these stages (sanity, units, integration, targets, lab)
#
# Integration targets (tests/integration/targets/*): a target that needs the real lab (root, the
# host's /lib/modules and /var/lib/dkms) carries the aliases `destructive` and `needs/root`. Stage 3
# runs without --allow-destructive, so it leaves those out; stage 5 builds the lab and runs them with
# --allow-destructive.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lab=false
[[ ${CI:-} == true ]] && lab=true
only=
while [[ $# -gt 0 ]]; do
    case $1 in
        --lab) lab=true ;;
        --only) only=,$2,; shift ;;
        -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "test.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done

if $lab; then
    bash "$repo/scripts/bootstrap.sh" --lab || exit 1
else
    bash "$repo/scripts/bootstrap.sh" || exit 1
fi

venv221=$repo/.venv/core221
venv216=$repo/.venv/core216
# shellcheck source=scripts/lib.sh
. "$repo/scripts/lib.sh"
coll=$collection_copy
demo_root=$repo/build/test-demo-root
export ANSIBLE_COLLECTIONS_PATH=$collections_dir
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 PY_COLORS=0

in_collection() { (cd "$coll" && PATH="$1/bin:$PATH" "${@:2}"); }

stage_sanity() {
    in_collection "$venv221" ansible-test sanity --python 3.12 --color no
}

stage_units() {
    in_collection "$venv221" ansible-test units --python 3.12 --requirements --color no
}

targets_by_alias() {  # targets_by_alias yes|no: the integration targets with/without `destructive`
    local dir
    for dir in "$coll"/tests/integration/targets/*/; do
        [[ -f $dir/aliases ]] || continue
        if grep -qx destructive "$dir/aliases"; then
            [[ $1 == yes ]] && basename "$dir"
        else
            [[ $1 == no ]] && basename "$dir"
        fi
    done
}

stage_integration() {
    local targets
    targets=$(targets_by_alias no)
    if [[ -z $targets ]]; then
        echo "no local integration targets"
        return 0
    fi
    # shellcheck disable=SC2086  # one word per target name
    in_collection "$venv221" ansible-test integration --python 3.12 --color no $targets
}

demo_tree() { PYTHONPATH=$collections_dir "$venv221/bin/python" "$coll/tests/demo/make_demo_tree.py" "$@"; }

# The fact module on real target interpreters: 3.6 needs core 2.16, 3.9 to 3.13 run under 2.21.
stage_targets() {
    local minor venv python facts rc=0
    demo_tree build "$demo_root" || return 1
    for minor in 3.6 3.9 3.12 3.13; do
        venv=$venv221
        [[ $minor == 3.6 ]] && venv=$venv216
        python=$(pyenv_python "$minor") || { rc=1; continue; }
        facts=$repo/build/facts-py$minor.txt
        echo "--- dkms_facts on Python $minor ($python), $("$venv/bin/ansible" --version | sed -n 1p)"
        if ANSIBLE_STDOUT_CALLBACK=minimal \
            "$venv/bin/ansible" localhost -c local -i localhost, -e "ansible_python_interpreter=$python" \
            -m kabi.dkms.dkms_facts -a "root=$demo_root" >"$facts"; then
            demo_tree check "$demo_root" "$facts" || rc=1
        else
            cat "$facts"
            rc=1
        fi
    done
    return $rc
}

stage_lab() {
    local targets playbook lab_vars=$repo/build/lab-vars.yml
    bash "$repo/tests/lab/build-lab.sh" >"$lab_vars" || return 1
    cat "$lab_vars"
    for playbook in check-facts.yml check-secure-boot.yml; do
        in_collection "$venv221" ansible-playbook -i localhost, "tests/lab/$playbook" -e "@$lab_vars" \
            -e "lab_python_with_elftools=$venv221/bin/python" \
            -e "lab_python_without_elftools=$repo/.venv/bare312/bin/python" -e "lab_facts_dir=$repo/build" || return 1
    done
    targets=$(targets_by_alias yes)
    if [[ -n $targets ]]; then
        # shellcheck disable=SC2086
        in_collection "$venv221" ansible-test integration --python 3.12 --color no --allow-destructive $targets
    fi
}

names=() results=() times=()
run_stage() {
    local name=$1 start rc
    if [[ -n $only && $only != *,$name,* ]]; then
        return 0
    fi
    printf '\n==================== stage %s ====================\n' "$name"
    start=$SECONDS
    "stage_$name"
    rc=$?
    names+=("$name")
    times+=("$((SECONDS - start))")
    if [[ $rc -eq 0 ]]; then results+=(passed); else results+=("FAILED (exit $rc)"); fi
    printf '==================== stage %s: %s in %ss ====================\n' "$name" "${results[-1]}" "${times[-1]}"
}

copy_collection || { echo "test.sh: copying the collection to $coll failed" >&2; exit 1; }
run_stage sanity
run_stage units
run_stage integration
run_stage targets
if $lab; then
    run_stage lab
else
    echo "(stage lab skipped: needs --lab or CI=true)"
fi

passed=0 failed=0
printf '\n%-12s %-20s %s\n' stage result seconds
for i in "${!names[@]}"; do
    printf '%-12s %-20s %s\n' "${names[$i]}" "${results[$i]}" "${times[$i]}"
    if [[ ${results[$i]} == passed ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "stages: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
