package dev.gantry.gateway.inference;

import dev.gantry.infra.config.GantryProperties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Bounds the request body bytes that synchronous inference requests hold in memory: from the first
 * byte received, through the wait in the deployment's queue, until the request ends (the body is
 * kept until then, for the one retry on another worker). One bound per deployment, one per tenant
 * and one for the whole gateway, so that neither one deployment nor one tenant can fill the heap
 * that every other tenant's requests need. A request that would pass any of them is refused (429)
 * instead of being buffered.
 *
 * <p>The counters are lock-free; a {@link Hold} is one request's share and must be released on
 * every way the request ends.
 */
final class BodyBudget {
  private final long totalLimit;
  private final long tenantLimit;
  private final long deploymentLimit;
  private final AtomicLong total = new AtomicLong();

  /** Tenants are few and long-lived (an admin creates them): their counters are kept. */
  private final ConcurrentHashMap<String, AtomicLong> tenants = new ConcurrentHashMap<>();

  BodyBudget(long totalLimit, long tenantLimit, long deploymentLimit) {
    if (totalLimit < tenantLimit || tenantLimit < deploymentLimit || deploymentLimit <= 0) {
      throw new IllegalArgumentException(
          "Body budgets must be positive and total >= per tenant >= per deployment, got "
              + totalLimit
              + " / "
              + tenantLimit
              + " / "
              + deploymentLimit);
    }
    this.totalLimit = totalLimit;
    this.tenantLimit = tenantLimit;
    this.deploymentLimit = deploymentLimit;
  }

  /**
   * The bounds from the settings; an unset one (0) is derived from the maximum heap: a quarter of
   * it in all, half of that per tenant, half of that per deployment. Per deployment it is never
   * below the largest body, so every request the size limit lets in can be taken when it is alone.
   */
  static BodyBudget of(GantryProperties.Gateway settings, long maxHeapBytes) {
    long total = settings.queuedBodyBytes() > 0 ? settings.queuedBodyBytes() : maxHeapBytes / 4;
    long tenant =
        settings.queuedBodyBytesPerTenant() > 0 ? settings.queuedBodyBytesPerTenant() : total / 2;
    long deployment =
        settings.queuedBodyBytesPerDeployment() > 0
            ? settings.queuedBodyBytesPerDeployment()
            : tenant / 2;
    long floor = settings.maxBodyBytes();
    if (settings.queuedBodyBytesPerDeployment() > 0 && deployment < floor) {
      throw new IllegalArgumentException(
          "gantry.gateway.queued-body-bytes-per-deployment ("
              + deployment
              + ") must be at least gantry.gateway.max-body-bytes ("
              + floor
              + ")");
    }
    // Only derived bounds are raised; bounds that were set and disagree are refused below.
    if (settings.queuedBodyBytesPerDeployment() == 0) {
      deployment = Math.max(deployment, floor);
    }
    if (settings.queuedBodyBytesPerTenant() == 0) {
      tenant = Math.max(tenant, deployment);
    }
    if (settings.queuedBodyBytes() == 0) {
      total = Math.max(total, tenant);
    }
    return new BodyBudget(total, tenant, deployment);
  }

  long totalLimit() {
    return totalLimit;
  }

  long tenantLimit() {
    return tenantLimit;
  }

  long deploymentLimit() {
    return deploymentLimit;
  }

  /** Bytes held now by all requests. */
  long held() {
    return total.get();
  }

  /** Bytes held now by the requests of {@code tenantId}. */
  long heldBy(String tenantId) {
    AtomicLong c = tenants.get(tenantId);
    return c == null ? 0 : c.get();
  }

  /** A new, empty share for one request of {@code tenantId} to the deployment counted by it. */
  Hold hold(String tenantId, AtomicLong deploymentCounter) {
    return new Hold(tenants.computeIfAbsent(tenantId, t -> new AtomicLong()), deploymentCounter);
  }

  private static boolean tryAdd(AtomicLong counter, long n, long limit) {
    while (true) {
      long now = counter.get();
      if (now + n > limit) {
        return false;
      }
      if (counter.compareAndSet(now, now + n)) {
        return true;
      }
    }
  }

  /**
   * One request's share of the budget, used by one thread at a time (a relay's event loop, or an
   * async job's steps, one after the other); the counters it moves are shared.
   */
  final class Hold {
    private final AtomicLong tenant;
    private final AtomicLong deployment;
    private volatile long held;

    private Hold(AtomicLong tenant, AtomicLong deployment) {
      this.tenant = tenant;
      this.deployment = deployment;
    }

    /**
     * Takes {@code n} more bytes if every bound has room for them.
     *
     * @return false (and nothing taken) when one of the bounds would be passed
     */
    boolean reserve(long n) {
      if (n <= 0) {
        return true;
      }
      if (!tryAdd(deployment, n, deploymentLimit)) {
        return false;
      }
      if (!tryAdd(tenant, n, tenantLimit)) {
        deployment.addAndGet(-n);
        return false;
      }
      if (!tryAdd(total, n, totalLimit)) {
        tenant.addAndGet(-n);
        deployment.addAndGet(-n);
        return false;
      }
      held += n;
      return true;
    }

    /** Gives back {@code n} of the bytes held (no more than are held). */
    void release(long n) {
      long given = Math.min(n, held);
      if (given <= 0) {
        return;
      }
      held -= given;
      total.addAndGet(-given);
      tenant.addAndGet(-given);
      deployment.addAndGet(-given);
    }

    /** Gives back everything; safe to call more than once. */
    void releaseAll() {
      release(held);
    }

    long held() {
      return held;
    }
  }
}
