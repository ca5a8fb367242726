-- Worker ordinals only grow per deployment, so a recovered deployment never reuses a worker id.
alter table workers add column ordinal integer not null default 0;
create index workers_current on workers (stopped_at, deployment_id);
