package dev.gantry.infra.billing;

import dev.gantry.api.deployment.DeploymentStatus;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.db.DeploymentRecord;
import dev.gantry.infra.db.WorkerInterval;
import dev.gantry.infra.gpu.GpuCatalog;
import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.springframework.stereotype.Component;

/**
 * Accrued cost per the seed's billing model: storage for as long as the deployment exists, plus
 * each worker's GPUs for as long as the worker exists, billed per second.
 */
@Component
public class CostCalculator {
  private static final BigDecimal SECONDS_PER_HOUR = BigDecimal.valueOf(3600);
  private static final BigDecimal HOURS_PER_MONTH = BigDecimal.valueOf(730);

  private final GpuCatalog catalog;
  private final BigDecimal storageGbMonthUsd;
  private final Clock clock;

  public CostCalculator(GpuCatalog catalog, GantryProperties properties, Clock clock) {
    this.catalog = catalog;
    this.storageGbMonthUsd = properties.billing().storageGbMonthUsd();
    this.clock = clock;
  }

  /**
   * Storage since creation plus each worker interval's GPUs, per second. Intervals are written when
   * workers start and end and never dropped, so the sum never goes down.
   */
  public BigDecimal accrued(DeploymentRecord deployment, List<WorkerInterval> intervals) {
    Instant now = clock.instant();
    BigDecimal total = storage(deployment, deployment.createdAt(), storageEnd(deployment, now));
    for (WorkerInterval w : intervals) {
      Instant end = w.endedAt() != null ? w.endedAt() : now;
      total = total.add(gpu(w, w.startedAt(), end));
    }
    return total.setScale(6, RoundingMode.HALF_UP);
  }

  /** When the deployment's storage stops billing: its deletion, or not yet. */
  public Instant storageEnd(DeploymentRecord deployment, Instant now) {
    return deployment.status() == DeploymentStatus.DELETED ? deployment.updatedAt() : now;
  }

  /** Storage cost of the deployment over {@code [from, to)}, not rounded. */
  public BigDecimal storage(DeploymentRecord deployment, Instant from, Instant to) {
    return storageGbMonthUsd
        .multiply(BigDecimal.valueOf(deployment.spec().storageGb()))
        .multiply(hours(from, to))
        .divide(HOURS_PER_MONTH, MathContext.DECIMAL64);
  }

  /** GPU cost of the interval's worker over {@code [from, to)}; zero without a GPU. */
  public BigDecimal gpu(WorkerInterval w, Instant from, Instant to) {
    if (w.gpuType() == null) {
      return BigDecimal.ZERO;
    }
    return hourly(w.gpuType()).multiply(BigDecimal.valueOf(w.gpuCount())).multiply(hours(from, to));
  }

  /** The catalog's hourly price of one GPU of the type; zero for a type it does not list. */
  public BigDecimal hourly(String gpuType) {
    return catalog.find(gpuType).map(t -> t.hourlyUsd()).orElse(BigDecimal.ZERO);
  }

  private static BigDecimal hours(Instant from, Instant to) {
    long millis = Math.max(0, Duration.between(from, to).toMillis());
    return BigDecimal.valueOf(millis)
        .divide(BigDecimal.valueOf(1000), MathContext.DECIMAL64)
        .divide(SECONDS_PER_HOUR, MathContext.DECIMAL64);
  }
}
