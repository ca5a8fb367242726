-- Gateway replicas: each running gateway keeps one row and bumps its beat every heartbeat. Every
-- worker's concurrency slots are divided among the live rows (docs/architecture.md, "Cluster
-- mode"); view_hash is the membership a gateway divides by, and settled says its requests in flight
-- fit its share under that view, so a gateway takes a larger share only once every other one has
-- given up what it hands over. Liveness is judged by each reader's own clock (a beat that stopped
-- changing), never by comparing timestamps written on other hosts.
create table gateway_members (
  id         varchar(64) primary key,
  beat       bigint      not null,
  view_hash  bigint      not null,
  settled    boolean     not null
);
