# shellcheck shell=bash
# Helpers shared by bootstrap.sh, test.sh and demo.sh; source it after setting `repo`.
: "${repo:?set repo (the checkout) before sourcing lib.sh}"

# The collection copy that ansible-test and ansible see: a real .../ansible_collections/NS/NAME path.
collections_dir=$repo/build
collection_copy=$collections_dir/ansible_collections/kabi/dkms

# Newest installed pyenv interpreter of a minor version, by full path: pyenv_python 3.12
# (the pyenv shims exit 127 for versions that are not selected, so never go through them).
pyenv_python() {
    local root found
    for root in "$(command -v pyenv >/dev/null 2>&1 && pyenv root)" "${PYENV_ROOT:-}" "$HOME/.pyenv"; do
        [[ -n $root ]] || continue
        found=("$root/versions/$1".*/bin/"python$1")
        if [[ -x ${found[0]} ]]; then
            printf '%s\n' "${found[@]}" | sort -V | tail -n1
            return 0
        fi
    done
    echo "no pyenv Python $1 found (pyenv root: $(command -v pyenv >/dev/null 2>&1 && pyenv root))" >&2
    return 1
}

# A fresh copy of the tracked and untracked-not-ignored files: exactly what a clone would hold.
# The copy gets its own empty git repository: ansible-test lists files through the nearest .git
# above the collection, and the checkout's own .gitignore hides build/.
copy_collection() {
    rm -rf "$collection_copy"
    mkdir -p "$collection_copy"
    (cd "$repo" && git ls-files -z -co --exclude-standard \
        | while IFS= read -r -d '' f; do if [[ -e $f || -L $f ]]; then printf '%s\0' "$f"; fi; done \
        | xargs -0 -r cp -a --parents -t "$collection_copy") &&
        git -C "$collection_copy" init -q
}
