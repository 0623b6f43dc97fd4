#!/usr/bin/env bash
# Set up what the chosen stages need, and only that. Idempotent: a second run only checks.
#
#   scripts/bootstrap.sh                      every stage of scripts/test.sh without the lab
#   scripts/bootstrap.sh --for demo           just what scripts/demo.sh needs (gcc, one venv)
#   scripts/bootstrap.sh --for units,lint     just these stages' Debian packages and venvs
#   scripts/bootstrap.sh --lab                the default stages and the lab (dkms, two header ABIs,
#                                             the real DKMS packages tests/lab/build-lab.sh builds)
#   scripts/bootstrap.sh --for bench          what benchmarks/run.sh needs (valgrind, .venv/core221)
#
# Stages: demo sanity units py36 integration targets compile lint release lab bench. The Debian packages need
# root (once); the venvs live under .venv/ (gitignored), each made with pyenv's newest Python 3.12:
#   .venv/core221  ansible-core 2.21 + pyelftools, packaging, pytest, hypothesis, antsibull-changelog:
#                  the controller for sanity, units, integration, the lab and the release check
#   .venv/core216  ansible-core 2.16: the oldest supported core (sanity), the last that manages
#                  Python 3.6 targets
#   .venv/bare312  no packages: a target interpreter without pyelftools (lab)
#   .venv/py36     pyenv's Python 3.6 with pytest, hypothesis and pyelftools, pinned to the last
#                  releases for 3.6 (its pip resolves no ranges): the unit tests on 3.6 targets
#   .venv/lint     ansible-lint (its own ansible-core) and mypy
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$repo/scripts/lib.sh"
all_stages=demo,sanity,units,py36,integration,targets,compile,lint,release
stages=
while [[ $# -gt 0 ]]; do
    case $1 in
        --lab) stages=${stages:-$all_stages},lab ;;
        --for) stages=${stages:+$stages,}$2; shift ;;
        -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "bootstrap: unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done
stages=,${stages:-$all_stages},
wants() { [[ $stages == *,$1,* ]]; }

log() { printf 'bootstrap: %s\n' "$*"; }

apt_updated=false
apt_update_once() {
    if ! $apt_updated; then
        log "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        apt_updated=true
    fi
}

pkg_installed() {
    [[ $(dpkg-query -W -f '${db:Status-Status}' "$1" 2>/dev/null) == installed ]]
}

# The two newest linux-headers-6.1.0-N-amd64 ABIs the archive offers, oldest first.
offered_header_abis() {
    apt-cache search --names-only '^linux-headers-6\.1\.0-[0-9]+-amd64$' \
        | awk '{print $1}' | sort -t- -k4,4n | tail -n2
}

installed_header_abis() {
    dpkg-query -W -f '${db:Status-Status} ${Package}\n' 'linux-headers-6.1.0-*-amd64' 2>/dev/null \
        | awk '$1 == "installed" {print $2}' | grep -E '^linux-headers-6\.1\.0-[0-9]+-amd64$' || true
}

# install_missing PACKAGE...: apt-get install what is not installed yet (needs root then).
install_missing() {
    local missing=() p
    for p in "$@"; do pkg_installed "$p" || missing+=("$p"); done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    if [[ $(id -u) -ne 0 ]]; then
        echo "bootstrap: these Debian packages are missing and installing them needs root: ${missing[*]}" >&2
        return 1
    fi
    apt_update_once
    log "apt-get install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# The Debian packages of each stage. gcc builds the ELF fixtures and demo trees; kmod is the
# fallback .ko reader; zstd makes .ko.zst files; openssl makes signing keys and linux-kbuild-6.1
# has the kernel's scripts/sign-file that signs test modules; dkms_module's tests call the real
# dkms (its builds also need root and kernel headers: the lab); rpm makes the rpm version-order
# test run; grub-common's /etc/grub.d scripts write the grub.cfg menus the next-boot tests read;
# ansible-test's shellcheck sanity test needs that tool; chromium renders the report; valgrind
# counts the instructions of the benchmark's roots.
stage_packages() {
    case $1 in
        demo|targets) echo gcc ;;
        sanity) echo shellcheck ;;
        units|py36) echo gcc make kmod xz-utils zstd openssl linux-kbuild-6.1 rpm dkms grub-common ;;
        integration) echo gcc kmod xz-utils zstd chromium ;;
        bench) echo valgrind ;;
    esac
}

setup_stage_packages() {
    local packages
    # One package name a line, each once.
    mapfile -t packages < <(for stage in ${stages//,/ }; do stage_packages "$stage" | tr ' ' '\n'; done | sort -u)
    [[ ${#packages[@]} -eq 0 ]] || install_missing "${packages[@]}"
}

# Real Debian DKMS packages that build in seconds and have modules importing from their siblings.
lab_dkms_packages=(tp-smapi-dkms gost-crypto-dkms v4l2loopback-dkms)

setup_lab_packages() {
    # Quick path: once two header ABIs are in, a re-run does not go to the network.
    local p ready=true
    for p in dkms "${lab_dkms_packages[@]}"; do pkg_installed "$p" || ready=false; done
    if $ready && [[ $(installed_header_abis | wc -l) -ge 2 ]]; then
        log "dkms, the lab's DKMS packages and $(installed_header_abis | wc -l) header ABIs already installed"
        return 0
    fi
    apt_update_once
    mapfile -t headers < <(offered_header_abis)
    if [[ ${#headers[@]} -lt 2 ]]; then
        echo "bootstrap: apt-cache offers fewer than two linux-headers-6.1.0-N-amd64 ABIs" >&2
        return 1
    fi
    install_missing dkms "${headers[@]}" || return 1
    # Their package scripts would build for every lab kernel; build-lab.sh builds each for one.
    without_autoinstall install_missing "${lab_dkms_packages[@]}"
}

# without_autoinstall COMMAND...: run it with /etc/dkms/no-autoinstall present (dkms package scripts
# then build nothing), removing the flag afterwards unless it was there before.
without_autoinstall() {
    local flag=/etc/dkms/no-autoinstall rc=0
    if [[ -e $flag || $(id -u) -ne 0 ]]; then
        "$@"
        return
    fi
    mkdir -p "${flag%/*}" && : >"$flag" || return 1
    "$@" || rc=$?
    rm -f "$flag"
    return $rc
}

# make_venv DIR PYTHON PACKAGE...: (re)create DIR when its recorded package list differs, or
# when it was made under another path (its scripts' #! lines name that path). DIR counts by its
# physical path: a venv reached through a symlinked directory (a worktree's .venv) is the same venv.
make_venv() {
    local dir=$1 python=$2 stamp
    shift 2
    mkdir -p "${dir%/*}" && dir=$(cd "${dir%/*}" && pwd -P)/${dir##*/} || return 1
    stamp="$dir $python $*"
    if [[ -x $dir/bin/python && -f $dir/.bootstrap-stamp && $(<"$dir/.bootstrap-stamp") == "$stamp" ]]; then
        log "$dir is up to date"
        return 0
    fi
    log "creating $dir ($python${*:+: $*})"
    rm -rf "$dir"
    if [[ $# -eq 0 ]]; then
        "$python" -m venv --without-pip "$dir"
    else
        "$python" -m venv "$dir"
        # The local file indexes warn once per package they do not hold: noise.
        "$dir/bin/python" -m pip install -q --disable-pip-version-check "$@" \
            2> >(grep -v '^WARNING: Location .* is ignored' >&2)
    fi
    printf '%s' "$stamp" >"$dir/.bootstrap-stamp"
}

# ansible-test bootstraps pip in each venv it makes with a get-pip script downloaded from a host
# that is not always reachable (ansible/ansible#77304); it uses ~/.ansible/test/cache/get_pip_<ver>.py
# when present. The stand-in installs the requested pip from the configured package index instead.
write_get_pip_standins() {
    local version versions cache=$HOME/.ansible/test/cache
    # The pinned pip versions (per target Python) sit in get_venv_packages() of each ansible-test.
    versions=$(sed -n "s/^ *pip='\([0-9.]*\)',.*/\1/p" \
        "$repo"/.venv/core2*/lib/python3*/site-packages/ansible_test/_internal/python_requirements.py \
        | sort -u)
    if [[ -z $versions ]]; then
        echo "bootstrap: cannot find ansible-test's pinned pip versions" >&2
        return 1
    fi
    mkdir -p "$cache"
    for version in $versions; do
        cat >"$cache/get_pip_${version//./_}.py" <<EOF
"""Stand-in for get-pip.py $version: bootstrap pip with ensurepip, then install the requested pip."""
import subprocess
import sys

# In a child process: ensurepip turns off the pip configuration (index, CA bundle) of its process.
subprocess.check_call([sys.executable, '-m', 'ensurepip', '--upgrade'])
# get-pip.py options that 'pip install' does not take
args = [arg for arg in sys.argv[1:] if arg not in ('--no-setuptools', '--no-wheel')]
sys.exit(subprocess.call([sys.executable, '-m', 'pip', 'install'] + args))
EOF
        log "pip $version stand-in: $cache/get_pip_${version//./_}.py"
    done
}

# The EFI programs the next-boot tests put on their ESPs (systemd-boot's loader, whose LoaderInfo
# names its version, shim and GRUB signed for Debian) and the bootctl they compare with, unpacked
# from Debian's packages into build/: installing them would upgrade systemd or touch the ESP.
efi_programs_dir=$repo/build/efi-programs
efi_program_packages=(systemd-boot-efi systemd-boot shim-signed grub-efi-amd64-signed)
setup_efi_programs() {
    local deb
    [[ -f $efi_programs_dir/unpacked ]] && return 0
    [[ $(id -u) -ne 0 ]] || apt_update_once
    rm -rf "$efi_programs_dir" && mkdir -p "$efi_programs_dir/deb"
    log "apt-get download ${efi_program_packages[*]} (into $efi_programs_dir)"
    (cd "$efi_programs_dir/deb" && apt-get download -qq "${efi_program_packages[@]}" 2>/dev/null) || return 1
    for deb in "$efi_programs_dir"/deb/*.deb; do dpkg-deb -x "$deb" "$efi_programs_dir" || return 1; done
    : >"$efi_programs_dir/unpacked"
}

setup_stage_packages || exit 1
if wants units || wants py36; then
    setup_efi_programs || exit 1
fi
if wants lab; then
    setup_lab_packages || exit 1
fi

py312=$(pyenv_python 3.12)
if wants demo || wants sanity || wants units || wants py36 || wants integration || wants targets || wants release \
        || wants lab || wants bench; then
    make_venv "$repo/.venv/core221" "$py312" 'ansible-core==2.21.*' pyelftools packaging pytest hypothesis \
        antsibull-changelog
    write_get_pip_standins
fi
if wants sanity || wants targets || wants py36; then
    make_venv "$repo/.venv/core216" "$py312" 'ansible-core==2.16.*'
    write_get_pip_standins
fi
if wants py36; then
    make_venv "$repo/.venv/py36" "$(pyenv_python 3.6)" pytest==7.0.1 pluggy==1.0.0 py==1.11.0 iniconfig==1.1.1 \
        attrs==22.1.0 packaging==21.3 pyparsing==3.1.4 tomli==1.2.3 importlib-metadata==4.8.3 zipp==3.6.0 \
        typing-extensions==4.1.1 hypothesis==6.31.6 sortedcontainers==2.4.0 pyelftools==0.32
fi
if wants lab; then
    make_venv "$repo/.venv/bare312" "$py312"
fi
if wants lint; then
    make_venv "$repo/.venv/lint" "$py312" 'ansible-lint==26.10.*' 'ansible-core==2.21.*' 'mypy==2.4.*'
fi
log "done (${stages:1:-1})"
