package dev.gantry.gateway.inference;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gantry.infra.db.GatewayMember;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

class SlotPartitionTest {
  static final long TIMEOUT = 5_000;

  /** The membership table, as the gateways' heartbeats leave it. */
  final Map<String, GatewayMember> table = new TreeMap<>();

  void beat(SlotPartition gateway, long now, Predicate<SlotPartition.View> fits) {
    GatewayMember own = gateway.observe(new ArrayList<>(table.values()), now, fits);
    table.put(own.id(), own);
  }

  void beat(SlotPartition gateway, long now) {
    beat(gateway, now, view -> true);
  }

  static int sum(List<SlotPartition> gateways, String worker, int concurrency) {
    return gateways.stream().mapToInt(g -> g.cap(worker, concurrency)).sum();
  }

  @Test
  void aGatewayAloneGetsEverySlotFromItsFirstBeat() {
    var alone = new SlotPartition("gw-a", TIMEOUT);
    assertThat(alone.cap("w1", 8)).as("before it knows who else is there").isZero();
    beat(alone, 0);
    assertThat(alone.cap("w1", 8)).isEqualTo(8);
    assertThat(alone.cap("w2", 1)).isEqualTo(1);
    assertThat(SlotPartition.WHOLE.cap("w1", 8)).isEqualTo(8);
  }

  @Test
  void sharesOfAViewAddUpToTheConcurrencyForAnyWorkerAndGatewayCount() {
    for (int n = 1; n <= 5; n++) {
      List<String> members = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        members.add("gw-" + i);
      }
      for (int concurrency = 1; concurrency <= 9; concurrency++) {
        int everywhere = 0;
        for (String worker : List.of("dep_a-w1", "dep_a-w2", "dep_b-w7", "x")) {
          int total = 0;
          for (String m : members) {
            int share = new SlotPartition.View(members, m).share(worker, concurrency);
            assertThat(share).isBetween(concurrency / n, concurrency / n + 1);
            total += share;
          }
          assertThat(total).isEqualTo(concurrency);
          everywhere += total;
        }
        assertThat(everywhere).isEqualTo(4 * concurrency);
      }
    }
  }

  @Test
  void aJoiningGatewayTakesItsShareOnlyOnceTheOtherHasLetGoOfIt() {
    var a = new SlotPartition("gw-a", TIMEOUT);
    var b = new SlotPartition("gw-b", TIMEOUT);
    beat(a, 0);
    assertThat(a.cap("w1", 8)).isEqualTo(8);

    // B joins: it sees A, and gets nothing until A agrees.
    beat(b, 100);
    assertThat(b.cap("w1", 8)).isZero();
    assertThat(sum(List.of(a, b), "w1", 8)).isLessThanOrEqualTo(8);

    // A sees B and shrinks at once, but still has more in flight than its new share.
    beat(a, 200, view -> false);
    assertThat(a.cap("w1", 8)).isEqualTo(4);
    beat(b, 300);
    assertThat(b.cap("w1", 8)).as("A is not settled yet").isZero();

    // A's requests finished: B takes its share.
    beat(a, 400);
    beat(b, 500);
    assertThat(b.cap("w1", 8)).isEqualTo(4);
    assertThat(sum(List.of(a, b), "w1", 8)).isEqualTo(8);
  }

  @Test
  void aGoneGatewaysSlotsAreTakenAfterTheTimeoutOnly() {
    var a = new SlotPartition("gw-a", TIMEOUT);
    var b = new SlotPartition("gw-b", TIMEOUT);
    beat(a, 0);
    beat(b, 0);
    beat(a, 100);
    beat(b, 100);
    assertThat(a.cap("w1", 3) + b.cap("w1", 3)).isEqualTo(3);

    // B stops beating (crashed): A last saw its beat change at 1 s, and keeps its own share until
    // the beat has been still for the timeout.
    beat(a, 1_000);
    int share = a.cap("w1", 3);
    assertThat(share).isLessThan(3);
    beat(a, 5_900);
    assertThat(a.cap("w1", 3)).isEqualTo(share);
    beat(a, 6_100);
    assertThat(a.cap("w1", 3)).isEqualTo(3);
    assertThat(a.gone(new ArrayList<>(table.values()), 6_100)).isEmpty();
    assertThat(a.gone(new ArrayList<>(table.values()), 21_000)).containsExactly("gw-b");
  }

  @Test
  void aFencedGatewayHasNoSlots() {
    var a = new SlotPartition("gw-a", TIMEOUT);
    beat(a, 0);
    a.fence();
    assertThat(a.cap("w1", 8)).isZero();
    beat(a, 100);
    assertThat(a.cap("w1", 8)).isEqualTo(8);
  }
}
