package dev.gantry.infra.model;

import dev.gantry.api.FailureType;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Downloads a set of files on a bounded pool while the calling thread reports progress, watches for
 * a stalled transfer, and stops everything at the first failure. Progress is reported from the
 * calling thread only, so an activity heartbeat (and the cancellation it may raise) happens there.
 */
final class ParallelDownload {
  private static final Logger log = LoggerFactory.getLogger(ParallelDownload.class);
  private static final Duration STOP_WAIT = Duration.ofSeconds(30);
  private static final Duration QUIET_START = Duration.ofSeconds(1);

  /**
   * @param parallelism files in flight at once
   * @param progressInterval how often the listener hears of progress
   * @param stallTimeout how long without data before the download fails as transient
   * @param minBytesPerSecond slowest average rate over {@code rateWindow} before the download fails
   *     as transient; 0 turns the check off
   * @param rateWindow the span the rate is averaged over
   */
  record Settings(
      int parallelism,
      Duration progressInterval,
      Duration stallTimeout,
      long minBytesPerSecond,
      Duration rateWindow) {

    Settings(int parallelism, Duration progressInterval, Duration stallTimeout) {
      this(parallelism, progressInterval, stallTimeout, 0, Duration.ofMinutes(1));
    }
  }

  /** A step that talks to the network. */
  @FunctionalInterface
  interface NetworkStep<T> {
    T call() throws IOException;
  }

  /** Explains a failed file in words a user can act on. */
  @FunctionalInterface
  interface Failures {
    ModelException explain(RemoteFile file, IOException e);
  }

  private ParallelDownload() {}

  static void run(
      List<RemoteFile> files,
      Credential credential,
      ResumableDownloader downloader,
      Transfer transfer,
      long totalBytes,
      Settings settings,
      ProgressListener listener,
      Failures failures) {
    listener.progress(transfer.done(), totalBytes);
    if (files.isEmpty()) {
      return;
    }
    var errors = new ConcurrentLinkedQueue<ModelException>();
    var remaining = new CountDownLatch(files.size());
    ExecutorService pool =
        Executors.newFixedThreadPool(
            Math.min(settings.parallelism(), files.size()),
            Thread.ofPlatform().name("model-download-", 1).daemon(true).factory());
    try {
      for (RemoteFile file : files) {
        pool.execute(
            () -> {
              try {
                downloader.fetch(file, credential, transfer);
              } catch (ModelException e) {
                fail(errors, transfer, e);
              } catch (IOException e) {
                fail(errors, transfer, failures.explain(file, e));
              } catch (RuntimeException e) {
                log.error("Unexpected failure downloading {}", file.name(), e);
                fail(
                    errors,
                    transfer,
                    new ModelException(
                        FailureType.TRANSIENT,
                        "downloading " + file.name() + " failed: " + ModelHttp.userReason(e),
                        e));
              } finally {
                remaining.countDown();
              }
            });
      }
      pool.shutdown();
      long intervalMillis = Math.max(1, settings.progressInterval().toMillis());
      var rate = new RateCheck(settings.minBytesPerSecond(), settings.rateWindow());
      while (!remaining.await(intervalMillis, TimeUnit.MILLISECONDS)) {
        listener.progress(Math.max(0, transfer.done()), totalBytes);
        var slow = errors.isEmpty() ? tooSlow(settings, transfer, rate) : null;
        if (slow != null) {
          fail(errors, transfer, slow);
        }
      }
      listener.progress(Math.max(0, transfer.done()), totalBytes);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      stop(pool, transfer);
      throw new ModelException(FailureType.TRANSIENT, "the download was interrupted", e);
    } catch (RuntimeException e) {
      // The listener refused (the activity was cancelled): nothing may keep writing after this.
      stop(pool, transfer);
      throw e;
    }
    if (!errors.isEmpty()) {
      throw errors.stream().filter(ModelException::permanent).findFirst().orElse(errors.peek());
    }
  }

  /**
   * Runs one network step (a listing, a manifest, an index file) on its own thread while this one
   * keeps the activity alive and watches the step like a file transfer: a step that stalls or
   * trickles below the minimum rate is stopped, and so is one whose activity was cancelled (the
   * listener throws).
   */
  static <T> T watch(
      Settings settings, ProgressListener listener, Transfer transfer, NetworkStep<T> step)
      throws IOException {
    var result = new CompletableFuture<T>();
    Thread worker =
        Thread.ofVirtual()
            .name("model-download-step")
            .start(
                () -> {
                  try {
                    result.complete(step.call());
                  } catch (Throwable e) {
                    result.completeExceptionally(e);
                  }
                });
    var rate = new RateCheck(settings.minBytesPerSecond(), settings.rateWindow());
    long intervalMillis = Math.max(1, settings.progressInterval().toMillis());
    long started = System.nanoTime();
    try {
      while (true) {
        try {
          return result.get(intervalMillis, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
          // A quick step needs no heartbeat; one that takes a while keeps the activity alive.
          if (System.nanoTime() - started >= QUIET_START.toNanos()) {
            listener.waiting();
          }
          var slow = tooSlow(settings, transfer, rate);
          if (slow != null) {
            throw slow;
          }
        }
      }
    } catch (ExecutionException e) {
      return rethrow(e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ModelException(FailureType.TRANSIENT, "the download was interrupted", e);
    } finally {
      if (!result.isDone()) {
        transfer.abort();
        worker.interrupt();
      }
    }
  }

  private static <T> T rethrow(Throwable cause) throws IOException {
    if (cause instanceof IOException io) {
      throw io;
    }
    if (cause instanceof RuntimeException r) {
      throw r;
    }
    if (cause instanceof Error err) {
      throw err;
    }
    throw new IllegalStateException(cause);
  }

  /** Why the transfer must stop (stalled, or below the minimum rate), or null. */
  private static ModelException tooSlow(Settings settings, Transfer transfer, RateCheck rate) {
    if (transfer.nanosSinceData() > settings.stallTimeout().toNanos()) {
      return new ModelException(
          FailureType.TRANSIENT,
          "the download stalled: no data arrived for " + settings.stallTimeout().toSeconds() + "s");
    }
    if (rate.tooSlow(System.nanoTime(), transfer.moved())) {
      return new ModelException(
          FailureType.TRANSIENT,
          "the download was too slow: under "
              + settings.minBytesPerSecond()
              + " bytes/s over "
              + settings.rateWindow().toSeconds()
              + "s");
    }
    return null;
  }

  /**
   * The average rate over the last window, from samples of a byte counter that only grows. It
   * judges only once a whole window has passed, so a transfer's start is not held against it.
   */
  static final class RateCheck {
    private final long minBytesPerSecond;
    private final long windowNanos;
    private final ArrayDeque<long[]> samples = new ArrayDeque<>();

    RateCheck(long minBytesPerSecond, Duration window) {
      this.minBytesPerSecond = minBytesPerSecond;
      this.windowNanos = Math.max(1, window.toNanos());
    }

    boolean tooSlow(long nowNanos, long bytes) {
      if (minBytesPerSecond <= 0) {
        return false;
      }
      samples.addLast(new long[] {nowNanos, bytes});
      // Keep the newest sample that is at least a window old: the rate is measured from it.
      while (samples.size() >= 2) {
        long[] oldest = samples.pollFirst();
        if (nowNanos - samples.peekFirst()[0] < windowNanos) {
          samples.addFirst(oldest);
          break;
        }
      }
      long[] from = samples.peekFirst();
      long elapsed = nowNanos - from[0];
      if (elapsed < windowNanos) {
        return false;
      }
      double perSecond = (bytes - from[1]) * 1e9 / elapsed;
      return perSecond < minBytesPerSecond;
    }
  }

  private static void fail(
      ConcurrentLinkedQueue<ModelException> errors, Transfer transfer, ModelException e) {
    // Files stopped because another one failed report that too; the first cause is what counts.
    synchronized (errors) {
      if (!transfer.aborted() || errors.isEmpty()) {
        errors.add(e);
      }
    }
    transfer.abort();
  }

  private static void stop(ExecutorService pool, Transfer transfer) {
    transfer.abort();
    pool.shutdownNow();
    try {
      if (!pool.awaitTermination(STOP_WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
        log.warn("Model download threads did not stop within {}", STOP_WAIT);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
