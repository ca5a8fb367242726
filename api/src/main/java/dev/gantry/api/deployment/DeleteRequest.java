package dev.gantry.api.deployment;

/** Asks a deployment to tear itself down. {@code requestedBy} is the API key id, for audit. */
public record DeleteRequest(String requestedBy) {}
