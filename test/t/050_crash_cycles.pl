# Crash cycles: a bm25 index never loses a committed row and never shows an
# aborted one, whatever moment the server dies at.
#
# Each cycle runs a concurrent workload from forked worker processes (each
# with its own psql session): transactions that insert, update the indexed
# column of, and delete rows; about a third of them are rolled back; some
# are large enough to cross write_buffer_docs inside the transaction, so
# aborted rows end up in segments too.  Some cycles add a worker that runs
# VACUUM in a loop.  Then the server dies:
#   immediate       pg_ctl stop -m immediate in the middle of the workload
#   kill9           SIGKILL to the postmaster (its children exit on their own,
#                   or get SIGKILL too if they linger)
#   before_publish  a session arms bm25.debug_fault and inserts enough rows to
#                   convert the write buffer, or runs VACUUM: PANIC after the
#                   new segment file is written, fsync'd and WAL-logged, before
#                   the metapage publishing it
#   after_publish   the same after the new metapage's WAL is flushed, before
#                   the old files are unlinked (a merge or a VACUUM rewrite)
#
# What committed is known on the client side only: a worker writes a
# transaction's operations to its own log file before sending COMMIT, and
# marks it committed only after COMMIT returns.  A transaction whose COMMIT
# was sent but not answered is in doubt; it is resolved after the restart by
# its tag row in txlog, written by the same transaction (atomic with it).
#
# After each restart:
#   * the heap (sequential scan) equals the client-side record (harness check);
#   * the set of ids matched by @@@ through the bm25 index equals the record
#     for every marker term (all rows, per cycle, per worker, per word, per
#     in-doubt transaction) and 'aborted' (written only by transactions that
#     never committed) matches nothing;
#   * bm25_verify_index() passes;
#   * after VACUUM, N and total tokens equal those of a freshly built index on
#     the same table, and ranked top-k results (ids and scores, bit for bit)
#     of both indexes are identical.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use POSIX ();
use IO::Handle;
use Time::HiRes qw(time sleep);

my $t0 = time;
my $CYCLES = $ENV{BM25_CRASH_CYCLES} || 24;
my $NWORKERS = 3;    # worker w owns ids with id % 8 == w
my $SEED_SLOT = 6;   # seed rows; the fault session deletes these
my $FAULT_SLOT = 7;  # rows inserted by the fault session (never committed)
my $LIMIT = 40;      # write_buffer_docs of the index
my @VOCAB = qw(apple river stone cloud forest garden silver window candle
  harbor meadow thunder pepper violet copper);
my @MODES = qw(immediate before_publish kill9 after_publish);

srand(5050);

my $node = PostgreSQL::Test::Cluster->new('crash_cycles');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'bm25'
autovacuum_naptime = 2s
log_min_messages = warning
max_connections = 40
});
$node->start;

# ---------------------------------------------------------------------------
# The client-side record: id -> body of every committed row.
# ---------------------------------------------------------------------------
my %rows;
my %next_id;    # per slot: next sequence number (id = seq * 8 + slot)

sub new_id
{
	my ($slot) = @_;
	my $n = $next_id{$slot}++;
	return $n * 8 + $slot;
}

sub gen_body
{
	my ($cycle, $who, $tag, $aborted) = @_;
	my $len = 2 + int(rand(14));
	my @w = map { $VOCAB[ int(rand()**2 * @VOCAB) ] } 1 .. $len;
	return join(' ', 'mark', "cyc$cycle", $who, $tag, @w, ($aborted ? 'aborted' : ()));
}

$node->safe_psql('postgres', q{
	CREATE EXTENSION bm25;
	CREATE TABLE docs (id int PRIMARY KEY, body text);
	CREATE TABLE txlog (tag text PRIMARY KEY);
});
{
	my @vals;
	for my $i (1 .. 1500)
	{
		my $id = new_id($SEED_SLOT);
		$rows{$id} = gen_body(0, 'seed', 'tseed', 0);
		push @vals, "($id, '$rows{$id}')";
	}
	$node->safe_psql('postgres', 'INSERT INTO docs VALUES ' . join(',', @vals));
}
$node->safe_psql('postgres', qq{
	CREATE INDEX docs_bm25 ON docs USING bm25 (body)
	  WITH (text_config = 'english', write_buffer_docs = $LIMIT)});
$next_id{$_} = 0 for 0 .. $NWORKERS - 1;
$next_id{$FAULT_SLOT} = 0;

like($node->safe_psql('postgres', q{SET enable_seqscan = off;
	EXPLAIN (COSTS OFF) SELECT id FROM docs WHERE body @@@ bm25_query('mark', 'docs_bm25')}),
	qr/docs_bm25/, 'marker queries go through the bm25 index');

# ---------------------------------------------------------------------------
# Workers (forked; they must never run the parent's END blocks: _exit).
# ---------------------------------------------------------------------------
sub worker_main
{
	my ($cycle, $w, $logfile) = @_;
	srand($cycle * 1000 + $w * 7 + 1);
	open(my $log, '>', $logfile) or POSIX::_exit(1);
	$log->autoflush(1);
	my %mine = map { $_ => $rows{$_} } grep { $_ % 8 == $w } keys %rows;
	my $s = eval { $node->background_psql('postgres', timeout => 60) };
	if (!$s)
	{
		print $log "E\t" . time . "\tconnect: " . ($@ =~ s/\n/ /gr) . "\n";
		POSIX::_exit(0);
	}
	for my $n (1 .. 100000)
	{
		my $commit = rand() < 0.65;
		my $tag = "t${cycle}x${w}x$n";
		my (@ops, @sql);
		my $ni = rand() < 0.06 ? $LIMIT + int(rand($LIMIT)) : 1 + int(rand(3));
		my @vals;
		for (1 .. $ni)
		{
			my $id = new_id($w);
			my $b = gen_body($cycle, "wrk$w", $tag, !$commit);
			push @ops, "I:$id:$b";
			push @vals, "($id, '$b')";
		}
		push @sql, 'INSERT INTO docs VALUES ' . join(',', @vals);
		my @have = keys %mine;
		for (1 .. int(rand(3)))
		{
			last unless @have;
			my $id = $have[ int(rand(@have)) ];
			my $b = gen_body($cycle, "wrk$w", $tag, !$commit);
			push @ops, "U:$id:$b";
			push @sql, "UPDATE docs SET body = '$b' WHERE id = $id";
		}
		if (@have && rand() < 0.5)
		{
			my $id = $have[ int(rand(@have)) ];
			push @ops, "D:$id";
			push @sql, "DELETE FROM docs WHERE id = $id";
		}
		push @sql, "INSERT INTO txlog VALUES ('$tag')";
		my $ok = eval { $s->query_safe("BEGIN;\n" . join(";\n", @sql) . ";\n"); 1 };
		if ($ok && $commit)
		{
			print $log "P\t$tag\t" . join('|', @ops) . "\n";
			$ok = eval { $s->query_safe('COMMIT'); 1 };
			if ($ok)
			{
				print $log "C\t$tag\n";
				for my $op (@ops)
				{
					my ($k, $id, $b) = split(/:/, $op, 3);
					if ($k eq 'D') { delete $mine{$id} }
					else { $mine{$id} = $b }
				}
			}
		}
		elsif ($ok)
		{
			$ok = eval { $s->query_safe('ROLLBACK'); 1 };
			print $log "R\t$tag\n" if $ok;
		}
		if (!$ok)
		{
			print $log "E\t" . time . "\t" . ($@ =~ s/\n/ /gr) . "\n";
			last;
		}
	}
	eval { $s->{run}->kill_kill };
	POSIX::_exit(0);
}

sub vacuum_worker_main
{
	my ($cycle, $logfile) = @_;
	open(my $log, '>', $logfile) or POSIX::_exit(1);
	$log->autoflush(1);
	my $s = eval { $node->background_psql('postgres', timeout => 60) };
	POSIX::_exit(0) unless $s;
	for (my $i = 0;; $i++)
	{
		sleep(0.1 + rand(0.3));
		if (!eval { $s->query_safe($i % 2 ? 'VACUUM docs' : 'VACUUM (INDEX_CLEANUP ON) docs'); 1 })
		{
			print $log "E\t" . time . "\t" . ($@ =~ s/\n/ /gr) . "\n";
			last;
		}
		print $log "V\n";
	}
	eval { $s->{run}->kill_kill };
	POSIX::_exit(0);
}

sub spawn
{
	my ($fn, @args) = @_;
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		eval { $fn->(@args) };
		POSIX::_exit(0);
	}
	return $pid;
}

# Waits for the forked workers; SIGKILLs any still there after $secs.
sub reap
{
	my ($secs, @pids) = @_;
	my $deadline = time + $secs;
	my %left = map { $_ => 1 } @pids;
	while (%left && time < $deadline)
	{
		for my $p (keys %left)
		{
			delete $left{$p} if waitpid($p, POSIX::WNOHANG()) != 0;
		}
		sleep(0.05) if %left;
	}
	for my $p (keys %left)
	{
		diag("worker $p still running, killing it");
		kill 'KILL', $p;
		waitpid($p, 0);
	}
}

# ---------------------------------------------------------------------------
# Crashing
# ---------------------------------------------------------------------------
sub children_of
{
	my ($ppid) = @_;
	my @kids;
	opendir(my $d, '/proc') or return ();
	for my $p (grep { /^\d+$/ } readdir($d))
	{
		open(my $fh, '<', "/proc/$p/stat") or next;
		my $st = <$fh>;
		close($fh);
		next unless defined $st && $st =~ /\)\s+\S+\s+(\d+)/;
		push @kids, $p if $1 == $ppid;
	}
	closedir($d);
	return @kids;
}

sub wait_gone
{
	my ($secs, @pids) = @_;
	my $deadline = time + $secs;
	while (time < $deadline)
	{
		@pids = grep { kill(0, $_) } @pids;
		return 1 unless @pids;
		sleep(0.05);
	}
	return 0;
}

# SIGKILL to the postmaster; its children notice and exit; stragglers
# (busy backends) get SIGKILL as well so that the next start can proceed.
sub crash_kill9
{
	my $pm = $node->{_pid};
	my @kids = children_of($pm);
	$node->kill9;
	if (!wait_gone(5, $pm, @kids))
	{
		kill 'KILL', grep { kill(0, $_) } @kids;
		wait_gone(10, $pm, @kids) or BAIL_OUT('server processes survive SIGKILL');
	}
}

# After a PANIC: the postmaster (restart_after_crash = off) exits by itself.
sub wait_server_down
{
	my $pm = $node->{_pid};
	wait_gone(60, $pm) or return 0;
	$node->_update_pid(-1);
	return 1;
}

my $fault_deletes = 0;

# Arms bm25.debug_fault in a session of its own and triggers maintenance that
# reaches the point; retries (the workload can make VACUUM find nothing to
# remove, or another session convert the buffer first).  Returns whether the
# fault fired.
sub crash_fault
{
	my ($point, $trigger, $cycle) = @_;
	for my $attempt (1 .. 6)
	{
		my $sql;
		if ($trigger eq 'vacuum')
		{
			# committed deletes of seed rows give VACUUM something to rewrite
			my @seed = (sort { $a <=> $b } grep { $_ % 8 == $SEED_SLOT } keys %rows)[ 0 .. 9 ];
			@seed = grep { defined } @seed;
			if (@seed)
			{
				$node->safe_psql('postgres', 'DELETE FROM docs WHERE id IN (' . join(',', @seed) . ')');
				delete @rows{@seed};
				$fault_deletes += @seed;
			}
			$sql = "SET bm25.debug_fault = '$point'; VACUUM (INDEX_CLEANUP ON) docs;";
		}
		else
		{
			my @vals;
			for (1 .. 3 * $LIMIT + 5)
			{
				my $id = new_id($FAULT_SLOT);
				push @vals, "($id, '" . gen_body($cycle, 'fault', "tfault$cycle", 1) . "')";
			}
			$sql = "SET bm25.debug_fault = '$point'; BEGIN; INSERT INTO docs VALUES "
			  . join(',', @vals) . '; ROLLBACK;';
		}
		my $logpos = -s $node->logfile;
		my ($out, $err) = ('', '');
		my $ret = $node->psql('postgres', $sql, stdout => \$out, stderr => \$err, timeout => 120);
		if ($ret != 0)
		{
			wait_server_down() or BAIL_OUT("server still up after a failed fault trigger: $err");
			my $log = slurp_file($node->logfile, $logpos);
			return 1 if $log =~ /PANIC:  bm25 fault injection at "\Q$point\E"/;
			diag("cycle $cycle: fault session failed without the injected PANIC: $err");
			return 0;
		}
		sleep(0.2);
	}
	return 0;
}

# ---------------------------------------------------------------------------
# Checking
# ---------------------------------------------------------------------------
# term -> sorted comma-separated ids of the committed rows containing it
sub expected_by_term
{
	my %by;
	for my $id (sort { $a <=> $b } keys %rows)
	{
		my %seen;
		for my $t (split(/ /, $rows{$id}))
		{
			push @{ $by{$t} }, $id unless $seen{$t}++;
		}
	}
	return { map { $_ => join(',', @{ $by{$_} }) } keys %by };
}

sub ranked_sql
{
	my ($q, $idx, $k) = @_;
	return qq{SELECT coalesce(string_agg(id || '=' || s, ' ' ORDER BY n), '') FROM (
	  SELECT id, s, row_number() OVER () AS n FROM (
	    SELECT id, bm25_score(body, bm25_query('$q', '$idx')) AS s FROM docs
	     WHERE body \@\@\@ bm25_query('$q', '$idx')
	     ORDER BY bm25_score(body, bm25_query('$q', '$idx')) DESC LIMIT $k) x) y;};
}

my @RANKED = ('apple', 'river stone', 'thunder violet copper', '+silver apple',
	'meadow -apple', 'candle harbor pepper window', 'mark copper', 'aborted');

my %stats = (in_doubt => 0, in_doubt_committed => 0, committed => 0, rolled_back => 0);

sub check_cycle
{
	my ($cycle, $mode, $doubt_tags) = @_;
	my $what = "cycle $cycle ($mode)";

	# harness check: the heap equals the client-side record
	my $heap = $node->safe_psql('postgres', q{
		SET enable_indexscan = off; SET enable_bitmapscan = off;
		SELECT id || ':' || body FROM docs ORDER BY id});
	my $want = join("\n", map { "$_:$rows{$_}" } sort { $a <=> $b } keys %rows);
	if (!is($heap eq $want ? 'same' : 'different', 'same', "$what: heap equals the client-side record"))
	{
		my %h = map { split(/:/, $_, 2) } split(/\n/, $heap);
		my @miss = grep { !exists $h{$_} || $h{$_} ne $rows{$_} } sort { $a <=> $b } keys %rows;
		my @extra = grep { !exists $rows{$_} } sort { $a <=> $b } keys %h;
		diag("missing/different in heap: @miss[0 .. ($#miss < 9 ? $#miss : 9)]; unexpected: @extra[0 .. ($#extra < 9 ? $#extra : 9)]");
	}

	# @@@ through the index, before anything touches it
	my @terms = ('mark', 'aborted', 'seed', (map { "cyc$_" } 0, grep { $_ > 0 } $cycle - 4 .. $cycle),
		(map { "wrk$_" } 0 .. $NWORKERS - 1), @VOCAB, @$doubt_tags);
	my $sql = "SET enable_seqscan = off;\n";
	$sql .= "SELECT '$_:' || coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM docs "
	  . "WHERE body \@\@\@ bm25_query('$_', 'docs_bm25');\n" for @terms;
	my @got = split(/\n/, $node->safe_psql('postgres', $sql));
	my $by = expected_by_term();
	my $bad = 0;
	for my $i (0 .. $#terms)
	{
		my $t = $terms[$i];
		my $exp = "$t:" . ($t eq 'aborted' ? '' : $by->{$t} // '');
		next if defined $got[$i] && $got[$i] eq $exp;
		$bad++;
		my %g = map { $_ => 1 } split(/,/, (split(/:/, $got[$i] // '', 2))[1] // '');
		my %e = map { $_ => 1 } split(/,/, (split(/:/, $exp, 2))[1]);
		my @lost = grep { !$g{$_} } sort { $a <=> $b } keys %e;
		my @ghost = grep { !$e{$_} } sort { $a <=> $b } keys %g;
		diag("$what: term '$t': " . scalar(@lost) . " committed rows not found (e.g. @lost[0 .. ($#lost < 9 ? $#lost : 9)]), "
			  . scalar(@ghost) . " unexpected rows (e.g. @ghost[0 .. ($#ghost < 9 ? $#ghost : 9)])");
	}
	is($bad, 0, "$what: \@\@\@ finds exactly the committed rows for " . scalar(@terms) . " terms");
	is($node->safe_psql('postgres', "SELECT bm25_verify_index('docs_bm25')"), 't', "$what: index verifies");

	# against a fresh index over the same (vacuumed) table; INDEX_CLEANUP ON,
	# or VACUUM may bypass index vacuuming when few pages have dead items
	$node->safe_psql('postgres', 'VACUUM (INDEX_CLEANUP ON) docs');
	is($node->safe_psql('postgres', "SELECT bm25_verify_index('docs_bm25')"), 't', "$what: index verifies after VACUUM");
	$node->safe_psql('postgres', qq{CREATE INDEX docs_fresh ON docs USING bm25 (body)
		WITH (text_config = 'english', write_buffer_docs = $LIMIT)});
	my $st = "SELECT documents || ' ' || total_tokens FROM bm25_index_stats('%s')";
	my $nlive = scalar(keys %rows);
	is($node->safe_psql('postgres', sprintf($st, 'docs_bm25')),
		$node->safe_psql('postgres', sprintf($st, 'docs_fresh')),
		"$what: N and total tokens equal a fresh index's");
	is($node->safe_psql('postgres', "SELECT documents FROM bm25_index_stats('docs_bm25')"), $nlive,
		"$what: N after VACUUM is the number of committed rows");
	my ($old, $new) = ('', '');
	for my $q (@RANKED)
	{
		$old .= "$q: " . $node->safe_psql('postgres', ranked_sql($q, 'docs_bm25', 10)) . "\n";
		$new .= "$q: " . $node->safe_psql('postgres', ranked_sql($q, 'docs_fresh', 10)) . "\n";
	}
	$old .= 'all river: ' . $node->safe_psql('postgres', ranked_sql('river', 'docs_bm25', 100000));
	$new .= 'all river: ' . $node->safe_psql('postgres', ranked_sql('river', 'docs_fresh', 100000));
	is($old, $new, "$what: top-k ids and scores equal a fresh index's");
	$node->safe_psql('postgres', 'DROP INDEX docs_fresh');
}

# ---------------------------------------------------------------------------
# Cycles
# ---------------------------------------------------------------------------
my $logdir = PostgreSQL::Test::Utils::tempdir();
my %fired;
for my $cycle (1 .. $CYCLES)
{
	my $mode = $MODES[ ($cycle - 1) % @MODES ];
	my $trigger = ($cycle % 8 < 4) ? 'insert' : 'vacuum';
	my $vacuumer = ($cycle % 3 == 0);
	my $desc = $mode =~ /publish/ ? "$mode/$trigger" : $mode;
	$desc .= '+vacuum loop' if $vacuumer;

	my @pids;
	for my $w (0 .. $NWORKERS - 1)
	{
		push @pids, spawn(\&worker_main, $cycle, $w, "$logdir/c$cycle.w$w");
	}
	push @pids, spawn(\&vacuum_worker_main, $cycle, "$logdir/c$cycle.vac") if $vacuumer;
	sleep(0.5 + rand(0.9));

	if ($mode eq 'immediate')
	{
		$node->stop('immediate');
	}
	elsif ($mode eq 'kill9')
	{
		crash_kill9();
	}
	else
	{
		my $ok = crash_fault($mode, $trigger, $cycle);
		ok($ok, "cycle $cycle: fault $mode fired during $trigger");
		$fired{"$mode/$trigger"}++ if $ok;
		$node->stop('immediate') if !$ok && defined $node->{_pid};
	}
	reap(30, @pids);

	# what committed, per the workers' own records
	my (@doubt_tags, @errors);
	my %pending;
	for my $w (0 .. $NWORKERS - 1)
	{
		open(my $fh, '<', "$logdir/c$cycle.w$w") or next;
		my $last_p;
		while (my $l = <$fh>)
		{
			chomp $l;
			my ($k, $tag, $rest) = split(/\t/, $l, 3);
			if ($k eq 'P') { $pending{$tag} = $rest; $last_p = $tag }
			elsif ($k eq 'C')
			{
				for my $op (split(/\|/, delete $pending{$tag}))
				{
					my ($o, $id, $b) = split(/:/, $op, 3);
					if ($o eq 'D') { delete $rows{$id} }
					else { $rows{$id} = $b }
				}
				$stats{committed}++;
			}
			elsif ($k eq 'R') { $stats{rolled_back}++ }
			elsif ($k eq 'E') { push @errors, "worker $w: $rest" }
		}
		close($fh);
	}
	if (open(my $fh, '<', "$logdir/c$cycle.vac"))
	{
		while (my $l = <$fh>)
		{
			push @errors, 'vacuum: ' . (split(/\t/, $l, 3))[2] if $l =~ /^E/;
		}
	}
	# ids a worker may have used (committed or not) are never reused
	$next_id{$_} += 100000 for 0 .. $NWORKERS - 1;

	# every worker stopped because the server went away, not on an error
	my @unexpected = grep {
		!/server closed the connection|terminating connection|connection to server was lost|no connection to the server|could not send data|could not receive data|pump|process ended prematurely|Broken pipe|the database system is shutting down/
	} @errors;
	is(scalar(@unexpected), 0, "cycle $cycle: workers failed only because the server went away")
	  or diag(join("\n", @unexpected));

	$node->start;

	for my $tag (sort keys %pending)
	{
		$stats{in_doubt}++;
		push @doubt_tags, $tag;
		my $w = ($tag =~ /^t\d+x(\d+)x/)[0];
		if ($node->safe_psql('postgres', "SELECT count(*) FROM txlog WHERE tag = '$tag'") eq '1')
		{
			$stats{in_doubt_committed}++;
			for my $op (split(/\|/, $pending{$tag}))
			{
				my ($o, $id, $b) = split(/:/, $op, 3);
				if ($o eq 'D') { delete $rows{$id} }
				else { $rows{$id} = $b }
			}
		}
	}
	note("cycle $cycle: $desc, " . scalar(keys %rows) . " rows");
	check_cycle($cycle, $desc, \@doubt_tags);
}

# The fault points really were hit, both with a conversion/merge and with VACUUM.
for my $k ('before_publish/insert', 'before_publish/vacuum', 'after_publish/insert', 'after_publish/vacuum')
{
	cmp_ok($fired{$k} // 0, '>=', 1, "fault $k was hit");
}
cmp_ok($stats{committed}, '>=', 10 * $CYCLES, "workload committed enough transactions ($stats{committed})");
cmp_ok($stats{rolled_back}, '>=', 5 * $CYCLES, "workload rolled back enough transactions ($stats{rolled_back})");

# No orphans once things settle: segment files that no manifest lists (left
# by a crash before publication or before unlinking) are overwritten or
# swept, as docs/durability.md promises; after a clean restart, a VACUUM
# and a checkpoint the directory holds exactly the listed segments.
$node->restart;
$node->safe_psql('postgres', 'VACUUM (INDEX_CLEANUP ON) docs; CHECKPOINT');
my $dir = $node->data_dir . '/' . $node->safe_psql('postgres', q{
	SELECT format('bm25/%s/%s_%s', d.oid, t.oid, c.relfilenode)
	  FROM pg_class c, pg_database d, pg_tablespace t
	 WHERE c.relname = 'docs_bm25' AND d.datname = current_database() AND t.spcname = 'pg_default'});
opendir(my $dh, $dir) or die "opendir $dir: $!";
my @files = sort grep { /^seg_/ } readdir($dh);
closedir($dh);
my $nsegs = $node->safe_psql('postgres', "SELECT segments FROM bm25_index_stats('docs_bm25')");
is(scalar(@files), $nsegs, 'no orphaned segment files are left behind')
  or diag("on disk: @files; the manifest lists $nsegs");

note(sprintf("%d cycles, %d committed, %d rolled back, %d in doubt (%d committed), %.0fs",
	$CYCLES, $stats{committed}, $stats{rolled_back}, $stats{in_doubt},
	$stats{in_doubt_committed}, time - $t0));
$node->stop;
done_testing();
