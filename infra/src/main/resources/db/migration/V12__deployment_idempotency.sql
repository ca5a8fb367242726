-- Idempotency-Key on POST /api/v1/deployments: one row per key and tenant, written in the
-- transaction that creates the deployment (so a concurrent create with the same key waits for it,
-- then finds it), marked started once the deployment's workflow runs, kept until expires_at.
-- request_hash is a SHA-256 of the request's canonical JSON, never the request itself (its env
-- values are secrets).
create table deployment_idempotency (
  tenant_id        varchar(64)  not null,
  idempotency_key  varchar(255) not null,
  request_hash     varchar(64)  not null,
  deployment_id    varchar(40)  not null,
  started          boolean      not null default false,
  created_at       timestamp with time zone not null,
  expires_at       timestamp with time zone not null,
  primary key (tenant_id, idempotency_key)
);
create index deployment_idempotency_expires on deployment_idempotency (expires_at);
