-- Async job inputs move out of the jobs row. A job row is rewritten at every state change, and the
-- embedded H2 database stored each large input as a LOB and kept every superseded version of the
-- pages it touched for a while: 394 MB of inputs grew its file to 6.6 GB. Inputs are now written
-- once, compressed, in pieces of at most 64 KiB (rows every database stores without amplification),
-- and deleted as soon as their job ends; input_bytes (uncompressed) is what the per-tenant and
-- total bounds on stored inputs count. Runs unchanged on PostgreSQL and on H2 (PostgreSQL mode).
create table job_inputs (
  job_id      varchar(40) not null,
  seq         integer     not null,
  data        bytea       not null,
  created_at  timestamp with time zone not null,
  primary key (job_id, seq)
);
alter table jobs add column input_bytes bigint not null default 0;
-- Jobs stored before this version keep their input in jobs.input until they end; later ones leave
-- it null.
alter table jobs alter column input drop not null;
update jobs set input_bytes = octet_length(input) where status in ('queued', 'fetched', 'processing');
update jobs set input = null where status not in ('queued', 'fetched', 'processing');
