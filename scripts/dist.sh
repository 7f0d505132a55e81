#!/usr/bin/env bash
# dist.sh - build the PGXN upload archive bm25-<version>.zip from HEAD.
#
#   scripts/dist.sh [OUTPUT_DIR]      (default: the repository root)
#
# Validates META.json (JSON syntax, required PGXN fields, version agreeing
# with bm25.control and the Makefile) and packs the committed tree with
#   git archive --format zip --prefix=bm25-<version>/ HEAD
# Uncommitted changes are not included (a warning says so).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out_dir=${1:-$PWD}

# META.json: parse with core Perl's JSON::PP and check the fields PGXN needs.
version=$(perl -MJSON::PP -e '
	local $/;
	open(my $fh, "<", "META.json") or die "META.json: $!\n";
	my $m = eval { JSON::PP->new->decode(<$fh>) }
	  or die "META.json is not valid JSON: $@";
	for my $k (qw(name abstract version maintainer license provides meta-spec)) {
		die "META.json: missing \"$k\"\n" unless exists $m->{$k};
	}
	die "META.json: meta-spec version must be 1.0.0\n"
	  unless $m->{"meta-spec"}{version} eq "1.0.0";
	for my $ext (sort keys %{ $m->{provides} }) {
		my $p = $m->{provides}{$ext};
		die "META.json: provides.$ext needs file and version\n"
		  unless $p->{file} && $p->{version};
		die "META.json: provides.$ext.file $p->{file} does not exist\n"
		  unless -f $p->{file};
	}
	die "META.json: version $m->{version} is not x.y.z\n"
	  unless $m->{version} =~ /^\d+\.\d+\.\d+$/;
	print $m->{name}, "-", $m->{version}, "\n";
')
name=${version%%-*}
version=${version#*-}

control_version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$name.control")
make_version=$(sed -n 's/^EXTVERSION *= *//p' Makefile)
[[ $control_version == "$version" ]] ||
	{ echo "dist: META.json version $version != $name.control default_version $control_version" >&2; exit 1; }
[[ $make_version == "$version" ]] ||
	{ echo "dist: META.json version $version != Makefile EXTVERSION $make_version" >&2; exit 1; }

if [[ -n $(git status --porcelain --untracked-files=no) ]]; then
	echo "dist: warning: uncommitted changes are not in the archive (it is built from HEAD)" >&2
fi

zip=$out_dir/$name-$version.zip
rm -f "$zip"
git archive --format zip --prefix="$name-$version/" -o "$zip" HEAD
for f in META.json "$name.control" Makefile LICENSE; do
	unzip -l "$zip" "$name-$version/$f" >/dev/null ||
		{ echo "dist: $f missing from $zip (not committed?)" >&2; exit 1; }
done
echo "dist: $zip ($(unzip -l "$zip" | tail -n1 | awk '{print $2}') files, $(($(stat -c %s "$zip") / 1024)) KiB)"
