# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""systemd's version order (strverscmp_improved), which orders systemd-boot's entries."""

from __future__ import annotations

import pytest

from ansible_collections.kabi.dkms.plugins.module_utils._vercmp import compare_systemd_versions


@pytest.mark.parametrize('older, newer', [
    # systemd's own order of versions, oldest first (string-util-fundamental.c's comment).
    ('122.1', '123~rc1-1'), ('123~rc1-1', '123'), ('123', '123-a'), ('123-a', '123-a.1'), ('123-a.1', '123-1'),
    ('123-1', '123-1.1'), ('123-1.1', '123^post1'), ('123^post1', '123.a-1'), ('123.a-1', '123.1-1'),
    ('123.1-1', '123a-1'), ('123a-1', '124-1'),
    ('6.1.0-9-amd64', '6.1.0-47-amd64'), ('00123', '124'), ('a_b', 'ab1'), ('a', '0'), ('1.', '1.a'), (None, '1'),
])
def test_versions_compare_as_systemd_compares_them(older: str, newer: str) -> None:
    assert compare_systemd_versions(older, newer) == -1 and compare_systemd_versions(newer, older) == 1
    assert compare_systemd_versions(older, older) == 0


def test_a_missing_version_is_empty_and_separators_alone_are_alike() -> None:
    assert compare_systemd_versions(None, '') == 0
    assert compare_systemd_versions('1_2', '1:2') == 0 and compare_systemd_versions('01', '1') == 0
