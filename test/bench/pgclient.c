/*
 * pgclient.c - timed top-10 queries against PostgreSQL for the benchmark.
 *
 *   pgclient lat CONNINFO ENGINE QUERIES OUT [MAXQ_PER_BUCKET [WARMUP]]
 *       one persistent connection, one prepared statement; runs the first
 *       WARMUP queries untimed (a new backend's first queries load its
 *       catalog caches and open the index), then every query of QUERIES
 *       once, in file order, and writes per query
 *         qid  bucket  usec  nrows  id,id,...  score,score,...
 *       (nrows -1 and the error message instead of ids when it failed).
 *   pgclient qps CONNINFO ENGINE QUERIES CLIENTS SECONDS
 *       CLIENTS processes, each with its own connection, run the queries
 *       (each starting at a different offset, wrapping around) until
 *       SECONDS have passed; prints "queries N seconds S qps Q errors E".
 *   pgclient floor CONNINFO N
 *       the round-trip floor every engine's figure includes: one connection
 *       runs a prepared "SELECT 1" 100 times untimed, then N times timed,
 *       and prints "p50 X p95 Y" in microseconds.
 *
 * ENGINE is bm25, gin or rum.  QUERIES is the TSV written by run.sh:
 *   qid  bucket  text  tsquery  nlexemes
 * bm25 gets the text; gin and rum get the tsquery literal (lexemes OR'ed).
 * Wall time is measured around PQexecPrepared and reading the rows.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

typedef struct
{
	char	   *qid;
	char	   *bucket;
	char	   *text;
	char	   *tsq;
} Query;

static Query *queries;
static int	nqueries;

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void
load_queries(const char *path, int maxper)
{
	FILE	   *f = fopen(path, "r");
	char	   *line = NULL;
	size_t		cap = 0;
	ssize_t		len;
	int			alloc = 1024;

	if (!f)
	{
		perror(path);
		exit(2);
	}
	queries = malloc(sizeof(Query) * alloc);
	while ((len = getline(&line, &cap, f)) > 0)
	{
		char	   *fields[5];
		char	   *p = line;
		int			n = 0;

		if (line[len - 1] == '\n')
			line[--len] = 0;
		while (n < 5)
		{
			fields[n++] = p;
			p = strchr(p, '\t');
			if (!p)
				break;
			*p++ = 0;
		}
		if (n < 4)
			continue;
		if (maxper > 0)
		{
			int			seen = 0;

			for (int i = 0; i < nqueries; i++)
				if (strcmp(queries[i].bucket, fields[1]) == 0)
					seen++;
			if (seen >= maxper)
				continue;
		}
		if (nqueries == alloc)
			queries = realloc(queries, sizeof(Query) * (alloc *= 2));
		queries[nqueries].qid = strdup(fields[0]);
		queries[nqueries].bucket = strdup(fields[1]);
		queries[nqueries].text = strdup(fields[2]);
		queries[nqueries].tsq = strdup(fields[3]);
		nqueries++;
	}
	free(line);
	fclose(f);
}

static const char *
engine_sql(const char *engine)
{
	if (strcmp(engine, "bm25") == 0)
		return "SELECT id, bm25_score(body, $1) FROM docs WHERE body @@@ $1 "
			"ORDER BY bm25_score(body, $1) DESC LIMIT 10";
	if (strcmp(engine, "gin") == 0)
		return "SELECT id, ts_rank(tsv, $1::tsquery) AS r FROM fts_gin "
			"WHERE tsv @@ $1::tsquery ORDER BY r DESC LIMIT 10";
	if (strcmp(engine, "rum") == 0)
		return "SELECT id, tsv <=> $1::tsquery AS d FROM fts_rum "
			"WHERE tsv @@ $1::tsquery ORDER BY tsv <=> $1::tsquery LIMIT 10";
	fprintf(stderr, "pgclient: unknown engine %s\n", engine);
	exit(2);
}

/* Connects and prepares sql (nparams parameters) as statement "q"; exits on failure. */
static PGconn *
connect_prepare(const char *conninfo, const char *sql, int nparams)
{
	PGconn	   *conn = PQconnectdb(conninfo);
	PGresult   *res;

	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "pgclient: %s", PQerrorMessage(conn));
		exit(2);
	}
	res = PQprepare(conn, "q", sql, nparams, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		fprintf(stderr, "pgclient: prepare: %s", PQerrorMessage(conn));
		exit(2);
	}
	PQclear(res);
	return conn;
}

static const char *
param_of(const Query *q, const char *engine)
{
	return strcmp(engine, "bm25") == 0 ? q->text : q->tsq;
}

static int
cmd_lat(const char *conninfo, const char *engine, const char *out, int warmup)
{
	PGconn	   *conn = connect_prepare(conninfo, engine_sql(engine), 1);
	FILE	   *o = fopen(out, "w");

	for (int i = 0; i < warmup && i < nqueries; i++)
	{
		const char *param = param_of(&queries[i], engine);

		PQclear(PQexecPrepared(conn, "q", 1, &param, NULL, NULL, 0));
	}

	if (!o)
	{
		perror(out);
		return 2;
	}
	for (int i = 0; i < nqueries; i++)
	{
		const char *param = param_of(&queries[i], engine);
		double		t0 = now_us();
		PGresult   *res = PQexecPrepared(conn, "q", 1, &param, NULL, NULL, 0);
		int			ok = PQresultStatus(res) == PGRES_TUPLES_OK;
		int			n = ok ? PQntuples(res) : -1;
		double		t1 = now_us();

		fprintf(o, "%s\t%s\t%.1f\t%d\t", queries[i].qid, queries[i].bucket,
				t1 - t0, n);
		if (!ok)
		{
			char	   *m = PQresultErrorMessage(res);

			for (char *p = m; *p; p++)
				if (*p == '\t' || *p == '\n')
					*p = ' ';
			fprintf(o, "ERROR %s\t\n", m);
		}
		else
		{
			for (int r = 0; r < n; r++)
				fprintf(o, "%s%s", r ? "," : "", PQgetvalue(res, r, 0));
			fputc('\t', o);
			for (int r = 0; r < n; r++)
				fprintf(o, "%s%s", r ? "," : "", PQgetvalue(res, r, 1));
			fputc('\n', o);
		}
		PQclear(res);
	}
	fclose(o);
	PQfinish(conn);
	return 0;
}

static int
cmd_qps(const char *conninfo, const char *engine, int clients, double seconds)
{
	int			pipes[64][2];
	int			go[2];
	pid_t		pids[64];
	long		total = 0,
				errors = 0;
	double		t0,
				t1;

	if (clients < 1 || clients > 64)
		return 2;
	if (pipe(go) != 0)
		return 2;
	for (int c = 0; c < clients; c++)
	{
		if (pipe(pipes[c]) != 0)
			return 2;
		pids[c] = fork();
		if (pids[c] == 0)
		{
			PGconn	   *conn = connect_prepare(conninfo, engine_sql(engine), 1);
			char		b;
			long		cnt = 0,
						err = 0;
			double		deadline;
			int			i = (int) ((long) nqueries * c / clients);

			close(go[1]);
			if (read(go[0], &b, 1) < 0)	/* wait for the start (EOF) */
				_exit(3);
			deadline = now_us() + seconds * 1e6;
			while (now_us() < deadline)
			{
				const char *param = param_of(&queries[i], engine);
				PGresult   *res = PQexecPrepared(conn, "q", 1, &param, NULL,
												 NULL, 0);

				if (PQresultStatus(res) == PGRES_TUPLES_OK)
					cnt++;
				else
					err++;
				PQclear(res);
				if (++i == nqueries)
					i = 0;
			}
			PQfinish(conn);
			dprintf(pipes[c][1], "%ld %ld\n", cnt, err);
			_exit(0);
		}
		close(pipes[c][1]);
	}
	close(go[0]);
	usleep(300000);				/* let every client connect and prepare */
	t0 = now_us();
	close(go[1]);
	for (int c = 0; c < clients; c++)
	{
		char		buf[64] = {0};
		long		a = 0,
					e = 0;
		ssize_t		r = read(pipes[c][0], buf, sizeof(buf) - 1);

		if (r > 0 && sscanf(buf, "%ld %ld", &a, &e) == 2)
		{
			total += a;
			errors += e;
		}
		else
			errors++;
		waitpid(pids[c], NULL, 0);
	}
	t1 = now_us();
	printf("queries %ld seconds %.3f qps %.1f errors %ld\n", total,
		   (t1 - t0) / 1e6, total / ((t1 - t0) / 1e6), errors);
	return errors ? 1 : 0;
}

/* qsort comparator for doubles, ascending. */
static int
dbl_cmp(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return x < y ? -1 : x > y;
}

/* The round-trip floor: a prepared SELECT 1, 100 times untimed, n timed. */
static int
cmd_floor(const char *conninfo, int n)
{
	PGconn	   *conn;
	double	   *t;

	if (n < 1)
		return 2;
	conn = connect_prepare(conninfo, "SELECT 1", 0);
	t = malloc(sizeof(double) * n);
	for (int i = -100; i < n; i++)
	{
		double		t0 = now_us();
		PGresult   *res = PQexecPrepared(conn, "q", 0, NULL, NULL, NULL, 0);

		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			fprintf(stderr, "pgclient: SELECT 1: %s", PQerrorMessage(conn));
			return 2;
		}
		PQclear(res);
		if (i >= 0)
			t[i] = now_us() - t0;
	}
	qsort(t, n, sizeof(double), dbl_cmp);
	printf("p50 %.1f p95 %.1f\n", t[n / 2], t[(int) (n * 0.95)]);
	free(t);
	PQfinish(conn);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 6 && strcmp(argv[1], "lat") == 0)
	{
		load_queries(argv[4], argc > 6 ? atoi(argv[6]) : 0);
		return cmd_lat(argv[2], argv[3], argv[5], argc > 7 ? atoi(argv[7]) : 0);
	}
	if (argc == 7 && strcmp(argv[1], "qps") == 0)
	{
		load_queries(argv[4], 0);
		return cmd_qps(argv[2], argv[3], atoi(argv[5]), atof(argv[6]));
	}
	if (argc == 4 && strcmp(argv[1], "floor") == 0)
		return cmd_floor(argv[2], atoi(argv[3]));
	fprintf(stderr,
			"usage: pgclient lat CONNINFO ENGINE QUERIES OUT [MAXQ_PER_BUCKET [WARMUP]]\n"
			"       pgclient qps CONNINFO ENGINE QUERIES CLIENTS SECONDS\n"
			"       pgclient floor CONNINFO N\n");
	return 2;
}
