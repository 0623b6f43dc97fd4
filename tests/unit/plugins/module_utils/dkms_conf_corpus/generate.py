# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write expected.json: what bash and dkms make of every case in cases.py.

Run by hand after changing the corpus (``python3 generate.py``); never part of the
collection or of the tests. Each case is sourced by bash the way dkms's safe_source does it
(dkms's variables unset, the file sourced in a subshell, each element printed as
``NAME[i]="value"`` by an unquoted echo, the printout sourced again), once as dkms 3.0.10
does (no CR stripping, its variable list) and once as dkms >= 3.1.5 does (one trailing CR
removed), inside a private temporary directory holding the file and a kernel_source_dir with
the corpus's .config, with a minimal environment and the variables dkms sets
(kernelver, arch, kernel_source_dir, kernel_config, dkms_tree, source_tree, install_tree,
module, module_version). Every BUILD_EXCLUSIVE_KERNEL/_ARCH is then matched against the
corpus's releases with bash's own ``=~`` (its status: 0 match, 1 none, 2 invalid).

Paths under the temporary kernel_source_dir are written back as /lib/modules/KERNEL/build,
the directory dkms uses, so the expected values do not depend on where the sandbox was.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cases import ARCH, CASES, KERNEL, KERNEL_CONFIG_TEXT, RELEASES, TREES, VARIABLES  # noqa: E402

# The variables each flavour carries out of the file (dkms's dkms_conf_variables).
OLD_VARIABLES = ('CLEAN PACKAGE_NAME PACKAGE_VERSION POST_ADD POST_BUILD POST_INSTALL POST_REMOVE PRE_BUILD '
                 'PRE_INSTALL BUILD_DEPENDS BUILD_EXCLUSIVE_KERNEL BUILD_EXCLUSIVE_ARCH build_exclude OBSOLETE_BY '
                 'MAKE MAKE_MATCH PATCH PATCH_MATCH patch_array BUILT_MODULE_NAME built_module_name '
                 'BUILT_MODULE_LOCATION built_module_location DEST_MODULE_NAME dest_module_name '
                 'DEST_MODULE_LOCATION dest_module_location STRIP strip AUTOINSTALL NO_WEAK_MODULES')
NEW_VARIABLES = ('PACKAGE_NAME PACKAGE_VERSION POST_ADD POST_BUILD POST_INSTALL POST_REMOVE PRE_BUILD PRE_INSTALL '
                 'BUILD_DEPENDS BUILD_EXCLUSIVE_ARCH BUILD_EXCLUSIVE_CONFIG BUILD_EXCLUSIVE_KERNEL '
                 'BUILD_EXCLUSIVE_KERNEL_MIN BUILD_EXCLUSIVE_KERNEL_MAX build_exclude OBSOLETE_BY MAKE MAKE_MATCH '
                 'PATCH PATCH_MATCH patch_array BUILT_MODULE_NAME built_module_name BUILT_MODULE_LOCATION '
                 'built_module_location DEST_MODULE_NAME dest_module_name DEST_MODULE_LOCATION '
                 'dest_module_location STRIP strip AUTOINSTALL NO_WEAK_MODULES BUILD_DEPENDS_REBUILD CLEAN')

# $1 the conf file, $2 the variable list, $3 1 to strip one trailing CR; the rest: releases.
SANDBOX = r'''
shopt -s extglob    # as dkms sets it, before it sources anything
conf=$1; carried=$2; strip_cr=$3; shift 3
for name in $carried; do unset "$name"; done
printout=$(mktemp ./printout.XXXXXX)
read_like_dkms() {
    local cr=$'\r' n i
    (
        exec >"$printout"
        . "$conf" >/dev/null 2>&1
        for n in $carried; do
            for i in $(eval echo "\${!$n[@]}"); do
                if [ "$strip_cr" = 1 ]; then
                    eval echo "$n[$i]=\\\"\${$n[$i]%\$cr}\\\""
                else
                    eval echo "$n[$i]=\\\"\${$n[$i]}\\\""
                fi
            done
        done
    )
    . "$printout" 2>/dev/null
}
read_like_dkms
for n in ''' + ' '.join(VARIABLES) + r'''; do
    eval 'for i in "${!'"$n"'[@]}"; do printf "var\0%s\0%s\0%s\0" "$n" "$i" "${'"$n"'[i]}"; done'
done
for release in "$@"; do
    if [ -n "$BUILD_EXCLUSIVE_KERNEL" ]; then
        [[ $release =~ $BUILD_EXCLUSIVE_KERNEL ]]; printf "kernel\0%s\0%s\0\0" "$release" "$?"
    fi
    if [ -n "$BUILD_EXCLUSIVE_ARCH" ]; then
        [[ $release =~ $BUILD_EXCLUSIVE_ARCH ]]; printf "arch\0%s\0%s\0\0" "$release" "$?"
    fi
done
'''


def run_case(case: dict, flavour: str) -> dict:
    with tempfile.TemporaryDirectory(prefix='dkms-conf-') as sandbox:
        build = os.path.join(sandbox, 'build')
        os.mkdir(build)
        with open(os.path.join(build, '.config'), 'w') as config:
            config.write(KERNEL_CONFIG_TEXT)
        conf = os.path.join(sandbox, 'dkms.conf')
        with open(conf, 'w', encoding='utf-8', newline='') as handle:
            handle.write(case['text'])
        environment = {'PATH': '/usr/bin:/bin', 'LC_ALL': 'C.UTF-8', 'HOME': '/nonexistent',
                       'kernelver': KERNEL, 'arch': ARCH, 'kernel_source_dir': build,
                       'kernel_config': build + '/.config', 'module': case['name'], 'module_version': case['version']}
        environment.update(TREES)
        carried = OLD_VARIABLES if flavour == 'dkms-3.0.10' else NEW_VARIABLES
        output = subprocess.run(
            ['bash', '--norc', '--noprofile', '-c', SANDBOX, 'sandbox', conf, carried,
             '0' if flavour == 'dkms-3.0.10' else '1'] + list(RELEASES),
            cwd=sandbox, env=environment, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=60,
            check=False).stdout
    fields = output.decode('utf-8', 'surrogateescape').split('\0')
    found = {'variables': {}, 'kernel': {}, 'arch': {}}
    real_build = '/lib/modules/%s/build' % KERNEL
    for start in range(0, len(fields) - 3, 4):
        kind, first, second, value = fields[start:start + 4]
        if kind == 'var':
            found['variables'].setdefault(first, {})[second] = value.replace(build, real_build)
        else:
            found[kind][first] = int(second)  # 0 match, 1 no match, 2 invalid pattern
    return found


def main() -> None:
    expected = {}
    for case in CASES:
        expected[case['name']] = dict((flavour, run_case(case, flavour)) for flavour in ('dkms-3.0.10', 'dkms-3.4'))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'expected.json')
    with open(path, 'w') as handle:
        json.dump(expected, handle, indent=1, sort_keys=True, ensure_ascii=True)
        handle.write('\n')
    print('%d cases written to %s' % (len(expected), path))


if __name__ == '__main__':
    main()
