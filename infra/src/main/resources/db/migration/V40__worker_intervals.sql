-- Billing's source of truth: one row per worker, opened when the worker is first recorded and
-- closed once when it ends. Written by the activities that record worker status (through
-- WorkerRepository), never recomputed from what the workers listing still shows, so cost is exact
-- across restarts and never goes down. An interval still open bills up to now.
-- Runs unchanged on PostgreSQL and on the embedded H2 database (PostgreSQL mode).
create table worker_intervals (
  worker_id      varchar(100) primary key,
  deployment_id  varchar(40)  not null,
  gpu_type       varchar(32),
  gpu_count      integer      not null,
  started_at     timestamp with time zone not null,
  ended_at       timestamp with time zone
);
create index worker_intervals_deployment on worker_intervals (deployment_id, started_at);

-- Workers recorded before this table existed keep billing as they did.
insert into worker_intervals (worker_id, deployment_id, gpu_type, gpu_count, started_at, ended_at)
  select id, deployment_id, gpu_type, gpu_count, created_at, stopped_at from workers;

-- Time to the first byte of the worker's answer (for a stream, its first event); null when the
-- request never got one (refused, failed before an answer).
alter table usage_records add column ttft_ms bigint;
