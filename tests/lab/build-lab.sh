#!/usr/bin/env bash
# Build the real DKMS lab in the host's /lib/modules, /var/lib/dkms and /usr/src (CI owns the machine;
# see shared test-lab notes). Needs root, dkms, two Debian linux-headers ABIs and the real DKMS packages
# (scripts/bootstrap.sh --lab). Idempotent: what already exists as described below is reused, anything
# else (a killed lab test's leftovers, builds against other headers) is put back. With A and B the two newest
# header ABIs, the lab's kernels and what the facts should say:
#   A              installed by dkms: kabitest 1.0, kabidep-provider and kabidep-consumer (its
#                  BUILD_DEPENDS, built against the provider's Module.symvers), tp_smapi, gost-crypto,
#                  v4l2loopback                                    -> installed
#   B              headers only; kabinotelf (a "module" that is not ELF) installed by dkms
#                                                                  -> kabitest missing, kabinotelf broken
#   A+clone        build -> A's headers, weak-updates/ -> every module dkms installed for A  -> weak
#   A+noprovider   as A+clone, without kabidep-provider's link    -> consumer weak-incompatible
#   A+broken       build -> a copy of A's headers whose Module.symvers has one CRC changed (kfree,
#                  which kabitest_b imports), weak-updates/ as A+clone -> kabitest weak-incompatible;
#                  a dkms build for it has its CRCs (the role's lab test makes one)
#   A+misbuilt     another kABI (headers: A's with module_layout's CRC changed); kabidep-provider
#                  installed by dkms while build pointed at A's headers -> provider broken (CRCs differ)
# Prints the lab's kernel names as YAML variables on stdout (lab_a: ..., extra vars for check-facts.yml);
# everything else goes to stderr.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
arch=$(uname -m)
# The lab's own packages (sources here), name-version.
lab_sources=(kabitest-1.0 kabidep-provider-1.0 kabidep-consumer-1.0 kabinotelf-1.0)
# Real Debian DKMS packages (bootstrap.sh --lab installs them); built for A only.
real_debs=(tp-smapi-dkms gost-crypto-dkms v4l2loopback-dkms)
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
noprovider=$A+noprovider
broken=$A+broken
misbuilt=$A+misbuilt
headers_a=$(readlink -f "/lib/modules/$A/build")

# register NAME VERSION SOURCE_DIR: the package source in /usr/src, added to dkms; a changed source
# is re-registered so dkms rebuilds it.
register() {
    local name=$1 version=$2 from=$3 src=/usr/src/$1-$2
    if [[ $from != "$src" ]] && ! diff -rq "$from" "$src" >/dev/null 2>&1; then
        if [[ -e /var/lib/dkms/$name/$version ]]; then
            log "source changed: removing $name/$version from dkms"
            dkms remove -m "$name" -v "$version" --all >&2
        fi
        rm -rf "$src"
        cp -a "$from" "$src"
    fi
    if [[ ! -e /var/lib/dkms/$name/$version/source ]]; then
        dkms add -m "$name" -v "$version" >&2
    fi
}

# installed NAME VERSION KERNEL: dkms has it installed there and every built module has its copy, the
# same bytes, in the kernel's tree.
installed() {
    local kernel=$3 ko copy
    [[ $(readlink "/var/lib/dkms/$1/kernel-$kernel-$arch" 2>/dev/null) == "$2/$kernel/$arch" ]] || return 1
    for ko in "/var/lib/dkms/$1/$2/$kernel/$arch/module/"*.ko*; do
        [[ -e $ko ]] || return 1
        copy=$(find "/lib/modules/$kernel" -path "/lib/modules/$kernel/weak-updates" -prune \
               -o -name "${ko##*/}" -print -quit)
        [[ -n $copy ]] && cmp -s "$ko" "$copy" || return 1
    done
}

# foreign NAME VERSION KERNEL: a module of the kernel's dkms build imports a kernel symbol with a CRC
# other than the kernel's own Module.symvers gives: it was built against other headers (a lab test
# that was killed before it put the lab back can leave such a build).
foreign() {
    local ko symvers=/lib/modules/$3/build/Module.symvers
    for ko in "/var/lib/dkms/$1/$2/$3/$arch/module/"*.ko*; do
        [[ -e $ko ]] || continue
        modprobe --dump-modversions "$ko" 2>/dev/null | awk -F'\t' 'NR == FNR {crc[$2] = tolower($1); next}
            ($2 in crc) && crc[$2] != tolower($1) {differs = 1} END {exit !differs}' "$symvers" - && return 0
    done
    return 1
}

# install_once NAME VERSION KERNEL: installed by dkms, built against the kernel's own headers.
install_once() {
    if installed "$@" && ! foreign "$@"; then
        log "$1/$2 already installed for $3"
        return
    fi
    if [[ -e /var/lib/dkms/$1/$2/$3 ]]; then
        log "$1/$2 for $3 is not the lab's build: removing it"
        dkms remove -m "$1" -v "$2" -k "$3" >&2
    fi
    dkms install -m "$1" -v "$2" -k "$3" >&2
}

# only_for NAME VERSION KERNEL...: dkms has no build of the package for any other kernel (a headers
# package's autoinstall hook, or a lab test that did not put the lab back, may have made one).
only_for() {
    local name=$1 version=$2 build kernel
    shift 2
    for build in "/var/lib/dkms/$name/$version/"*/; do
        kernel=$(basename "$build")
        [[ $kernel != source && $kernel != build && " $* " != *" $kernel "* ]] || continue
        log "removing the $kernel build of $name/$version, which the lab does not make"
        dkms remove -m "$name" -v "$version" -k "$kernel" >&2
    done
}

# Real kernels leave in-tree modules behind; a directory with only updates/ and modules.* is stale.
mark_installed() {
    mkdir -p "/lib/modules/$1/kernel"
    local f
    for f in modules.order modules.builtin modules.builtin.modinfo; do
        [[ -e /lib/modules/$1/$f ]] || : >"/lib/modules/$1/$f"
    done
}

# What the role's lab tests make for themselves (scratch kernels, packages) and remove at their end:
# a run that was killed, or a machine image taken while one ran, leaves it behind.
for scratch in /lib/modules/6.1.0-0-kabi*; do
    [[ -e $scratch ]] || continue
    log "removing $scratch, a lab test's scratch kernel"
    rm -rf "$scratch"
done
for scratch in kabiloc-1.0 kabifail-1.0; do
    if [[ -e /var/lib/dkms/${scratch%-*} ]]; then
        log "removing ${scratch%-*}, a lab test's scratch package"
        dkms remove -m "${scratch%-*}" -v "${scratch##*-}" --all >&2 || true
        rm -rf "/var/lib/dkms/${scratch%-*}"
    fi
    rm -rf "/usr/src/$scratch"
done
for scratch in /lib/modules/*/kernel/drivers/misc/kabiloc; do
    [[ -d $scratch ]] || continue
    log "removing $scratch, a lab test's scratch module"
    rm -rf "$scratch"
    scratch=${scratch#/lib/modules/}
    depmod -a "${scratch%%/*}"
done

for source in "${lab_sources[@]}"; do
    register "${source%-*}" "${source##*-}" "$here/$source"
done
# name-version of the real packages, from the source directory each .deb ships.
real_sources=()
for deb in "${real_debs[@]}"; do
    src=$(dpkg-query -L "$deb" 2>/dev/null | grep -E '^/usr/src/[^/]+-[0-9][^/]*$' | head -n1) \
        || die "$deb is not installed: run scripts/bootstrap.sh --lab"
    real_sources+=("${src#/usr/src/}")
    register "${real_sources[-1]%-*}" "${real_sources[-1]##*-}" "$src"
done

mark_installed "$A"
mark_installed "$B"
# The provider first: the consumer builds against the Module.symvers its build keeps.
for source in kabitest-1.0 kabidep-provider-1.0 kabidep-consumer-1.0 "${real_sources[@]}"; do
    install_once "${source%-*}" "${source##*-}" "$A"
done
install_once kabinotelf 1.0 "$B"

# Only the builds above, and the misbuilt provider below: B stays missing kabitest, the clones are
# covered by their weak links alone.
for source in kabitest-1.0 kabidep-consumer-1.0 "${real_sources[@]}"; do
    only_for "${source%-*}" "${source##*-}" "$A"
done
only_for kabidep-provider 1.0 "$A" "$misbuilt"
only_for kabinotelf 1.0 "$B"

# abi_variant KERNEL SYMBOL: headers for a lab kernel whose kABI is A's with SYMBOL's CRC changed in
# Module.symvers (what dkms builds for it then carries that CRC); prints their directory.
abi_variant() {
    local dir=/usr/src/linux-headers-$1 crc symvers
    crc=$(awk -F'\t' -v s="$2" '$2 == s {print $1}' "$headers_a/Module.symvers")
    [[ -n $crc ]] || die "$2 is not in $headers_a/Module.symvers"
    symvers=$(sed "s/^$crc\t$2\t/$(printf '0x%08x' $((crc ^ 1)))\t$2\t/" "$headers_a/Module.symvers")
    # Made again when A's headers are not what it was made from.
    if [[ $(cat "$dir/Module.symvers" 2>/dev/null) != "$symvers" ]]; then
        [[ -e $dir ]] && log "$dir is not A's headers with $2 changed: making it again"
        rm -rf "$dir" "$dir.tmp"
        cp -a "$headers_a" "$dir.tmp"
        printf '%s\n' "$symvers" >"$dir.tmp/Module.symvers"
        mv "$dir.tmp" "$dir"
    fi
    printf '%s\n' "$dir"
}
modprobe --dump-modversions "/lib/modules/$A/updates/dkms/kabitest_b.ko" \
    | awk -v s="$broken_symbol" '$2 == s {found = 1} END {exit !found}' \
    || die "kabitest_b does not import $broken_symbol"
broken_headers=$(abi_variant "$broken" "$broken_symbol")
# An earlier lab gave the broken clone a symvers.gz of its own; its headers say it now.
rm -f "/lib/modules/$broken/symvers.gz"

# make_clone KERNEL HEADERS [MODULE...]: a kernel with those headers whose weak-updates/ has absolute
# links to every module dkms installed for A, except the MODULEs named, as RHEL's weak-modules makes.
make_clone() {
    local k=$1 dir=/lib/modules/$1 ko
    local -a except=("${@:3}")
    mark_installed "$k"
    ln -sfn "$2" "$dir/build"
    rm -rf "$dir/weak-updates"
    mkdir -p "$dir/weak-updates"
    for ko in "/lib/modules/$A/updates/dkms/"*.ko; do
        [[ " ${except[*]} " == *" $(basename "$ko" .ko) "* ]] && continue
        ln -sfn "$ko" "$dir/weak-updates/${ko##*/}"
    done
    # modules.dep as weak-modules leaves it: the weak links are what modprobe resolves the names to.
    depmod -a "$k"
}
make_clone "$clone" "$headers_a"
make_clone "$noprovider" "$headers_a" kabidep_provider
make_clone "$broken" "$broken_headers"

# A kernel of another ABI (module_layout differs, as between Debian's ABIs) whose build link pointed at
# A's headers when dkms built the provider for it; the link points at its own headers since.
misbuilt_headers=$(abi_variant "$misbuilt" module_layout)
mark_installed "$misbuilt"
if ! installed kabidep-provider 1.0 "$misbuilt"; then
    ln -sfn "$headers_a" "/lib/modules/$misbuilt/build"
    dkms install -m kabidep-provider -v 1.0 -k "$misbuilt" >&2
fi
ln -sfn "$misbuilt_headers" "/lib/modules/$misbuilt/build"

# Lab kernels of ABIs that are no longer the two newest are this script's own leftovers.
for dir in /lib/modules/*+clone /lib/modules/*+noprovider /lib/modules/*+broken /lib/modules/*+misbuilt; do
    [[ -d $dir ]] || continue
    case ${dir##*/} in
        "$clone" | "$noprovider" | "$broken" | "$misbuilt") ;;
        *)
            log "removing old lab kernel $dir"
            for build in /var/lib/dkms/*/*/"${dir##*/}"; do
                [[ -d $build ]] || continue
                version=${build%/*}
                dkms remove -m "$(basename "${version%/*}")" -v "${version##*/}" -k "${dir##*/}" >&2
            done
            rm -rf "$dir" "/usr/src/linux-headers-${dir##*/}"
            ;;
    esac
done

log "dkms status:"
dkms status >&2
for k in "$A" "$B" "$clone" "$noprovider" "$broken" "$misbuilt"; do
    log "/lib/modules/$k:"
    ls -l "/lib/modules/$k" >&2
done
printf 'lab_a: "%s"\nlab_b: "%s"\nlab_clone: "%s"\nlab_noprovider: "%s"\nlab_broken: "%s"\nlab_misbuilt: "%s"\n' \
    "$A" "$B" "$clone" "$noprovider" "$broken" "$misbuilt"
printf 'lab_real_packages: [%s]\n' "$(printf '"%s", ' "${real_sources[@]%-*}" | sed 's/, $//')"
