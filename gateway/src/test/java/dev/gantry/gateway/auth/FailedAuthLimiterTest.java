package dev.gantry.gateway.auth;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class FailedAuthLimiterTest {
  final AtomicLong now = new AtomicLong(1_000_000_000L);

  FailedAuthLimiter limiter(int burst, int perMinute, int maxTracked) {
    return new FailedAuthLimiter(burst, perMinute, maxTracked, now::get);
  }

  static InetSocketAddress ip(String address) {
    return new InetSocketAddress(address, 40000);
  }

  void advanceSeconds(long seconds) {
    now.addAndGet(TimeUnit.SECONDS.toNanos(seconds));
  }

  @Test
  void anAddressIsLimitedAfterItsBurstAndFreedAsTokensComeBack() {
    var limiter = limiter(3, 6, 100);
    var attacker = ip("10.0.0.1");
    for (int i = 0; i < 3; i++) {
      assertThat(limiter.retryAfterSeconds(attacker)).isZero();
      limiter.failed(attacker);
    }

    assertThat(limiter.retryAfterSeconds(attacker)).isEqualTo(10);
    assertThat(limiter.retryAfterSeconds(ip("10.0.0.2"))).as("another address").isZero();
    advanceSeconds(4);
    assertThat(limiter.retryAfterSeconds(attacker)).isEqualTo(6);
    advanceSeconds(6);
    assertThat(limiter.retryAfterSeconds(attacker)).isZero();
    limiter.failed(attacker);
    assertThat(limiter.retryAfterSeconds(attacker)).isEqualTo(10);
  }

  @Test
  void ipv6AddressesOfOneSlash64ShareALimit() {
    var limiter = limiter(2, 6, 100);
    limiter.failed(ip("2001:db8:1:2::1"));
    limiter.failed(ip("2001:db8:1:2:ffff::9"));

    assertThat(limiter.retryAfterSeconds(ip("2001:db8:1:2::77"))).isPositive();
    assertThat(limiter.retryAfterSeconds(ip("2001:db8:1:3::1"))).isZero();
  }

  @Test
  void manyAddressesNeitherGrowTheTableNorEscapeTheLimit() {
    var limiter = limiter(2, 6, 50);
    for (int i = 0; i < 10_000; i++) {
      var address = ip("10.1." + (i / 250) + "." + (i % 250));
      limiter.failed(address);
      limiter.failed(address);
    }

    assertThat(limiter.tracked()).isLessThanOrEqualTo(50);
    assertThat(limiter.retryAfterSeconds(ip("192.168.7.7")))
        .as("an address that found no room shares the overflow's limit")
        .isPositive();
  }

  @Test
  void addressesWhoseLimitRefilledMakeRoomForNewOnes() {
    var limiter = limiter(1, 60, 10);
    for (int i = 0; i < 10; i++) {
      limiter.failed(ip("10.2.0." + i));
    }
    advanceSeconds(2);

    var newcomer = ip("10.3.0.1");
    limiter.failed(newcomer);

    assertThat(limiter.tracked()).isEqualTo(1);
    assertThat(limiter.retryAfterSeconds(newcomer)).isPositive();
    assertThat(limiter.retryAfterSeconds(ip("10.3.0.2"))).isZero();
  }
}
