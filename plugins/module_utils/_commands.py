# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Finding the host commands the readers may run (grubby, modinfo, modprobe, zstd), and running
one with a bound on what it prints."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import threading

# Where these tools live; a non-login PATH (cron, some become methods) may lack them.
SBIN_DIRS = ('/usr/local/sbin', '/usr/sbin', '/sbin')


def find_command(name, path=None):
    """Absolute path of an executable ``name`` on ``path`` (default PATH) or in sbin, else None."""
    if path is None:
        path = os.environ.get('PATH', os.defpath)
    for directory in path.split(os.pathsep) + list(SBIN_DIRS):
        candidate = os.path.join(directory, name)
        if directory and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


# What is kept of a command's standard error: enough for its message.
STDERR_LIMIT = 64 * 1024


def _drain(stream, keep, chunks):
    """Read ``stream`` to its end, keeping its first ``keep`` bytes in ``chunks``."""
    kept = 0
    while True:
        chunk = stream.read(65536)
        if not chunk:
            return
        if kept < keep:
            chunks.append(chunk[:keep - kept])
            kept += len(chunks[-1])


def _feed(stream, data):
    try:
        stream.write(data)
    except (IOError, OSError):
        pass  # the command stopped reading: its exit status tells why
    finally:
        try:
            stream.close()
        except (IOError, OSError):
            pass


def run_bounded(argv, data, limit):
    """``(rc, stdout, stderr)`` of ``argv`` with ``data`` on its standard input, in the C locale.

    Standard output is read through a pipe, never a file, and at most ``limit`` bytes of it:
    past that the command is killed and ``rc`` is None. ``stdout`` is bytes, ``stderr`` text.
    """
    # Not run_command: it reads all of the output into memory, which is what must be bounded here.
    process = subprocess.Popen(  # pylint: disable=ansible-bad-function
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, close_fds=True,
        env=dict(os.environ, LC_ALL='C'))
    errors = []
    helpers = [threading.Thread(target=_feed, args=(process.stdin, data)),
               threading.Thread(target=_drain, args=(process.stderr, STDERR_LIMIT, errors))]
    for helper in helpers:
        helper.daemon = True
        helper.start()
    output = bytearray()
    overflow = False
    while True:
        chunk = process.stdout.read(65536)
        if not chunk:
            break
        output += chunk
        if len(output) > limit:
            overflow = True
            process.kill()
            break
    process.stdout.close()
    rc = process.wait()
    for helper in helpers:
        helper.join()
    process.stderr.close()
    return (None if overflow else rc), bytes(output[:limit]), b''.join(errors).decode('utf-8', 'replace')
