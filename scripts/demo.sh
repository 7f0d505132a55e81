#!/usr/bin/env bash
# demo.sh - THE demo: build bm25, start a throwaway PostgreSQL 15 with it,
# index the PostgreSQL manual and run a few ranked searches.
#
#   sudo scripts/demo.sh           (or as root)
#   sudo scripts/demo.sh --stop    stop the demo server (data is kept)
#   sudo scripts/demo.sh --clean   stop it and delete $BM25_DEMO_DIR
#
# Steps: scripts/deps.sh -> build in $BM25_DEMO_DIR/src as the unprivileged
# user -> `make install` as root -> initdb $BM25_DEMO_DIR/data with
# shared_preload_libraries = 'bm25' on port $BM25_DEMO_PORT (sockets only,
# in $BM25_DEMO_DIR) -> load ~4000 manual sections (scripts/pgdocs_corpus.pl)
# into table docs -> CREATE INDEX ... USING bm25 -> ranked queries.
# The server is left running; the last lines say how to connect and stop it.
# It never touches Debian's own cluster on 5432.
#
# Environment knobs:
#   BM25_DEMO_DIR=/tmp/bm25-demo   everything the demo writes
#   BM25_DEMO_PORT=5499            port of the demo server
#   BM25_USER=bm25                 OS user that owns the server (when root)
#   BM25_SKIP_DEPS=1               do not run scripts/deps.sh
#   PGDOCS_HTML=/usr/share/doc/postgresql-doc-15/html   manual to index
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEMO_DIR=${BM25_DEMO_DIR:-/tmp/bm25-demo}
PORT=${BM25_DEMO_PORT:-5499}
DATA=$DEMO_DIR/data
DB=bm25_demo
PGDOCS_HTML=${PGDOCS_HTML:-/usr/share/doc/postgresql-doc-$PG_MAJOR/html}
PG_CTL=$PG_BINDIR/pg_ctl

server_running()
{
	[[ -f $DATA/PG_VERSION ]] && as_user -- "$PG_CTL" -D "$DATA" status >/dev/null 2>&1
}

stop_server()
{
	if server_running; then
		echo "stopping the demo server in $DATA"
		as_user -- "$PG_CTL" -D "$DATA" -m fast -w stop >/dev/null
	fi
}

# Print a command line the person at the terminal can paste.
user_cmd()
{
	if is_root; then
		if command -v sudo >/dev/null 2>&1; then
			echo "sudo -u $BM25_USER $*"
		else
			echo "runuser -u $BM25_USER -- $*"
		fi
	else
		echo "$*"
	fi
}

case ${1:-} in
--stop)
	is_root && ! id -u "$BM25_USER" >/dev/null 2>&1 && exit 0
	stop_server
	exit 0
	;;
--clean)
	if ! is_root || id -u "$BM25_USER" >/dev/null 2>&1; then stop_server; fi
	if [[ -d $DEMO_DIR ]]; then
		[[ -d $DATA || -d $DEMO_DIR/src ]] ||
			die "$DEMO_DIR does not look like a bm25 demo directory; not removing it"
		rm -rf "$DEMO_DIR"
		echo "removed $DEMO_DIR"
	fi
	exit 0
	;;
"") ;;
*) die "usage: $0 [--stop|--clean]" ;;
esac

T0=$(date +%s)
if [[ -z ${BM25_SKIP_DEPS:-} ]]; then
	log "deps"
	"$REPO_ROOT/scripts/deps.sh"
fi
[[ -d $PGDOCS_HTML ]] || die "$PGDOCS_HTML not found (package postgresql-doc-$PG_MAJOR)"

ensure_user
RUN_USER=$(run_user)

if [[ -d $DEMO_DIR && $(stat -c %U "$DEMO_DIR") != "$RUN_USER" ]]; then
	is_root || die "$DEMO_DIR belongs to $(stat -c %U "$DEMO_DIR"); remove it or set BM25_DEMO_DIR"
fi
mkdir -p "$DEMO_DIR"
if is_root; then chown "$RUN_USER": "$DEMO_DIR"; fi

log "build: make (in $DEMO_DIR/src, as $RUN_USER)"
copy_tree "$DEMO_DIR/src"
as_user -- make -C "$DEMO_DIR/src" --no-print-directory -s -j"$(nproc)" \
	PG_CONFIG="$PG_CONFIG" || die "build failed"

log "install: make install"
as_root make -C "$DEMO_DIR/src" --no-print-directory -s PG_CONFIG="$PG_CONFIG" install ||
	die "make install failed"
PKGLIBDIR=$("$PG_CONFIG" --pkglibdir)
[[ -f $PKGLIBDIR/bm25.so ]] ||
	die "$PKGLIBDIR/bm25.so is missing after make install; the server could not preload bm25"

# A previous demo server keeps running until the new build is installed.
stop_server

log "server: initdb $DATA (port $PORT, shared_preload_libraries = 'bm25')"
if as_user -- "$PG_BINDIR/pg_isready" -q -h "$DEMO_DIR" -p "$PORT" ||
	as_user -- "$PG_BINDIR/pg_isready" -q -h localhost -p "$PORT"; then
	die "something already listens on port $PORT; set BM25_DEMO_PORT to a free port"
fi
rm -rf "$DATA"
as_user -- "$PG_BINDIR/initdb" -D "$DATA" --auth=trust --encoding=UTF8 \
	--locale=C.UTF-8 --no-sync >"$DEMO_DIR/initdb.log" 2>&1 ||
	{ cat "$DEMO_DIR/initdb.log"; die "initdb failed"; }
cat >>"$DATA/postgresql.conf" <<EOF

# --- bm25 demo (scripts/demo.sh) ---
shared_preload_libraries = 'bm25'
port = $PORT
listen_addresses = ''
unix_socket_directories = '$DEMO_DIR'
shared_buffers = 256MB
maintenance_work_mem = 512MB
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
if is_root; then chown "$RUN_USER": "$DATA/postgresql.conf"; fi
if ! as_user -- "$PG_CTL" -D "$DATA" -l "$DEMO_DIR/server.log" -w -t 60 start >/dev/null; then
	tail -n 30 "$DEMO_DIR/server.log" || true
	die "the demo server did not start (log: $DEMO_DIR/server.log)"
fi

PSQL=("$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$DEMO_DIR" -p "$PORT")
psql_db() { as_user -- "${PSQL[@]}" -d "$DB" "$@"; }
as_user -- "${PSQL[@]}" -d postgres -c "CREATE DATABASE $DB"

log "corpus: PostgreSQL $PG_MAJOR manual split into sections"
as_user -- perl "$DEMO_DIR/src/scripts/pgdocs_corpus.pl" "$PGDOCS_HTML" \
	>"$DEMO_DIR/docs.tsv"
if is_root; then chown "$RUN_USER": "$DEMO_DIR/docs.tsv"; fi
echo "$(wc -l <"$DEMO_DIR/docs.tsv") sections, $(($(stat -c %s "$DEMO_DIR/docs.tsv") / 1024)) KiB -> $DEMO_DIR/docs.tsv"

psql_db <<EOF
CREATE TABLE docs (id int PRIMARY KEY, page text, title text, body text);
\\copy docs FROM '$DEMO_DIR/docs.tsv'
ANALYZE docs;
EOF

log "index: CREATE EXTENSION bm25; CREATE INDEX ... USING bm25"
INDEX_SQL="CREATE INDEX docs_body_bm25 ON docs USING bm25 (body) WITH (text_config = 'english');"
echo "CREATE EXTENSION bm25;"
echo "$INDEX_SQL"
psql_db <<EOF
CREATE EXTENSION bm25;
\\timing on
$INDEX_SQL
\\timing off
EOF
# index statistics (informational; the function's columns may still change)
psql_db -P footer=off -c "SELECT (SELECT count(*) FROM docs) AS sections,
       (SELECT pg_size_pretty(sum(length(body))) FROM docs) AS text,
       s.documents, s.terms, round(s.avg_doc_length) AS avg_doc_length,
       pg_size_pretty(s.segment_bytes) AS index_size
FROM bm25_index_stats('docs_body_bm25') s" 2>/dev/null || true

QUERIES=(
	'vacuum freeze wraparound'
	'streaming replication standby'
	'jsonb index operators'
	'+index -btree gist'
)
for q in "${QUERIES[@]}"; do
	log "query: '$q'"
	sq=${q//\'/\'\'}
	sql="SELECT title, round(bm25_score(body, '$sq')::numeric, 3) AS score
FROM docs WHERE body @@@ '$sq'
ORDER BY bm25_score(body, '$sq') DESC LIMIT 5"
	psql_db -P footer=off -c "$sql"
	# one EXPLAIN ANALYZE for the plan shape and the server-side time
	psql_db -At -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) $sql" |
		grep -E 'Custom Scan|Index Scan|Seq Scan|Bitmap|Execution Time' |
		sed -e 's/^ *//' -e 's/^->  //' -e 's/^/  /'
done

# how to call this script again: as the same user, with the same directory
SELF=$REPO_ROOT/scripts/demo.sh
if [[ -n ${BM25_DEMO_DIR:-} ]]; then SELF="BM25_DEMO_DIR=$BM25_DEMO_DIR $SELF"; fi
if [[ $BM25_USER != bm25 ]] && is_root; then SELF="BM25_USER=$BM25_USER $SELF"; fi
if is_root && [[ -n ${SUDO_USER:-} ]]; then SELF="sudo $SELF"; fi
CONN="$PG_BINDIR/psql -h $DEMO_DIR -p $PORT -d $DB"
if is_root; then CONN="$CONN -U $RUN_USER"; fi
cat <<EOF

=== the demo server is running ($(($(date +%s) - T0))s)
Try more searches:
  $CONN
  $DB=# SELECT title, round(bm25_score(body, 'logical decoding slot')::numeric, 3) AS score
        FROM docs WHERE body @@@ 'logical decoding slot'
        ORDER BY bm25_score(body, 'logical decoding slot') DESC LIMIT 5;
  (table docs(id, page, title, body): $(wc -l <"$DEMO_DIR/docs.tsv") sections of the PostgreSQL manual;
   a query is a list of words: a row matches if it has any of them; +word
   requires a word, -word excludes it)
Stop the server:
  $(user_cmd "$PG_CTL -D $DATA stop")      (or: $SELF --stop)
Remove everything:
  $SELF --clean
Server log: $DEMO_DIR/server.log
EOF
