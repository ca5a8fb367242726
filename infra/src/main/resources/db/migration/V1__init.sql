-- Runs unchanged on PostgreSQL and on the embedded H2 database (PostgreSQL mode).

create table tenants (
  id          varchar(64)  primary key,
  created_at  timestamp with time zone not null
);

create table api_keys (
  id          varchar(40)  primary key,
  tenant_id   varchar(64)  not null references tenants (id),
  name        varchar(100) not null,
  prefix      varchar(16)  not null,
  key_hash    varchar(64)  not null,
  admin       boolean      not null,
  created_at  timestamp with time zone not null,
  revoked_at  timestamp with time zone
);
create unique index api_keys_hash on api_keys (key_hash);
create index api_keys_tenant on api_keys (tenant_id);

-- Env values, encrypted with AES-GCM; ciphertext holds nonce and tag, base64.
create table secrets (
  id          varchar(40)  primary key,
  tenant_id   varchar(64)  not null references tenants (id),
  key_id      varchar(64)  not null,
  ciphertext  text         not null,
  created_at  timestamp with time zone not null
);

create table deployments (
  id             varchar(40)  primary key,
  tenant_id      varchar(64)  not null references tenants (id),
  name           varchar(100) not null,
  spec           text         not null,
  secret_id      varchar(40)  references secrets (id),
  status         varchar(32)  not null,
  status_reason  text,
  created_at     timestamp with time zone not null,
  updated_at     timestamp with time zone not null
);
create index deployments_tenant_created on deployments (tenant_id, created_at);

create table workers (
  id              varchar(100) primary key,
  deployment_id   varchar(40)  not null references deployments (id),
  status          varchar(32)  not null,
  gpu_type        varchar(32),
  gpu_count       integer      not null,
  endpoint        varchar(200),
  in_flight       integer      not null default 0,
  failure_reason  text,
  created_at      timestamp with time zone not null,
  healthy_at      timestamp with time zone,
  stopped_at      timestamp with time zone
);
create index workers_deployment on workers (deployment_id, created_at);
