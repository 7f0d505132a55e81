// xbench.cc - Xapian side of the benchmark, and the exact BM25 reference.
//
//   xbench index POSTINGS DBDIR
//       POSTINGS: "id \t lexeme \t tf" (COPY text of PostgreSQL's
//       to_tsvector('english', body), one row per distinct lexeme).  Loads
//       it into memory, then times only the Xapian indexing: one document
//       per id (docid = id), each lexeme added with wdf = tf (so the
//       document length is the sum of tf, as in bm25), no positions,
//       commit.  Prints "docs N seconds S docs_per_s R".
//   xbench index-text CORPUS DBDIR
//       CORPUS: "id \t source \t title \t body".  Xapian's own tokenizing:
//       TermGenerator, english stemmer, STEM_ALL, english stop words, no
//       positions.  Times reading + tokenizing + indexing + commit.
//   xbench lat DBDIR QLEX OUT [WARMUP]
//       QLEX: "qid \t bucket \t lex \t lex ...".  In-process: for each query
//       an Enquire with BM25Weight(k1=1.2, k2=0, k3=1, b=0.75,
//       min_normlen=0), OR of the lexemes, docid order ascending for ties,
//       get_mset(0, 10).  Writes "qid bucket usec nrows ids scores" like
//       pgclient; the first WARMUP queries are run untimed first.
//   xbench qps DBDIR QLEX THREADS SECONDS
//       THREADS threads, each with its own Database, cycling through the
//       queries from different offsets.
//   xbench exact POSTINGS QLEX TIDORDER OUT [K1 B]
//       Brute-force BM25 (docs/ranking.md: Lucene idf, canonical lexeme
//       order) over the exported postings: every matching document is
//       scored; ties are broken by heap order (TIDORDER: "id \t rank" with
//       rank = row_number() OVER (ORDER BY ctid)), as bm25 does.  Writes
//       "qid bucket nmatch ids scores score11" (the top 10 and the 11th
//       score, to recognise ties across the cut).
#include <xapian.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <time.h>

using namespace std;

static double
now_s()
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

// COPY text format unescaping (\\, \t, \n, \r and octal are all we expect)
static string
unescape(const char *s, size_t n)
{
	string r;

	r.reserve(n);
	for (size_t i = 0; i < n; i++)
	{
		if (s[i] != '\\' || i + 1 == n)
		{
			r += s[i];
			continue;
		}
		char c = s[++i];
		switch (c)
		{
			case 't': r += '\t'; break;
			case 'n': r += '\n'; break;
			case 'r': r += '\r'; break;
			case 'b': r += '\b'; break;
			case 'f': r += '\f'; break;
			case 'v': r += '\v'; break;
			default:
				if (c >= '0' && c <= '7')
				{
					int v = c - '0', k = 0;
					while (k < 2 && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '7')
					{
						v = v * 8 + (s[++i] - '0');
						k++;
					}
					r += (char) v;
				}
				else
					r += c;
		}
	}
	return r;
}

static vector<string>
split_tabs(const string &line)
{
	vector<string> f;
	size_t p = 0;

	for (;;)
	{
		size_t q = line.find('\t', p);
		f.push_back(unescape(line.data() + p, (q == string::npos ? line.size() : q) - p));
		if (q == string::npos)
			break;
		p = q + 1;
	}
	return f;
}

/*
 * The exported postings (id, lexeme, tf per line) are read line by line:
 * at 10M documents they are over half a billion lines, far more than a
 * table of every document's terms fits in memory.  Callers get one row at
 * a time.
 */
struct PostingsReader
{
	ifstream	in;
	string		line;

	explicit PostingsReader(const char *path) : in(path)
	{
		if (!in)
		{
			perror(path);
			exit(2);
		}
	}

	/* Next row; false at the end. */
	bool next(unsigned *id, string *lex, unsigned *tf)
	{
		while (getline(in, line))
		{
			size_t a = line.find('\t');
			size_t b = a == string::npos ? a : line.find('\t', a + 1);

			if (b == string::npos)
				continue;
			*id = strtoul(line.c_str(), NULL, 10);
			lex->assign(line, a + 1, b - a - 1);
			*tf = strtoul(line.c_str() + b + 1, NULL, 10);
			return true;
		}
		return false;
	}
};

struct Q
{
	string		qid, bucket;
	vector<string> lex;
};

static vector<Q>
load_qlex(const char *path)
{
	ifstream in(path);
	string line;
	vector<Q> qs;

	if (!in)
	{
		perror(path);
		exit(2);
	}
	while (getline(in, line))
	{
		vector<string> f = split_tabs(line);

		if (f.size() < 2)
			continue;
		Q q{f[0], f[1], {}};
		for (size_t i = 2; i < f.size(); i++)
			if (!f[i].empty())
				q.lex.push_back(f[i]);
		qs.push_back(q);
	}
	return qs;
}

static int
cmd_index(const char *postings, const char *dbdir)
{
	PostingsReader rd(postings);
	vector<bool> flushed;
	unsigned	id;
	unsigned	tf;
	unsigned	cur = 0;
	string		lex;
	Xapian::Document xd;
	bool		have = false;
	size_t		ndocs = 0;
	double		t = 0;

	{
		Xapian::WritableDatabase db(dbdir, Xapian::DB_CREATE_OR_OVERWRITE);

		/*
		 * A document's rows are consecutive (one tsvector each), except
		 * possibly for the few whose words were counted from ts_debug;
		 * rows of a document already written are added to it.  Only the
		 * Xapian calls are timed, as when the whole file was read first.
		 */
		auto flush = [&]() {
			double t0 = now_s();

			if (cur < flushed.size() && flushed[cur])
			{
				Xapian::Document old = db.get_document(cur);

				for (Xapian::TermIterator it = xd.termlist_begin(); it != xd.termlist_end(); ++it)
					old.add_term(*it, it.get_wdf());
				db.replace_document(cur, old);
			}
			else
			{
				// docid = id; add_document is the fast path for the next docid
				if (cur == db.get_lastdocid() + 1)
					db.add_document(xd);
				else
					db.replace_document(cur, xd);
				if (cur >= flushed.size())
					flushed.resize((size_t) cur * 2 + 1024, false);
				flushed[cur] = true;
				ndocs++;
			}
			t += now_s() - t0;
			xd = Xapian::Document();
		};
		while (rd.next(&id, &lex, &tf))
		{
			if (have && id != cur)
				flush();
			cur = id;
			have = true;
			xd.add_term(lex, tf);
		}
		if (have)
			flush();
		double t0 = now_s();

		db.commit();
		db.close();
		t += now_s() - t0;
	}
	printf("docs %zu seconds %.3f docs_per_s %.1f\n", ndocs, t, ndocs / t);
	return 0;
}

static int
cmd_index_text(const char *corpus, const char *dbdir)
{
	static const char *stop[] = {
		"i", "me", "my", "myself", "we", "our", "ours", "ourselves", "you",
		"your", "yours", "yourself", "yourselves", "he", "him", "his",
		"himself", "she", "her", "hers", "herself", "it", "its", "itself",
		"they", "them", "their", "theirs", "themselves", "what", "which",
		"who", "whom", "this", "that", "these", "those", "am", "is", "are",
		"was", "were", "be", "been", "being", "have", "has", "had", "having",
		"do", "does", "did", "doing", "a", "an", "the", "and", "but", "if",
		"or", "because", "as", "until", "while", "of", "at", "by", "for",
		"with", "about", "against", "between", "into", "through", "during",
		"before", "after", "above", "below", "to", "from", "up", "down", "in",
		"out", "on", "off", "over", "under", "again", "further", "then",
		"once", "here", "there", "when", "where", "why", "how", "all", "any",
		"both", "each", "few", "more", "most", "other", "some", "such", "no",
		"nor", "not", "only", "own", "same", "so", "than", "too", "very", "s",
		"t", "can", "will", "just", "don", "should", "now"};
	Xapian::SimpleStopper stopper(begin(stop), end(stop));
	double t0 = now_s();
	size_t n = 0;
	{
		ifstream in(corpus);
		string line;
		Xapian::WritableDatabase db(dbdir, Xapian::DB_CREATE_OR_OVERWRITE);
		Xapian::TermGenerator tg;

		tg.set_stemmer(Xapian::Stem("english"));
		tg.set_stemming_strategy(Xapian::TermGenerator::STEM_ALL);
		tg.set_stopper(&stopper);
		tg.set_stopper_strategy(Xapian::TermGenerator::STOP_ALL);
		while (getline(in, line))
		{
			vector<string> f = split_tabs(line);

			if (f.size() < 4)
				continue;
			Xapian::Document xd;

			tg.set_document(xd);
			tg.index_text_without_positions(f[3]);
			unsigned id = strtoul(f[0].c_str(), NULL, 10);

			if (id == db.get_lastdocid() + 1)
				db.add_document(xd);
			else
				db.replace_document(id, xd);
			n++;
		}
		db.commit();
		db.close();
	}
	double t = now_s() - t0;
	printf("docs %zu seconds %.3f docs_per_s %.1f\n", n, t, n / t);
	return 0;
}

static Xapian::Enquire
make_enquire(Xapian::Database &db, const Q &q)
{
	Xapian::Enquire enq(db);

	enq.set_query(Xapian::Query(Xapian::Query::OP_OR, q.lex.begin(), q.lex.end()));
	enq.set_weighting_scheme(Xapian::BM25Weight(1.2, 0, 1, 0.75, 0));
	enq.set_docid_order(Xapian::Enquire::ASCENDING);
	return enq;
}

static int
cmd_lat(const char *dbdir, const char *qlex, const char *out, int warmup)
{
	vector<Q> qs = load_qlex(qlex);
	Xapian::Database db(dbdir);
	FILE *o = fopen(out, "w");

	for (int i = 0; i < warmup && i < (int) qs.size(); i++)
	{
		Xapian::Enquire enq = make_enquire(db, qs[i]);
		Xapian::MSet m = enq.get_mset(0, 10);

		for (auto it = m.begin(); it != m.end(); ++it)
			(void) *it;
	}

	for (const Q &q : qs)
	{
		vector<Xapian::docid> ids;
		vector<double> w;
		double t0 = now_s();
		{
			Xapian::Enquire enq = make_enquire(db, q);
			Xapian::MSet m = enq.get_mset(0, 10);

			for (auto it = m.begin(); it != m.end(); ++it)
			{
				ids.push_back(*it);
				w.push_back(it.get_weight());
			}
		}
		double t1 = now_s();
		fprintf(o, "%s\t%s\t%.1f\t%zu\t", q.qid.c_str(), q.bucket.c_str(),
				(t1 - t0) * 1e6, ids.size());
		for (size_t i = 0; i < ids.size(); i++)
			fprintf(o, "%s%u", i ? "," : "", ids[i]);
		fputc('\t', o);
		for (size_t i = 0; i < w.size(); i++)
			fprintf(o, "%s%.6f", i ? "," : "", w[i]);
		fputc('\n', o);
	}
	fclose(o);
	return 0;
}

static int
cmd_qps(const char *dbdir, const char *qlex, int threads, double seconds)
{
	vector<Q> qs = load_qlex(qlex);
	atomic<long> total(0);
	atomic<bool> go(false);
	vector<thread> th;
	vector<Xapian::Database> dbs;

	for (int t = 0; t < threads; t++)
		dbs.emplace_back(dbdir);
	for (int t = 0; t < threads; t++)
		th.emplace_back([&, t]() {
			size_t i = qs.size() * t / threads;
			long n = 0;

			while (!go.load())
				;
			double deadline = now_s() + seconds;
			while (now_s() < deadline)
			{
				Xapian::Enquire enq = make_enquire(dbs[t], qs[i]);
				Xapian::MSet m = enq.get_mset(0, 10);

				for (auto it = m.begin(); it != m.end(); ++it)
					(void) *it;
				n++;
				if (++i == qs.size())
					i = 0;
			}
			total += n;
		});
	double t0 = now_s();
	go = true;
	for (auto &x : th)
		x.join();
	double t = now_s() - t0;
	printf("queries %ld seconds %.3f qps %.1f errors 0\n", total.load(), t, total.load() / t);
	return 0;
}

// ---------------------------------------------------------------------------
// Exact BM25, written exactly as docs/ranking.md specifies (compile with
// -ffp-contract=off so that no fused multiply-add changes the rounding).
// ---------------------------------------------------------------------------
static int
cmd_exact(const char *postings, const char *qlex, const char *tidorder,
		  const char *out, double k1, double b)
{
	vector<unsigned long> heap_rank;	// id -> rank (from 1), 0 = none
	{
		ifstream in(tidorder);
		string line;

		if (!in)
		{
			perror(tidorder);
			exit(2);
		}
		while (getline(in, line))
		{
			unsigned id;
			unsigned long rank;

			if (sscanf(line.c_str(), "%u %lu", &id, &rank) == 2)
			{
				if (id >= heap_rank.size())
					heap_rank.resize((size_t) id * 2 + 1024, 0);
				heap_rank[id] = rank;
			}
		}
	}
	vector<Q> qs = load_qlex(qlex);
	// Only the query lexemes' postings are kept; every row counts in dl.
	unordered_map<string, vector<pair<unsigned, unsigned>>> inv;	// lexeme -> (id, tf)
	for (const Q &q : qs)
		for (const string &l : q.lex)
			inv[l];
	vector<double> dl;
	double total = 0;
	long n = 0;
	{
		PostingsReader rd(postings);
		unsigned id;
		unsigned tf;
		string lex;

		while (rd.next(&id, &lex, &tf))
		{
			if (id >= dl.size())
				dl.resize((size_t) id * 2 + 1024, 0.0);
			if (dl[id] == 0 && tf > 0)
				n++;
			dl[id] += tf;
			total += tf;
			auto it = inv.find(lex);
			if (it != inv.end())
				it->second.emplace_back(id, tf);
		}
	}
	double N = (double) n;
	double avgdl = (n > 0 && total > 0) ? total / N : 1.0;
	FILE *o = fopen(out, "w");

	fprintf(stderr, "exact: N %ld total_tokens %.0f avgdl %.17g query terms %zu\n", n, total, avgdl, inv.size());
	vector<double> acc;			// id -> partial score
	vector<long> last_term;		// id -> last term added, -1 = untouched
	vector<unsigned> touched;
	for (const Q &q : qs)
	{
		vector<string> lex = q.lex;

		// canonical order: memcmp, a proper prefix first (std::string's <)
		sort(lex.begin(), lex.end());
		lex.erase(unique(lex.begin(), lex.end()), lex.end());
		vector<double> idf(lex.size(), 0);
		vector<const vector<pair<unsigned, unsigned>> *> pl(lex.size(), NULL);
		for (size_t t = 0; t < lex.size(); t++)
		{
			auto it = inv.find(lex[t]);
			if (it == inv.end() || it->second.empty())
				continue;
			pl[t] = &it->second;
			double df = (double) it->second.size();
			if (df > N)
				df = N;
			idf[t] = log(1.0 + (N - df + 0.5) / (df + 0.5));
		}
		// Dense accumulators, term after term in canonical order: each
		// document's sum takes its terms in the same order, with the same
		// operations, as a per-document loop over the terms would, so the
		// scores are bit for bit those docs/ranking.md specifies.  With a
		// hash map per query this step took 217 s at 1M documents; this way
		// it takes about 5 minutes at 10M, reading the postings included.
		if (acc.size() < dl.size())
		{
			acc.assign(dl.size(), 0.0);
			last_term.assign(dl.size(), -1);
		}
		touched.clear();
		for (size_t t = 0; t < lex.size(); t++)
		{
			if (!pl[t])
				continue;
			for (const auto &p : *pl[t])
			{
				unsigned id = p.first;
				double tf = p.second;

				if (last_term[id] == (long) t)
				{
					fprintf(stderr, "exact: id %u has lexeme %s twice\n", id, lex[t].c_str());
					exit(2);
				}
				if (last_term[id] < 0)
					touched.push_back(id);
				last_term[id] = (long) t;
				if (p.second == 0)
					continue;
				double tfpart = tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl[id] / avgdl));
				acc[id] += idf[t] * tfpart;
			}
		}
		// (score, heap rank, id)
		struct Hit
		{
			double		score;
			unsigned long rank;
			unsigned	id;
		};
		vector<Hit> hits;
		hits.reserve(touched.size());
		for (unsigned id : touched)
		{
			double score = acc[id];

			acc[id] = 0.0;
			last_term[id] = -1;
			if (id >= heap_rank.size() || heap_rank[id] == 0)
			{
				fprintf(stderr, "exact: id %u not in the heap order file\n", id);
				exit(2);
			}
			hits.push_back(Hit{score, heap_rank[id], id});
		}
		size_t k = min<size_t>(10, hits.size());
		auto cmp = [](const Hit &x, const Hit &y) {
			return x.score > y.score || (x.score == y.score && x.rank < y.rank);
		};
		partial_sort(hits.begin(), hits.begin() + min<size_t>(11, hits.size()), hits.end(), cmp);
		fprintf(o, "%s\t%s\t%zu\t", q.qid.c_str(), q.bucket.c_str(), hits.size());
		for (size_t i = 0; i < k; i++)
			fprintf(o, "%s%u", i ? "," : "", hits[i].id);
		fputc('\t', o);
		for (size_t i = 0; i < k; i++)
			fprintf(o, "%s%.17g", i ? "," : "", hits[i].score);
		// the 11th score, to recognise ties across the cut
		fprintf(o, "\t%.17g\n", hits.size() > 10 ? hits[10].score : -1.0);
	}
	fclose(o);
	return 0;
}

int
main(int argc, char **argv)
{
	try
	{
		string c = argc > 1 ? argv[1] : "";

		if (c == "index" && argc == 4)
			return cmd_index(argv[2], argv[3]);
		if (c == "index-text" && argc == 4)
			return cmd_index_text(argv[2], argv[3]);
		if (c == "lat" && (argc == 5 || argc == 6))
			return cmd_lat(argv[2], argv[3], argv[4], argc == 6 ? atoi(argv[5]) : 0);
		if (c == "qps" && argc == 6)
			return cmd_qps(argv[2], argv[3], atoi(argv[4]), atof(argv[5]));
		if (c == "exact" && (argc == 6 || argc == 8))
			return cmd_exact(argv[2], argv[3], argv[4], argv[5],
							 argc == 8 ? atof(argv[6]) : 1.2,
							 argc == 8 ? atof(argv[7]) : 0.75);
	}
	catch (const Xapian::Error &e)
	{
		fprintf(stderr, "xbench: %s\n", e.get_description().c_str());
		return 1;
	}
	fprintf(stderr,
			"usage: xbench index POSTINGS DBDIR | index-text CORPUS DBDIR |\n"
			"       lat DBDIR QLEX OUT [WARMUP] | qps DBDIR QLEX THREADS SECONDS |\n"
			"       exact POSTINGS QLEX TIDORDER OUT [K1 B]\n");
	return 2;
}
