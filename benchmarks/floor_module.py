# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Ansible floor: an AnsibleModule that returns a saved dkms_facts result and does nothing else.

    python floor_module.py ARGS_JSON     with {"ANSIBLE_MODULE_ARGS": {"result": "FACTS_OUTPUT.json"}}

What every fact module pays for the same answer: the interpreter, ansible.module_utils.basic,
argument parsing, and exit_json's scrubbing and encoding of the same JSON. benchmarks/run.py
times it next to dkms_facts on each tree and checks that it prints what dkms_facts printed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec={'result': {'type': 'path', 'required': True}}, supports_check_mode=True)
    with open(module.params['result']) as stream:
        result = json.load(stream)
    result.pop('invocation', None)  # exit_json adds this module's own
    module.exit_json(**result)


if __name__ == '__main__':
    main()
