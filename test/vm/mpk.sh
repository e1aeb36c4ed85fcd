#!/bin/sh
# The compartment tests, cohost and the SQLite split in mpk mode, on a
# machine whose CPU may lack protection keys: they run inside a small
# virtual machine (QEMU's emulated "max" CPU has PKU; the kernel is
# Debian's) whose only file system is an initramfs holding the build, the
# shared libraries it needs and busybox.  Functional only: times measured
# under emulation mean nothing.
#
# Usage: test/vm/mpk.sh BUILD_DIR [count]
# With count: instead of the tests, the empty-call benchmark on one
# emulated CPU under QEMU's -icount shift=0, where the guest's clock
# advances 1 ns per instruction executed: its "ns per call" are then
# instructions per call, a figure that does not depend on the host (the
# cost of an instruction, WRPKRU above all, does).
# Needs: qemu-system-x86_64, a static busybox, cpio, gzip; a kernel image
# ($MPK_VM_KERNEL, else one fetched once with apt-get download into
# BUILD_DIR/vm).  Exits 0 if everything passed, 77 if the tools are
# missing (said why), 1 otherwise.
set -eu
build=$(cd "${1:?usage: mpk.sh BUILD_DIR [count]}" && pwd)
what=${2:-tests}
case $what in tests|count) ;; *) echo "usage: mpk.sh BUILD_DIR [count]"; exit 2 ;; esac
src=$(cd "$(dirname "$0")/../.." && pwd)
vm=$build/vm
timeout=${MPK_VM_TIMEOUT:-900}

missing=
for tool in qemu-system-x86_64 cpio gzip; do
	command -v $tool >/dev/null || missing="$missing $tool"
done
# The initramfs has no libraries for busybox: it must be the static one.
busybox=$(command -v busybox || true)
[ -n "$busybox" ] && ldd "$busybox" >/dev/null 2>&1 && busybox=
[ -z "$busybox" ] && missing="$missing busybox(static)"
if [ -n "$missing" ]; then
	echo "mpk VM: skipped: missing$missing" \
	    "(Debian: apt-get install qemu-system-x86 busybox-static cpio)"
	exit 77
fi

mkdir -p "$vm"
kernel=${MPK_VM_KERNEL:-}
if [ -z "$kernel" ]; then
	kernel=$vm/vmlinuz
	if [ ! -s "$kernel" ]; then
		echo "mpk VM: fetching Debian's kernel (apt-get download)"
		pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
		    awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
		[ -n "$pkg" ] || { echo "mpk VM: no linux-image-amd64 known to apt"; exit 1; }
		rm -rf "$vm/deb" && mkdir -p "$vm/deb"
		(cd "$vm/deb" && apt-get download -q "$pkg" >/dev/null 2>&1) ||
		    { echo "mpk VM: apt-get download $pkg failed"; exit 1; }
		dpkg-deb -x "$vm/deb"/*.deb "$vm/deb/root"
		cp "$vm/deb/root"/boot/vmlinuz-* "$kernel"
		rm -rf "$vm/deb"
	fi
fi

# The root: the build where it was (the programs find their libraries
# relative to themselves), every shared library the build loads, busybox.
root=$vm/root
rm -rf "$root"
mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/tmp" \
    "$root$build" "$root$src/test"
cp "$busybox" "$root/bin/busybox"
for d in lib tools test bench; do
	[ -d "$build/$d" ] && cp -a "$build/$d" "$root$build/"
done
cp "$src/test/runtests.sh" "$root$src/test/"
# (SQLite, which bench/compart loads by name, with what it needs: libm.)
sqlite=/lib/x86_64-linux-gnu/libsqlite3.so.0
libs=$({ find "$build/lib" "$build/tools" "$build/test" "$build/bench" -type f \
    \( -perm -u+x -o -name '*.so*' \); [ -e $sqlite ] && echo $sqlite; } |
    xargs -n 1 ldd 2>/dev/null |
    awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\/.*ld-linux/ { print $1 }' |
    sort -u)
# What bench/cmp loads by name into a compartment; ld.so itself, which
# every namespace's libc needs, also where dlmopen searches.
for l in $libs /lib/x86_64-linux-gnu/libsqlite3.so.0 \
    /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2; do
	[ -e "$l" ] || continue
	mkdir -p "$root$(dirname "$l")"
	cp -L "$l" "$root$l"
done

cat >"$root/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/shm /tmp
mount -t tmpfs shm /dev/shm
cd $build
run() {	# run WHAT COMMAND...
	what=\$1
	shift
	echo "== \$what: \$*"
	"\$@" || failed="\$failed \$what"
}
failed=
if ! tools/check-mpk; then
	failed=" check-mpk"
elif [ $what = count ]; then
	echo "== instructions per call (QEMU -icount: 1 ns = 1 instruction)"
	run bench bench/compart -q -n 200 -r 3
else
	run tests sh $src/test/runtests.sh test \$(cd test && ls | grep '^compart_')
	echo "== cohost -m mpk: 18 arguments, 10 of them on the stack"
	out=\$(tools/cohost -m mpk test/compart/cmp_a.so many 1 2 3 4 5 6 7 8 \\
	    0.5 1.5 2.5 3.5 4.5 5.5 6.5 7.5 8.5 9.5)
	echo "\$out"
	[ "\$out" = 561.5 ] || failed="\$failed cohost"
	run bench bench/compart -q -n 500 -r 1
fi
echo "MPK-VM-RESULT:\${failed:- ok}"
poweroff -f
EOF
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$vm/initrd.gz"
rm -rf "$root"

echo "mpk VM: booting ($(du -h "$vm/initrd.gz" | cut -f1) initramfs; QEMU emulation, a few minutes)"
log=$vm/console.log
cpus="-smp 2"
[ $what = count ] && cpus="-smp 1 -icount shift=0"
timeout "$timeout" qemu-system-x86_64 -cpu max $cpus -m 2048 -nographic -nic none \
    -no-reboot -kernel "$kernel" -initrd "$vm/initrd.gz" \
    -append "console=ttyS0 quiet panic=-1" </dev/null >"$log" 2>&1 || true
# What the VM printed from its first program on (the console's escape
# sequences before it and the kernel's power-down message after it cut).
tr -d '\r' <"$log" | sed -e 's/^.*check-mpk:/check-mpk:/' |
    sed -n '/^check-mpk:/,/^MPK-VM-RESULT/p'
result=$(tr -d '\r' <"$log" | sed -n 's/^MPK-VM-RESULT://p')
case $result in
" ok")	echo "mpk VM: all passed"; exit 0 ;;
"")	echo "mpk VM: no result (timed out after ${timeout}s or did not boot):"
	tail -n 30 "$log"; exit 1 ;;
*)	echo "mpk VM: failed:$result"; exit 1 ;;
esac
