#!/bin/sh
# libcompart's files call each other one way: the interface of each is
# declared in src/compart/internal.h after those of the files it calls
# (its "/* ---- file.c ... ---- */" lines, bottom up; the files of one
# line are one mechanism).  Checked on the objects: a declared file's
# undefined symbols are defined only by files declared before it or on
# its line; never by the API on top (the files declared nowhere).
set -u
top=@TOP@
here=$(cd "$(dirname "$0")" && pwd)
objs=$here/../compart
hdr=$top/src/compart/internal.h
[ -f "$hdr" ] || { echo "no source tree at $top"; exit 77; }
[ -f "$objs/table.o" ] || { echo "libcompart not built"; exit 1; }
command -v nm >/dev/null 2>&1 || { echo "nm not found (binutils)"; exit 77; }
for o in "$objs"/*.o; do
	f=$(basename "$o" .o)
	[ "$f" = proc_main ] && continue	# the program, not the library
	nm "$o" | awk -v f="$f" '
	    $2 ~ /^[TDBRV]$/ { print "D", f, $3 }
	    $1 == "U" { print "U", f, $2 }'
done | awk '
# internal.h first: the rank of each file is the line declaring it
FNR == NR {
	if ($0 !~ /^\/\* ---- .* ---- \*\/$/)
		next
	for (i = 3; i <= NF; i++) {
		w = $i
		sub(/[,:]$/, "", w)
		if (w ~ /^[a-z_]+\.[cS]$/) {
			sub(/\.[cS]$/, "", w)
			rank[w] = FNR
			nr++
		}
	}
	next
}
$1 == "D" { def[$3] = $2; next }
{ use[++nu] = $2 " " $3 }
END {
	if (nr == 0) {
		print "no \"/* ---- file.c ---- */\" lines in internal.h"
		exit 1
	}
	bad = 0
	for (i = 1; i <= nu; i++) {
		split(use[i], u, " ")
		f = u[1]; s = u[2]
		if (!(s in def) || !(f in rank))
			continue
		g = def[s]
		if (!(g in rank))
			printf "%s calls %s of %s, the API on top\n", f, s, g
		else if (rank[g] > rank[f])
			printf "%s calls %s of %s, declared after it\n", f, s, g
		else
			continue
		bad++
	}
	if (bad)
		exit 1
	print "ok: libcompart files call only those declared before them"
}' "$hdr" -
