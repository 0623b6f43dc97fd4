# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the instructions of one dkms_facts run go, by Python function: a profile that neither a
profiler's cost per call nor the machine's speed of the moment skews.

    python benchmarks/profile_instructions.py ARGS_JSON [--top N] [--match REGEX]

Runs plugins/modules/dkms_facts.py with ARGS_JSON (as benchmarks/run.py writes them, kept with
``--keep``) under valgrind's callgrind with Python's perf trampolines on (Python 3.12 or later, on
Linux): every Python function then runs through code of its own, which callgrind counts and the map
Python writes (/tmp/perf-PID.map, removed afterwards) names. Prints the functions that executed the
most instructions, inclusive of what they called; the trampolines add about a tenth. PYTHONPATH
must reach ansible_collections/kabi/dkms, as for the module itself; run the module once before, so
that its bytecode is cached and its compilation is not counted.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import bisect
import os
import re
import shutil
import subprocess
import sys
import tempfile

MODULE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'plugins/modules/dkms_facts.py')
RUNNER = ("import runpy, sys; sys.activate_stack_trampoline('perf'); sys.argv = sys.argv[1:]; "
          "runpy.run_path(sys.argv[0], run_name='__main__')")
# An unnamed function of callgrind_annotate's inclusive listing: its instructions and its address.
UNNAMED = re.compile(r"\s*([\d,]+) \([ \d.]+%\)\s+\?\?\?:0x([0-9a-f]+)(?:'\d+)? ")
COLLECTED = re.compile(r'^==\d+== Collected : (\d+)$', re.M)


class CallgrindFailed(RuntimeError):
    """A run under callgrind that failed; ``pid`` is its process's, whose leftovers may want removing."""

    def __init__(self, message, pid):
        super().__init__(message)
        self.pid = pid


def callgrind(argv, stdout, output='/dev/null', env=None):
    """(instructions, process id) of one run of ``argv`` under callgrind, its standard output in the
    file ``stdout`` and callgrind's profile in ``output``; raises CallgrindFailed when it fails. The
    count is of user space only (system calls are not in it) and does not vary with the machine's
    speed, unlike a time. It is of the process started alone: a process it forks reports nothing
    (callgrind would count it from the fork with what its parent did before)."""
    with open(str(stdout), 'wb') as out:
        run = subprocess.Popen(['valgrind', '--tool=callgrind', '--child-silent-after-fork=yes',
                                '--callgrind-out-file=' + output] + list(argv),
                               stdout=out, stderr=subprocess.PIPE, env=env)
        errors = run.communicate()[1].decode('utf-8', 'replace')
    counted = COLLECTED.search(errors)
    if run.returncode != 0 or counted is None:
        raise CallgrindFailed('callgrind %s exited %d:\n%s' % (' '.join(argv), run.returncode, errors[-3000:]), run.pid)
    return int(counted.group(1)), run.pid


def perf_map_path(pid):
    # Valgrind runs the program in its own process: the map is named by that process's pid.
    return '/tmp/perf-%d.map' % pid


def remove_perf_map(pid):
    if os.path.exists(perf_map_path(pid)):
        os.unlink(perf_map_path(pid))


def perf_map(path):
    """Sorted (start, end, name) of the code ranges a perf map names."""
    ranges = []
    with open(path) as stream:
        for line in stream:
            start, size, name = line.rstrip('\n').split(' ', 2)
            ranges.append((int(start, 16), int(start, 16) + int(size, 16), name.replace('py::', '', 1)))
    return sorted(ranges)


def by_function(annotated, ranges):
    """{Python function: instructions, inclusive} from callgrind_annotate's output; a function that
    calls itself counts once, with its outermost call."""
    starts = [start for start, dummy, dummy in ranges]
    counts = {}
    for line in annotated.splitlines():
        match = UNNAMED.match(line)
        if match is None:
            continue
        address = int(match.group(2), 16)
        at = bisect.bisect_right(starts, address) - 1
        if at >= 0 and address < ranges[at][1]:
            name = ranges[at][2]
            counts[name] = max(counts.get(name, 0), int(match.group(1).replace(',', '')))
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('args_json', help='the module arguments, {"ANSIBLE_MODULE_ARGS": {...}}')
    parser.add_argument('--top', type=int, default=60, help='how many functions to print (default %(default)s)')
    parser.add_argument('--match', default='', help='only functions whose "name:file" matches this regular expression')
    args = parser.parse_args()
    if not hasattr(sys, 'activate_stack_trampoline'):
        parser.error('this Python has no perf trampolines (Python 3.12 or later on Linux has them)')
    for tool in ('valgrind', 'callgrind_annotate'):
        if shutil.which(tool) is None:
            parser.error('%s is not installed (scripts/bootstrap.sh --for bench installs valgrind)' % tool)
    work = tempfile.mkdtemp(prefix='kabi-profile-')
    try:
        output = os.path.join(work, 'callgrind.out')
        try:
            total, pid = callgrind([sys.executable, '-c', RUNNER, MODULE, args.args_json],
                                   os.path.join(work, 'facts.json'), output)
        except CallgrindFailed as exc:
            remove_perf_map(exc.pid)
            sys.exit(str(exc))
        try:
            ranges = perf_map(perf_map_path(pid))
        finally:
            remove_perf_map(pid)
        annotated = subprocess.run(['callgrind_annotate', '--inclusive=yes', '--threshold=100', output],
                                   stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
        print('%.1f M instructions in all (callgrind, trampolines included)' % (total / 1e6))
        counts = by_function(annotated, ranges)
        shown = [(count, name) for name, count in counts.items() if re.search(args.match, name)]
        for count, name in sorted(shown, reverse=True)[:args.top]:
            print('%9.1f M  %s' % (count / 1e6, name))
    finally:
        shutil.rmtree(work)


if __name__ == '__main__':
    main()
