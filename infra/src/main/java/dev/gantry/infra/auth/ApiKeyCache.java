package dev.gantry.infra.auth;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;

/**
 * The active API keys in memory, so authenticating a request costs a hash and a map lookup and
 * never a database call.
 *
 * <p>The snapshot is loaded when the cache starts and reloaded every {@code refreshInterval} by its
 * own thread, which is how keys issued or revoked by another replica arrive. Keys issued or revoked
 * by this process are applied at once through {@link #put} and {@link #remove}, called after the
 * database change has committed. While the database cannot be read, the last snapshot keeps
 * serving.
 */
public class ApiKeyCache implements SmartLifecycle, MeterBinder, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ApiKeyCache.class);

  /** Warnings about the same ongoing refresh failure are repeated at most this often. */
  static final Duration WARN_EVERY = Duration.ofMinutes(1);

  /** Loads before the web server starts (lower phases start earlier). */
  static final int PHASE = 0;

  private final ApiKeyRepository repository;
  private final Duration refreshInterval;

  /** Key hash to key; replaced whole, never changed in place, so readers need no lock. */
  private volatile Map<String, ApiKeyRecord> byHash = Map.of();

  /** Serializes refreshes: the scheduled one and any a caller asks for. */
  private final Object refreshLock = new Object();

  /** Guards every write of {@link #byHash} and the fields below. */
  private final Object lock = new Object();

  private boolean refreshing;

  /**
   * Local changes made while a refresh's query runs. That query may or may not see them, so they
   * are applied again on top of its result.
   */
  private final List<Change> changesDuringRefresh = new ArrayList<>();

  private record Change(String keyHash, ApiKeyRecord key) {}

  private final AtomicLong failedRefreshes = new AtomicLong();
  private volatile long lastLoadedNanos;
  private volatile boolean loadedOnce;
  private int consecutiveFailures; // refresh thread only, under refreshLock
  private long lastFailureWarning; // refresh thread only, under refreshLock

  private ScheduledExecutorService scheduler;
  private volatile boolean running;

  public ApiKeyCache(ApiKeyRepository repository, Duration refreshInterval) {
    if (refreshInterval.isZero() || refreshInterval.isNegative()) {
      throw new IllegalArgumentException("the key refresh interval must be positive");
    }
    this.repository = repository;
    this.refreshInterval = refreshInterval;
  }

  /**
   * The active key for a presented bearer token, if it is one: the same answers as {@link
   * ApiKeys#authenticate}, from memory.
   */
  public Optional<ApiKeyRecord> authenticate(String presented) {
    if (!ApiKeys.wellFormed(presented)) {
      return Optional.empty();
    }
    String presentedHash = ApiKeys.hash(presented);
    return Optional.ofNullable(byHash.get(presentedHash))
        .filter(
            k ->
                MessageDigest.isEqual(
                    k.keyHash().getBytes(StandardCharsets.US_ASCII),
                    presentedHash.getBytes(StandardCharsets.US_ASCII)));
  }

  /** A key this process has just stored: valid here from now on. */
  public void put(ApiKeyRecord key) {
    Objects.requireNonNull(key, "key");
    change(new Change(key.keyHash(), key.revokedAt() == null ? key : null));
  }

  /** A key this process has just revoked: refused here from now on. */
  public void remove(String keyHash) {
    change(new Change(Objects.requireNonNull(keyHash, "keyHash"), null));
  }

  private void change(Change change) {
    synchronized (lock) {
      var next = new HashMap<>(byHash);
      apply(change, next);
      byHash = Collections.unmodifiableMap(next);
      if (refreshing) {
        changesDuringRefresh.add(change);
      }
    }
  }

  private static void apply(Change change, Map<String, ApiKeyRecord> map) {
    if (change.key() == null) {
      map.remove(change.keyHash());
    } else {
      map.put(change.keyHash(), change.key());
    }
  }

  /**
   * Reloads the snapshot from the database now.
   *
   * @return false when the database could not be read; the previous snapshot stays in use
   */
  public boolean refresh() {
    synchronized (refreshLock) {
      synchronized (lock) {
        refreshing = true;
        changesDuringRefresh.clear();
      }
      List<ApiKeyRecord> active;
      try {
        active = repository.listAllActive();
      } catch (RuntimeException e) {
        synchronized (lock) {
          refreshing = false;
          changesDuringRefresh.clear();
        }
        failed(e);
        return false;
      }
      synchronized (lock) {
        var next = HashMap.<String, ApiKeyRecord>newHashMap(active.size());
        for (var key : active) {
          next.put(key.keyHash(), key);
        }
        changesDuringRefresh.forEach(c -> apply(c, next));
        byHash = Collections.unmodifiableMap(next);
        refreshing = false;
        changesDuringRefresh.clear();
      }
      lastLoadedNanos = System.nanoTime();
      loadedOnce = true;
      if (consecutiveFailures > 0) {
        log.info("API keys reloaded after {} failed attempts", consecutiveFailures);
        consecutiveFailures = 0;
      }
      return true;
    }
  }

  private void failed(RuntimeException e) {
    failedRefreshes.incrementAndGet();
    consecutiveFailures++;
    long now = System.nanoTime();
    if (consecutiveFailures == 1 || now - lastFailureWarning >= WARN_EVERY.toNanos()) {
      lastFailureWarning = now;
      log.warn(
          "Cannot reload API keys ({} attempts failed in a row); serving the {} keys loaded {}: {}",
          consecutiveFailures,
          byHash.size(),
          loadedOnce
              ? (System.nanoTime() - lastLoadedNanos) / 1_000_000_000L + "s ago"
              : "so far (none yet)",
          e.toString());
    }
  }

  /** Keys in the snapshot. */
  public int size() {
    return byHash.size();
  }

  public long failedRefreshes() {
    return failedRefreshes.get();
  }

  @Override
  public void bindTo(MeterRegistry registry) {
    Gauge.builder("gantry.auth.keys", this, ApiKeyCache::size)
        .description("Active API keys in the gateway's snapshot")
        .register(registry);
    Gauge.builder(
            "gantry.auth.keys.snapshot.age",
            this,
            c -> c.loadedOnce ? (System.nanoTime() - c.lastLoadedNanos) / 1e9 : Double.NaN)
        .baseUnit("seconds")
        .description("Time since the API key snapshot was last loaded from the database")
        .register(registry);
    FunctionCounter.builder("gantry.auth.keys.refresh.failures", failedRefreshes, AtomicLong::get)
        .description("API key reloads that failed; the previous snapshot kept serving")
        .register(registry);
  }

  /** Loads the snapshot, then reloads it every refresh interval until stopped. */
  @Override
  public void start() {
    if (running) {
      return;
    }
    refresh();
    scheduler =
        Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("gantry-api-key-refresh").factory());
    long every = refreshInterval.toNanos();
    scheduler.scheduleWithFixedDelay(this::scheduledRefresh, every, every, TimeUnit.NANOSECONDS);
    running = true;
  }

  private void scheduledRefresh() {
    try {
      refresh();
    } catch (RuntimeException unexpected) {
      // refresh() handles database errors; anything else must not end the schedule.
      log.error("API key refresh failed unexpectedly", unexpected);
    }
  }

  @Override
  public void stop() {
    if (!running) {
      return;
    }
    running = false;
    scheduler.shutdownNow();
    scheduler = null;
  }

  @Override
  public void close() {
    stop();
  }

  @Override
  public boolean isRunning() {
    return running;
  }

  @Override
  public int getPhase() {
    return PHASE;
  }
}
