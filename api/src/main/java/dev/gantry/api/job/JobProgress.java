package dev.gantry.api.job;

/** Sent by the executing gateway when the job got a worker slot, and when the engine answers. */
public record JobProgress(JobStatus status) {}
