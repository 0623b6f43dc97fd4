#!/usr/bin/env bash
# Faults around the dkms_coverage role on the real DKMS lab (tests/lab/build-lab.sh): dkms missing, a kernel
# removed between facts and build, a run killed mid-build and run again. After each case nothing that
# was there before is gone from the module trees or the dkms tree; the end puts the lab back exactly.
set -eux
work=$(mktemp -d)
baseline=$work/baseline.yml
gone=6.1.0-0-kabigone
lock=/run/kabi-dkms/lock
# flock(1) would create it 0644, which dkms_module refuses: make it the way the module does.
(umask 077 && mkdir -p /run/kabi-dkms && : >>"$lock")
play() { ansible-playbook -i inventory -e "baseline=$baseline" -e "gone=$gone" "$@"; }
ms() { echo $(($(date +%s%N) / 1000000)); }

# What the role may add to or remove from: every kernel's updates/ and weak-updates/, and the dkms tree.
listing() {
    { find /lib/modules -regextype posix-extended -regex '/lib/modules/[^/]+/(weak-)?updates(/.*)?' -printf '%y %p -> %l\n'
      find /var/lib/dkms -printf '%y %p -> %l\n'; } | LC_ALL=C sort
}
# kept BEFORE CASE [PATH...]: nothing listed in BEFORE is gone, and nothing new is outside PATHs.
kept() {
    local before=$1 case=$2 after=$work/after-$2 added path own=(-e //none)
    shift 2
    for path in "$@"; do own+=(-e "$path"); done
    listing >"$after"
    if LC_ALL=C comm -23 "$before" "$after" | grep .; then
        echo "$case removed the entries above" >&2
        return 1
    fi
    added=$(LC_ALL=C comm -13 "$before" "$after" | grep -vF "${own[@]}" || true)
    if [[ -n $added ]]; then
        printf '%s\n%s added the entries above, not its own\n' "$added" "$case" >&2
        return 1
    fi
}

play baseline.yml
cat "$baseline"
missing=$(sed -n 's/^lab_missing: *//p' "$baseline")
listing >"$work/initial"
restore() {
    play -e "@$baseline" restore.yml
    # dkms's scratch build directory, which dkms itself empties after every build, stays after a killed one.
    grep -qF "d /var/lib/dkms/kabitest/1.0/build -> " "$work/initial" || rm -rf /var/lib/dkms/kabitest/1.0/build
}
# A failure while case 2's lock holder waits must first let it go, or the restore waits for the lock.
trap 'rm -f "$work/hold"; restore; rm -rf "$work"' EXIT
# What building kabitest for the missing kernel may add.
built=(" /lib/modules/$missing/updates" " /var/lib/dkms/kabitest/1.0/$missing" " /var/lib/dkms/kabitest/kernel-$missing-")

# 1. dkms missing. ansible's get_bin_path always searches /sbin, /usr/sbin and /usr/local/sbin after
# PATH, so no PATH hides dkms. A private mount namespace shadows the dkms file with /dev/null (not
# executable) for this one play only; the host's dkms is untouched and every other process sees it.
dkms=$(readlink -f "$(command -v dkms)")
start=$(ms)
# shellcheck disable=SC2016  # expanded by the inner bash
unshare --mount --propagation private bash -c \
    'mount --bind /dev/null "$1" && ! test -x "$1" && shift && exec "$@"' bash "$dkms" \
    ansible-playbook -i inventory -e "@$baseline" dkms_missing.yml
echo "case dkms missing: $(($(ms) - start)) ms"
kept "$work/initial" dkms-missing

# 2. A kernel removed between facts and build: an outside holder of the lock keeps the role's first
# build waiting; the kernel goes while it waits.
listing >"$work/before-removed"
: >"$work/hold"
# shellcheck disable=SC2016  # expanded by the inner bash
flock "$lock" bash -c 'while [[ -e $1 ]]; do sleep 0.1; done' bash "$work/hold" &
holder=$!
start=$(ms)
play -e "@$baseline" kernel_removed.yml >"$work/removed.log" 2>&1 &
run=$!
{ set +x; } 2>/dev/null
until pgrep -f AnsiballZ_dkms_module >/dev/null; do
    kill -0 "$run" 2>/dev/null || { cat "$work/removed.log"; exit 1; }
    sleep 0.1
done
set -x
# The build is waiting for the lock now (or about to): the kernel goes before dkms_module can look.
sleep 1
rm -r "/lib/modules/$gone"
rm "$work/hold"
wait "$holder"
wait "$run" || { cat "$work/removed.log"; exit 1; }
cat "$work/removed.log"
echo "case kernel removed: $(($(ms) - start)) ms"
kept "$work/before-removed" kernel-removed "${built[@]}"
restore

# 3. A run killed while make runs, then run again. ansible gives each worker its own session, so
# killing the run means killing the ansible-playbook group and the worker's (module, dkms, make).
listing >"$work/before-killed"
start=$(ms)
setsid ansible-playbook -i inventory -e "@$baseline" -e lock_timeout=30 interrupted.yml >"$work/killed.log" 2>&1 &
run=$!
{ set +x; } 2>/dev/null
until make=$(pgrep -o -f "^make .*KERNELRELEASE=$missing"); do
    kill -0 "$run" 2>/dev/null || { cat "$work/killed.log"; echo "the run ended before make started" >&2; exit 1; }
    sleep 0.05
done
set -x
worker=$(ps -o pgid= -p "$make" | tr -d ' ')
module=$(cat "$lock")
kill -KILL -- "-$worker" "-$run"
wait "$run" || true
echo "killed run: make pid $make, module pid $module (lock holder), groups $worker and $run after $(($(ms) - start)) ms"
# Killed processes stay zombies until PID 1 reaps them: only live ones count.
for ((i = 0; i < 50; i++)); do
    pgrep -g "$worker,$run" -r D,R,S,T,t >/dev/null || break
    sleep 0.1
done
if pgrep -a -g "$worker,$run" -r D,R,S,T,t; then
    echo "processes of the killed run survive" >&2
    exit 1
fi
ls -la "/var/lib/dkms/kabitest/1.0/"
# The kernel released the dead holder's flock: it is free although the file still names the holder.
flock -n "$lock" true
start=$(ms)
play -e "@$baseline" -e lock_timeout=30 interrupted.yml
echo "case interrupted: rerun $(($(ms) - start)) ms"
kept "$work/before-killed" interrupted "${built[@]}"

# The lab as it was: the same entries, nothing more, nothing less.
trap - EXIT
restore
status=0
listing | diff "$work/initial" - || status=$?
rm -rf "$work"
exit "$status"
