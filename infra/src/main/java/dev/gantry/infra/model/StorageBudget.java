package dev.gantry.infra.model;

import dev.gantry.api.FailureType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.function.ToLongFunction;

/**
 * What a deployment's storage can hold: its {@code storage_gb}, and the free disk of the volume
 * under it, checked before a download starts so that it fails at once instead of halfway.
 *
 * @param storageGb the deployment's {@code storage_gb} (GiB)
 * @param freeSpace usable bytes of the volume holding a path
 * @param minFreeBytes free disk the volume keeps after the download
 */
record StorageBudget(int storageGb, ToLongFunction<Path> freeSpace, long minFreeBytes) {
  static final long GIB = 1L << 30;

  static ToLongFunction<Path> usableSpace() {
    return path -> {
      try {
        return Files.getFileStore(path).getUsableSpace();
      } catch (IOException e) {
        // Unknown free space must not block a download; running out is still caught as it happens.
        return Long.MAX_VALUE;
      }
    };
  }

  /**
   * @param neededBytes the whole model
   * @param onDiskBytes what of it is already in storage (verified files and partial files)
   */
  void check(long neededBytes, long onDiskBytes, Path storageDir) {
    if (storageGb > 0 && neededBytes > storageGb * GIB) {
      throw new ModelException(
          FailureType.STORAGE_FULL,
          "the model needs "
              + gb(neededBytes)
              + " GB but the deployment's storage_gb is "
              + storageGb
              + "; create the deployment with a larger storage_gb");
    }
    long more = Math.max(0, neededBytes - onDiskBytes);
    long free = freeSpace.applyAsLong(storageDir);
    if (more > 0 && free - minFreeBytes < more) {
      throw new ModelException(
          FailureType.STORAGE_FULL,
          "not enough free disk for the model: it needs "
              + gb(more)
              + " GB more but the platform's data volume has "
              + gb(Math.max(0, free))
              + " GB free");
    }
  }

  static String gb(long bytes) {
    return String.format(Locale.ROOT, "%.1f", bytes / (double) GIB);
  }

  /** A write that failed because the disk filled up, told apart from other I/O errors. */
  static boolean diskFull(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      String m = t.getMessage();
      if (m != null && (m.contains("No space left on device") || m.contains("Disk quota"))) {
        return true;
      }
    }
    return false;
  }
}
