package dev.gantry.activities.deployment;

import dev.gantry.infra.config.GantryProperties;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.stereotype.Component;

/**
 * Each tenant's share of the model downloads running on this orchestrator, so that one tenant with
 * many deployments (or a slow Hub) cannot occupy every download while others wait. The download
 * queue's worker slots bound all downloads together; this bounds one tenant's.
 */
@Component
public class DownloadSlots implements MeterBinder {
  private final int perTenant;

  /** Model bytes downloaded into storage by this orchestrator, for {@code /actuator/prometheus}. */
  private final AtomicLong downloadedBytes = new AtomicLong();

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

  /** Counts bytes a download brought into storage. */
  public void downloaded(long bytes) {
    if (bytes > 0) {
      downloadedBytes.addAndGet(bytes);
    }
  }

  @Override
  public void bindTo(MeterRegistry registry) {
    FunctionCounter.builder("gantry.model.download.bytes", downloadedBytes, AtomicLong::get)
        .description("Model bytes downloaded into deployments' storage")
        .baseUnit("bytes")
        .register(registry);
  }

  private Semaphore semaphore(String tenantId) {
    return tenants.computeIfAbsent(tenantId, t -> new Semaphore(perTenant));
  }
}
