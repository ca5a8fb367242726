package dev.gantry.gateway.inference;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A gateway chore run every {@code periodMillis} on a daemon thread of its own, from {@link #start}
 * to {@link #stop}: a failed run is logged and the next one comes all the same. Work may also be
 * handed to that thread ({@link #execute}) while it runs.
 */
final class Ticker {
  private static final Logger log = LoggerFactory.getLogger(Ticker.class);

  private final String name;
  private final long periodMillis;
  private final Runnable chore;
  private volatile ScheduledExecutorService executor;

  Ticker(String name, long periodMillis, Runnable chore) {
    this.name = name;
    this.periodMillis = periodMillis;
    this.chore = chore;
  }

  synchronized void start() {
    executor =
        Executors.newSingleThreadScheduledExecutor(
            r -> Thread.ofPlatform().name(name).daemon().unstarted(r));
    executor.scheduleWithFixedDelay(
        () -> {
          try {
            chore.run();
          } catch (RuntimeException e) {
            log.error("{} failed", name, e);
          }
        },
        periodMillis,
        periodMillis,
        TimeUnit.MILLISECONDS);
  }

  synchronized void stop() {
    if (executor != null) {
      executor.shutdownNow();
      executor = null;
    }
  }

  boolean isRunning() {
    return executor != null;
  }

  /** Runs {@code task} on the ticker's thread; nothing when it is stopped. */
  void execute(Runnable task) {
    var e = executor;
    if (e != null) {
      e.execute(task);
    }
  }
}
