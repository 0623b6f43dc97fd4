#!/usr/bin/env bash
# Set up everything the test suite and the demo need. Idempotent: a second run only checks.
#
#   scripts/bootstrap.sh          the Debian packages the tests use (root, once), venvs under .venv/
#                                 and the ansible-test pip stand-ins
#   scripts/bootstrap.sh --lab    also apt-installs dkms, the two newest Debian 6.1 header ABIs and the
#                                 real DKMS packages the lab builds (tests/lab/build-lab.sh)
#
# Venvs (inside the repo, gitignored):
#   .venv/core221  pyenv Python 3.12, ansible-core 2.21 + pyelftools, packaging, pytest, hypothesis,
#                  antsibull-changelog: the controller for sanity, units, integration and the lab
#   .venv/core216  pyenv Python 3.12, ansible-core 2.16: the last core that manages Python 3.6 targets
#   .venv/bare312  pyenv Python 3.12 with no packages: a target interpreter without pyelftools
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$repo/scripts/lib.sh"
lab=false
for arg in "$@"; do
    case $arg in
        --lab) lab=true ;;
        -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "bootstrap: unknown argument: $arg" >&2; exit 2 ;;
    esac
done

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

# What the tests use on every run: gcc builds the ELF fixtures, kmod is the fallback .ko reader,
# xz-utils/zstd make compressed modules, openssl makes signing keys and linux-kbuild-6.1 has the
# kernel's scripts/sign-file that signs test modules, chromium renders the report, shellcheck and
# rpm make ansible-test's shellcheck test and the rpm-order check run instead of being skipped.
setup_test_packages() {
    install_missing gcc make kmod xz-utils zstd openssl linux-kbuild-6.1 rsync shellcheck rpm chromium
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

# make_venv DIR PYTHON PACKAGE...: (re)create DIR when its recorded package list differs.
make_venv() {
    local dir=$1 python=$2 stamp
    shift 2
    stamp="$python $*"
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

setup_test_packages || exit 1
if $lab; then
    setup_lab_packages || exit 1
fi

py312=$(pyenv_python 3.12)
make_venv "$repo/.venv/core221" "$py312" 'ansible-core==2.21.*' pyelftools packaging pytest hypothesis \
    antsibull-changelog
make_venv "$repo/.venv/core216" "$py312" 'ansible-core==2.16.*'
make_venv "$repo/.venv/bare312" "$py312"
write_get_pip_standins
log "done"
