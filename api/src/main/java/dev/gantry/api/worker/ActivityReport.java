package dev.gantry.api.worker;

/**
 * The worker served requests; {@code lastActiveEpochMillis} is when it last did. Reports are
 * coalesced by the sender (a few per idle timeout at most), never one per request.
 */
public record ActivityReport(long lastActiveEpochMillis) {}
