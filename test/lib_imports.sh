#!/bin/sh
# libcomsg makes its system calls itself (src/lib/sys.c): it imports none
# of libc's system-call wrappers, which a preloaded library could replace
# with one that calls comsg back in the middle of a call.
set -u
here=$(cd "$(dirname "$0")" && pwd)
lib=$here/../lib/libcomsg.so
[ -f "$lib" ] || { echo "libcomsg.so not built"; exit 1; }
command -v nm >/dev/null 2>&1 || { echo "nm not found (binutils)"; exit 77; }
wrappers='socket socketpair connect bind listen accept accept4 sendmsg
recvmsg send recv sendto recvfrom getsockopt setsockopt shutdown ioctl
poll ppoll select close read write readv writev fcntl fcntl64 fstat
fstat64 fstatat fstatat64 lstat lstat64 open open64 openat openat64
unlink unlinkat mkdir mkdirat chmod fchmod flock pipe pipe2 eventfd
memfd_create ftruncate ftruncate64 mmap mmap64 munmap mprotect kill
waitpid wait4 nanosleep clock_gettime clock_nanosleep dup dup2 dup3'
imports=$(nm -D --undefined-only "$lib" | awk '{ sub(/@.*/, "", $2); print $2 }')
bad=
for w in $wrappers; do
	for i in $imports; do
		[ "$i" = "$w" ] && bad="$bad $w"
	done
done
if [ -n "$bad" ]; then
	echo "libcomsg.so calls libc's wrappers of:$bad (use src/lib/sys.h)"
	exit 1
fi
echo "ok: no system-call wrapper of libc imported"
