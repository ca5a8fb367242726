package dev.gantry.gateway.auth;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Limits failed authentications per source address with a token bucket: each failure takes a token,
 * tokens come back at a steady rate, and an address with none left is answered 429 (with {@code
 * Retry-After}) before its key is even looked at, so guessing keys from one address is slowed to
 * the refill rate. Successful authentications take nothing.
 *
 * <p>Memory is bounded: at most {@code maxTracked} addresses are followed. Addresses whose bucket
 * has refilled carry no information and are dropped when room is needed; if every tracked address
 * is still being limited, the addresses that find no room share one bucket, so an attacker with
 * many addresses neither grows the table nor escapes the limit (they may then slow down new
 * addresses' failures, never a valid key from an address already followed). IPv6 addresses are
 * counted per /64, the block one host usually holds.
 */
public final class FailedAuthLimiter {
  private static final long PURGE_EVERY_NANOS = TimeUnit.SECONDS.toNanos(1);

  private final double burst;
  private final double tokensPerNano;
  private final int maxTracked;
  private final LongSupplier nanoTime;
  private final ConcurrentHashMap<String, Bucket> buckets = new ConcurrentHashMap<>();
  private final Bucket overflow;
  private volatile long lastPurgeNanos;

  public FailedAuthLimiter(AuthProperties properties) {
    this(
        properties.failedAttemptsBurst(),
        properties.failedAttemptsPerMinute(),
        properties.failedAttemptsTracked(),
        System::nanoTime);
  }

  FailedAuthLimiter(int burst, int perMinute, int maxTracked, LongSupplier nanoTime) {
    this.burst = burst;
    this.tokensPerNano = perMinute / (double) TimeUnit.MINUTES.toNanos(1);
    this.maxTracked = maxTracked;
    this.nanoTime = nanoTime;
    long now = nanoTime.getAsLong();
    this.overflow = new Bucket(burst, now);
    this.lastPurgeNanos = now - PURGE_EVERY_NANOS;
  }

  /**
   * Whole seconds the address must wait before its next attempt is looked at, or 0 when it may try
   * now. Takes nothing.
   */
  public long retryAfterSeconds(SocketAddress address) {
    Bucket bucket = existing(address);
    return bucket == null ? 0 : bucket.waitSeconds(nanoTime.getAsLong());
  }

  /** One failed authentication from the address. */
  public void failed(SocketAddress address) {
    long now = nanoTime.getAsLong();
    String key = key(address);
    Bucket bucket = buckets.get(key);
    if (bucket == null) {
      if (buckets.size() >= maxTracked) {
        purge(now);
      }
      bucket =
          buckets.size() < maxTracked
              ? buckets.computeIfAbsent(key, k -> new Bucket(burst, now))
              : overflow;
    }
    bucket.take(now);
  }

  /** Addresses followed now. */
  int tracked() {
    return buckets.size();
  }

  private Bucket existing(SocketAddress address) {
    Bucket bucket = buckets.get(key(address));
    if (bucket != null) {
      return bucket;
    }
    return buckets.size() >= maxTracked ? overflow : null;
  }

  /** Drops the buckets that have refilled; at most once a second, as it walks the whole table. */
  private void purge(long now) {
    long last = lastPurgeNanos;
    if (now - last < PURGE_EVERY_NANOS) {
      return;
    }
    lastPurgeNanos = now;
    buckets.values().removeIf(b -> b.full(now));
  }

  static String key(SocketAddress address) {
    if (!(address instanceof InetSocketAddress inet)) {
      return "unknown";
    }
    InetAddress ip = inet.getAddress();
    if (ip == null) {
      return inet.getHostString();
    }
    byte[] bytes = ip.getAddress();
    if (ip instanceof Inet6Address) {
      var prefix = new StringBuilder("v6:");
      for (int i = 0; i < 8; i++) {
        prefix.append(String.format("%02x", bytes[i] & 0xff));
      }
      return prefix.toString();
    }
    return ip.getHostAddress();
  }

  private final class Bucket {
    private double tokens;
    private long updatedNanos;

    Bucket(double tokens, long now) {
      this.tokens = tokens;
      this.updatedNanos = now;
    }

    private void refill(long now) {
      long elapsed = now - updatedNanos;
      if (elapsed > 0) {
        tokens = Math.min(burst, tokens + elapsed * tokensPerNano);
        updatedNanos = now;
      }
    }

    synchronized void take(long now) {
      refill(now);
      tokens = Math.max(0, tokens - 1);
    }

    synchronized long waitSeconds(long now) {
      refill(now);
      if (tokens >= 1) {
        return 0;
      }
      double nanos = (1 - tokens) / tokensPerNano;
      return Math.max(1, (long) Math.ceil(nanos / TimeUnit.SECONDS.toNanos(1)));
    }

    synchronized boolean full(long now) {
      refill(now);
      return tokens >= burst;
    }
  }
}
