# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CompareAhead on real trees with a real forked worker: what it prepares handed over, the
verdicts RootFS.same_content gives, whoever compares, and nothing left behind."""

from __future__ import annotations

import errno
import os
import select
import signal
import time
from pathlib import Path
from typing import Callable, List, Tuple

import pytest

from ansible_collections.kabi.dkms.plugins.module_utils import _compare_ahead
from ansible_collections.kabi.dkms.plugins.module_utils._compare_ahead import MIN_PAIRS, CompareAhead, usable_cpus
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import CHUNK, RootFS
from ansible_collections.kabi.dkms.tests.unit.gather_probe import no_child_left
from ansible_collections.kabi.dkms.tests.unit.root_tree import RootTree

needs_two_cpus = pytest.mark.skipif(usable_cpus() < 2, reason='a worker is forked only with a second CPU')

Pair = Tuple[str, str]   # typing's: the Python 3.6 run of the tests has no tuple[...]


def outcome(compare: Callable[[str, str], bool], pair: Pair) -> object:
    """What comparing ``pair`` gives: its verdict, or the error's type and words."""
    try:
        return compare(*pair)
    except Exception as exc:  # pylint: disable=broad-except
        return type(exc).__name__, str(exc)


def outcomes(compare: Callable[[str, str], bool], pairs: list[Pair]) -> list[object]:
    return [outcome(compare, pair) for pair in pairs]


def in_process(root: Path, pairs: list[Pair], snapshot: bool = False) -> list[object]:
    """What comparing each of ``pairs`` in process gives, as without a worker."""
    return outcomes(RootFS(str(root), snapshot=snapshot).same_content, pairs)


def start(comparisons: CompareAhead, pairs: list[Pair], payload: bytes = b'prepared') -> bool:
    """``comparisons.start`` with a worker that prepares ``payload`` and ``pairs`` at once."""
    return comparisons.start(lambda: (payload, pairs), len(pairs))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    top = tmp_path / 'root'
    top.mkdir()
    return top


def mixed_pairs(root: Path) -> list[Pair]:
    """At least MIN_PAIRS pairs of every kind: the same, different at the end of a chunk and at
    the start, of other sizes, one file twice (a hard link), and ones that cannot be compared."""
    tree = RootTree(root)
    pairs = []
    for number in range(MIN_PAIRS):
        data = bytes([number]) * (CHUNK + number * 997)
        kind = number % 4
        other = data if kind == 0 else data[:-1] + b'x' if kind == 1 else b'y' + data[1:] if kind == 2 else data + b'z'
        pair = ('/copies/m%d.ko' % number, '/builds/m%d.ko' % number)
        tree.write(pair[0], data)
        tree.write(pair[1], other)
        pairs.append(pair)
    os.link(root / 'builds/m0.ko', root / 'copies/linked.ko')
    pairs.append(('/copies/linked.ko', '/builds/m0.ko'))
    os.mkfifo(root / 'copies/fifo.ko')
    pairs.append(('/copies/fifo.ko', '/builds/m0.ko'))
    pairs.append(('/copies/absent.ko', '/builds/m1.ko'))
    (root / 'copies/out.ko').symlink_to('../../../etc/passwd')
    pairs.append(('/copies/out.ko', '/builds/m1.ko'))
    return pairs


@needs_two_cpus
@pytest.mark.parametrize('snapshot', [False, True], ids=['live', 'snapshot'])
def test_the_verdicts_are_those_of_comparing_in_process(root: Path, snapshot: bool) -> None:
    pairs = mixed_pairs(root)
    expected = in_process(root, pairs, snapshot)
    comparisons = CompareAhead(RootFS(str(root), snapshot=snapshot))
    assert start(comparisons, pairs)
    assert outcomes(comparisons.same_content, pairs) == expected
    assert expected.count(True) > 8 and expected.count(False) > 16 and sum(isinstance(e, tuple) for e in expected) == 3
    comparisons.close()
    assert no_child_left()


@needs_two_cpus
def test_close_waits_for_the_worker_when_no_one_asked(root: Path) -> None:
    comparisons = CompareAhead(RootFS(str(root)))
    assert start(comparisons, mixed_pairs(root))
    comparisons.close()
    assert no_child_left()
    assert comparisons.same_content('/copies/m0.ko', '/builds/m0.ko') is True     # compared again, in process


class SlowInTheWorker(RootFS):
    """A RootFS whose comparisons take a while in the worker, each told on the pipe ``told``
    (its write end) if given, and are counted in the parent."""

    def __init__(self, root: str, delay: float = 0.02, told: int | None = None) -> None:
        super().__init__(root)
        self.parent = os.getpid()
        self.delay = delay
        self.told = told
        self.compared_here: list[Pair] = []

    def same_content(self, first: str, second: str) -> bool:
        if os.getpid() != self.parent:
            if self.told is not None:
                os.write(self.told, b'.')
            time.sleep(self.delay)
        else:
            self.compared_here.append((first, second))
        return super().same_content(first, second)


@needs_two_cpus
def test_the_parent_compares_from_the_last_pair_back_to_where_the_worker_is(root: Path) -> None:
    pairs = mixed_pairs(root)
    expected = in_process(root, pairs)
    readable, writable = os.pipe()
    fs = SlowInTheWorker(str(root), told=writable)
    comparisons = CompareAhead(fs)
    assert start(comparisons, pairs)
    assert select.select([readable], [], [], 30)[0] and os.read(readable, 1) == b'.'     # the worker took its first
    first = outcome(comparisons.same_content, pairs[0])
    os.close(readable)
    os.close(writable)
    parents_share = fs.compared_here[:]
    assert 0 < len(parents_share) < len(pairs)
    assert parents_share == pairs[::-1][:len(parents_share)]
    assert [first] + outcomes(comparisons.same_content, pairs[1:]) == expected
    comparisons.close()
    assert no_child_left()


@needs_two_cpus
def test_the_verdicts_are_taken_while_the_worker_still_exits(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The worker is done once it closed its end of the pipe; tearing down its copy of the parent's
    # memory (here made to take 2 s) is no longer waited for by the first question, only by close.
    pairs = mixed_pairs(root)
    expected = in_process(root, pairs)
    exit_now = os._exit

    def slow_exit(code: int) -> None:
        time.sleep(2)
        exit_now(code)

    monkeypatch.setattr(os, '_exit', slow_exit)
    comparisons = CompareAhead(RootFS(str(root)))
    assert start(comparisons, pairs)
    time.sleep(0.5)     # the worker compares every pair and starts its exit
    began = time.monotonic()
    assert outcomes(comparisons.same_content, pairs) == expected
    assert time.monotonic() - began < 1
    assert not no_child_left()
    comparisons.close()
    assert no_child_left()


@needs_two_cpus
def test_a_worker_whose_parent_is_gone_stops(root: Path) -> None:
    # A parent killed once it started the worker never takes the verdicts: its orphan stops at
    # the next pair rather than compare them all (about 7 s at 0.2 s a pair).
    pairs = mixed_pairs(root)
    readable, writable = os.pipe()
    parent = os.fork()
    if parent == 0:     # pragma: no cover - the parent that dies
        try:
            os.close(readable)
            started = start(CompareAhead(SlowInTheWorker(str(root), delay=0.2)), pairs)
            os.write(writable, b'1' if started else b'0')
        finally:
            os._exit(0)
    os.close(writable)
    os.waitpid(parent, 0)
    assert os.read(readable, 1) == b'1'
    # The pipe ends when its last writer, the worker, exits.
    gone = select.select([readable], [], [], 3)[0] and os.read(readable, 1) == b''
    os.close(readable)
    assert gone


@needs_two_cpus
def test_close_stops_the_worker_and_compares_nothing(root: Path) -> None:
    # Nothing is asked after close (the join raised, or asked nothing): its verdicts are not
    # waited for (about 7 s at 0.2 s a pair), nor is the rest compared in process.
    fs = SlowInTheWorker(str(root), delay=0.2)
    comparisons = CompareAhead(fs)
    assert start(comparisons, mixed_pairs(root))
    began = time.monotonic()
    comparisons.close()
    assert time.monotonic() - began < 3 and fs.compared_here == []
    assert no_child_left()


class InterruptedInTheParent(SlowInTheWorker):
    """A RootFS whose comparisons take a while in the worker and are interrupted in the parent."""

    def same_content(self, first: str, second: str) -> bool:
        if os.getpid() == self.parent:
            raise KeyboardInterrupt
        return super().same_content(first, second)


@needs_two_cpus
def test_an_interrupted_parent_does_not_wait_for_the_worker_to_compare_the_rest(root: Path) -> None:
    pairs = mixed_pairs(root)
    comparisons = CompareAhead(InterruptedInTheParent(str(root), delay=0.2))
    assert start(comparisons, pairs)
    began = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        comparisons.same_content(*pairs[0])
    assert time.monotonic() - began < 3
    assert no_child_left()


@needs_two_cpus
def test_an_interrupt_as_the_worker_starts_ends_the_worker_only(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A SIGINT right after the fork, before the worker runs its own code: the worker exits, it
    # never goes on with the parent's (here the test's) code; the parent compares every pair.
    pairs = mixed_pairs(root)
    expected = in_process(root, pairs)
    parent = os.getpid()
    escaped_read, escaped_write = os.pipe()
    fork = os.fork

    def interrupted_fork() -> int:
        pid = fork()
        if pid == 0:
            os.kill(os.getpid(), signal.SIGINT)
        return pid

    monkeypatch.setattr(os, 'fork', interrupted_fork)
    comparisons = CompareAhead(RootFS(str(root)))
    try:
        started = start(comparisons, pairs)
    except KeyboardInterrupt:   # pragma: no cover - only where the interrupt reached the worker's caller
        if os.getpid() != parent:
            os.write(escaped_write, b'x')
            os._exit(0)
        raise
    assert started
    assert outcomes(comparisons.same_content, pairs) == expected
    comparisons.close()
    assert no_child_left()
    os.close(escaped_write)
    assert os.read(escaped_read, 1) == b''
    os.close(escaped_read)
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])     # the parent holds nothing back


class DiesInTheWorker(RootFS):
    """A RootFS whose worker is killed as it takes its pair number ``dies_at``."""

    def __init__(self, root: str, dies_at: int, pairs: list[Pair]) -> None:
        super().__init__(root)
        self.parent = os.getpid()
        self.fatal = pairs[dies_at]

    def same_content(self, first: str, second: str) -> bool:
        if os.getpid() != self.parent and (first, second) == self.fatal:
            os.kill(os.getpid(), 9)
        return super().same_content(first, second)


@needs_two_cpus
@pytest.mark.parametrize('dies_at', [0, 5])
def test_what_a_killed_worker_did_not_tell_is_compared_in_process(root: Path, dies_at: int) -> None:
    pairs = mixed_pairs(root)
    expected = in_process(root, pairs)
    comparisons = CompareAhead(DiesInTheWorker(str(root), dies_at, pairs))
    assert start(comparisons, pairs)
    time.sleep(0.2)     # the worker gets to its fatal pair before the parent asks
    assert outcomes(comparisons.same_content, pairs) == expected
    comparisons.close()
    assert no_child_left()


def test_no_worker_for_few_pairs(root: Path) -> None:
    pairs = mixed_pairs(root)[:MIN_PAIRS - 1]
    comparisons = CompareAhead(RootFS(str(root)))
    assert not start(comparisons, pairs)
    assert comparisons.take_handover() is None
    assert outcomes(comparisons.same_content, pairs) == in_process(root, pairs)


@needs_two_cpus
def test_what_the_worker_prepares_is_handed_over_before_it_compares(root: Path) -> None:
    pairs = mixed_pairs(root)
    expected = in_process(root, pairs)
    readable, writable = os.pipe()
    fs = SlowInTheWorker(str(root), told=writable)

    def prepare() -> Tuple[bytes, List[Pair]]:
        time.sleep(0.5)
        return b'the tree \0 read by the worker' * 1000, pairs

    comparisons = CompareAhead(fs)
    assert comparisons.start(prepare, len(pairs))
    assert not comparisons.ready()
    assert comparisons.take_handover() == (b'the tree \0 read by the worker' * 1000, pairs)
    assert comparisons.ready() and comparisons.take_handover() is None   # taken once
    assert select.select([readable], [], [], 30)[0] and os.read(readable, 1) == b'.'     # the worker took its first
    assert outcomes(comparisons.same_content, pairs) == expected
    comparisons.close()
    os.close(readable)
    os.close(writable)
    assert no_child_left()
    assert pairs[0] not in fs.compared_here


def fails_in_the_worker() -> Tuple[bytes, List[Pair]]:
    raise RuntimeError('prepared nothing')


@needs_two_cpus
@pytest.mark.parametrize('why', ['it failed', 'too large'])
def test_a_worker_that_hands_nothing_over_leaves_all_to_the_parent(root: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   why: str) -> None:
    pairs = mixed_pairs(root)
    expected = in_process(root, pairs)
    fs = SlowInTheWorker(str(root))
    comparisons = CompareAhead(fs)
    if why == 'it failed':
        assert comparisons.start(fails_in_the_worker, len(pairs))
    else:
        monkeypatch.setattr(_compare_ahead, 'HANDOVER_LIMIT', 4096)
        assert start(comparisons, pairs, payload=b'x' * 4096)
    assert comparisons.take_handover() is None
    assert outcomes(comparisons.same_content, pairs) == expected
    assert fs.compared_here == pairs
    comparisons.close()
    assert no_child_left()


@needs_two_cpus
def test_pairs_beyond_the_board_are_compared_in_process(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_compare_ahead, 'BOARD_PAIRS', 4)
    pairs = mixed_pairs(root)
    expected = in_process(root, pairs)
    fs = SlowInTheWorker(str(root))
    comparisons = CompareAhead(fs)
    assert start(comparisons, pairs)
    time.sleep(0.5)     # the worker compares the four it took on
    assert outcomes(comparisons.same_content, pairs) == expected
    assert fs.compared_here == pairs[4:]
    comparisons.close()
    assert no_child_left()


@pytest.mark.parametrize('why', ['one CPU', 'a second thread', 'no fork left'])
def test_no_worker_where_it_cannot_help_or_start(root: Path, monkeypatch: pytest.MonkeyPatch, why: str) -> None:
    if why == 'one CPU':
        monkeypatch.setattr(_compare_ahead, 'usable_cpus', lambda: 1)
    elif why == 'a second thread':
        monkeypatch.setattr('threading.active_count', lambda: 2)
    else:
        def fork() -> int:
            raise OSError(errno.EAGAIN, 'Resource temporarily unavailable')
        monkeypatch.setattr(os, 'fork', fork)
        monkeypatch.setattr(_compare_ahead, 'usable_cpus', lambda: 2)
    pairs = mixed_pairs(root)
    comparisons = CompareAhead(RootFS(str(root)))
    assert not comparisons.start(fails_in_the_worker, len(pairs))
    assert outcomes(comparisons.same_content, pairs) == in_process(root, pairs)


@needs_two_cpus
def test_an_interrupt_as_the_worker_closes_its_end_of_the_pipe_ends_the_worker_only(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A SIGINT (Ctrl-C reaches the whole process group) as the worker closes its end of the pipe,
    # on its way out: the worker still exits there, it never goes on with the parent's code.
    pairs = mixed_pairs(root)
    parent = os.getpid()
    escaped_read, escaped_write = os.pipe()
    ends = []
    real_pipe, real_close = os.pipe, os.close

    def recorded_pipe() -> Tuple[int, int]:
        fds = real_pipe()
        ends.append(fds)
        return fds

    def close(fd: int) -> None:
        real_close(fd)
        if os.getpid() != parent and ends and fd == ends[-1][1]:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(os, 'pipe', recorded_pipe)
    monkeypatch.setattr(os, 'close', close)
    comparisons = CompareAhead(RootFS(str(root)))
    try:
        started = start(comparisons, pairs)
    except KeyboardInterrupt:   # pragma: no cover
        if os.getpid() != parent:
            os.write(escaped_write, b'x')
            os._exit(0)
        raise
    except OSError:   # the worker, having escaped, closes worker_end again in start()
        if os.getpid() != parent:
            os.write(escaped_write, b'o')
            os._exit(0)
        raise
    assert started
    comparisons.same_content(*pairs[0])
    comparisons.close()
    real_close(escaped_write)
    escaped = os.read(escaped_read, 1)
    real_close(escaped_read)
    assert escaped == b'', 'the worker ran the parent code: %r' % escaped
