#!/usr/bin/env bash
# The whole test suite, stage by stage. Every stage runs (after the copy), each with a banner and
# its time; the summary at the end lists them with what each skipped, and the exit status is
# non-zero if any failed. The output of sanity, units and py36, whose skips it counts, is also kept
# in build/logs/STAGE.log.
#
#   scripts/test.sh                    every stage but the lab: what a fresh machine passes
#   scripts/test.sh --lab              and the lab (needs root; CI=true implies --lab)
#   scripts/test.sh --only units,lab   just these stages
#
# Stages: sanity (ansible-test on the oldest and newest supported ansible-core), units, py36 (the
# module-side unit tests on Python 3.6), integration, targets (dkms_facts on real target Pythons),
# compile (plugins on every declared Python), lint (ansible-lint, production profile; mypy --strict
# of the filters and plugin_utils, mypy of the benchmarks), release (scripts/release.sh: build,
# install, ansible-doc), lab.
# The bootstrap installs what the chosen stages need, and only that.
#
# Integration targets (tests/integration/targets/*): a target that needs the real lab (root, the
# host's /lib/modules and /var/lib/dkms) carries the aliases `destructive` and `needs/root`. The
# integration stage leaves those out (the summary counts them); the lab stage builds the lab and
# runs them with --allow-destructive.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lab=false
[[ ${CI:-} == true ]] && lab=true
default_stages=sanity,units,py36,integration,targets,compile,lint,release
only=
while [[ $# -gt 0 ]]; do
    case $1 in
        --lab) lab=true ;;
        --only) only=$2; shift ;;
        -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "test.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done
if [[ -z $only ]]; then
    only=$default_stages
    if $lab; then only=$only,lab; fi
fi
only=,$only,

bash "$repo/scripts/bootstrap.sh" --for "${only:1:-1}" || exit 1

venv221=$repo/.venv/core221
venv216=$repo/.venv/core216
# shellcheck source=scripts/lib.sh
. "$repo/scripts/lib.sh"
coll=$collection_copy
demo_root=$repo/build/test-demo-root
export ANSIBLE_COLLECTIONS_PATH=$collections_dir
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 PY_COLORS=0

in_collection() { (cd "$coll" && PATH="$1/bin:$PATH" "${@:2}"); }

# What a stage skipped, for the summary: set by the stage functions, empty when nothing.
skipped=

stage_sanity() {
    local venv rc=0 count
    for venv in "$venv216" "$venv221"; do
        echo "--- ansible-test sanity, $("$venv/bin/ansible" --version | sed -n 1p)"
        in_collection "$venv" ansible-test sanity --python 3.12 --color no 2>&1 | tee "$stage_log"
        [[ ${PIPESTATUS[0]} -eq 0 ]] || rc=1
        count=$(grep -c '^WARNING: Skipping sanity test' "$stage_log")
        cat "$stage_log" >>"$log_dir/sanity-all.log"
        [[ $count -eq 0 ]] || skipped+="${skipped:+, }$count tests on $(basename "$venv")"
    done
    return $rc
}

stage_units() {
    in_collection "$venv221" ansible-test units --python 3.12 --requirements --color no 2>&1 | tee "$stage_log"
    local rc=${PIPESTATUS[0]} count
    # pytest's closing lines (one per test context): "== 480 passed, 6 skipped in 30.1s =="; the
    # reasons are in its short summary above them (SKIPPED [n] file:line: reason).
    count=$(grep -E '^=+ .*(passed|failed).* in [0-9.]+s' "$stage_log" \
        | grep -oE '[0-9]+ skipped' | awk '{n += $1} END {print n + 0}')
    [[ $count -eq 0 ]] || skipped="$count tests (reasons: SKIPPED lines above)"
    return "$rc"
}

# The unit tests of the module-side code (modules, module_utils) on Python 3.6, the oldest target
# Python, with ansible-core 2.16's module_utils (the last core that manages 3.6 targets): on a copy
# whose tests carry no annotations (tests/unit/py36/prepare.py), so 3.6 can run them.
stage_py36() {
    local copy=$repo/build/py36 ansible_dir count
    ansible_dir=$("$venv216/bin/python" -c 'import ansible, os; print(os.path.dirname(ansible.__file__))') || return 1
    "$venv221/bin/python" "$coll/tests/unit/py36/prepare.py" "$coll" "$copy" || return 1
    mkdir -p "$copy/core216" && ln -sfn "$ansible_dir" "$copy/core216/ansible"
    (cd "$copy/ansible_collections/kabi/dkms" && PYTHONPATH=$copy:$copy/core216 "$repo/.venv/py36/bin/python" -m pytest \
        -q -p no:cacheprovider -p ansible_collections.kabi.dkms.tests.unit.py36.compat -rs \
        tests/unit/plugins/module_utils tests/unit/plugins/modules) 2>&1 | tee "$stage_log"
    local rc=${PIPESTATUS[0]}
    count=$(grep -E '^=* ?[0-9]+ (passed|failed).* in [0-9.]+s' "$stage_log" | grep -oE '[0-9]+ skipped' | awk '{n += $1} END {print n + 0}')
    [[ $count -eq 0 ]] || skipped="$count tests (reasons: SKIPPED lines above)"
    return "$rc"
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
    local targets lab_targets
    targets=$(targets_by_alias no)
    lab_targets=$(targets_by_alias yes)
    [[ -z $lab_targets ]] || skipped="$(wc -w <<<"$lab_targets") targets need root and the lab: ${lab_targets//$'\n'/ }"
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

# Module-side code (modules, module_utils) runs on targets with Python 3.6 to 3.14; the controller
# plugins (filters, plugin_utils) on the controller Pythons of ansible-core 2.16 and newer (3.10+).
# Every declared interpreter that pyenv has compiles them; the summary names the ones it lacks.
stage_compile() {
    local minor python files rc=0 missing=()
    for minor in 3.6 3.7 3.8 3.9 3.10 3.11 3.12 3.13 3.14; do
        python=$(pyenv_python "$minor" 2>/dev/null) || { missing+=("$minor"); continue; }
        files=("$coll"/plugins/modules/*.py "$coll"/plugins/module_utils/*.py)
        if [[ ${minor#3.} -ge 10 ]]; then
            files+=("$coll"/plugins/filter/*.py "$coll"/plugins/plugin_utils/*.py)
        fi
        echo "--- Python $minor ($python): ${#files[@]} files"
        "$python" -c '
import sys
for path in sys.argv[1:]:
    with open(path, "rb") as source:
        compile(source.read(), path, "exec", dont_inherit=True)
' "${files[@]}" || rc=1
    done
    [[ ${#missing[@]} -eq 0 ]] || skipped="no pyenv Python ${missing[*]}"
    return $rc
}

# ansible-lint's production profile (the one certification uses) over the clone-like copy, with
# the README's examples extracted into it as the integration stage runs them.
stage_lint() {
    rm -rf "$coll/readme-examples"
    "$repo/.venv/lint/bin/python" "$coll/tests/integration/targets/readme_examples/examples.py" extract \
        "$coll/README.md" "$coll/readme-examples" >/dev/null || return 1
    in_collection "$repo/.venv/lint" ansible-lint --profile production --offline
    local rc=$?
    rm -rf "$coll/readme-examples"
    echo "--- mypy (strict) of the controller-side code"
    (cd "$collections_dir" && "$repo/.venv/lint/bin/mypy" --config-file "$repo/scripts/mypy.ini" \
        -p ansible_collections.kabi.dkms.plugins.filter -p ansible_collections.kabi.dkms.plugins.plugin_utils) || rc=1
    echo "--- mypy of the benchmarks (developer tools: checked, not strict; matplotlib is in another venv)"
    "$repo/.venv/lint/bin/mypy" --cache-dir /dev/null --ignore-missing-imports "$repo"/benchmarks/*.py || rc=1
    return $rc
}

# The tarball from this checkout, installed into a fresh path and documented (scripts/release.sh).
stage_release() {
    bash "$repo/scripts/release.sh"
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

names=() results=() times=() skips=()
log_dir=$repo/build/logs
run_stage() {
    local name=$1 start rc
    [[ $only == *,$name,* ]] || return 0
    printf '\n==================== stage %s ====================\n' "$name"
    start=$SECONDS
    skipped=
    stage_log=$log_dir/$name.log
    "stage_$name"
    rc=$?
    names+=("$name")
    times+=("$((SECONDS - start))")
    skips+=("${skipped:--}")
    if [[ $rc -eq 0 ]]; then results+=(passed); else results+=("FAILED (exit $rc)"); fi
    printf '==================== stage %s: %s in %ss ====================\n' "$name" "${results[-1]}" "${times[-1]}"
}

mkdir -p "$log_dir"
copy_collection || { echo "test.sh: copying the collection to $coll failed" >&2; exit 1; }
for stage in sanity units py36 integration targets compile lint release lab; do
    run_stage "$stage"
done
$lab || echo "(stage lab not run: it needs --lab or CI=true, and root)"

passed=0 failed=0
printf '\n%-12s %-18s %-8s %s\n' stage result seconds skipped
for i in "${!names[@]}"; do
    printf '%-12s %-18s %-8s %s\n' "${names[$i]}" "${results[$i]}" "${times[$i]}" "${skips[$i]}"
    if [[ ${results[$i]} == passed ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "stages: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
