# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The dkms.conf corpus: files written in the styles real projects ship, and hostile ones.

Each case: ``name``/``version`` (what dkms is given with -m/-v), ``text``, and the variables a
static read cannot know: ``dynamic`` without a kernel (they use $kernelver, $arch... or the
kernel's .config), ``logic`` even for a known kernel (shell logic, command substitution).
Every other variable must come out exactly as bash and dkms leave it (expected.json, made by
generate.py).
"""

from __future__ import annotations

KERNEL = '6.1.0-47-amd64'
ARCH = 'x86_64'
TREES = {'dkms_tree': '/var/lib/dkms', 'source_tree': '/usr/src', 'install_tree': '/lib/modules'}
# The kernel's .config as the sandbox's $kernel_source_dir/.config holds it.
KERNEL_CONFIG_TEXT = ('CONFIG_X86_64=y\nCONFIG_MODULES=y\nCONFIG_DRM=m\nCONFIG_KALLSYMS_ALL=y\n'
                      'CONFIG_LOCALVERSION=""\n# CONFIG_DEBUG_INFO is not set\nCONFIG_HZ=250\n')
# Releases every BUILD_EXCLUSIVE_KERNEL/ARCH is matched against, by bash and by the reader.
RELEASES = (KERNEL, '5.15.0-100-generic', '5.14.0-427.13.1.el9_4.x86_64', '6.1.0-1-rt-amd64',
            '4.18.0-553.el8_10.x86_64', '6.8.12-rt-amd64', '5.10.0-28-rt-amd64-rt', 'x86_64', 'aarch64')
# The variables compared: what the facts and the exclusion rules are made of.
VARIABLES = ('PACKAGE_NAME', 'PACKAGE_VERSION', 'BUILT_MODULE_NAME', 'BUILT_MODULE_LOCATION', 'DEST_MODULE_NAME',
             'DEST_MODULE_LOCATION', 'AUTOINSTALL', 'NO_WEAK_MODULES', 'BUILD_DEPENDS', 'OBSOLETE_BY', 'MAKE',
             'BUILD_EXCLUSIVE_KERNEL', 'BUILD_EXCLUSIVE_ARCH', 'BUILD_EXCLUSIVE_KERNEL_MIN',
             'BUILD_EXCLUSIVE_KERNEL_MAX', 'BUILD_EXCLUSIVE_CONFIG', 'build_exclude')
# What the cases of one module record that name no other variable assign.
CARRIED_HERE = ('PACKAGE_NAME', 'PACKAGE_VERSION', 'BUILT_MODULE_NAME', 'DEST_MODULE_LOCATION')


def _case(name, text, version='1.0', dynamic=(), logic=()):
    return {'name': name, 'version': version, 'text': text, 'dynamic': sorted(set(dynamic) | set(logic)),
            'logic': sorted(logic)}


def _lttng_modules():
    names = ['lttng-tracer', 'lttng-ring-buffer-client-discard', 'lttng-ring-buffer-client-overwrite',
             'lttng-statedump', 'lttng-probe-sched', 'lttng-probe-irq', 'lttng-probe-block', 'lttng-probe-kvm']
    lines = ['PACKAGE_NAME="lttng-modules"', 'PACKAGE_VERSION="2.13.9"', 'AUTOINSTALL="yes"',
             'MAKE[0]="make -C $kernel_source_dir M=$dkms_tree/$PACKAGE_NAME/$PACKAGE_VERSION/build"',
             'CLEAN="make -C $kernel_source_dir M=$dkms_tree/$PACKAGE_NAME/$PACKAGE_VERSION/build clean"', '',
             '# Only source the kernel configuration when the headers ship one',
             'if [ -f "$kernel_source_dir/.config" ]; then', '    . "$kernel_source_dir/.config"', 'fi', '']
    for index, module in enumerate(names):
        lines += ['BUILT_MODULE_NAME[%d]="%s"' % (index, module),
                  'BUILT_MODULE_LOCATION[%d]="src/"' % index,
                  'DEST_MODULE_LOCATION[%d]="/extra"' % index]
    return '\n'.join(lines) + '\n'


def _many_modules(count):
    lines = ['PACKAGE_NAME=big', 'PACKAGE_VERSION=1', 'AUTOINSTALL=yes']
    for index in range(count):
        lines.append('BUILT_MODULE_NAME[%d]=m%d; DEST_MODULE_LOCATION[%d]=/updates/dkms' % (index, index, index))
    return '\n'.join(lines) + '\n'


CASES = [
    _case('hello', 'PACKAGE_NAME="hello"\nPACKAGE_VERSION="1.0"\nBUILT_MODULE_NAME[0]="hello"\n'
          'DEST_MODULE_LOCATION[0]="/updates/dkms"\nAUTOINSTALL="yes"\n'),
    _case('nvidia', '''PACKAGE_NAME="nvidia"
PACKAGE_VERSION="550.54.14"
AUTOINSTALL="yes"

# By default, DKMS will add KERNELRELEASE to the make command line; however,
# this will cause the kernel module build to infer that it is being built
# as part of the kernel.
MAKE[0]="'make' -j$(nproc) NV_EXCLUDE_BUILD_MODULES='' KERNEL_UNAME=${kernelver} modules"

BUILT_MODULE_NAME[0]="nvidia"
DEST_MODULE_LOCATION[0]="/kernel/drivers/video"
BUILT_MODULE_NAME[1]="nvidia-uvm"
DEST_MODULE_LOCATION[1]="/kernel/drivers/video"
BUILT_MODULE_NAME[2]="nvidia-modeset"
DEST_MODULE_LOCATION[2]="/kernel/drivers/video"
BUILT_MODULE_NAME[3]="nvidia-drm"
DEST_MODULE_LOCATION[3]="/kernel/drivers/video"
BUILT_MODULE_NAME[4]="nvidia-peermem"
DEST_MODULE_LOCATION[4]="/kernel/drivers/video"
''', version='550.54.14', logic=['MAKE']),
    _case('zfs', '''BUILD_DEPENDS[0]="spl"
AUTOINSTALL="yes"
PACKAGE_NAME="zfs"
PACKAGE_VERSION="2.2.4"
PRE_BUILD="configure
  --prefix=/usr
  --with-config=kernel
  --with-linux=$(
    if [ -e "${kernel_source_dir/%build/source}" ]
    then
      echo "${kernel_source_dir/%build/source}"
    else
      echo "${kernel_source_dir}"
    fi
  )
  --with-linux-obj="${kernel_source_dir}"
"
POST_BUILD="scripts/dkms.postbuild
  -n ${PACKAGE_NAME}
  -v ${PACKAGE_VERSION}
  -a ${arch}
  -k ${kernelver}
  -t ${dkms_tree}
"
BUILD_EXCLUSIVE_KERNEL_MIN="4.18"
BUILD_EXCLUSIVE_KERNEL_MAX="6.8"
STRIP[0]="${STRIP_DEBUG_ZFS:-yes}"
BUILT_MODULE_NAME[0]="zfs"
BUILT_MODULE_LOCATION[0]="module/"
DEST_MODULE_LOCATION[0]="/extra"
BUILT_MODULE_NAME[1]="spl"
BUILT_MODULE_LOCATION[1]="module/"
DEST_MODULE_LOCATION[1]="/extra"
''', version='2.2.4'),
    _case('mlnx-ofed', '''PACKAGE_NAME=mlnx-nfsrdma
PACKAGE_VERSION=24.04
kernelver=${kernelver:-$(uname -r)}
kernel_source_dir=${kernel_source_dir:-/lib/modules/$kernelver/build}

BUILT_MODULE_NAME=()
BUILT_MODULE_LOCATION=()
DEST_MODULE_LOCATION=()
BUILT_MODULE_NAME+=("rpcrdma")
BUILT_MODULE_LOCATION+=("rpcrdma")
DEST_MODULE_LOCATION+=("/updates/dkms")
BUILT_MODULE_NAME+=("svcrdma")
BUILT_MODULE_LOCATION+=("rpcrdma")
DEST_MODULE_LOCATION+=("/updates/dkms")
BUILT_MODULE_NAME+=("xprtrdma")
BUILT_MODULE_LOCATION+=("rpcrdma")
DEST_MODULE_LOCATION+=("/updates/dkms")
MAKE="make -j$(nproc) KVER=$kernelver K_BUILD=$kernel_source_dir"
AUTOINSTALL=yes ; NO_WEAK_MODULES=yes
''', version='24.04', logic=['MAKE']),
    _case('v4l2loopback', '''PACKAGE_NAME="v4l2loopback"
PACKAGE_VERSION="0.12.7"

# Items below here should not have to change with each driver version
MAKE[0]="make KERNEL_DIR=${kernel_source_dir} all"
CLEAN="make KERNEL_DIR=${kernel_source_dir} clean"
BUILT_MODULE_NAME[0]="$PACKAGE_NAME"
DEST_MODULE_LOCATION[0]="/extra"
AUTOINSTALL="yes"
''', version='0.12.7', dynamic=['MAKE']),
    _case('jool', '''PACKAGE_NAME="jool"
PACKAGE_VERSION="4.1.11"
BUILT_MODULE_NAME[0]="jool_common"
BUILT_MODULE_NAME[1]="jool"
BUILT_MODULE_NAME[2]="jool_siit"
BUILT_MODULE_LOCATION[0]="src/mod/common"
BUILT_MODULE_LOCATION[1]="src/mod/nat64"
BUILT_MODULE_LOCATION[2]="src/mod/siit"
DEST_MODULE_LOCATION[0]="/extra"
DEST_MODULE_LOCATION[1]="/extra"
DEST_MODULE_LOCATION[2]="/extra"
MAKE[0]="make -C src/mod KERNEL_DIR=${kernel_source_dir}"
CLEAN="make -C src/mod clean KERNEL_DIR=${kernel_source_dir}"
AUTOINSTALL="yes"
''', version='4.1.11', dynamic=['MAKE']),
    _case('realtek-8821cu', '''PACKAGE_NAME="rtl8821cu"
PACKAGE_VERSION="5.12.0.4"
CLEAN="'make' clean"
BUILT_MODULE_NAME[0]=8821cu
PROCS_NUM=`nproc`
[ $PROCS_NUM -gt 16 ] && PROCS_NUM=16
DEST_MODULE_LOCATION[0]="/kernel/drivers/net/wireless"
MAKE="'make' -j$PROCS_NUM KVER=${kernelver} KSRC=/lib/modules/${kernelver}/build"
AUTOINSTALL="yes"
REMAKE_INITRD=no
''', version='5.12.0.4', logic=['MAKE']),
    _case('realtek-88x2bu', '''PACKAGE_NAME="rtl88x2bu"
PACKAGE_VERSION="5.13.1"
BUILT_MODULE_NAME[0]="88x2bu"
DEST_MODULE_LOCATION[0]="/kernel/drivers/net/wireless/"
MAKE="'make' -j$(nproc) KVER=${kernelver} KSRC=/lib/modules/${kernelver}/build"
CLEAN="'make' clean"
AUTOINSTALL="yes"
BUILD_EXCLUSIVE_ARCH="(x86_64|aarch64|armv7l)"
''', version='5.13.1', logic=['MAKE']),
    _case('aws-efa', '''PACKAGE_NAME="efa"
PACKAGE_VERSION="2.10.0"
BUILT_MODULE_NAME[0]="efa"
BUILT_MODULE_LOCATION[0]="build/src/"
DEST_MODULE_LOCATION[0]="/updates"
AUTOINSTALL="yes"
MAKE="./configure.sh --kernel-version=${kernelver} --with-gdr 2>&1 && make -C build"
CLEAN="make -C build clean || true"
NO_WEAK_MODULES="yes"
''', version='2.10.0', dynamic=['MAKE']),
    _case('aws-ena', '''PACKAGE_NAME=ena
PACKAGE_VERSION=2.12.0
CLEAN="make -C kernel/linux/ena clean"
MAKE="BUILD_KERNEL=${kernelver} make -C kernel/linux/ena/ BUILD_KERNEL=${kernelver}"
BUILT_MODULE_NAME[0]="ena"
BUILT_MODULE_LOCATION="kernel/linux/ena"
DEST_MODULE_LOCATION[0]="/updates"
DEST_MODULE_NAME[0]="ena"
REMAKE_INITRD="yes"
AUTOINSTALL="yes"
''', version='2.12.0', dynamic=['MAKE']),
    _case('lttng-modules', _lttng_modules(), version='2.13.9', dynamic=['MAKE']),
    _case('conditional-on-kernelver', '''PACKAGE_NAME=ixgbe
PACKAGE_VERSION=5.19.9
BUILT_MODULE_NAME[0]=ixgbe
DEST_MODULE_LOCATION[0]=/updates
AUTOINSTALL=yes
if [[ $kernelver == 5.* ]]; then
    BUILT_MODULE_NAME[1]=ixgbe_compat
    DEST_MODULE_LOCATION[1]=/updates
fi
''', version='5.19.9', logic=['BUILT_MODULE_NAME', 'DEST_MODULE_LOCATION']),
    _case('case-on-kernelver', '''PACKAGE_NAME="r8168"
PACKAGE_VERSION="8.053.00"
BUILT_MODULE_NAME[0]="$PACKAGE_NAME"
DEST_MODULE_LOCATION[0]="/updates/dkms"
case "$kernelver" in
  4.*|5.[0-9].*) BUILD_EXCLUSIVE_KERNEL="^4\\." ;;
  *) ;;
esac
AUTOINSTALL="yes"
''', version='8.053.00', logic=['BUILD_EXCLUSIVE_KERNEL']),
    _case('function-loop-over-headers', '''PACKAGE_NAME="broadcom-sta"
PACKAGE_VERSION="6.30.223.271"
list_modules() {
    for f in src/*.h; do
        BUILT_MODULE_NAME[${#BUILT_MODULE_NAME[@]}]=$(basename "$f" .h)
    done
}
list_modules
DEST_MODULE_LOCATION[0]="/updates"
AUTOINSTALL="yes"
''', version='6.30.223.271', logic=['BUILT_MODULE_NAME']),
    _case('value-from-header', '''PACKAGE_NAME="xtrx"
PACKAGE_VERSION="$(grep -m1 VERSION version.h | cut -d'"' -f2)"
BUILT_MODULE_NAME[0]="xtrx"
DEST_MODULE_LOCATION[0]="/updates"
AUTOINSTALL=yes
''', logic=['PACKAGE_VERSION']),
    _case('template-unprocessed', '''PACKAGE_NAME="@PKGNAME@"
PACKAGE_VERSION="@PKGVER@"
BUILT_MODULE_NAME[0]="@MODNAME@"
DEST_MODULE_LOCATION[0]="/updates"
AUTOINSTALL="@AUTOINSTALL@"
'''),
    _case('template-hash', 'PACKAGE_NAME=#MODULE_NAME#\nPACKAGE_VERSION=#MODULE_VERSION#\nAUTOINSTALL=yes\n'),
    _case('empty', ''),
    _case('comments-only', '# dkms.conf for nothing yet\n\n   # indented comment\n'),
    _case('crlf-plain', 'PACKAGE_NAME="hello"\r\nPACKAGE_VERSION="1.0"\r\nBUILT_MODULE_NAME[0]="hello"\r\n'
          'DEST_MODULE_LOCATION[0]="/updates"\r\nAUTOINSTALL="yes"\r\n'),
    _case('crlf-with-logic', 'PACKAGE_NAME=hello\r\nPACKAGE_VERSION=1.0\r\nAUTOINSTALL=yes\r\n'
          'if [ -n "$kernelver" ]; then\r\n  BUILT_MODULE_NAME[0]=hello\r\nfi\r\nDEST_MODULE_LOCATION[0]=/updates\r\n'),
    _case('bom', '\ufeffPACKAGE_NAME="hello"\nPACKAGE_VERSION="1.0"\nBUILT_MODULE_NAME[0]="hello"\n'
          'DEST_MODULE_LOCATION[0]="/updates"\nAUTOINSTALL="yes"\n'),
    _case('semicolons', 'PACKAGE_NAME=multi; PACKAGE_VERSION=2.0; AUTOINSTALL=yes ; NO_WEAK_MODULES=yes\n'
          'BUILT_MODULE_NAME[0]=a;DEST_MODULE_LOCATION[0]=/extra;BUILT_MODULE_NAME[1]=b;DEST_MODULE_LOCATION[1]=/extra\n',
          version='2.0'),
    _case('literal-dollar-regex', '''PACKAGE_NAME="kmod-rt"
PACKAGE_VERSION="1.2"
BUILT_MODULE_NAME[0]="kmod_rt"
DEST_MODULE_LOCATION[0]="/extra"
BUILD_EXCLUSIVE_KERNEL="^(5\\.|6\\.[0-4])($|[.-])"
BUILD_EXCLUSIVE_ARCH="^(x86_64|aarch64)$"
AUTOINSTALL=yes
''', version='1.2'),
    _case('rt-only', 'PACKAGE_NAME=rtonly\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME[0]=rtonly\n'
          'DEST_MODULE_LOCATION[0]=/updates\nBUILD_EXCLUSIVE_KERNEL=".*-rt.*"\nAUTOINSTALL=yes\n', version='1'),
    _case('redos-kernel-regex', 'PACKAGE_NAME=slow\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME[0]=slow\n'
          'DEST_MODULE_LOCATION[0]=/updates\nBUILD_EXCLUSIVE_KERNEL="^(.+)+-rt$"\nAUTOINSTALL=yes\n', version='1'),
    _case('invalid-regex', 'PACKAGE_NAME=bad\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME[0]=bad\n'
          'DEST_MODULE_LOCATION[0]=/updates\nBUILD_EXCLUSIVE_KERNEL="(^5\\\\.|^6\\\\."\nAUTOINSTALL=yes\n', version='1'),
    _case('autoinstall-variants', 'PACKAGE_NAME=flags\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME[0]=flags\n'
          'DEST_MODULE_LOCATION[0]=/updates\nAUTOINSTALL=Y\nNO_WEAK_MODULES=true\n', version='1'),
    _case('autoinstall-no', 'PACKAGE_NAME=off\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME[0]=off\n'
          'DEST_MODULE_LOCATION[0]=/updates\nAUTOINSTALL="no"\n', version='1'),
    _case('ko-suffix-and-bad-location', 'PACKAGE_NAME=sloppy\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME[0]=sloppy.ko\n'
          'DEST_MODULE_LOCATION[0]=/lib/firmware\nAUTOINSTALL=yes\n', version='1'),
    _case('sparse-indices', 'PACKAGE_NAME=sparse\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME[0]=a\nBUILT_MODULE_NAME[3]=d\n'
          'DEST_MODULE_LOCATION[0]=/extra\nDEST_MODULE_LOCATION[3]=/extra\nDEST_MODULE_NAME[3]=z\n', version='1'),
    _case('default-module-name', 'PACKAGE_NAME=solo\nPACKAGE_VERSION=1\nDEST_MODULE_LOCATION[0]=/updates\n'
          'AUTOINSTALL=yes\n', version='1'),
    _case('array-literals', '''PACKAGE_NAME=arrays
PACKAGE_VERSION=3
BUILT_MODULE_NAME=(
    core   # the core
    "net drv"
    'usb'
)
DEST_MODULE_NAME=([1]=netdrv)
DEST_MODULE_LOCATION=(/updates{,,} )
BUILD_DEPENDS=("arrays-common" helper)
''', version='3', logic=['DEST_MODULE_LOCATION']),
    _case('quoting-and-escapes', '''PACKAGE_NAME=quote\\s
PACKAGE_VERSION='1.0'"-"1
BUILT_MODULE_NAME[0]=$'tab\\tname'
DEST_MODULE_LOCATION[0]="/updates/\\$HOME"
MAKE[0]="make CFLAGS=\\"-O2  -g\\" V=1"
OBSOLETE_BY='6.10'
AUTOINSTALL=yes
''', version='1.0-1', logic=['DEST_MODULE_LOCATION']),  # $HOME; MAKE's quote ends the re-read's assignment early
    # dkms sources its printout whole: a quote or a backslash a value leaves open runs on into the lines after it.
    _case('reread-open-quote', '''PACKAGE_NAME=open
PACKAGE_VERSION=1
PRE_BUILD='configure.sh --msg="hi'
BUILT_MODULE_NAME[0]=open
DEST_MODULE_LOCATION[0]=/updates
AUTOINSTALL=yes
''', version='1'),
    _case('reread-trailing-backslash', '''PACKAGE_NAME=slash
PACKAGE_VERSION=1
BUILT_MODULE_NAME[0]=slash
BUILT_MODULE_LOCATION[0]='src\\'
DEST_MODULE_LOCATION[0]=/updates
AUTOINSTALL=yes
''', version='1'),
    # A function named like a command dkms prints the variables with, or another IFS, changes the printout.
    _case('printing-echo-function', 'PACKAGE_NAME=fn\nPACKAGE_VERSION=1\necho() { :; }\nBUILT_MODULE_NAME[0]=fn\n'
          'DEST_MODULE_LOCATION[0]=/updates\n', version='1', logic=CARRIED_HERE),
    _case('readonly-assigned', 'PACKAGE_NAME=ro\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME[0]=ro\nDEST_MODULE_LOCATION[0]=/updates\n'
          'readonly AUTOINSTALL=yes\nAUTOINSTALL=yes\n', version='1', logic=VARIABLES),
    _case('printing-ifs', "PACKAGE_NAME=ifs\nPACKAGE_VERSION=1\nIFS=$'\\n'\nBUILT_MODULE_NAME=(a b)\n"
          'DEST_MODULE_LOCATION=(/updates /updates)\n', version='1', logic=CARRIED_HERE),
    _case('expansions', '''PACKAGE_NAME=exp
PACKAGE_VERSION=1
base=exp_core
BUILT_MODULE_NAME[0]="${base}"
BUILT_MODULE_NAME[1]=${base}_ext
BUILT_MODULE_NAME[2]="$PACKAGE_NAME"2
DEST_MODULE_LOCATION[0]="/updates/$module_version"
DEST_MODULE_LOCATION[1]=/updates/${PACKAGE_VERSION}
DEST_MODULE_LOCATION[2]="${DEST_MODULE_LOCATION[1]}"
MAKE[0]="make -C ${kernel_source_dir} M=${dkms_tree}/${PACKAGE_NAME}/${PACKAGE_VERSION}/build ARCH=$arch"
''', version='1', dynamic=['MAKE']),
    _case('single-quoted-kernelver', '''PACKAGE_NAME=reread
PACKAGE_VERSION=1
BUILT_MODULE_NAME[0]=reread
DEST_MODULE_LOCATION[0]=/updates
BUILD_EXCLUSIVE_KERNEL='^$kernelver$'
''', version='1', dynamic=['BUILD_EXCLUSIVE_KERNEL']),
    _case('blank-runs-collapse', 'PACKAGE_NAME=blanks\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME[0]=blanks\n'
          'DEST_MODULE_LOCATION[0]=/updates\nBUILD_EXCLUSIVE_CONFIG="  CONFIG_DRM   !CONFIG_DEBUG_INFO  "\n'
          'MAKE[0]="make\tV=1\n  all"\n', version='1'),
    _case('source-other-file', '''PACKAGE_NAME=sourcer
PACKAGE_VERSION=1
AUTOINSTALL=yes
. ./common.conf
BUILT_MODULE_NAME[0]=sourcer
DEST_MODULE_LOCATION[0]=/updates
''', version='1', logic=VARIABLES),  # after `.` of any file, any variable not set again is unknown
    _case('config-sourced-and-used', '''PACKAGE_NAME=cfg
PACKAGE_VERSION=1
. "$kernel_source_dir/.config"
BUILT_MODULE_NAME[0]=cfg
DEST_MODULE_LOCATION[0]=/updates
MAKE[0]="make HZ=$CONFIG_HZ DRM=${CONFIG_DRM}"
BUILD_EXCLUSIVE_CONFIG="CONFIG_MODULES"
AUTOINSTALL=yes
''', version='1', dynamic=['MAKE']),
    # The headers' .config, else the kernel package's copy in /boot (lttng-modules' way): either
    # is the kernel's config, so nothing else the file sets is lost.
    _case('config-from-boot-without-headers', '''PACKAGE_NAME=bootcfg
PACKAGE_VERSION=1
AUTOINSTALL=yes
HAVE_CONFIG=no
if [ -f "$kernel_source_dir/.config" ]; then
    . "$kernel_source_dir/.config"
    HAVE_CONFIG=yes
elif [ -f /boot/config-$kernelver ]; then
    . /boot/config-$kernelver
    HAVE_CONFIG=yes
fi
BUILT_MODULE_NAME[0]=bootcfg
DEST_MODULE_LOCATION[0]=/updates
BUILD_EXCLUSIVE_KERNEL="^6\\."
''', version='1'),
    _case('config-from-boot', '''PACKAGE_NAME=bootcfg2
PACKAGE_VERSION=1
NO_WEAK_MODULES=yes
. "/boot/config-${kernelver}"
BUILT_MODULE_NAME[0]=bootcfg2
DEST_MODULE_LOCATION[0]=/updates
''', version='1'),
    # bash 5.2 reads a command substitution with its line: a syntax error in it ends the sourcing
    # subshell, and dkms gets nothing; bash before 5.2 only fails the substitution.
    _case('substitution-syntax-error', '''PACKAGE_NAME=comsub
PACKAGE_VERSION=1
BUILT_MODULE_NAME[0]=comsub
DEST_MODULE_LOCATION[0]=/updates
AUTOINSTALL=yes
PRE_BUILD="configure --with-linux=$(if [ -d /usr/src ]; then )"
''', version='1', logic=VARIABLES),
    # A compound command's part must hold a command: bash stops at an empty one, as at any syntax error.
    _case('empty-then', '''PACKAGE_NAME=emptythen
PACKAGE_VERSION=1
BUILT_MODULE_NAME[0]=emptythen
DEST_MODULE_LOCATION[0]=/updates
if [ -n "$kernelver" ]; then
    # nothing to do here
fi
AUTOINSTALL=yes
''', version='1'),
    # What bash accepts around compound commands, and where it stops (helper 60's red team).
    _case('compound-forms', '''PACKAGE_NAME=forms
PACKAGE_VERSION=1
( for name in a b; { :; } )
for name in a b
do
    :
done
if [ -d /nonexistent ]; then { :; } fi 2>/dev/null
f() ( : )
BUILT_MODULE_NAME[0]=forms
DEST_MODULE_LOCATION[0]=/updates
AUTOINSTALL=yes
''', version='1'),
    _case('empty-command', '''PACKAGE_NAME=emptycmd
PACKAGE_VERSION=1
BUILT_MODULE_NAME[0]=emptycmd
DEST_MODULE_LOCATION[0]=/updates
if [ -n "$kernelver" ]; then ; fi
AUTOINSTALL=yes
''', version='1'),
    _case('word-after-subshell', '''PACKAGE_NAME=wordafter
PACKAGE_VERSION=1
BUILT_MODULE_NAME[0]=wordafter
DEST_MODULE_LOCATION[0]=/updates
( : ) extra
AUTOINSTALL=yes
''', version='1'),
    # The text ends inside a command substitution: bash keeps every line before, as at any end.
    _case('unterminated-substitution', '''PACKAGE_NAME=unterminated
PACKAGE_VERSION=1
BUILT_MODULE_NAME[0]=unterminated
DEST_MODULE_LOCATION[0]=/updates
AUTOINSTALL=yes
MAKE[0]="make $(echo all
''', version='1'),
    # The status of a compound command is its last run command's, and of `a && b` with a not
    # known, a's when b did not run: neither is the last command read.
    _case('status-of-branches', '''PACKAGE_NAME=status
PACKAGE_VERSION=1
BUILT_MODULE_NAME[0]=status
DEST_MODULE_LOCATION[0]=/updates
if [ -d /usr ]; then false; else true; fi && AUTOINSTALL=yes
[ -d /usr ] && true || NO_WEAK_MODULES=yes
''', version='1', logic=['AUTOINSTALL', 'NO_WEAK_MODULES']),
    _case('and-or-lists', '''PACKAGE_NAME=andor
PACKAGE_VERSION=1
BUILT_MODULE_NAME[0]=andor && DEST_MODULE_LOCATION[0]=/updates
[ -d /nonexistent ] && AUTOINSTALL=no || AUTOINSTALL=yes
true || NO_WEAK_MODULES=yes
''', version='1', logic=['AUTOINSTALL']),
    _case('heredoc-and-subshell', '''PACKAGE_NAME=heredoc
PACKAGE_VERSION=1
cat > /dev/null <<EOF
BUILT_MODULE_NAME[0]=wrong
EOF
( AUTOINSTALL=no )
BUILT_MODULE_NAME[0]=heredoc
DEST_MODULE_LOCATION[0]=/updates
AUTOINSTALL=yes
echo "AUTOINSTALL=no" | while read line; do AUTOINSTALL=maybe; done
''', version='1'),
    _case('early-return', '''PACKAGE_NAME=early
PACKAGE_VERSION=1
BUILT_MODULE_NAME[0]=early
DEST_MODULE_LOCATION[0]=/updates
return 0
AUTOINSTALL=yes
''', version='1'),
    _case('syntax-error-midway', '''PACKAGE_NAME=broken
PACKAGE_VERSION=1
BUILT_MODULE_NAME[0]=broken
if [ -n "$kernelver" ]; then
DEST_MODULE_LOCATION[0]=/updates
AUTOINSTALL=yes
''', version='1'),
    _case('unterminated-quote', 'PACKAGE_NAME=open\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME[0]="open\n'
          'DEST_MODULE_LOCATION[0]=/updates\nAUTOINSTALL=yes\n', version='1'),
    _case('obsolete-by', 'PACKAGE_NAME=old\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME[0]=old\n'
          'DEST_MODULE_LOCATION[0]=/updates\nOBSOLETE_BY="5.15"\nAUTOINSTALL=yes\n', version='1'),
    _case('many-modules', _many_modules(60), version='1'),
    _case('hostile-command-substitution', '''PACKAGE_NAME="canary"
PACKAGE_VERSION="1.0"
BUILT_MODULE_NAME[0]="$(echo evil)"
DEST_MODULE_NAME[0]=`echo evil`
DEST_MODULE_LOCATION[0]=/updates
AUTOINSTALL=$(echo yes)
''', logic=['BUILT_MODULE_NAME', 'DEST_MODULE_NAME', 'AUTOINSTALL']),
    _case('hostile-eval', 'PACKAGE_NAME=ev\nPACKAGE_VERSION=1\neval "AUTOINSTALL=yes"\nBUILT_MODULE_NAME[0]=ev\n'
          'DEST_MODULE_LOCATION[0]=/updates\n', version='1', logic=VARIABLES),
    _case('hostile-a-brackets', 'PACKAGE_NAME=brackets\nPACKAGE_VERSION=1\n' + ('a[' * 150000) + '\nAUTOINSTALL=yes\n',
          version='1'),
    _case('hostile-huge-line', 'PACKAGE_NAME=huge\nPACKAGE_VERSION=1\nPOST_BUILD="' + 'x $y ' * 60000 + '"\n'
          'BUILT_MODULE_NAME[0]=huge\nDEST_MODULE_LOCATION[0]=/updates\n', version='1'),
    # bash reads a command substitution with its whole grammar: a case pattern's ) or a quote in a
    # here-document inside one does not end it. dkms sets extglob before it sources the file.
    _case('substitution-grammar', '''PACKAGE_NAME=grammar
PACKAGE_VERSION=1
FLAVOR=$(case "$kernelver" in 5.*) echo old;; *) echo new;; esac)
DESC=$(cat <<'XX'
it's a driver (see ")")
XX
)
case "$kernelver" in @(5|6).*) EXTRA=new ;; esac
MAKE[0]=make-@(a|b)
while read -r l; do :; done < <(echo hi)
BUILT_MODULE_NAME[0]=grammar
DEST_MODULE_LOCATION[0]=/updates
AUTOINSTALL=yes
''', version='1'),
    _case('hostile-nesting', 'PACKAGE_NAME=nest\nPACKAGE_VERSION=1\nAUTOINSTALL="' + '$(' * 200 + 'true' + ')' * 200 + '"\n'
          'BUILT_MODULE_NAME[0]=nest\nDEST_MODULE_LOCATION[0]=/updates\n', version='1', logic=['AUTOINSTALL']),
    # Tests of the kernel's release and config, as Debian 12's nvidia-tesla-470 and zfs ship them.
    _case('nvidia-tesla-rt', '''PACKAGE_NAME="nvidia-tesla-470"
PACKAGE_VERSION="470.256.02"

# The NVIDIA driver does not support real-time kernels.
# Can't easily set this via BUILD_EXCLUSIVE.
[[ "$kernelver" =~ "-rt-" ]] && build_exclude="yes"

AUTOINSTALL=yes
BUILT_MODULE_NAME[0]="nvidia"
DEST_MODULE_NAME[0]="$PACKAGE_NAME"
DEST_MODULE_LOCATION[0]="/updates/dkms"
''', version='470.256.02', dynamic=['build_exclude']),
    _case('kernel-tests', '''PACKAGE_NAME=tests
PACKAGE_VERSION=1
[[ $kernelver =~ ^6[.]1[.] ]] && build_exclude=yes
if [ "$kernelver" = "5.15.0-100-generic" ]; then
    BUILD_EXCLUSIVE_KERNEL="^5"
elif [[ $kernelver == "$kernelver" && -n $arch ]]; then
    BUILD_EXCLUSIVE_ARCH="unknown-here"
elif test -n "$arch"; then
    BUILD_EXCLUSIVE_KERNEL_MIN="6.0"
else
    BUILD_EXCLUSIVE_KERNEL_MAX="7.0"
fi
. "$kernel_source_dir/.config"
[ ! -z "$CONFIG_DRM" ] || OBSOLETE_BY=9
if [ "$CONFIG_DRM" = m ]; then BUILT_MODULE_NAME[0]=drm-helper; else BUILT_MODULE_NAME[0]=helper; fi
[ "$CONFIG_HZ" -ge 300 ] && AUTOINSTALL=no || AUTOINSTALL=yes
DEST_MODULE_LOCATION[0]=/updates
''', version='1',
          dynamic=['build_exclude', 'BUILD_EXCLUSIVE_KERNEL', 'BUILD_EXCLUSIVE_KERNEL_MIN', 'BUILD_EXCLUSIVE_KERNEL_MAX',
                   'BUILT_MODULE_NAME', 'AUTOINSTALL', 'OBSOLETE_BY'],
          logic=['BUILD_EXCLUSIVE_ARCH', 'BUILD_EXCLUSIVE_KERNEL_MIN']),  # the else never runs
    # The file system is not read: whether the headers have a .config, and whether /nonexistent
    # exists, are not known here.
    _case('zfs-preempt-rt', '''PACKAGE_NAME="zfs"
PACKAGE_VERSION="2.1.11"
PACKAGE_CONFIG="/etc/dkms/zfs.conf"
NO_WEAK_MODULES="yes"
if [ -f $kernel_source_dir/.config ]; then
    . $kernel_source_dir/.config
    if [ "$CONFIG_PREEMPT_RT" = "y" ]; then
        BUILD_EXCLUSIVE_KERNEL="NOT ON PREEMPT_RT"
    fi
    if [ "$CONFIG_HZ" = "250" ]; then
        BUILD_EXCLUSIVE_ARCH="x86_64"
    fi
fi
if [[ -e /nonexistent/dkms ]]; then OBSOLETE_BY=1; fi
AUTOINSTALL="yes"
BUILT_MODULE_NAME[0]="zfs"
DEST_MODULE_LOCATION[0]="/extra"
''', version='2.1.11', logic=['BUILD_EXCLUSIVE_KERNEL', 'BUILD_EXCLUSIVE_ARCH', 'OBSOLETE_BY']),
    _case('reread-quote', 'PACKAGE_NAME=rq\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME[0]=rq\nDEST_MODULE_LOCATION[0]=/updates\n'
          'BUILD_EXCLUSIVE_ARCH=\'x86_64\\"\'\nMAKE[0]=\'make \\$(pwd)\'\n', version='1'),
]
