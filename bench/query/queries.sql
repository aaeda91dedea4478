-- Named queries of the query benchmark (bench/scenarios/50-query.sh), over
-- the tables `pgbench -i` creates. The same statement twice: once cacheable
-- (answered by the gateway's near-cache or the result cache), once never
-- cached (every request reaches PostgreSQL), to set beside `pgbench -S`,
-- which runs this very SELECT.
--
-- aid is declared text and cast in SQL: a GET's query-string parameters are
-- strings, and this keeps the bench independent of the service's string
-- conversion of declared types.

-- name: account_cached
-- params: aid:text
-- cache: 60
SELECT aid, bid, abalance FROM pgbench_accounts WHERE aid = $1::int;

-- name: account_uncached
-- params: aid:text
-- cache: 0
SELECT aid, bid, abalance FROM pgbench_accounts WHERE aid = $1::int;
