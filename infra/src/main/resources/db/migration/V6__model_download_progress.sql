-- Progress of the model download while a deployment is downloading_model: bytes in storage so far
-- and the model's total, written by the download activity (throttled), shown in the deployment
-- object. Null until the first report.
alter table deployments add column download_bytes_done bigint;
alter table deployments add column download_bytes_total bigint;
