#!/usr/bin/env bash
# Build the real DKMS lab in the host's /lib/modules and /var/lib/dkms (CI owns the machine; see
# shared test-lab notes). Needs root, dkms and two Debian linux-headers ABIs (scripts/bootstrap.sh --lab).
# Idempotent: what already exists is reused. The lab, with A and B the two newest header ABIs:
#   A          kabitest 1.0 installed by dkms                       -> installed
#   B          headers only, nothing built                          -> missing
#   A+clone    build -> A's headers, weak-updates/ -> A's modules   -> weak (kABI compatible)
#   A+broken   as A+clone, but symvers.gz has one CRC changed that
#              kabitest_b uses                                      -> weak-incompatible
# Prints the lab's kernel names as YAML variables on stdout (lab_a: ..., extra vars for check-facts.yml);
# everything else goes to stderr.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
package=kabitest
version=1.0
arch=$(uname -m)
modules=(kabitest_a kabitest_b)
# The symbol whose CRC the broken clone changes: kabitest_b imports it from vmlinux.
broken_symbol=kfree

log() { printf 'build-lab: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "needs root (writes /lib/modules, /var/lib/dkms, /usr/src)"
command -v dkms >/dev/null || die "dkms is not installed: run scripts/bootstrap.sh --lab"

headers=(/usr/src/linux-headers-6.1.0-*-amd64)
mapfile -t abis < <(printf '%s\n' "${headers[@]#/usr/src/linux-headers-}" | grep -v '\*' | sort -V | tail -n2)
[[ ${#abis[@]} -eq 2 ]] || die "needs two linux-headers-6.1.0-N-amd64 ABIs: run scripts/bootstrap.sh --lab"
A=${abis[0]}
B=${abis[1]}
clone=$A+clone
broken=$A+broken

# The package source in /usr/src; a changed source is re-registered so dkms rebuilds it.
src=/usr/src/$package-$version
if ! diff -rq "$here/$package-$version" "$src" >/dev/null 2>&1; then
    if [[ -e /var/lib/dkms/$package/$version ]]; then
        log "source changed: removing $package/$version from dkms"
        dkms remove -m "$package" -v "$version" --all >&2
    fi
    rm -rf "$src"
    cp -a "$here/$package-$version" "$src"
fi
if [[ ! -e /var/lib/dkms/$package/$version/source ]]; then
    dkms add -m "$package" -v "$version" >&2
fi

# Real kernels leave in-tree modules behind; a directory with only updates/ and modules.* is stale.
mark_installed() {
    mkdir -p "/lib/modules/$1/kernel"
    local f
    for f in modules.order modules.builtin modules.builtin.modinfo; do
        [[ -e /lib/modules/$1/$f ]] || : >"/lib/modules/$1/$f"
    done
}
mark_installed "$A"
mark_installed "$B"

installed_ok() {
    local m
    [[ -L /var/lib/dkms/$package/kernel-$1-$arch ]] || return 1
    for m in "${modules[@]}"; do [[ -f /lib/modules/$1/updates/dkms/$m.ko ]] || return 1; done
}
if installed_ok "$A"; then
    log "$package/$version already installed for $A"
else
    dkms install -m "$package" -v "$version" -k "$A" >&2
fi

# B stays missing, even after a headers package's autoinstall hook built it.
if [[ -e /var/lib/dkms/$package/$version/$B ]]; then
    log "removing the $B build that autoinstall made"
    dkms remove -m "$package" -v "$version" -k "$B" >&2
fi

# A clone of A: same kABI (A's headers), modules only through absolute weak-updates links.
make_clone() {
    local k=$1 m dir=/lib/modules/$1
    mark_installed "$k"
    ln -sfn "$(readlink -f "/lib/modules/$A/build")" "$dir/build"
    mkdir -p "$dir/weak-updates"
    for m in "${modules[@]}"; do
        ln -sfn "/lib/modules/$A/updates/dkms/$m.ko" "$dir/weak-updates/$m.ko"
    done
}
make_clone "$clone"
make_clone "$broken"

# The broken clone's own symvers (found before build/Module.symvers) with one CRC changed.
if [[ ! -e /lib/modules/$broken/symvers.gz ]]; then
    modprobe --dump-modversions "/lib/modules/$A/updates/dkms/kabitest_b.ko" \
        | awk -v s="$broken_symbol" '$2 == s {found = 1} END {exit !found}' \
        || die "kabitest_b does not import $broken_symbol"
    symvers=/lib/modules/$A/build/Module.symvers
    crc=$(awk -F'\t' -v s="$broken_symbol" '$2 == s {print $1}' "$symvers")
    [[ -n $crc ]] || die "$broken_symbol is not in $symvers"
    sed "s/^$crc\t$broken_symbol\t/$(printf '0x%08x' $((crc ^ 1)))\t$broken_symbol\t/" "$symvers" \
        | gzip -n >"/lib/modules/$broken/symvers.gz"
fi

# modules.dep as weak-modules leaves it: the weak links are what modprobe resolves the names to.
for k in "$clone" "$broken"; do
    depmod -a "$k"
done

# Clones of an ABI that is no longer one of the two newest are this script's own leftovers.
for dir in /lib/modules/*+clone /lib/modules/*+broken; do
    [[ -d $dir ]] || continue
    case ${dir##*/} in "$clone" | "$broken") ;; *) log "removing old lab kernel $dir"; rm -rf "$dir" ;; esac
done

log "dkms status:"
dkms status -m "$package" >&2
for k in "$A" "$B" "$clone" "$broken"; do
    log "/lib/modules/$k:"
    ls -l "/lib/modules/$k" >&2
done
printf 'lab_a: "%s"\nlab_b: "%s"\nlab_clone: "%s"\nlab_broken: "%s"\n' "$A" "$B" "$clone" "$broken"
