# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Installed copies compared with their dkms builds by two processes, while the join reads modules.

Like ``dkms status``, the facts compare every installed copy with its build byte for byte. On a
host of hundreds of modules that is hundreds of megabytes read, bound by memory bandwidth, and
the modules the join reads next do not wait on it. So, where a second CPU is free (and its time:
a CPU quota, see _cpu_quota), a forked worker first prepares what its parent needs and the pairs
to compare (where it reads the dkms tree, the parent reads modules meanwhile) and hands them
over, then compares the pairs from the first on; the parent compares from the last pair back
until it meets the worker. Each side takes a pair on a board they share before comparing it, and
stops at the first pair the other side took (both may take the one where they meet, and compare
it twice: never is a pair left out).

The parent takes every verdict on the board and compares in process, at its first use, a pair
that has none: one the worker could not tell (its error is then worded as it always is) or did
not finish (it died or was killed). A worker that hands nothing over (it died, or what it
prepared is too large) leaves the parent to prepare it and compare every pair in process, as
with one CPU, few pairs or no fork. The worker only reads, through the parent's RootFS, so it
opens what the parent would, and exits without running any of the parent's clean-up.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gc
import itertools
import marshal
import mmap
import os
import select
import signal
import struct
import sys

from ansible_collections.kabi.dkms.plugins.module_utils._cpu_quota import cpu_quota

# Pairs below which a worker is not worth its fork: about the time of comparing them in process.
MIN_PAIRS = 32
# The share of a CPU's time a CPU quota must give beyond whole CPUs for one more to count. On the
# benchmark's root, a worker made a run 59 ms slower under a quota of 1.0 CPU, about as fast as
# none under 1.1, and 23 ms and 56 ms faster under 1.18 and 1.5 (paired runs, fork against none).
SECOND_CPU_SHARE = 0.2
# Pairs the worker takes on (those beyond are compared in process), one byte each on the board.
BOARD_PAIRS = 65536
# What the worker may hand over, in an anonymous shared mapping: only the pages written take memory.
HANDOVER_LIMIT = 32 * 1024 * 1024
_LENGTH = struct.Struct('=Q')
# What the board holds for a pair: nothing yet, taken by a side, then its verdict.
FREE = 0
TAKEN = ord('t')
SAME = ord('1')
DIFFERENT = ord('0')
UNTOLD = ord('?')


def usable_cpus():
    """CPUs this process may run on (1 when that cannot be told), no more than the CPU quota of its
    cgroups covers, each CPU counted from SECOND_CPU_SHARE of its time: a worker on a second CPU
    with less time of its own mostly takes the module's, and costs its fork and hand-over besides."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return 1
    quota = cpu_quota() if cpus > 1 else None
    return cpus if quota is None else max(1, min(cpus, int(quota + 1 - SECOND_CPU_SHARE)))


def _single_threaded():
    """Whether this process runs no thread but this one: a fork copies only the thread that
    forks, and a lock another thread held would stay held in the worker."""
    threading = sys.modules.get('threading')    # not imported: no thread started from Python
    return threading is None or threading.active_count() == 1


class CompareAhead:
    """``same_content`` of a RootFS, answered by a worker and its parent where ``start`` forks one."""

    def __init__(self, rootfs):
        self.rootfs = rootfs
        # Whether a worker can help: a second CPU to run on, and a fork that copies all that runs.
        self.parallel = hasattr(os, 'fork') and usable_cpus() > 1 and _single_threaded()
        self._pid = None        # the worker's process id, until close reaps it
        self._worker = None     # (board, handover mapping, end of its pipe) until its verdicts are taken
        self._pairs = None      # the pairs the worker took on, once handed over
        self._verdicts = {}     # {(first, second): bool} compared ahead and not asked for yet

    def start(self, prepare, expected):
        """Fork a worker that runs ``prepare()``, which gives ``(payload, pairs)``: ``payload``
        (bytes) for the parent to ``take_handover``, and the pairs ((first, second) in-root paths,
        unique) to compare. ``expected``: how many pairs there may be, below MIN_PAIRS no worker is
        worth its fork. Whether one started."""
        if self._pid is not None or not self.parallel or expected < MIN_PAIRS:
            return False
        try:
            # Anonymous and shared: the worker writes, the parent reads.
            board = mmap.mmap(-1, BOARD_PAIRS)
            handover = mmap.mmap(-1, HANDOVER_LIMIT)
        except (OSError, ValueError):
            return False
        try:
            # The worker writes the length of what it hands over, then closes its end once it has
            # compared all it will: before its exit has torn down its copy of the parent's memory
            # (which only close waits for).
            done, worker_end = os.pipe()
        except OSError:     # out of descriptors
            board.close()
            handover.close()
            return False
        parent = os.getpid()
        held = _hold_interrupts()
        try:
            pid = os.fork()
        except OSError:     # out of processes or memory: prepared and compared in process
            _release(held)
            board.close()
            handover.close()
            os.close(done)
            os.close(worker_end)
            return False
        if pid == 0:
            _prepare_compare_and_exit(self.rootfs, prepare, board, handover, parent, held, done, worker_end)
        os.close(worker_end)
        self._pid, self._worker = pid, (board, handover, done)
        _release(held)  # an interrupt held back is raised here: the worker is known, close stops it
        return True

    def ready(self):
        """Whether ``take_handover`` would not wait."""
        if self._worker is None or self._pairs is not None:
            return True
        try:
            poller = select.poll()
        except AttributeError:  # no poll here: as if never ready, so the caller does all it would
            return False
        poller.register(self._worker[2], select.POLLIN)
        return bool(poller.poll(0))

    def take_handover(self):
        """``(payload, pairs)`` the worker prepared, once it has handed them over (the pairs it
        takes on, to compare); None when it handed nothing over (then the caller prepares it).
        Asked once."""
        if self._worker is None or self._pairs is not None:
            return None
        board, handover, done = self._worker
        try:
            told = b''
            while len(told) < _LENGTH.size:
                more = os.read(done, _LENGTH.size - len(told))
                if not more:
                    break
                told += more
            if len(told) < _LENGTH.size:
                self._pairs = ()
                return None
            # Read in place: no copy of what may be megabytes beside the payload it holds.
            view = memoryview(handover)
            try:
                payload, pairs = marshal.loads(view[:_LENGTH.unpack(told)[0]])
            finally:
                view.release()
        except BaseException:
            self.close()    # interrupted (KeyboardInterrupt): nothing will be taken
            raise
        finally:
            handover.close()
        self._pairs = pairs[:BOARD_PAIRS]
        return payload, self._pairs

    def same_content(self, first, second):
        """RootFS.same_content of two in-root files, compared ahead if they were."""
        if self._worker is not None:
            self._finish()
        same = self._verdicts.pop((first, second), None)
        return self.rootfs.same_content(first, second) if same is None else same

    def close(self):
        """Stop the worker, if it runs, reap it, and let go of the verdicts no one asked for: no one
        asks after this (as where the join raised), so no verdict is waited for or compared."""
        running = self._worker is not None
        if running:
            board, handover, done = self._worker
            self._worker = None
            os.close(done)
            board.close()
            handover.close()
        if self._pid is not None:
            pid, self._pid = self._pid, None
            _reap(pid, stop=running)
        self._verdicts = {}

    def _finish(self):
        self.take_handover()
        board, dummy, done = self._worker
        pairs = self._pairs
        self._worker = None
        try:
            _compare_in_turn(self.rootfs, pairs, board, range(len(pairs) - 1, -1, -1))
            while os.read(done, 1):     # the worker writes nothing more: this waits for it to be done
                pass
        except BaseException:
            os.close(done)
            pid, self._pid = self._pid, None
            _reap(pid, stop=True)   # interrupted (KeyboardInterrupt): no verdict will be taken
            raise
        os.close(done)
        verdicts = board[:len(pairs)]
        board.close()
        for pair, verdict in zip(pairs, bytearray(verdicts)):
            if verdict in (SAME, DIFFERENT):
                self._verdicts[pair] = verdict == SAME


def _compare_in_turn(rootfs, pairs, board, order):
    """Compare the pairs at the indexes of ``order`` up to the first one the other side took."""
    for index in order:
        if board[index] != FREE:
            return
        board[index] = TAKEN
        try:
            board[index] = SAME if rootfs.same_content(*pairs[index]) else DIFFERENT
        except Exception:  # pylint: disable=broad-except
            board[index] = UNTOLD   # compared again when asked, to report what is wrong


def _reap(pid, stop=False):
    """Wait for the worker to exit; ``stop``: kill it first (it only reads: nothing is left half done)."""
    try:
        # Killed only while not reaped (where SIGCHLD is ignored, an exited worker is), so its
        # process id cannot be another process's by then.
        if stop and os.waitpid(pid, os.WNOHANG) == (0, 0):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except OSError:     # ChildProcessError: reaped already
        pass


def _hold_interrupts():
    """Hold SIGINT back until ``_release``: one between the fork and the worker's ``try`` would
    run the parent's handlers and clean-up in the worker. The mask before, None where there is none."""
    try:
        return signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGINT])
    except (AttributeError, OSError, ValueError):
        return None


def _release(held):
    if held is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _prepare_compare_and_exit(rootfs, prepare, board, handover, parent, held, done, worker_end):
    """The worker: what ``prepare`` gives handed over, then its share of the pairs compared from the
    first on, while process ``parent`` runs; then its end of the pipe closed (``worker_end``; the
    parent reads ``done``) and an exit that skips the parent's clean-up (its atexit handlers, its
    buffered output, its temporary files). ``held``: what _hold_interrupts gave, released once an
    interrupt exits here. Whatever goes wrong ends the worker: the parent then does without it."""
    try:
        os.close(done)
        _release(held)
        # A collection here could run finalizers of the parent's objects; the worker makes little garbage.
        gc.disable()
        payload, pairs = prepare()
        # marshal: plain values only, which the parent's marshal.loads makes again as they are.
        told = marshal.dumps((payload, list(pairs)))
        if len(told) <= len(handover):
            handover[:len(told)] = told
            os.write(worker_end, _LENGTH.pack(len(told)))    # far less than a pipe holds: never waits
            # A parent killed before it took the verdicts leaves no one to read them: the worker, an
            # orphan then, stops at the next pair rather than read every file that is left.
            order = itertools.takewhile(lambda index: os.getppid() == parent, range(min(len(pairs), len(board))))
            _compare_in_turn(rootfs, pairs, board, order)
    finally:
        try:
            os.close(worker_end)    # before the exit, which tears the memory down first
        finally:
            os._exit(0)
