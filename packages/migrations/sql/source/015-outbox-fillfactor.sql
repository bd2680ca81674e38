-- Room on every outbox page for every row's lease update to stay a HOT update, which writes
-- no index entries. At fillfactor 70 (005-outbox-notify.sql) a page kept 30 % free for the new
-- versions of its rows, which are as large as the old: only 38 % of the leases fitted, and the
-- other 62 % wrote an entry into each of the outbox's six indexes. At 45 the free half of a
-- page holds a new version of every row on it: 100 % HOT, and a claim of 2,000 rows over
-- 200,000 pending took 27–32 ms instead of 44–46 (EXPLAIN ANALYZE); claim and delete alone
-- went from 25,000–29,000 to 48,000–55,000 rows/s (BENCHMARKS.md). The price is a table half
-- empty, in a queue that is nearly empty most of the time. It applies to pages written from
-- now on.
ALTER TABLE outbox SET (fillfactor = 45);
