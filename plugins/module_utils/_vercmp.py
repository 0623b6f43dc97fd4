# -*- coding: utf-8 -*-
# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Version comparison as rpm's rpmvercmp does it (kernel releases, dkms package versions), and
as the copies of it in Red Hat's GRUB do (blscfg.c ranks BLS entries with them)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools


# rpmvercmp (rpm lib/rpmvercmp.c) works on bytes and its isalnum is ASCII only, so
# every other character, non-ASCII letters included, is a separator.
def _isdigit(char):
    return '0' <= char <= '9'


def _isalpha(char):
    return 'a' <= char <= 'z' or 'A' <= char <= 'Z'


def _is_separator(char, after_end):
    return not (_isdigit(char) or _isalpha(char) or char == '~' or char == after_end)


def _segment_end(text, start, predicate):
    end = start
    while end < len(text) and predicate(text[end]):
        end += 1
    return end


def compare_releases(a, b, after_end='^'):
    """Compare two kernel releases the way rpm compares versions: -1, 0 or 1.

    Alternating numeric and alphabetic segments are compared one by one (numbers
    numerically, a number is newer than letters); ``~`` sorts before anything, even the
    end of the string (``1.0~rc1 < 1.0``); ``^`` sorts after the end of the string but
    before any other segment (``1.0 < 1.0^git1 < 1.0.1``); when all segments are equal,
    the release with segments left over is newer. Usable with ``functools.cmp_to_key``.

    ``after_end``: the character that sorts after the end of a version, rpm's ``^``; the copies
    of rpmvercmp in Red Hat's GRUB (blscfg.c) have ``+`` there (RHEL 9's, Fedora's) or none
    (None: RHEL 8's), and take ``^`` for a separator.
    """
    if a == b:
        return 0
    separator = functools.partial(_is_separator, after_end=after_end)
    i = j = 0
    while i < len(a) or j < len(b):
        i = _segment_end(a, i, separator)
        j = _segment_end(b, j, separator)
        one = a[i] if i < len(a) else ''
        two = b[j] if j < len(b) else ''
        if one == '~' or two == '~':
            if one != '~':
                return 1
            if two != '~':
                return -1
            i += 1
            j += 1
            continue
        if after_end is not None and after_end in (one, two):
            if not one:
                return -1
            if not two:
                return 1
            if one != after_end:
                return 1
            if two != after_end:
                return -1
            i += 1
            j += 1
            continue
        if not (one and two):
            break
        # The segment's kind is decided by the first string; the second string's
        # segment of that kind may be empty (a number is newer than letters).
        numeric = _isdigit(one)
        predicate = _isdigit if numeric else _isalpha
        end_a = _segment_end(a, i, predicate)
        end_b = _segment_end(b, j, predicate)
        if end_b == j:
            return 1 if numeric else -1
        seg_a, seg_b = a[i:end_a], b[j:end_b]
        if numeric:
            seg_a, seg_b = seg_a.lstrip('0'), seg_b.lstrip('0')
            if len(seg_a) != len(seg_b):
                return 1 if len(seg_a) > len(seg_b) else -1
        if seg_a != seg_b:
            return 1 if seg_a > seg_b else -1
        i, j = end_a, end_b
    if i >= len(a) and j >= len(b):
        return 0
    return -1 if i >= len(a) else 1


def compare_systemd_versions(a, b):
    """Compare two versions as systemd 252 and later do (strverscmp_improved, which orders boot
    entries): -1, 0 or 1. Only ASCII letters, digits and ``~-^.`` count, other characters
    separate; ``~`` sorts before anything, even the end; then, in this order, a ``-``, ``^`` or
    ``.`` where the other has none sorts first; a number is newer than letters or nothing, numbers
    compare numerically; letters compare as text, the longer run newer. A missing version is empty."""
    a, b, i, j = a or '', b or '', 0, 0
    while True:
        i = _segment_end(a, i, lambda char: not _is_version_char(char))
        j = _segment_end(b, j, lambda char: not _is_version_char(char))
        one, two = a[i:i + 1], b[j:j + 1]
        if '~' in (one, two):
            if one != two:
                return -1 if one == '~' else 1
            i, j = i + 1, j + 1
            one, two = a[i:i + 1], b[j:j + 1]
        if not one or not two:
            return (one > two) - (one < two)
        for separator in '-^.':
            if separator in (one, two):
                if one != two:
                    return -1 if one == separator else 1
                i, j = i + 1, j + 1
                one, two = a[i:i + 1], b[j:j + 1]
        numeric = _isdigit(one) or _isdigit(two)
        end_a = _segment_end(a, i, _isdigit if numeric else _isalpha)
        end_b = _segment_end(b, j, _isdigit if numeric else _isalpha)
        if numeric:
            if (end_a > i) != (end_b > j):
                return 1 if end_a > i else -1
            seg_a, seg_b = a[i:end_a].lstrip('0'), b[j:end_b].lstrip('0')
            if len(seg_a) != len(seg_b):
                return 1 if len(seg_a) > len(seg_b) else -1
            if seg_a != seg_b:
                return 1 if seg_a > seg_b else -1
        else:
            seg_a, seg_b = a[i:end_a], b[j:end_b]
            length = min(len(seg_a), len(seg_b))
            if seg_a[:length] != seg_b[:length]:
                return 1 if seg_a[:length] > seg_b[:length] else -1
            if len(seg_a) != len(seg_b):
                return 1 if len(seg_a) > len(seg_b) else -1
        i, j = end_a, end_b


def _is_version_char(char):
    return _isdigit(char) or _isalpha(char) or char in '~-^.'
