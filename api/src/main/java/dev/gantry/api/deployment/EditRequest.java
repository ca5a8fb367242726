package dev.gantry.api.deployment;

/** The fields a running deployment lets a user change; null means unchanged. */
public record EditRequest(String name, Integer idleTimeoutSeconds, Integer waitTimeSeconds) {}
