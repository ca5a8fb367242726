package dev.gantry.infra.usage;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.dao.DataIntegrityViolationException;

/**
 * Takes usage records from the request path and writes them in batches off it.
 *
 * <p>{@link #record} only appends to a lock-free queue, so it is safe on a Netty event loop. One
 * writer thread inserts what is waiting every {@code flush-interval}, or as soon as {@code
 * batch-size} records are waiting. When the database fails, the records are kept and retried with a
 * growing delay; while the buffer ({@code buffer-capacity}, counting the records held for a retry)
 * is full, new records are dropped and counted rather than slowing requests down. A record the
 * table itself refuses (e.g. an over-long id) is set aside and counted as rejected, so it cannot
 * hold back the others. Delivery is at least once: a commit whose acknowledgement is lost is
 * written again.
 */
public class UsageRecorder implements SmartLifecycle, MeterBinder, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(UsageRecorder.class);

  /** The retry delay doubles from the flush interval up to this (or the interval, if longer). */
  static final Duration MAX_RETRY_DELAY = Duration.ofSeconds(30);

  /** Warnings about the same ongoing problem are repeated at most this often. */
  static final Duration WARN_EVERY = Duration.ofMinutes(1);

  /** Stops after the web server has stopped (lower phases stop later), so late requests count. */
  static final int PHASE = 0;

  private final UsageRepository repository;
  private final int capacity;
  private final int batchSize;
  private final long flushIntervalNanos;
  private final long maxRetryDelayNanos;

  private final ConcurrentLinkedQueue<UsageRecord> queue = new ConcurrentLinkedQueue<>();

  /** Records in {@link #queue}; reaching the batch size wakes the writer. */
  private final AtomicInteger waiting = new AtomicInteger();

  /** Records accepted and not yet written or rejected: queued plus held for a retry. */
  private final AtomicInteger buffered = new AtomicInteger();

  private final AtomicLong written = new AtomicLong();
  private final AtomicLong dropped = new AtomicLong();
  private final AtomicLong rejected = new AtomicLong();
  private final AtomicLong failedFlushes = new AtomicLong();

  /** One writer at a time: the background thread, or a caller of {@link #flush}. */
  private final ReentrantLock writeLock = new ReentrantLock();

  // Guarded by writeLock.
  private final ArrayDeque<UsageRecord> retry = new ArrayDeque<>();
  private int consecutiveFailures;
  private long lastFailureWarning;
  private long droppedReported;
  private long lastDropWarning;

  private volatile Thread writer;
  private volatile boolean running;
  private volatile boolean closed;

  public UsageRecorder(UsageRepository repository, UsageProperties properties) {
    this.repository = repository;
    this.capacity = properties.bufferCapacity();
    this.batchSize = properties.batchSize();
    this.flushIntervalNanos = properties.flushInterval().toNanos();
    this.maxRetryDelayNanos = Math.max(flushIntervalNanos, MAX_RETRY_DELAY.toNanos());
  }

  /** Accepts a record for writing, or drops and counts it when the buffer is full. Never blocks. */
  public void record(UsageRecord usage) {
    Objects.requireNonNull(usage, "usage");
    if (closed) {
      dropped.incrementAndGet();
      return;
    }
    if (buffered.incrementAndGet() > capacity) {
      buffered.decrementAndGet();
      dropped.incrementAndGet();
      return;
    }
    queue.offer(usage);
    // Only the record that completes a batch wakes the writer: one unpark per batch, not per
    // record.
    if (waiting.incrementAndGet() == batchSize) {
      Thread w = writer;
      if (w != null) {
        LockSupport.unpark(w);
      }
    }
  }

  /**
   * Writes everything waiting now, on the caller's thread.
   *
   * @return false when the database refused a batch; its records are kept for the next attempt
   */
  public boolean flush() {
    writeLock.lock();
    try {
      return flushLocked();
    } finally {
      writeLock.unlock();
    }
  }

  public long written() {
    return written.get();
  }

  public long dropped() {
    return dropped.get();
  }

  public long rejected() {
    return rejected.get();
  }

  public long failedFlushes() {
    return failedFlushes.get();
  }

  /** Records accepted but not written yet. */
  public int buffered() {
    return buffered.get();
  }

  @Override
  public void bindTo(MeterRegistry registry) {
    FunctionCounter.builder("gantry.usage.records", written, AtomicLong::get)
        .tag("result", "written")
        .description("Usage records written to the database")
        .register(registry);
    FunctionCounter.builder("gantry.usage.records", dropped, AtomicLong::get)
        .tag("result", "dropped")
        .description("Usage records dropped because the buffer was full")
        .register(registry);
    FunctionCounter.builder("gantry.usage.records", rejected, AtomicLong::get)
        .tag("result", "rejected")
        .description("Usage records the database refused to store")
        .register(registry);
    FunctionCounter.builder("gantry.usage.flush.failures", failedFlushes, AtomicLong::get)
        .description("Batch writes that failed and will be retried")
        .register(registry);
    Gauge.builder("gantry.usage.buffered", buffered, AtomicInteger::get)
        .description("Usage records waiting to be written")
        .register(registry);
  }

  @Override
  public void start() {
    if (running) {
      return;
    }
    closed = false;
    running = true;
    writer = Thread.ofPlatform().daemon().name("gantry-usage-writer").start(this::runWriter);
  }

  /** Stops the writer thread and writes what is left; records arriving later are dropped. */
  @Override
  public void stop() {
    if (!running) {
      return;
    }
    running = false;
    Thread w = writer;
    if (w != null) {
      LockSupport.unpark(w);
      try {
        w.join(TimeUnit.SECONDS.toMillis(30));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    writer = null;
    closed = true;
    if (!flush()) {
      log.error(
          "{} usage records could not be written before shutdown and are lost", buffered.get());
    }
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

  private void runWriter() {
    long nextFlush = System.nanoTime() + flushIntervalNanos;
    long retryNotBefore = System.nanoTime();
    while (running) {
      long now = System.nanoTime();
      boolean due = now - nextFlush >= 0;
      boolean fullBatch = waiting.get() >= batchSize && now - retryNotBefore >= 0;
      if (!due && !fullBatch) {
        LockSupport.parkNanos(this, nextFlush - now);
        continue;
      }
      boolean ok;
      writeLock.lock();
      try {
        ok = flushLocked();
        reportDrops();
      } catch (RuntimeException unexpected) {
        // flushLocked handles database errors; anything else must not kill the only writer.
        log.error("Usage writer failed unexpectedly", unexpected);
        ok = false;
      } finally {
        writeLock.unlock();
      }
      now = System.nanoTime();
      if (ok) {
        nextFlush = now + flushIntervalNanos;
        retryNotBefore = now;
      } else {
        nextFlush = now + retryDelayNanos();
        retryNotBefore = nextFlush;
      }
    }
  }

  private long retryDelayNanos() {
    int doublings = Math.min(Math.max(consecutiveFailures - 1, 0), 20);
    long delay = flushIntervalNanos << doublings;
    return delay <= 0 ? maxRetryDelayNanos : Math.min(delay, maxRetryDelayNanos);
  }

  /**
   * Writes the retried records, then as many queued records as were waiting when it began (so a
   * steady stream cannot keep it here forever), in batches; stops at the first failed batch.
   */
  private boolean flushLocked() {
    int budget = waiting.get();
    while (true) {
      var batch = new ArrayList<UsageRecord>(Math.min(batchSize, retry.size() + budget));
      while (batch.size() < batchSize && !retry.isEmpty()) {
        batch.add(retry.pollFirst());
      }
      while (batch.size() < batchSize && budget > 0) {
        UsageRecord next = queue.poll();
        if (next == null) {
          break;
        }
        waiting.decrementAndGet();
        budget--;
        batch.add(next);
      }
      if (batch.isEmpty()) {
        return true;
      }
      List<UsageRecord> unwritten = write(batch);
      if (!unwritten.isEmpty()) {
        for (int i = unwritten.size() - 1; i >= 0; i--) {
          retry.addFirst(unwritten.get(i));
        }
        return false;
      }
    }
  }

  /** Writes one batch; returns the records that are not written and should be retried. */
  private List<UsageRecord> write(List<UsageRecord> batch) {
    try {
      repository.insertBatch(batch);
      written(batch.size());
      return List.of();
    } catch (DataIntegrityViolationException refused) {
      // Some record breaks a constraint; write them one by one so only that record is set aside.
      for (int i = 0; i < batch.size(); i++) {
        var usage = batch.get(i);
        try {
          repository.insertBatch(List.of(usage));
          written(1);
        } catch (DataIntegrityViolationException bad) {
          rejected.incrementAndGet();
          buffered.decrementAndGet();
          log.warn("Usage record refused by the database and discarded: {}", usage, bad);
        } catch (RuntimeException e) {
          failed(e);
          return batch.subList(i, batch.size());
        }
      }
      recovered();
      return List.of();
    } catch (RuntimeException e) {
      failed(e);
      return batch;
    }
  }

  private void written(int count) {
    written.addAndGet(count);
    buffered.addAndGet(-count);
    recovered();
  }

  private void failed(RuntimeException e) {
    failedFlushes.incrementAndGet();
    consecutiveFailures++;
    long now = System.nanoTime();
    if (consecutiveFailures == 1 || now - lastFailureWarning >= WARN_EVERY.toNanos()) {
      lastFailureWarning = now;
      log.warn(
          "Cannot write usage records ({} attempts failed in a row); {} kept in memory for a"
              + " retry: {}",
          consecutiveFailures,
          buffered.get(),
          e.toString());
    }
  }

  private void recovered() {
    if (consecutiveFailures > 0) {
      log.info("Writing usage records again after {} failed attempts", consecutiveFailures);
      consecutiveFailures = 0;
    }
  }

  /** Drops happen on request threads, which must not log; the writer reports them instead. */
  private void reportDrops() {
    long total = dropped.get();
    long now = System.nanoTime();
    if (total > droppedReported
        && (droppedReported == 0 || now - lastDropWarning >= WARN_EVERY.toNanos())) {
      log.warn(
          "Dropped {} usage records because the buffer of {} was full ({} in total)",
          total - droppedReported,
          capacity,
          total);
      droppedReported = total;
      lastDropWarning = now;
    }
  }
}
