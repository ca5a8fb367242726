package dev.gantry.infra.billing;

import dev.gantry.api.deployment.DeploymentStatus;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.db.DeploymentRecord;
import dev.gantry.infra.db.WorkerRecord;
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

  public BigDecimal accrued(DeploymentRecord deployment, List<WorkerRecord> workers) {
    Instant now = clock.instant();
    Instant storageEnd =
        deployment.status() == DeploymentStatus.DELETED ? deployment.updatedAt() : now;
    BigDecimal total =
        storageGbMonthUsd
            .multiply(BigDecimal.valueOf(deployment.spec().storageGb()))
            .multiply(hours(deployment.createdAt(), storageEnd))
            .divide(HOURS_PER_MONTH, MathContext.DECIMAL64);
    for (WorkerRecord w : workers) {
      if (w.gpuType() == null) {
        continue;
      }
      BigDecimal hourly = catalog.find(w.gpuType()).map(t -> t.hourlyUsd()).orElse(BigDecimal.ZERO);
      Instant end = w.stoppedAt() != null ? w.stoppedAt() : now;
      total =
          total.add(
              hourly
                  .multiply(BigDecimal.valueOf(w.gpuCount()))
                  .multiply(hours(w.createdAt(), end)));
    }
    return total.setScale(6, RoundingMode.HALF_UP);
  }

  private static BigDecimal hours(Instant from, Instant to) {
    long seconds = Math.max(0, Duration.between(from, to).toSeconds());
    return BigDecimal.valueOf(seconds).divide(SECONDS_PER_HOUR, MathContext.DECIMAL64);
  }
}
