-- When the deployment's last scale-up was refused for lack of GPUs (null when it was not): the
-- gateway answers requests that waited for that scale-up 503 instead of letting them wait out.
alter table deployments add column capacity_blocked_at timestamp with time zone;
