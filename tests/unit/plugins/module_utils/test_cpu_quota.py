# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cpu_quota on /proc/self and cgroup file systems written in their real formats under a temporary
directory, and on a real cgroup with a CPU quota where this test may make one (root, a writable
``cpu`` controller)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Dict, Optional

import pytest

from ansible_collections.kabi.dkms.plugins.module_utils import _compare_ahead, _cpu_quota
from ansible_collections.kabi.dkms.plugins.module_utils._compare_ahead import usable_cpus
from ansible_collections.kabi.dkms.plugins.module_utils._cpu_quota import cpu_cgroups, cpu_quota

V2_MOUNT = '30 23 0:26 {root} {point} rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n'
V1_CPU_MOUNT = '32 31 0:29 {root} {point} rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct\n'
V1_OTHER_MOUNT = '35 31 0:32 / {point} rw,relatime shared:12 - cgroup cgroup rw,memory\n'
PROC_MOUNT = '22 28 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:13 - proc proc rw\n'


def proc_self(tmp_path: Path, cgroup: str, mountinfo: str) -> str:
    directory = tmp_path / 'proc-self'
    directory.mkdir()
    (directory / 'cgroup').write_text(cgroup)
    (directory / 'mountinfo').write_text(mountinfo)
    return str(directory)


def cgroup_files(top: Path, files: Dict[str, str]) -> None:
    """``files``: {path below the hierarchy's mount point: its text}."""
    for relative, text in files.items():
        path = top / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def v2(tmp_path: Path, cgroup: str, files: Dict[str, str], mount_root: str = '/') -> Optional[float]:
    top = tmp_path / 'cgroup'
    top.mkdir(parents=True)
    cgroup_files(top, files)
    return cpu_quota(proc_self(tmp_path, '0::%s\n' % cgroup, PROC_MOUNT + V2_MOUNT.format(root=mount_root, point=top)))


def test_a_systemd_units_cpu_quota_is_its_cpus(tmp_path: Path) -> None:
    # CPUQuota=100% on ansible-pull.service: "100000 100000" in its cpu.max.
    assert v2(tmp_path, '/system.slice/ansible-pull.service', {
        'system.slice/cpu.max': 'max 100000\n',
        'system.slice/ansible-pull.service/cpu.max': '100000 100000\n'}) == 1.0


def test_the_least_quota_on_the_way_to_the_root_counts(tmp_path: Path) -> None:
    assert v2(tmp_path, '/machine.slice/app.scope', {
        'machine.slice/cpu.max': '150000 100000\n', 'machine.slice/app.scope/cpu.max': 'max 100000\n'}) == 1.5
    assert v2(tmp_path / 'b', '/machine.slice/app.scope', {
        'machine.slice/cpu.max': '400000 100000\n', 'machine.slice/app.scope/cpu.max': '50000 100000\n'}) == 0.5


@pytest.mark.parametrize('text', ['max 100000\n', '', 'max\n', 'garbage here\n', '0 100000\n', '100000 0\n'])
def test_no_limit_or_no_readable_limit_is_none(tmp_path: Path, text: str) -> None:
    assert v2(tmp_path, '/user.slice', {'user.slice/cpu.max': text}) is None


def test_a_containers_namespace_shows_its_own_cgroup_as_the_root(tmp_path: Path) -> None:
    # docker run --cpus=2 with a cgroup namespace: /proc/self/cgroup says "0::/".
    assert v2(tmp_path, '/', {'cpu.max': '200000 100000\n'}) == 2.0


def test_a_mount_of_part_of_the_hierarchy(tmp_path: Path) -> None:
    # Without a cgroup namespace, a container's /sys/fs/cgroup is its own cgroup mounted from below the root.
    assert v2(tmp_path, '/docker/0123abcd', {'cpu.max': '100000 100000\n'}, mount_root='/docker/0123abcd') == 1.0
    # A cgroup outside what the mount shows, or outside the namespace ("/.."), is not looked for there.
    assert v2(tmp_path / 'b', '/other/scope', {'cpu.max': '100000 100000\n'}, mount_root='/docker/0123abcd') is None
    assert v2(tmp_path / 'c', '/../../init.scope', {'cpu.max': '100000 100000\n'}) is None


def test_cgroup_v1_cfs_quota(tmp_path: Path) -> None:
    top, memory = tmp_path / 'cpu,cpuacct', tmp_path / 'memory'
    cgroup_files(top, {'cpu.cfs_quota_us': '-1\n', 'cpu.cfs_period_us': '100000\n',
                       'user.slice/cpu.cfs_quota_us': '50000\n', 'user.slice/cpu.cfs_period_us': '100000\n'})
    # A memory hierarchy's files, were they there, limit no CPU.
    cgroup_files(memory, {'user.slice/cpu.cfs_quota_us': '1000\n', 'user.slice/cpu.cfs_period_us': '100000\n'})
    mountinfo = PROC_MOUNT + V1_CPU_MOUNT.format(root='/', point=top) + V1_OTHER_MOUNT.format(point=memory)
    cgroup = '5:memory:/user.slice\n4:cpu,cpuacct:/user.slice\n1:name=systemd:/user.slice\n0::/user.slice\n'
    assert cpu_quota(proc_self(tmp_path, cgroup, mountinfo)) == 0.5


def test_hybrid_hierarchies_count_the_v1_cpu_controller(tmp_path: Path) -> None:
    # systemd's hybrid layout: a v2 hierarchy without the cpu controller (no cpu.max) beside v1's cpu.
    unified, cpu = tmp_path / 'unified', tmp_path / 'cpu'
    cgroup_files(unified, {'user.slice/cgroup.procs': ''})
    cgroup_files(cpu, {'user.slice/cpu.cfs_quota_us': '300000\n', 'user.slice/cpu.cfs_period_us': '100000\n'})
    mountinfo = V2_MOUNT.format(root='/', point=unified) + V1_CPU_MOUNT.format(root='/', point=cpu)
    assert cpu_quota(proc_self(tmp_path, '4:cpu,cpuacct:/user.slice\n0::/user.slice\n', mountinfo)) == 3.0


def test_a_mount_point_with_a_space(tmp_path: Path) -> None:
    top = tmp_path / 'cgroup fs'
    cgroup_files(top, {'cpu.max': '100000 100000\n'})
    mountinfo = V2_MOUNT.format(root='/', point=str(top).replace(' ', '\\040'))
    assert cpu_quota(proc_self(tmp_path, '0::/\n', mountinfo)) == 1.0


def test_what_cannot_be_read_limits_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cpu_quota(str(tmp_path / 'no-such-proc')) is None
    top = tmp_path / 'cgroup'
    cgroup_files(top, {'cpu.max': '100000 100000\n'})
    mountinfo = V2_MOUNT.format(root='/', point=top)
    assert cpu_quota(proc_self(tmp_path, 'not a cgroup line\n', mountinfo)) is None
    # A mountinfo over the limit is not read in part: a line left out could be the one that limits.
    monkeypatch.setattr(_cpu_quota, 'MOUNTINFO_LIMIT', len(mountinfo) - 1)
    assert cpu_quota(str(tmp_path / 'proc-self')) is None


@pytest.mark.parametrize('quota, expected', [(None, 4), (0.5, 1), (1.0, 1), (1.1, 1), (1.2, 2), (1.5, 2), (2.0, 2),
                                             (2.19, 2), (3.2, 4), (64.0, 4)])
def test_usable_cpus_count_a_cpu_from_a_fifth_of_its_time(
        monkeypatch: pytest.MonkeyPatch, quota: Optional[float], expected: int) -> None:
    monkeypatch.setattr(os, 'sched_getaffinity', lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(_compare_ahead, 'cpu_quota', lambda: quota)
    assert usable_cpus() == expected


def writable_cpu_cgroup() -> Optional[Path]:
    """The directory of this process's cgroup in a hierarchy with the cpu controller, where this
    test may make a child cgroup there (root); None where it may not."""
    if os.geteuid() != 0:
        return None
    for point, parts, version in cpu_cgroups():
        directory = Path(point, *parts)
        if not os.access(str(directory), os.W_OK):
            continue
        if version == 1 or 'cpu' in (directory / 'cgroup.subtree_control').read_text().split():
            return directory
    return None


CPU_CGROUP = writable_cpu_cgroup()


@pytest.mark.skipif(CPU_CGROUP is None, reason='needs root and a cgroup with the cpu controller to make one in')
@pytest.mark.parametrize('cpus', [1, 2])
def test_a_real_cgroup_quota(cpus: int) -> None:
    assert CPU_CGROUP is not None
    child = CPU_CGROUP / ('kabi-dkms-test-%s' % uuid.uuid4().hex[:12])
    child.mkdir()
    try:
        if (child / 'cpu.max').exists():
            (child / 'cpu.max').write_text('%d 100000\n' % (cpus * 100000))
            procs = child / 'cgroup.procs'
        else:
            (child / 'cpu.cfs_period_us').write_text('100000\n')
            (child / 'cpu.cfs_quota_us').write_text('%d\n' % (cpus * 100000))
            procs = child / 'tasks'
        # A process of its own joins the cgroup: this one stays where it is.
        script = ('import os, sys; open(sys.argv[1], "w").write(str(os.getpid()))\n'
                  'from ansible_collections.kabi.dkms.plugins.module_utils._compare_ahead import usable_cpus\n'
                  'from ansible_collections.kabi.dkms.plugins.module_utils._cpu_quota import cpu_quota\n'
                  'print(cpu_quota(), usable_cpus())')
        output = subprocess.run([sys.executable, '-c', script, str(procs)], stdout=subprocess.PIPE,
                                env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)), check=True).stdout.decode()
        assert output.split() == [str(float(cpus)), str(min(cpus, len(os.sched_getaffinity(0))))]
    finally:
        child.rmdir()


def test_a_cgroup_name_that_is_not_utf8(tmp_path: Path) -> None:
    top = tmp_path / 'cpu'
    (top / os.fsdecode(b'lxc-\xff')).mkdir(parents=True)
    cgroup_files(top, {os.fsdecode(b'lxc-\xff') + '/cpu.cfs_quota_us': '50000\n',
                       os.fsdecode(b'lxc-\xff') + '/cpu.cfs_period_us': '100000\n'})
    directory = tmp_path / 'proc-self'
    directory.mkdir()
    (directory / 'cgroup').write_bytes(b'4:cpu,cpuacct:/lxc-\xff\n')
    (directory / 'mountinfo').write_text(V1_CPU_MOUNT.format(root='/', point=top))
    assert cpu_quota(str(directory)) == 0.5


def test_a_path_the_file_system_encoding_cannot_take_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    # Python 3.6 in a C locale: open() of a non-ASCII path raises UnicodeEncodeError, a ValueError.
    def refuse(path: str, *args: object) -> None:
        raise UnicodeEncodeError('ascii', str(path), 0, 1, 'ordinal not in range(128)')
    monkeypatch.setattr(_cpu_quota, 'open', refuse, raising=False)
    assert cpu_quota() is None
