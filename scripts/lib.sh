# shellcheck shell=bash disable=SC2034
# lib.sh - shared helpers for scripts/test.sh and scripts/demo.sh (sourced).
#
# PostgreSQL refuses to run as root, so when these scripts are started as
# root they do the build, the tests and the demo server as an unprivileged
# OS user ($BM25_USER, default "bm25", created on demand) and keep root only
# for apt-get and `make install`.  A non-root developer runs everything as
# themselves and needs sudo only for apt-get and `make install`.

PG_MAJOR=${PG_MAJOR:-15}
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/$PG_MAJOR/bin}
PG_CONFIG=${PG_CONFIG:-$PG_BINDIR/pg_config}
PGXS_DIR=/usr/lib/postgresql/$PG_MAJOR/lib/pgxs
PG_REGRESS=$PGXS_DIR/src/test/regress/pg_regress
PG_ISOLATION_REGRESS=$PGXS_DIR/src/test/isolation/pg_isolation_regress
PG_TAP_PERL=$PGXS_DIR/src/test/perl
BM25_USER=${BM25_USER:-bm25}

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

log() { printf '\n=== %s\n' "$*"; }
warn() { printf '%s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

is_root() { [[ $(id -u) -eq 0 ]]; }

# Run a command as root: directly when we are root, else through sudo.
as_root()
{
	if is_root; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "need root or sudo for: $*"
	fi
}

# The OS user that builds, tests and runs servers.
run_user()
{
	if is_root; then echo "$BM25_USER"; else id -un; fi
}

# Create $BM25_USER when running as root (a no-op otherwise).
ensure_user()
{
	is_root || return 0
	if ! id -u "$BM25_USER" >/dev/null 2>&1; then
		echo "creating OS user $BM25_USER (home /var/lib/$BM25_USER)"
		useradd --system --create-home --home-dir "/var/lib/$BM25_USER" \
			--shell /bin/bash "$BM25_USER"
	fi
}

# Run a command as the unprivileged user, with a clean-ish environment plus
# the NAME=VALUE pairs given before "--".  Usage:
#   as_user [NAME=VALUE ...] -- command args...
as_user()
{
	local envs=()
	while [[ $# -gt 0 && $1 != -- ]]; do
		envs+=("$1")
		shift
	done
	[[ ${1:-} == -- ]] && shift
	if is_root; then
		local home
		home=$(getent passwd "$BM25_USER" | cut -d: -f6)
		# runuser is part of util-linux (always present on Debian).
		runuser -u "$BM25_USER" -- env -i \
			HOME="$home" USER="$BM25_USER" LOGNAME="$BM25_USER" \
			PATH="$PG_BINDIR:/usr/local/bin:/usr/bin:/bin" \
			LANG=C.UTF-8 TERM="${TERM:-dumb}" ${CI:+CI="$CI"} \
			"${envs[@]}" "$@"
	else
		env PATH="$PG_BINDIR:$PATH" "${envs[@]}" "$@"
	fi
}

# Copy the working tree (tracked and untracked files, not .git nor build
# products) to $1, owned by the run user, replacing any previous copy.
copy_tree()
{
	local dest=$1 user
	user=$(run_user)
	if [[ -e $dest ]]; then
		# refuse to delete anything that does not look like our copy
		[[ -f $dest/bm25.control || -z $(ls -A "$dest") ]] ||
			die "$dest exists and is not a bm25 tree; remove it or set another directory"
		rm -rf "$dest"
	fi
	mkdir -p "$dest"
	tar -C "$REPO_ROOT" \
		--exclude=./.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
		--exclude=./build --exclude=./results --exclude=./tmp_check \
		--exclude=./output_iso --exclude=./log --exclude='regression.*' \
		-cf - . | tar -C "$dest" -xf -
	if is_root; then chown -R "$user": "$dest"; fi
}
