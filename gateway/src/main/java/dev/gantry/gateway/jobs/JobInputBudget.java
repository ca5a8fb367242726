package dev.gantry.gateway.jobs;

import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.jobs.JobRepository;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Bounds the input bytes that unfinished async jobs keep stored, per tenant and in all. The
 * database holds what is stored (an input is removed when its job ends); the submits of this
 * gateway that are between their check and their insert are counted here too, so concurrent submits
 * cannot pass a bound together. Submits on other gateways at the same instant may, by at most one
 * input each.
 */
final class JobInputBudget {
  private final JobRepository jobs;
  private final long perTenant;
  private final long total;
  private final AtomicLong pendingTotal = new AtomicLong();
  private final ConcurrentHashMap<String, AtomicLong> pending = new ConcurrentHashMap<>();

  JobInputBudget(JobRepository jobs, GantryProperties.Jobs settings) {
    this.jobs = jobs;
    this.perTenant = settings.maxInputBytesPerTenant();
    this.total = settings.maxInputBytes();
  }

  /** Bytes being stored by submits of this gateway that have not finished. */
  long pending() {
    return pendingTotal.get();
  }

  /**
   * Reserves room for an input of {@code bytes}; close the reservation once the input is stored (or
   * not). Null when the tenant's bound or the total would be passed: nothing is reserved then.
   */
  Reservation reserve(String tenantId, long bytes) {
    AtomicLong mine = pending.computeIfAbsent(tenantId, t -> new AtomicLong());
    long tenantPending = mine.addAndGet(bytes);
    long allPending = pendingTotal.addAndGet(bytes);
    var reservation = new Reservation(mine, bytes);
    // Both reads see this submit's own bytes as pending, and every other submit's either as
    // pending or as stored (an insert ends before its reservation is closed).
    if (jobs.storedInputBytes(tenantId) + tenantPending > perTenant
        || jobs.storedInputBytes() + allPending > total) {
      reservation.close();
      return null;
    }
    return reservation;
  }

  /** One submit's reserved bytes. */
  final class Reservation implements AutoCloseable {
    private final AtomicLong tenant;
    private long bytes;

    private Reservation(AtomicLong tenant, long bytes) {
      this.tenant = tenant;
      this.bytes = bytes;
    }

    @Override
    public void close() {
      tenant.addAndGet(-bytes);
      pendingTotal.addAndGet(-bytes);
      bytes = 0;
    }
  }
}
