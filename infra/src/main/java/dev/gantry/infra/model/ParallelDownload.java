package dev.gantry.infra.model;

import dev.gantry.api.FailureType;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
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

  /**
   * @param parallelism files in flight at once
   * @param progressInterval how often the listener hears of progress
   * @param stallTimeout how long without data before the download fails as transient
   */
  record Settings(int parallelism, Duration progressInterval, Duration stallTimeout) {}

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
                        "downloading "
                            + file.name()
                            + " failed: "
                            + ResumableDownloader.describe(e),
                        e));
              } finally {
                remaining.countDown();
              }
            });
      }
      pool.shutdown();
      long intervalMillis = Math.max(1, settings.progressInterval().toMillis());
      while (!remaining.await(intervalMillis, TimeUnit.MILLISECONDS)) {
        listener.progress(Math.max(0, transfer.done()), totalBytes);
        if (errors.isEmpty() && transfer.nanosSinceData() > settings.stallTimeout().toNanos()) {
          fail(
              errors,
              transfer,
              new ModelException(
                  FailureType.TRANSIENT,
                  "the download stalled: no data arrived for "
                      + settings.stallTimeout().toSeconds()
                      + "s"));
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
