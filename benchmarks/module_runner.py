# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a module file the way Ansible's AnsiballZ runs a module on a target, for the timed runs.

    python module_runner.py MODULE_FILE ARGS_JSON

AnsiballZ's loader imports ansible.module_utils.basic before it runs the module's code as
``__main__``; so does this, so what a module does from its first line (dkms_facts holds the cyclic
garbage collector off there) weighs on the same imports as under Ansible. The module reads its
arguments from ARGS_JSON, as AnsibleModule does from a file named on the command line.
"""

from __future__ import annotations

import runpy
import sys

import ansible.module_utils.basic  # noqa: F401  pylint: disable=unused-import


def main() -> None:
    module = sys.argv.pop(1)
    runpy.run_path(module, run_name='__main__')     # its sys.argv: the module file, then ARGS_JSON


if __name__ == '__main__':
    main()
