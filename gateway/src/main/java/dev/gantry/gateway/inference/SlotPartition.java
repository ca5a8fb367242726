package dev.gantry.gateway.inference;

import dev.gantry.infra.db.GatewayMember;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * This gateway's share of every worker's {@code concurrency} slots, when several gateway replicas
 * route to the same workers. The live gateways, sorted by id, are the <em>view</em>; in a view of
 * {@code n}, gateway {@code rank} gets {@code concurrency / n} slots of each worker, plus one of
 * the {@code concurrency % n} left over when its rank falls in the worker's remainder window (which
 * starts at a rank picked by the worker's id, so with more gateways than slots each gateway still
 * has slots on some workers). The shares of a view add up to {@code concurrency} exactly.
 *
 * <p>Views change when a gateway joins or goes. Taking a smaller share is always safe, taking a
 * larger one is not until the others have let go of it: so a gateway routes by the smaller of its
 * share in its last <em>agreed</em> view and in the newest one, and the newest becomes agreed only
 * once every other live member reports the same view and no more requests in flight than its share
 * under it ({@code settled}). A gateway that joins has no agreed view (no slots) until then, unless
 * it is alone. Liveness: a member whose beat did not change for {@code timeoutMillis}, by this
 * gateway's clock, is gone.
 *
 * <p>Only the membership thread calls {@link #observe}; {@link #cap} is the data plane's hot path:
 * one volatile read and some arithmetic, never the database.
 */
final class SlotPartition {
  /** Every slot: a single gateway, or tests. */
  static final SlotPartition WHOLE = new SlotPartition("whole", 1, true);

  private final String self;
  private final long timeoutMillis;
  private volatile Caps caps;
  private long beat;

  /** Beat and when it last changed, per member, by this gateway's clock. */
  private final Map<String, long[]> seen = new HashMap<>();

  /** A member that has no slots until its first {@link #observe}. */
  SlotPartition(String self, long timeoutMillis) {
    this(self, timeoutMillis, false);
  }

  private SlotPartition(String self, long timeoutMillis, boolean whole) {
    this.self = self;
    this.timeoutMillis = timeoutMillis;
    View alone = new View(List.of(self), self);
    this.caps = new Caps(whole ? alone : null, alone);
  }

  String self() {
    return self;
  }

  /** The slots of worker {@code workerId} this gateway may use, of its {@code concurrency}. */
  int cap(String workerId, int concurrency) {
    Caps c = caps;
    int newest = c.newest.share(workerId, concurrency);
    return c.agreed == null ? 0 : Math.min(newest, c.agreed.share(workerId, concurrency));
  }

  /** Gateways in the newest view. */
  int members() {
    return caps.newest.members.size();
  }

  /** Gives up every slot: this gateway could not beat, so the others may count it gone. */
  void fence() {
    caps = new Caps(null, caps.newest);
  }

  /**
   * Takes in the member rows just read, and returns this gateway's own row to write.
   *
   * @param fitsShare whether the requests in flight fit a view's shares (asked for the newest)
   */
  GatewayMember observe(List<GatewayMember> rows, long nowMillis, Predicate<View> fitsShare) {
    List<String> live = new ArrayList<>();
    List<GatewayMember> others = new ArrayList<>();
    Map<String, long[]> still = new HashMap<>();
    for (GatewayMember row : rows) {
      if (row.id().equals(self)) {
        continue;
      }
      long[] s = seen.get(row.id());
      if (s == null || s[0] != row.beat()) {
        s = new long[] {row.beat(), nowMillis};
      }
      still.put(row.id(), s);
      if (nowMillis - s[1] < timeoutMillis) {
        live.add(row.id());
        others.add(row);
      }
    }
    seen.clear();
    seen.putAll(still);
    live.add(self);
    View newest = new View(live, self);
    // Until the others agree, the last agreed view still bounds this gateway's share.
    View agreed = caps.agreed;
    boolean agreedByAll = true;
    for (GatewayMember other : others) {
      agreedByAll &= other.viewHash() == newest.hash() && other.settled();
    }
    if (agreedByAll) {
      agreed = newest;
    }
    caps = new Caps(agreed, newest);
    boolean settled = fitsShare.test(newest);
    return new GatewayMember(self, ++beat, newest.hash(), settled);
  }

  /** Members seen whose beat stopped for longer than the timeout: their rows may be removed. */
  List<String> gone(List<GatewayMember> rows, long nowMillis) {
    List<String> gone = new ArrayList<>();
    for (GatewayMember row : rows) {
      long[] s = seen.get(row.id());
      if (!row.id().equals(self) && s != null && nowMillis - s[1] >= 4 * timeoutMillis) {
        gone.add(row.id());
      }
    }
    return gone;
  }

  private record Caps(View agreed, View newest) {}

  /** The live gateways, sorted, and this gateway's place among them. */
  static final class View {
    final List<String> members;
    final int rank;

    View(List<String> members, String self) {
      this.members = members.stream().sorted().toList();
      this.rank = this.members.indexOf(self);
    }

    /** This gateway's slots of a worker in this view. */
    int share(String workerId, int concurrency) {
      int n = members.size();
      int base = concurrency / n;
      int remainder = concurrency % n;
      int start = Math.floorMod(workerId.hashCode(), n);
      return base + (Math.floorMod(rank - start, n) < remainder ? 1 : 0);
    }

    /** The same for every member: the view's members only. */
    long hash() {
      long h = 1125899906842597L;
      for (String m : members) {
        for (int i = 0; i < m.length(); i++) {
          h = 31 * h + m.charAt(i);
        }
        h = 31 * h + ',';
      }
      return h;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof View v && v.members.equals(members) && v.rank == rank;
    }

    @Override
    public int hashCode() {
      return members.hashCode();
    }
  }
}
