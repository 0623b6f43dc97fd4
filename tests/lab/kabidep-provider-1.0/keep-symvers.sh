#!/bin/sh
# dkms POST_BUILD (run in the build directory, which dkms removes next): keep Module.symvers in $1.
set -e
cp Module.symvers "$1/Module.symvers"
