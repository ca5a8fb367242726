package dev.gantry.api.worker;

/** Why the worker is being drained, e.g. the deployment is being deleted. */
public record DrainRequest(String reason) {}
