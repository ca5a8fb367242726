-- A worker's cold start, step by step (healthy_at is the step between): the deployment's decision
-- to start it (its workflow's start), its engine process started, and the first request a gateway
-- handed to it. Null where the worker never got there, and for workers started before this.
alter table workers add column decided_at timestamp with time zone;
alter table workers add column process_started_at timestamp with time zone;
alter table workers add column first_routed_at timestamp with time zone;
