package dev.gantry.activities.deployment;

import dev.gantry.infra.config.GantryProperties;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.stereotype.Component;

/**
 * Each tenant's share of the model downloads running on this orchestrator, so that one tenant with
 * many deployments (or a slow Hub) cannot occupy every download while others wait. The download
 * queue's worker slots bound all downloads together; this bounds one tenant's.
 */
@Component
public class DownloadSlots {
  private final int perTenant;
  private final Map<String, Semaphore> tenants = new ConcurrentHashMap<>();

  @Autowired
  public DownloadSlots(GantryProperties properties) {
    this(properties.models().maxDownloadsPerTenant());
  }

  public DownloadSlots(int perTenant) {
    this.perTenant = perTenant;
  }

  public int perTenant() {
    return perTenant;
  }

  /** Takes one of the tenant's slots if one is free; never waits. */
  public boolean tryAcquire(String tenantId) {
    return semaphore(tenantId).tryAcquire();
  }

  public void release(String tenantId) {
    semaphore(tenantId).release();
  }

  private Semaphore semaphore(String tenantId) {
    return tenants.computeIfAbsent(tenantId, t -> new Semaphore(perTenant));
  }
}
