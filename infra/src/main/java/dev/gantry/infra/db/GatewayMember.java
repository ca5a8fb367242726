package dev.gantry.infra.db;

/**
 * One gateway replica's row in {@code gateway_members}.
 *
 * @param beat bumped on every heartbeat; a row whose beat stops changing belongs to a gone gateway
 * @param viewHash the membership the gateway divides worker slots by
 * @param settled whether the gateway's requests in flight fit its share under that membership
 */
public record GatewayMember(String id, long beat, long viewHash, boolean settled) {}
