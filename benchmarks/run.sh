#!/usr/bin/env bash
# The benchmark, from a fresh checkout, in one command (docs/performance.md says how long it took):
#
#   bash benchmarks/run.sh              every part but the real 50x50 grid; updates docs/performance.*
#   bash benchmarks/run.sh --big        also the real 50x50 grid (the linear growth check)
#   bash benchmarks/run.sh --help       the options (grids, runs, fleet sizes, --no-real, --no-docs, ...)
#
# Uses .venv/core221 (made by scripts/bootstrap.sh when missing) to run the benchmark and the module,
# valgrind (the bootstrap's bench stage) to count instructions, and .venv/bench-plot (matplotlib
# only) to draw the plot. pip runs without its cache, and the benchmark keeps Ansible's and
# matplotlib's state in its temporary directory.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=$repo/.venv/core221
plot_venv=$repo/.venv/bench-plot

if [[ ! -x $venv/bin/python ]]; then
    bash "$repo/scripts/bootstrap.sh"
fi
# valgrind counts the roots' instructions; without it (installing it needs root) they are skipped.
if ! command -v valgrind >/dev/null; then
    bash "$repo/scripts/bootstrap.sh" --for bench || echo "benchmark: no valgrind, the roots' instructions are not counted"
fi
if ! "$plot_venv/bin/python" -c 'import matplotlib' >/dev/null 2>&1; then
    echo "benchmark: creating $plot_venv (matplotlib)"
    rm -rf "$plot_venv"
    "$venv/bin/python" -m venv "$plot_venv"
    # The local file indexes warn once per package they do not hold: noise.
    PIP_NO_CACHE_DIR=1 "$plot_venv/bin/python" -m pip install -q --disable-pip-version-check matplotlib \
        2> >(grep -v '^WARNING: Location .* is ignored' >&2)
fi
PYTHONDONTWRITEBYTECODE=1 exec "$venv/bin/python" "$repo/benchmarks/run.py" \
    --plot-python "$plot_venv/bin/python" "$@"
