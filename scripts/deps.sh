#!/usr/bin/env bash
# deps.sh - install the Debian 12 packages needed to build, test and demo bm25.
#
# Idempotent: when everything is already installed it does nothing (no
# apt-get update, no network).  Runs apt-get as root, or through sudo.
#
#   scripts/deps.sh            install what is missing
#   scripts/deps.sh --check    only report what is missing (exit 1 if any)
set -euo pipefail

PACKAGES=(
	build-essential          # gcc, make for the PGXS build
	clang clang-14           # core-check / core-fuzz (CORE_CC=clang)
	libclang-rt-14-dev       # ASan/UBSan/libFuzzer runtimes
	postgresql-15            # server binaries (we never use the system cluster)
	postgresql-server-dev-15 # PGXS, pg_regress, isolation tester, TAP modules
	postgresql-client-15     # psql
	postgresql-doc-15        # HTML manual: the demo corpus
	libipc-run-perl          # PostgreSQL::Test::Cluster (TAP)
	perl                     # corpus extractor, prove
	git                      # scripts/dist.sh (git archive)
	unzip                    # scripts/dist.sh (checks the zip)
)

missing=()
for p in "${PACKAGES[@]}"; do
	# dpkg-query prints "install ok installed" for a fully installed package
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ $st == "install ok installed" ]] || missing+=("$p")
done

if [[ ${1:-} == --check ]]; then
	if ((${#missing[@]})); then
		echo "deps: missing: ${missing[*]}"
		exit 1
	fi
	echo "deps: all ${#PACKAGES[@]} packages installed"
	exit 0
fi

if ((${#missing[@]} == 0)); then
	echo "deps: all packages already installed"
	exit 0
fi

echo "deps: installing: ${missing[*]}"
if [[ $(id -u) -eq 0 ]]; then
	SUDO=()
elif command -v sudo >/dev/null 2>&1; then
	SUDO=(sudo)
else
	echo "deps: need root (or sudo) to install: ${missing[*]}" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Debian's postgresql-15 package would create and start a "main" cluster on
# port 5432.  We never use it, so ask postgresql-common not to create one
# (this only matters on first install; an existing cluster is left alone).
if [[ ! -e /etc/postgresql-common/createcluster.conf ]]; then
	"${SUDO[@]}" mkdir -p /etc/postgresql-common/createcluster.d
	echo "create_main_cluster = false" |
		"${SUDO[@]}" tee /etc/postgresql-common/createcluster.d/bm25-no-main.conf >/dev/null
fi
"${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
"${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
echo "deps: done"
