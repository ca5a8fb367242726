package dev.gantry.infra.model;

/**
 * Receives download progress from the thread that called the download, at most once per configured
 * interval. An exception it throws (an activity learning it was cancelled) aborts the download.
 */
@FunctionalInterface
public interface ProgressListener {
  ProgressListener NONE = (done, total) -> {};

  void progress(long bytesDone, long bytesTotal);

  /** Called while waiting for another attempt on the same storage to stop; keeps it alive. */
  default void waiting() {}
}
