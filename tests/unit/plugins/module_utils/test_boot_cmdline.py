# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The next-boot command line of a kernel, from BLS entries, grubenv and /etc/default/grub."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ansible_collections.kabi.dkms.plugins.module_utils._boot_cmdline import (
    MAX_VARIABLES, BootCmdline, read_next_boot_cmdline, split_cmdline)
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootFS
from ansible_collections.kabi.dkms.tests.unit.grub_fixtures import rhel8_grub_cfg
from ansible_collections.kabi.dkms.tests.unit.root_tree import RootTree

RELEASE = '5.14.0-427.el9.x86_64'
OTHER = '5.14.0-503.el9.x86_64'
MACHINE = '0123456789abcdef0123456789abcdef'


def grubenv(**values: str) -> str:
    """A GRUB environment block: 1024 bytes, padded with '#'."""
    text = '# GRUB Environment Block\n' + ''.join('%s=%s\n' % item for item in values.items())
    return text + '#' * (1024 - len(text))


def bls(tree: RootTree, release: str, *options: str, name: str | None = None) -> None:
    lines = ['title Linux %s' % release, 'version %s' % release, 'linux /vmlinuz-%s' % release]
    lines += ['options %s' % line for line in options]
    tree.write('/boot/loader/entries/%s.conf' % (name or '%s-%s' % (MACHINE, release)), '\n'.join(lines) + '\n')


def read(tree: RootTree, release: str = RELEASE) -> BootCmdline:
    return read_next_boot_cmdline(RootFS(str(tree.root)), release, tree.warnings.append)


@pytest.fixture
def tree(tmp_path: Path) -> RootTree:
    return RootTree(tmp_path)


def test_split_like_the_kernel() -> None:
    assert split_cmdline(' root=/dev/sda1  quiet "dyndbg=file x.c +p" module.sig_enforce -- init_arg=1') == [
        ('root', '/dev/sda1'), ('quiet', None), ('dyndbg', 'file x.c +p'), ('module.sig_enforce', None)]


def test_parameter_names_match_dashes_and_underscores() -> None:
    cmdline = BootCmdline(split_cmdline('module.sig-enforce=1 lockdown=integrity lockdown=none'), 'test')
    assert cmdline.values('module.sig_enforce') == ['1']
    assert cmdline.values('lockdown') == ['integrity', 'none']


def test_bls_options_of_the_kernel(tree: RootTree) -> None:
    bls(tree, RELEASE, 'root=UUID=1 ro module.sig_enforce=1')
    bls(tree, OTHER, 'root=UUID=1 ro')
    cmdline = read(tree)
    assert cmdline.source == '/boot/loader/entries/%s-%s.conf' % (MACHINE, RELEASE)
    assert cmdline.values('module.sig_enforce') == ['1']
    assert read(tree, OTHER).values('module.sig_enforce') == []
    # systemd-boot joins several options lines, GRUB's blscfg reads the first.
    bls(tree, RELEASE, 'root=UUID=1 ro', 'module.sig_enforce=1')
    cmdline = read(tree)
    assert cmdline.params is None and 'several options lines' in cmdline.problem


@pytest.mark.parametrize(('options', 'params'), [
    ('$kernelopts $tuned_params', [('root', '/dev/sda1'), ('ro', None), ('quiet', None)]),
    ('$kernelopts module.sig_enforce=1', [('root', '/dev/sda1'), ('ro', None), ('module.sig_enforce', '1')]),
    ('$kernelopts x', [('root', '/dev/sda1'), ('ro', None)]),     # blscfg drops a last piece of one character
    ('a$kernelopts', [('root', '/dev/sda1'), ('ro', None)]),      # ...and one before a $
    ('$kernelopts ${tuned_params}', None),                      # no braces: "{tuned_params}" is left
    ('$kernelopts # module.sig_enforce=1', None),               # the entry's linux line is GRUB script
    ('$kernelopts; module.sig_enforce=1', None),
    ('$kernelopts "module.sig_enforce=1"', None),
    ('$x$y', None),                                             # nothing: blscfg takes $default_kernelopts
    ('ro module$unset.sig_enforce=1', [('ro', None), ('module.sig_enforce', '1')]),  # unset: not even a blank
    ('$empty', []),                                             # empty: a blank, which is something
])
def test_bls_options_as_blscfg_expands_them(tree: RootTree, options: str, params: list | None) -> None:
    bls(tree, RELEASE, options)
    tree.write('/boot/grub2/grub.cfg', 'load_env\nset x=a\nset y=b\nset tuned_params=quiet\nset empty=\nblscfg\n')
    tree.write('/boot/grub2/grubenv', grubenv(kernelopts='root=/dev/sda1 ro'))
    assert read(tree).params == params


@pytest.mark.parametrize('directory', ['/boot/grub2', '/boot/grub'])
def test_bls_kernelopts_from_grubenv(tree: RootTree, directory: str) -> None:
    # RHEL 8: "options $kernelopts $tuned_params", blscfg expands them with what grub.cfg loaded
    # from the environment block and set itself.
    bls(tree, RELEASE, '$kernelopts $tuned_params')
    tree.write(directory + '/grub.cfg', rhel8_grub_cfg(tuned_params='skew_tick=1'))
    tree.write(directory + '/grubenv', grubenv(kernelopts='root=/dev/vda1 ro module.sig_enforce=1',
                                               tuned_params='skew_tick=1'))
    cmdline = read(tree)
    assert (cmdline.values('module.sig_enforce'), cmdline.values('skew_tick'), cmdline.unsure) == (['1'], ['1'], frozenset())
    # 00_tuned sets $tuned_params after load_env: a value left in grubenv does not count.
    tree.write(directory + '/grubenv', grubenv(kernelopts='root=/dev/vda1 ro', tuned_params='module.sig_enforce=1'))
    assert read(tree).params == [('root', '/dev/vda1'), ('ro', None), ('skew_tick', '1')]
    # Without $kernelopts in grubenv, 10_linux's fallback.
    tree.write(directory + '/grubenv', grubenv(saved_entry='x'))
    assert read(tree).params == [('root', '/dev/mapper/rhel-root'), ('ro', None), ('crashkernel', 'auto'),
                                 ('rhgb', None), ('quiet', None), ('skew_tick', '1')]


@pytest.mark.parametrize(('entry', 'sig_enforce'), [
    ('linux /vmlinuz-%s\noptions ro module.sig_enforce=1\n', ['1']),
    # blscfg stops at a blank line or a key alone, and its key here is "options\tro": the entry
    # gets $default_kernelopts.
    ('linux /vmlinuz-%s\n\noptions ro module.sig_enforce=1\n', []),
    ('linux /vmlinuz-%s\nrhgb\noptions ro module.sig_enforce=1\n', []),
    ('linux /vmlinuz-%s\noptions\tro module.sig_enforce=1\n', []),
    ('\nlinux /vmlinuz-%s\noptions ro module.sig_enforce=1\n', None),     # nor a linux line: not this kernel
    ('linux /vmlinuz-%s\noptions ro module.sig_\renforce=1\n', ['1']),     # carriage returns dropped
    ('linux /vmlinuz-%s\noptions ro\x0bmodule.sig_enforce=1\n', None),     # one GRUB word, two for the kernel
    ('linux /vmlinuz-%s\noptions ro\0 module.sig_enforce=1\n', []),        # a C string ends at a NUL
    ('\0x y\nlinux /vmlinuz-%s\noptions ro\n', None),                     # an empty line, then: nothing read
])
def test_bls_entries_as_blscfg_reads_them(tree: RootTree, entry: str, sig_enforce: list | None) -> None:
    tree.write('/boot/loader/entries/%s-%s.conf' % (MACHINE, RELEASE), 'title Linux\n' + entry % RELEASE)
    tree.write('/boot/grub2/grub.cfg', 'set default_kernelopts="root=/dev/sda1"\nblscfg\n')
    cmdline = read(tree)
    assert (cmdline.values('module.sig_enforce') if cmdline.params is not None else None) == sig_enforce


def test_a_grub_cfg_entry_of_its_own_for_the_kernel_leaves_its_line_untold(tree: RootTree) -> None:
    # 40_custom: which of the two starts it depends on the default, or on what the user picks.
    bls(tree, RELEASE, 'root=/dev/sda1 ro')
    custom = "menuentry 'Debug' --id debug {\n  linux /vmlinuz-%s root=/dev/sda1 ro module.sig_enforce=1\n}\n" % RELEASE
    tree.write('/boot/grub2/grub.cfg', 'blscfg\n' + custom)
    assert read(tree).params is None
    tree.write('/boot/grub2/grub.cfg', 'blscfg\n' + custom.replace(RELEASE, '6.1.0-1-amd64'))
    assert read(tree).params == [('root', '/dev/sda1'), ('ro', None)]


def test_boot_entries_grub_cfg_does_not_list_do_not_count(tree: RootTree) -> None:
    # GRUB_ENABLE_BLSCFG=false: kernel-install still writes BLS entries, grub.cfg lists its own.
    bls(tree, RELEASE, 'root=/dev/sda1 ro module.sig_enforce=1')
    tree.write('/boot/grub2/grub.cfg', "menuentry 'Linux' {\n  linux /vmlinuz-%s root=/dev/sda1 ro\n}\n" % RELEASE)
    assert (read(tree).params, read(tree).source) == ([('root', '/dev/sda1'), ('ro', None)], '/boot/grub2/grub.cfg')
    (tree.root / 'boot/grub2/grub.cfg').unlink()
    os.mkfifo(str(tree.root / 'boot/grub2/grub.cfg'))     # unread: it may run blscfg or not
    assert read(tree).params is None


def test_boot_entries_that_cannot_be_listed_leave_the_line_untold(tree: RootTree) -> None:
    bls(tree, RELEASE, 'root=/dev/sda1 ro')
    tree.write('/boot/grub2/grub.cfg', 'blscfg\n')
    tree.write('/etc/default/grub', 'GRUB_CMDLINE_LINUX="root=/dev/sda1 ro"\n')
    assert read(tree).params == [('root', '/dev/sda1'), ('ro', None)]
    entries = tree.root / 'boot/loader/entries'
    entries.rename(tree.root / 'boot/loader/moved')
    entries.symlink_to('/boot/loader/entries')      # a loop: not listed, and not absent
    assert read(tree).params is None
    assert any('cannot list /boot/loader/entries' in warning for warning in tree.warnings)


def test_a_boot_entry_with_an_efi_line_leaves_its_line_untold(tree: RootTree) -> None:
    # RHEL 10's and Fedora 45's GRUB chainload the unified kernel image it names.
    tree.write('/boot/loader/entries/%s-%s.conf' % (MACHINE, RELEASE),
               'title Linux\nlinux /vmlinuz-%s\nefi /EFI/Linux/uki.efi\noptions ro\n' % RELEASE)
    tree.write('/boot/grub2/grub.cfg', 'blscfg\n')
    assert read(tree).params is None


def test_rhel8_on_efi_reads_the_grub_cfg_of_the_efi_system_partition(tree: RootTree) -> None:
    # RHEL 8 on EFI: its only grub.cfg and grubenv are in the ESP's vendor directory; /boot/grub2/grubenv links there.
    bls(tree, RELEASE, '$kernelopts $tuned_params')
    tree.write('/boot/efi/EFI/redhat/grub.cfg', rhel8_grub_cfg())
    tree.write('/boot/efi/EFI/redhat/grubenv', grubenv(kernelopts='root=/dev/vda1 ro module.sig_enforce=1'))
    tree.link('/boot/grub2/grubenv', '../efi/EFI/redhat/grubenv')
    tree.write('/boot/efi/EFI/BOOT/BOOTX64.EFI')
    assert read(tree).params == [('root', '/dev/vda1'), ('ro', None), ('module.sig_enforce', '1')]
    # Two vendors' grub.cfg: which one the firmware starts is not told.
    tree.write('/boot/efi/EFI/centos/grub.cfg', rhel8_grub_cfg())
    assert read(tree).params is None
    assert any('/boot/efi/EFI' in warning for warning in tree.warnings)


def test_a_grubenv_linked_onto_the_efi_system_partition_is_not_grubs(tree: RootTree) -> None:
    # /boot/grub2/grub.cfg runs, and its grubenv links onto the EFI system partition, another file
    # system: GRUB cannot follow that link, so what it loads is not told.
    bls(tree, RELEASE, '$kernelopts')
    tree.write('/boot/grub2/grub.cfg', rhel8_grub_cfg())
    tree.write('/boot/efi/EFI/redhat/grubenv', grubenv(kernelopts='root=/dev/vda1 ro module.sig_enforce=1'))
    tree.link('/boot/grub2/grubenv', '../efi/EFI/redhat/grubenv')
    assert read(tree).params is None
    # Nor an absolute link, which GRUB reads from the root of a /boot of its own.
    (tree.root / 'boot/grub2/grubenv').unlink()
    tree.write('/boot/grub2/grubenv.real', grubenv(kernelopts='root=/dev/vda1 ro module.sig_enforce=1'))
    tree.link('/boot/grub2/grubenv', '/boot/grub2/grubenv.real')
    assert read(tree).params is None
    # A link to a file of the same directory, GRUB follows.
    (tree.root / 'boot/grub2/grubenv').unlink()
    tree.link('/boot/grub2/grubenv', 'grubenv.real')
    assert read(tree).values('module.sig_enforce') == ['1']


def test_rhel8_kernel_without_a_boot_entry_yet(tree: RootTree) -> None:
    # dkms runs before kernel-install writes the kernel's BLS entry: what grub2-mkconfig would give it.
    bls(tree, OTHER, '$kernelopts')
    tree.write('/boot/grub2/grub.cfg', rhel8_grub_cfg())
    tree.write('/etc/default/grub', 'GRUB_CMDLINE_LINUX="ro module.sig_enforce=1"\n')
    cmdline = read(tree)
    assert (cmdline.source, cmdline.values('module.sig_enforce')) == ('/etc/default/grub', ['1'])


def test_rhel8_user_cfg_with_entries_of_its_own(tree: RootTree) -> None:
    # A user.cfg that is not grub2-setpassword's may start any kernel with anything.
    bls(tree, OTHER, '$kernelopts')
    tree.write('/boot/grub2/grub.cfg', rhel8_grub_cfg())
    tree.write('/boot/grub2/user.cfg', "menuentry 'mine' {\n  linux /vmlinuz-%s ro module.sig_enforce=1\n}\n"
               'set default=mine\n' % RELEASE)
    tree.write('/etc/default/grub', 'GRUB_CMDLINE_LINUX="ro"\n')
    assert read(tree).params is None


def test_rhel8_with_a_grub_password(tree: RootTree) -> None:
    # 01_users sources user.cfg, which grub2-setpassword writes with only GRUB2_PASSWORD in it.
    bls(tree, RELEASE, '$kernelopts $tuned_params')
    tree.write('/boot/grub2/grub.cfg', rhel8_grub_cfg())
    tree.write('/boot/grub2/grubenv', grubenv(kernelopts='root=/dev/vda1 ro module.sig_enforce=1'))
    tree.write('/boot/grub2/user.cfg', 'GRUB2_PASSWORD=grub.pbkdf2.sha512.10000.%s.%s\n' % ('AB12' * 32, 'CD34' * 16))
    assert read(tree).values('module.sig_enforce') == ['1']
    # Anything else in it may set anything.
    tree.write('/boot/grub2/user.cfg', 'GRUB2_PASSWORD=grub.pbkdf2.sha512.10000.AB\nset kernelopts=quiet\n')
    assert read(tree).params is None


def test_a_grub_cfg_that_only_runs_another_is_unknown(tree: RootTree) -> None:
    # Not what update-grub would write next: what runs is another file.
    tree.write('/etc/default/grub', 'GRUB_CMDLINE_LINUX="module.sig_enforce=1"\n')
    tree.write('/boot/grub/grub.cfg', 'search.fs_uuid 0a1b root\nset prefix=($root)/elsewhere\nconfigfile $prefix/grub.cfg\n')
    cmdline = read(tree)
    assert (cmdline.params, cmdline.source) == (None, '/boot/grub/grub.cfg')


def test_bls_variable_grub_cfg_does_not_tell_is_unknown(tree: RootTree) -> None:
    bls(tree, RELEASE, '$kernelopts')
    tree.write('/boot/grub2/grubenv', grubenv(kernelopts='root=/dev/vda1 ro'))
    # No grub.cfg: what GRUB loads from the environment block is not told.
    cmdline = read(tree)
    assert cmdline.params is None
    assert '$kernelopts' in cmdline.problem
    # A grub.cfg that never loads it.
    tree.write('/boot/grub2/grub.cfg', 'blscfg\n')
    assert read(tree).params is None
    # One that may set it to another value before blscfg runs.
    tree.write('/boot/grub2/grub.cfg', 'load_env\nif [ "$x" ]; then set kernelopts="module.sig_enforce=1"; fi\nblscfg\n')
    assert read(tree).params is None
    # With more on the line, what the values share is told.
    bls(tree, RELEASE, '$kernelopts quiet')
    cmdline = read(tree)
    assert (cmdline.values('module.sig_enforce'), cmdline.values('root'), cmdline.values('quiet')) == (None, None, [None])


def test_a_boot_entry_that_cannot_be_read_may_be_the_kernels(tree: RootTree) -> None:
    bls(tree, RELEASE, 'ro')
    tree.write('/boot/loader/entries/other.conf', 'title x\n' + '#' * 70000)
    cmdline = read(tree)
    assert cmdline.params is None and 'cannot be read' in cmdline.problem


def test_entries_that_disagree_are_unknown(tree: RootTree) -> None:
    bls(tree, RELEASE, 'quiet')
    bls(tree, RELEASE, 'quiet module.sig_enforce=1', name='%s-%s-debug' % (MACHINE, RELEASE))
    assert read(tree).params is None


GRUB_CFG = """\
if [ x"${feature_menuentry_id}" = xy ]; then
  menuentry_id_option="--id"
else
  menuentry_id_option=""
fi
export menuentry_id_option
menuentry 'Debian GNU/Linux' --class debian $menuentry_id_option 'gnulinux-simple-1234' {
\tload_video
\tlinux\t/boot/vmlinuz-%(new)s root=UUID=1234 ro  quiet
\tinitrd\t/boot/initrd.img-%(new)s
}
submenu 'Advanced options for Debian GNU/Linux' $menuentry_id_option 'gnulinux-advanced-1234' {
\tmenuentry 'Debian GNU/Linux, with Linux %(new)s' --class debian {
\t\tlinux\t/boot/vmlinuz-%(new)s root=UUID=1234 ro  quiet
\t}
\tmenuentry 'Debian GNU/Linux, with Linux %(old)s' --class debian {
\t\tlinux\t/vmlinuz-%(old)s root=UUID=1234 ro module.sig_enforce=1 quiet
\t}
\tmenuentry 'Debian GNU/Linux, with Linux %(old)s (recovery mode)' --class debian {
\t\tlinux\t/vmlinuz-%(old)s root=UUID=1234 ro single
\t}
}
"""


def test_generated_grub_cfg_names_each_kernel(tree: RootTree) -> None:
    tree.write('/boot/grub/grub.cfg', GRUB_CFG % {'new': OTHER, 'old': RELEASE})
    # What update-grub would write next: grub.cfg is what boots.
    tree.write('/etc/default/grub', 'GRUB_CMDLINE_LINUX_DEFAULT="quiet"\n')
    cmdline = read(tree)
    assert (cmdline.source, cmdline.params) == ('/boot/grub/grub.cfg', [
        ('root', 'UUID=1234'), ('ro', None), ('module.sig_enforce', '1'), ('quiet', None)])
    assert read(tree, OTHER).values('module.sig_enforce') == []
    # A kernel grub.cfg does not list yet gets what update-grub will write.
    assert read(tree, '6.1.0-99-amd64').source == '/etc/default/grub'


def test_grub_cfg_variable_grub_cfg_never_sets(tree: RootTree) -> None:
    # What starts grub.cfg (GRUB's image, a stub on the EFI system partition) sets no such variable.
    entry = 'menuentry A {\n  linux16 /vmlinuz-%s root=/dev/sda1 %s\n}\n'
    tree.write('/boot/grub2/grub.cfg', entry % (RELEASE, '$extra_args'))
    assert read(tree).params == [('root', '/dev/sda1')]
    # An environment block grub.cfg does not load gives it nothing.
    tree.write('/boot/grub2/grubenv', grubenv(extra_args='lockdown=integrity'))
    assert read(tree).params == [('root', '/dev/sda1')]
    # GRUB's own variables are not told.
    tree.write('/boot/grub2/grub.cfg', entry % (RELEASE, 'x=$root'))
    assert read(tree).params is None
    tree.write('/boot/grub2/grub.cfg', 'load_env\nmenuentry A {\n  linux16 /vmlinuz-%s root=/dev/sda1 $extra_args\n}\n'
               % RELEASE)
    assert read(tree).values('lockdown') == ['integrity']


def test_an_unreadable_grub_cfg_is_unknown(tree: RootTree) -> None:
    tree.write('/etc/default/grub', 'GRUB_CMDLINE_LINUX_DEFAULT="quiet"\n')
    (tree.root / 'boot/grub').mkdir(parents=True)
    os.mkfifo(str(tree.root / 'boot/grub/grub.cfg'))
    cmdline = read(tree)
    assert (cmdline.params, cmdline.source) == (None, '/boot/grub/grub.cfg')
    assert tree.warnings


def test_the_default_entry_gives_the_default_kernel_its_line(tree: RootTree) -> None:
    # A custom entry with arguments of its own, made the default: its kernel boots with them.
    custom = "menuentry 'Enforcing' --id enforcing {\n\tlinux\t/vmlinuz-%s root=UUID=1234 ro module.sig_enforce=1\n}\n"
    tree.write('/boot/grub/grub.cfg', GRUB_CFG % {'new': OTHER, 'old': RELEASE} + custom % OTHER + 'set default=enforcing\n')
    assert read(tree, OTHER).values('module.sig_enforce') == ['1']
    assert read(tree, RELEASE).values('module.sig_enforce') == ['1']     # the first entry that boots it
    # The recovery entry made the default: no GRUB_CMDLINE_LINUX_DEFAULT there.
    tree.write('/boot/grub/grub.cfg', GRUB_CFG % {'new': OTHER, 'old': RELEASE} + 'set default="1>2"\n')
    assert read(tree, RELEASE).params == [('root', 'UUID=1234'), ('ro', None), ('single', None)]
    # A default that cannot be told may be any entry: told only where a kernel's entries agree.
    tree.write('/boot/grub/grub.cfg', GRUB_CFG % {'new': OTHER, 'old': RELEASE} + 'set default="$x"\n')
    assert read(tree, RELEASE).params is None
    assert read(tree, OTHER).values('module.sig_enforce') == []
    # ...and nothing out of sight may start it: a sourced file, an entry whose image is not told.
    for more in ('source ${config_directory}/custom.cfg\n', "menuentry 'B' {\n  linux $k ro module.sig_enforce=1\n}\n"):
        tree.write('/boot/grub/custom.cfg', "menuentry 'C' {\n  linux /vmlinuz-%s module.sig_enforce=1\n}\n" % OTHER)
        tree.write('/boot/grub/grub.cfg', GRUB_CFG % {'new': OTHER, 'old': RELEASE} + more + 'set default="$x"\n')
        assert read(tree, OTHER).params is None


@pytest.mark.parametrize('other', [
    "menuentry 'A sig' {\n  echo 'Loading'; linux /vmlinuz-%s root=/dev/sda1 ro module.sig_enforce=1\n}\n",
    "menuentry 'A sig' { linux /vmlinuz-%s root=/dev/sda1 ro module.sig_enforce=1; }\n",
    "menuentry 'A sig' {\n  linux \"/vmlinuz-%s\" root=/dev/sda1 ro module.sig_enforce=1\n}\n",
])
def test_entries_that_may_start_the_kernel_as_grub_reads_them(tree: RootTree, other: str) -> None:
    # The default is not told: the second entry, however written, may start the kernel.
    tree.write('/boot/grub/grub.cfg', 'if [ "${grub_platform}" != "pc" ]; then set default=1; fi\n'
               "menuentry 'A' {\n  linux /vmlinuz-%s root=/dev/sda1 ro\n}\n" % RELEASE + other % RELEASE)
    assert read(tree).params is None


def test_a_function_that_boots_ends_the_entry(tree: RootTree) -> None:
    # GRUB boots at the function's boot, with the first linux command's arguments.
    tree.write('/boot/grub/grub.cfg', 'set default=0\nfunction go {\n  boot\n}\n'
               "menuentry 'mine' {\n  linux /vmlinuz-%s root=/dev/sda1 module.sig_enforce=1\n  go\n"
               '  linux /vmlinuz-%s root=/dev/sda1\n}\n' % (RELEASE, RELEASE))
    assert read(tree).params is None


def test_an_os_prober_entry_gives_this_systems_kernel_nothing(tree: RootTree) -> None:
    # Another disk's system with the same release: its arguments are not this kernel's.
    tree.write('/etc/default/grub', 'GRUB_CMDLINE_LINUX="ro"\n')
    tree.write('/boot/grub/grub.cfg', "menuentry 'Other (on /dev/sdb2)' --id 'osprober-gnulinux-simple-2222' {\n"
               "  linux /boot/vmlinuz-%s root=UUID=2222 ro module.sig_enforce=1\n}\n" % RELEASE)
    cmdline = read(tree)
    assert (cmdline.source, cmdline.values('module.sig_enforce')) == ('/etc/default/grub', [])


# Ubuntu's entries hand $vt_handoff to the kernel, which a function of grub.cfg sets.
GFXMODE = """function gfxmode {
  set gfxpayload="${1}"
  if [ "${1}" = "keep" ]; then
    set vt_handoff=vt.handoff=7
  else
    set vt_handoff=
  fi
}
menuentry 'Ubuntu' {
  gfxmode $linux_gfx_mode
  linux /boot/vmlinuz-%s root=UUID=1 ro quiet splash $vt_handoff
}
"""


def test_grub_cfg_variables_grub_cfg_sets(tree: RootTree) -> None:
    tree.write('/boot/grub/grub.cfg', GFXMODE % RELEASE)
    cmdline = read(tree)
    # Either value leaves module.sig_enforce and lockdown alone: only vt.handoff is unsure.
    assert (cmdline.params, cmdline.unsure) == ([('root', 'UUID=1'), ('ro', None), ('quiet', None), ('splash', None)],
                                                frozenset(['vt.handoff']))
    assert cmdline.values('module.sig_enforce') == [] and cmdline.values('vt.handoff') is None
    tree.write('/boot/grub/grub.cfg', (GFXMODE % RELEASE).replace('vt.handoff=7', 'module.sig_enforce=1'))
    assert read(tree).values('module.sig_enforce') is None
    # A custom.cfg that grub.cfg sources may set it too.
    tree.write('/boot/grub/grub.cfg', GFXMODE % RELEASE + 'source ${config_directory}/custom.cfg\n')
    assert read(tree).values('module.sig_enforce') == []
    tree.write('/boot/grub/custom.cfg', 'set vt_handoff=module.sig_enforce=1\n')
    assert read(tree).params is None
    # A function's parameters are not followed.
    tree.write('/boot/grub/grub.cfg', 'function b {\n  linux /vmlinuz-%s root=/dev/sda $1\n}\n' % RELEASE)
    assert read(tree).params is None


@pytest.mark.parametrize(('arguments', 'sig_enforce'), [
    ('ro # module.sig_enforce=1', []),                      # a comment
    ('ro; echo module.sig_enforce=1', []),                  # another command
    ('ro\x0bmodule.sig_enforce=1', None),                   # one word for GRUB, two for the kernel
    ('ro\x1cmodule.sig_enforce=1', []),                     # one word for both
    ("'module.sig_enforce=1'", None),                       # quotes GRUB builds hand on differently
    ('module.sig_enforce\\=1', None),
    ('ro \\', None),                                         # a line that runs on
    ('"quiet\tmodule.sig_enforce=1"', None),
])
def test_a_linux_line_read_as_grub_reads_it(tree: RootTree, arguments: str, sig_enforce: list | None) -> None:
    tree.write('/boot/grub/grub.cfg', "menuentry 'A' {\n  linux /vmlinuz-%s root=/dev/sda %s\n}\n" % (RELEASE, arguments))
    cmdline = read(tree)
    assert (cmdline.values('module.sig_enforce') if cmdline.params is not None else None) == sig_enforce


def test_bls_options_with_a_variable_grub_cfg_sets(tree: RootTree) -> None:
    # RHEL 8: 00_tuned sets $tuned_params, blscfg then reads the entries with it.
    bls(tree, RELEASE, '$kernelopts $tuned_params')
    tree.write('/boot/grub2/grubenv', grubenv(kernelopts='root=/dev/sda1 ro'))
    tree.write('/boot/grub2/grub.cfg', 'load_env\nset tuned_params=""\nblscfg\n')
    cmdline = read(tree)
    assert (cmdline.params, cmdline.unsure) == ([('root', '/dev/sda1'), ('ro', None)], frozenset())


def test_grub_variables_followed_are_bounded(tree: RootTree) -> None:
    # Each variable costs reading grub.cfg: a hostile entry's many are not followed.
    names = ['v%d' % number for number in range(MAX_VARIABLES + 1)]
    tree.write('/boot/grub2/grub.cfg', ''.join('set %s=a\n' % name for name in names) + 'blscfg\n')
    bls(tree, RELEASE, ' '.join('$' + name for name in names[:-1]))
    bls(tree, OTHER, 'ro $%s' % names[-1])
    cache: dict = {}
    assert read_next_boot_cmdline(RootFS(str(tree.root)), RELEASE, tree.warnings.append, cache).params == [('a', None)] * 16
    cmdline = read_next_boot_cmdline(RootFS(str(tree.root)), OTHER, tree.warnings.append, cache)
    assert cmdline.params is None and 'past the 16 followed' in cmdline.problem
    # Fewer through a large grub.cfg: 4 through one of 4 MiB.
    tree.write('/boot/grub2/grub.cfg', ''.join('set %s=a\n' % name for name in names) + '#' * (4 * 1024 * 1024 - 200)
               + '\nblscfg\n')
    assert read(tree).params is None and 'past the 4 followed' in read(tree).problem


def test_default_grub_with_grub_d(tree: RootTree) -> None:
    tree.write('/etc/default/grub', 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX=""\n')
    tree.write('/etc/default/grub.d/50-enforce.cfg',
               'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX module.sig_enforce=1"\n')
    cmdline = read(tree)
    assert cmdline.source == '/etc/default/grub'
    assert cmdline.params == [('module.sig_enforce', '1'), ('quiet', None)]


def test_default_grub_that_needs_shell_logic_is_unknown(tree: RootTree) -> None:
    tree.write('/etc/default/grub', 'GRUB_CMDLINE_LINUX_DEFAULT="quiet"\n'
                                    'if [ -e /x ]; then GRUB_CMDLINE_LINUX="lockdown=integrity"; fi\n')
    assert read(tree).params is None
    tree.write('/etc/default/grub', '. /etc/default/grub.local\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\n')
    assert read(tree).params is None


def test_kernel_install_cmdline(tree: RootTree) -> None:
    tree.write('/etc/kernel/cmdline', 'root=/dev/vda1\nlockdown=integrity\n')
    cmdline = read(tree)
    assert (cmdline.source, cmdline.values('lockdown')) == ('/etc/kernel/cmdline', ['integrity'])


def test_nothing_to_read_is_unknown(tree: RootTree) -> None:
    cmdline = read(tree)
    assert (cmdline.params, cmdline.source) == (None, None)
    assert 'no boot loader configuration' in cmdline.problem
