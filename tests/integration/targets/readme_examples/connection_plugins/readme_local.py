# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local connection under another name, so that ansible.builtin.reboot in check mode reports
what it would do (it refuses the `local` transport outright). Any command that could shut the
machine down is refused, in case a play runs without --check."""

from __future__ import annotations

DOCUMENTATION = r"""
name: readme_local
short_description: The local connection for the README examples' check-mode runs
description:
  - Runs tasks on the controller like ansible.builtin.local, under another transport name.
  - Refuses commands that run shutdown, reboot, poweroff or halt.
author: kabi.dkms developers
options: {}
"""

import re

from ansible.errors import AnsibleError
from ansible.plugins.connection.local import Connection as LocalConnection

POWER_COMMANDS = re.compile(r'\b(shutdown|reboot|poweroff|halt|systemctl\s+(reboot|poweroff|halt))\b')


class Connection(LocalConnection):
    transport = 'readme_local'

    def exec_command(self, cmd, in_data=None, sudoable=True):
        if POWER_COMMANDS.search(cmd if isinstance(cmd, str) else cmd.decode(errors='replace')):
            raise AnsibleError('readme_local refuses to run %r: the examples run in check mode only' % cmd)
        return super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
