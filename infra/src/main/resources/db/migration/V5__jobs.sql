-- Async requests (POST /deployment/{id}/{route...}). The request body and the worker's answer are
-- kept here, never in Temporal history: they can be large, and they are the user's data.
-- Runs unchanged on PostgreSQL and on the embedded H2 database (PostgreSQL mode).
create table jobs (
  id                varchar(40)  primary key,
  tenant_id         varchar(64)  not null,
  deployment_id     varchar(40)  not null,
  route             varchar(300) not null,
  input             text         not null,
  status            varchar(16)  not null,
  workflow_started  boolean      not null default false,
  http_status       integer,
  result            text,
  result_type       varchar(200),
  error_message     text,
  idempotency_key   varchar(255),
  request_hash      varchar(64),
  created_at        timestamp with time zone not null,
  finished_at       timestamp with time zone,
  expires_at        timestamp with time zone
);
-- A retried submit with the same key finds the first one; keys are per tenant.
create unique index jobs_idempotency on jobs (tenant_id, idempotency_key);
-- Retention: finished jobs are removed once expired.
create index jobs_expires on jobs (expires_at);
-- Recovery after a restart: the jobs that have not finished.
create index jobs_status on jobs (status);
