package dev.gantry.infra.model;

import java.io.Closeable;
import java.io.IOException;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The shared state of one model download: bytes on disk so far, when data last arrived, and a
 * switch that stops every file of it. Aborting closes the open response bodies, because a thread
 * blocked reading a socket notices neither a flag nor an interrupt.
 */
final class Transfer {
  private final AtomicLong done = new AtomicLong();
  private final AtomicLong moved = new AtomicLong();
  private final Set<Closeable> open = ConcurrentHashMap.newKeySet();
  private volatile long lastDataNanos = System.nanoTime();
  private volatile boolean aborted;

  long done() {
    return done.get();
  }

  void add(long bytes) {
    done.addAndGet(bytes);
  }

  /** Data arrived, or work that is as good as data (hashing a part to resume it). */
  void touch() {
    lastDataNanos = System.nanoTime();
  }

  /** Data arrived or was re-read: counts towards the transfer rate, and never goes down. */
  void moved(long bytes) {
    moved.addAndGet(bytes);
    touch();
  }

  long moved() {
    return moved.get();
  }

  long nanosSinceData() {
    return System.nanoTime() - lastDataNanos;
  }

  boolean aborted() {
    return aborted;
  }

  void abort() {
    aborted = true;
    for (Closeable c : open) {
      closeQuietly(c);
    }
  }

  void register(Closeable body) {
    open.add(body);
    if (aborted) {
      closeQuietly(body);
    }
  }

  void unregister(Closeable body) {
    open.remove(body);
  }

  private static void closeQuietly(Closeable c) {
    try {
      c.close();
    } catch (IOException | RuntimeException ignored) {
      // The transfer is being abandoned; its reader sees the closed stream as an error.
    }
  }
}
