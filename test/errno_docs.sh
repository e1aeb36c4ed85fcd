#!/bin/sh
# Every errno the library sets on its way out of a public function is in
# that function's man page, under ERRORS.
#
# For each function of the export maps (src/lib/libcomsg.map,
# src/compart/libcompart.map; a pattern there, compart_*, stands for the
# functions of include/comsg/*.h that match it), the errno constants that
# the library's own code sets (errno = E..., set_err(E..., return E...,
# e = E...: every constant that is not only compared) in its body and in
# every function of the library it calls, transitively, must appear in the
# ERRORS of the page that names the function (or of a page that ERRORS
# refers to with .Xr).
# A call that is a statement of its own, its value dropped, leaves its
# errno to no one.  This over-approximates (a callee's errno that the
# caller maps to another counts too).  Two ways to say what the code does instead:
#  - a function that maps every errno it leaves to a set of its own says
#    so on the line above its definition, "/* errno: EA EB ... */": the
#    set counts for it, not its callees' (its own assignments must be in
#    the set);
#  - test/errno_docs.allow lists "function ERRNO ... : why" for errors a
#    function cannot leave although a callee sets them; an entry no longer
#    needed fails the check too.
# Errors passed on from system calls are not seen here; the pages name
# those.
# Usage: errno_docs.sh [TOP] (the source tree; default: where this was
# built from).
top=${1:-@TOP@}
[ -d "$top/src/lib" ] || { echo "no source tree at $top"; exit 77; }
command -v perl >/dev/null || { echo "needs perl"; exit 77; }
exec perl -e '
use strict; use warnings;
my $top = shift;

# errno names, from the kernel headers (fallback: the usual form)
my %errno;
for my $h ("/usr/include/asm-generic/errno-base.h",
    "/usr/include/asm-generic/errno.h") {
	open(my $f, "<", $h) or next;
	while (<$f>) { $errno{$1} = 1 if /^#define\s+(E[A-Z0-9]+)\s/; }
}
my $bad = 0;
my $is_errno = sub { my $e = shift; %errno ? $errno{$e} : $e =~ /^E[A-Z]{2,}/ };

# Functions of a source tree: name -> body (comments and strings removed),
# with static ones kept per file; contracts: name -> [errno ...].
my (%global, %local, %contract);
sub parse {
	my ($file) = @_;
	open(my $f, "<", $file) or die "$file: $!";
	local $/; my $src = <$f>;
	while ($src =~ m{/\*\s*errno:\s*([A-Z0-9 ]+?)\s*\*/\n[^\n]*\n(\w+)\(}g) {
		$contract{$2} = [split / +/, $1];
	}
	$src =~ s{/\*.*?\*/}{ }gs; $src =~ s{//[^\n]*}{}g;
	$src =~ s{"(?:\\.|[^"\\])*"}{""}g; $src =~ s{\x27(?:\\.|[^\x27\\])\x27}{0}g;
	my @lines = split /\n/, $src;
	for (my $i = 0; $i < @lines; $i++) {
		next unless $lines[$i] =~ /^([A-Za-z_]\w*)\s*\(/;
		my $name = $1;
		next if $name =~ /^(if|for|while|switch|return|sizeof)$/;
		my $static = $i > 0 && $lines[$i - 1] =~ /\bstatic\b/;
		my $j = $i;
		$j++ while $j < @lines && $lines[$j] !~ /^\{/ && $lines[$j] !~ /;\s*$/;
		next if $j >= @lines || $lines[$j] !~ /^\{/;
		my $body = "";
		for ($j++; $j < @lines && $lines[$j] !~ /^\}/; $j++) { $body .= "$lines[$j]\n"; }
		if ($static) { $local{$file}{$name} = $body; }
		else { $global{$name} = [$file, $body]; }
	}
}

# The errno constants a body sets, and the functions it calls.
sub sets {
	my ($body) = @_;
	my %e;
	for my $stmt (split /[;{}]/, $body) {
		$stmt =~ s/\bcase\s+E[A-Z0-9]+\s*://g;
		$stmt =~ s/(==|!=)\s*E[A-Z0-9]+//g;
		$stmt =~ s/E[A-Z0-9]+\s*(==|!=)//g;
		while ($stmt =~ /\b(E[A-Z][A-Z0-9]+)\b/g) { $e{$1} = 1 if $is_errno->($1); }
	}
	return keys %e;
}

# Every errno set by a function and what it calls: errno -> the function
# that sets it.
sub closure {
	my ($file, $name, $seen) = @_;
	my $key = "$file:$name";
	return () if $seen->{$key}++;
	my $body = exists $local{$file}{$name} ? $local{$file}{$name} :
	    exists $global{$name} ? $global{$name}[1] : return ();
	$file = $global{$name}[0] if !exists $local{$file}{$name};
	my %e = map { $_ => $name } sets($body);
	if (my $c = $contract{$name}) {
		my %in = map { $_ => 1 } @$c;
		for (grep { !$in{$_} } keys %e) {
			print "$name: sets $_, not in its errno: contract\n";
			$bad++;
		}
		return map { $_ => $name } @$c;
	}
	# Callees whose value is used: a call that is a statement of its own
	# (after ; { } else, "(void)", or the ")" that ends a line) leaves
	# its errno to no one.
	my %called;
	while ($body =~ /\b([A-Za-z_]\w*)\s*\(/g) {
		my $before = substr($body, 0, $-[0]);
		next if $before =~ /(?:[;{}]|\(void\)|\belse|\)[ \t]*\n)\s*\z/;
		$called{$1} = 1;
	}
	for my $c (sort keys %called) {
		next if $c eq $name;
		next unless exists $local{$file}{$c} || exists $global{$c};
		my %sub = closure($file, $c, $seen);
		$e{$_} //= $sub{$_} for keys %sub;
	}
	return %e;
}

# Man pages: which page names a function; what its ERRORS list.
my (%page_of, %errors, %refs);
for my $page (glob("$top/man/*.[1-9]")) {
	open(my $f, "<", $page) or die; local $/; my $t = <$f>;
	my ($base) = $page =~ m{([^/]+)\.\d$};
	if ($t =~ /\.Sh NAME\n(.*?)\.Nd/s) {
		my $names = $1;
		my $fnpage = $page =~ /\.[23]$/;
		while ($names =~ /^\.Nm\s+(\w+)/mg) { $page_of{$1} //= $page if $fnpage; }
	}
	if ($t =~ /\.Sh ERRORS\n(.*?)(?=\n\.Sh |\z)/s) {
		my $e = $1;
		for my $line (split /\n/, $e) {
			next unless $line =~ /\bEr\s+(.*)$/;
			my $rest = $1;
			$errors{$page}{$1} = 1 while $rest =~ /\b(E[A-Z][A-Z0-9]+)\b/g;
		}
		while ($e =~ /\.Xr\s+(\w+)\s+(\d)/g) { push @{$refs{$page}}, "$top/man/$1.$2"; }
	}
}
sub documented {
	my ($page, $seen) = @_;
	return () if !defined $page || $seen->{$page}++;
	my %e = %{$errors{$page} // {}};
	$e{$_} = 1 for map { documented($_, $seen) } @{$refs{$page} // []};
	return keys %e;
}

# The functions the public headers declare.
my %api;
for my $h (glob("$top/include/comsg/*.h")) {
	open(my $f, "<", $h) or die "$h: $!";
	local $/; my $t = <$f>;
	$t =~ s{/\*.*?\*/}{ }gs; $t =~ s{^#(?:.*\\\n)*.*}{}mg;
	$api{$1} = 1 while $t =~ /\b([A-Za-z_]\w*)\s*\(/g;
}

# What is allowed: function -> errno -> why.
my %allow;
if (open(my $f, "<", "$top/test/errno_docs.allow")) {
	while (<$f>) {
		next if /^\s*(#|$)/;
		/^(\w+)\s+([A-Z0-9 ]+?)\s*:\s*(\S.*)$/ or die "errno_docs.allow: $_";
		$allow{$1}{$_} = $3 for split / +/, $2;
	}
}

for my $lib (["src/lib", "libcomsg.map"], ["src/compart", "libcompart.map"]) {
	my ($dir, $map) = @$lib;
	%global = (); %local = ();
	parse($_) for glob("$top/$dir/*.c");
	open(my $f, "<", "$top/$dir/$map") or die "$map: $!";
	my ($in, @fns) = (0);
	while (<$f>) {
		$in = 1 if /global:/; $in = 0 if /local:/;
		next unless $in && /^\s*([A-Za-z_][\w*]*)\s*;/;
		# a pattern (compart_*) stands for the functions the public
		# headers declare that match it
		(my $re = $1) =~ s/\*/\\w*/g;
		push @fns, sort grep { /^$re$/ } keys %api;
	}
	for my $fn (@fns) {
		next unless exists $global{$fn};
		my $page = $page_of{$fn};
		if (!defined $page) { print "$fn: no man page names it\n"; $bad++; next; }
		my %doc = map { $_ => 1 } documented($page, {});
		my %set = closure($global{$fn}[0], $fn, {});
		for my $e (sort keys %{$allow{$fn} // {}}) {
			next if $set{$e} && !$doc{$e};
			print "$fn: errno_docs.allow lists $e, which it ",
			    $doc{$e} ? "documents" : "does not set", "\n";
			$bad++;
		}
		my @missing = sort grep { !$doc{$_} && !$allow{$fn}{$_} } keys %set;
		next unless @missing;
		(my $p = $page) =~ s{.*/}{};
		print "$fn ($p): not under ERRORS: ",
		    join(", ", map { "$_ (set in $set{$_})" } @missing), "\n";
		$bad++;
	}
}
print $bad ? "$bad functions with undocumented errors\n" : "every errno set is documented\n";
exit($bad ? 1 : 0);
' "$top"
