#!/usr/bin/env bash
# Build the collection tarball from this checkout (used or not) and check it as a user would get it.
#
#   scripts/release.sh            build into build/release/, then check
#
# Checks: the changelog fragments lint; the release notes antsibull-changelog would write for the
# version in galaxy.yml (made in a scratch copy and printed; the real `antsibull-changelog release`
# is the release manager's commit); the tarball holds what users need and none of a checkout's
# leftovers; it installs into a fresh collections path, where ansible-doc documents every module,
# filter and role and the playbook passes --syntax-check.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$repo/scripts/lib.sh"
case ${1:-} in
    '') ;;
    *) sed -n '2,10p' "${BASH_SOURCE[0]}"; exit 2 ;;
esac
venv=$repo/.venv/core221
out=$repo/build/release
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export ANSIBLE_NOCOLOR=1
log() { printf 'release: %s\n' "$*"; }
fail() { printf 'release: FAILED: %s\n' "$*" >&2; exit 1; }

version=$(sed -n 's/^version: *//p' "$repo/galaxy.yml")
log "kabi.dkms $version"

(cd "$repo" && "$venv/bin/antsibull-changelog" lint) || fail "changelog fragments do not lint"

# The release notes, from a clone-like copy at a collection path (antsibull-changelog asks
# ansible-doc for the plugins and their version_added).
notes=$scratch/notes/ansible_collections/kabi/dkms
mkdir -p "$notes"
(cd "$repo" && git ls-files -z -co --exclude-standard | xargs -0 -r cp -a --parents -t "$notes")
if grep -q "^  $version:" "$notes/changelogs/changelog.yaml" 2>/dev/null || grep -q "^  '$version':" "$notes/changelogs/changelog.yaml"; then
    log "$version is already released in changelogs/changelog.yaml"
else
    (cd "$notes" && ANSIBLE_COLLECTIONS_PATH=$scratch/notes PATH="$venv/bin:$PATH" \
        antsibull-changelog release --version "$version" >/dev/null) || fail "antsibull-changelog release (scratch copy)"
fi
for section in 'Release Summary' 'New Modules' 'New Plugins' 'New Roles' 'New Playbooks'; do
    grep -qx "$section" "$notes/CHANGELOG.rst" || fail "the release notes have no '$section' section"
done
if grep -q '^releases: {}' "$repo/changelogs/changelog.yaml"; then
    # A first release lists what it brings, not changes to code that was never released: fragments
    # written before it are `trivial` (kept in git history only).
    changes=$(sed -n '/^v'"${version//./\\.}"'$/,$p' "$notes/CHANGELOG.rst" | grep -B1 -E '^-+$' \
        | grep -vE '^(-+|--|Release Summary|New .*)$' || true)
    [[ -z $changes ]] || fail "the first release lists changes to unreleased code (${changes//$'\n'/, }): make those fragments trivial"
fi
log "release notes for $version (antsibull-changelog release would write this CHANGELOG.rst):"
sed -n '/^v'"${version//./\\.}"'$/,$p' "$notes/CHANGELOG.rst"

rm -rf "$out"
mkdir -p "$out"
(cd "$repo" && "$venv/bin/ansible-galaxy" collection build --force --output-path "$out") || fail "ansible-galaxy collection build"
tarball=$out/kabi-dkms-$version.tar.gz
[[ -f $tarball ]] || fail "no $tarball"

mapfile -t files < <(tar -tzf "$tarball" | sed 's|^\./||; s|/$||')
for needed in COPYING README.md MANIFEST.json FILES.json meta/runtime.yml playbooks/report.yml \
    plugins/modules/dkms_facts.py roles/dkms_coverage/meta/argument_specs.yml changelogs/changelog.yaml; do
    printf '%s\n' "${files[@]}" | grep -qx "$needed" || fail "the tarball lacks $needed"
done
leftovers=$(printf '%s\n' "${files[@]}" | grep -E '^(build|\.venv[^/]*|dkms-report|benchmarks|scripts|\.ci|tests/(unit|integration|lab|demo|output))(/|$)|__pycache__|\.pyc$|\.tar\.gz$' || true)
[[ -z $leftovers ]] || fail "the tarball holds what users do not need: $(echo "$leftovers" | head -n5)"
log "$tarball: ${#files[@]} entries, $(du -k "$tarball" | cut -f1) KiB"

# Installed into a fresh path, as `ansible-galaxy collection install` from Galaxy would.
installed=$scratch/installed
# Only the fresh path: with another (test.sh's copy) configured, galaxy finds kabi.dkms there and
# installs nothing.
export ANSIBLE_COLLECTIONS_PATH=$installed
"$venv/bin/ansible-galaxy" collection install --offline --force -p "$installed" "$tarball" >/dev/null \
    || fail "ansible-galaxy collection install"
[[ -f $installed/ansible_collections/kabi/dkms/MANIFEST.json ]] || fail "nothing was installed into $installed"
documented=0
for type in module filter role; do
    mapfile -t names < <("$venv/bin/ansible-doc" -t "$type" -l kabi.dkms --json 2>"$scratch/doc-list.err" \
        | "$venv/bin/python" -c 'import json, sys; print("\n".join(sorted(json.load(sys.stdin))))')
    [[ ${#names[@]} -gt 0 ]] || { cat "$scratch/doc-list.err"; fail "ansible-doc lists no $type of kabi.dkms"; }
    for name in "${names[@]}"; do
        # The text a user reads, and the version_added the changelog takes (doc, or the role's main).
        if ! "$venv/bin/ansible-doc" -t "$type" "$name" >"$scratch/doc.txt" 2>&1 \
            || ! "$venv/bin/ansible-doc" -t "$type" "$name" --json 2>/dev/null | "$venv/bin/python" -c '
import json, sys
entry = json.load(sys.stdin)[sys.argv[1]]
doc = entry.get("doc") or entry["entry_points"]["main"]
sys.exit(0 if doc.get("version_added") and doc.get("short_description") else 1)' "$name"; then
            cat "$scratch/doc.txt"
            fail "ansible-doc -t $type $name: no documentation or no version_added"
        fi
        log "ansible-doc -t $type $name: $(wc -l <"$scratch/doc.txt") lines"
        documented=$((documented + 1))
    done
done
"$venv/bin/ansible-playbook" -i localhost, --syntax-check kabi.dkms.report >/dev/null || fail "kabi.dkms.report --syntax-check"
log "installed copy: $documented plugins and roles documented, kabi.dkms.report passes --syntax-check"
log "done: $tarball"
