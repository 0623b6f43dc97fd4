#!/usr/bin/env bash
# The dkms_coverage role against the real DKMS lab (tests/lab/build-lab.sh): root, the host's dkms tree and
# /lib/modules. Everything it builds or adds is removed again at the end, so the lab stays reusable.
set -eux
work=$(mktemp -d)
baseline=$work/baseline.yml
play() { ansible-playbook -i inventory -e "baseline=$baseline" "$@"; }

play baseline.yml
cat "$baseline"
restore() { play -e "@$baseline" restore.yml; rm -rf "$work"; }
trap restore EXIT

play -e "@$baseline" first_run.yml --check
ms() { echo $(($(date +%s%N) / 1000000)); }
start=$(ms)
play -e "@$baseline" first_run.yml
first=$(($(ms) - start))
start=$(ms)
play rerun.yml | tee "$work/rerun.log"
echo "dkms_coverage role wall time: first run ${first} ms, second run $(($(ms) - start)) ms"
grep -E 'testhost +: ok=[0-9]+ +changed=0 +unreachable=0 +failed=0' "$work/rerun.log"

play -e "@$baseline" no_headers.yml
play -e "@$baseline" failing_package.yml
play -e "@$baseline" dest_location.yml

# Two runs that both plan the same build: an outside holder of the lock keeps them waiting until
# both have gathered their facts, then exactly one builds and the other finds it done.
missing=$(sed -n 's/^lab_missing: *//p' "$baseline")
ansible -i inventory testhost -m kabi.dkms.dkms_module -a "name=kabitest kernels=$missing state=absent"
(umask 077 && mkdir -p /run/kabi-dkms && : >>/run/kabi-dkms/lock)  # flock(1) would create it 0644
flock /run/kabi-dkms/lock sleep 8 &
holder=$!
sleep 1
play -e "@$baseline" -e "report=$work/one.json" concurrent.yml >"$work/one.log" 2>&1 &
one=$!
play -e "@$baseline" -e "report=$work/two.json" concurrent.yml >"$work/two.log" 2>&1 &
two=$!
wait "$holder"
wait "$one" || { cat "$work/one.log"; exit 1; }
wait "$two" || { cat "$work/two.log"; exit 1; }
cat "$work/one.json" "$work/two.json"
python - "$work/one.json" "$work/two.json" <<'PY'
import json, sys
runs = [json.load(open(path)) for path in sys.argv[1:]]
assert sorted(run['built'] for run in runs) == [0, 1], runs
assert all(waited > 2 for run in runs for waited in run['waited']), runs
PY
