package dev.gantry.gateway.inference;

import dev.gantry.gateway.web.ConditionalOnGatewayRole;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.db.GatewayMember;
import dev.gantry.infra.db.GatewayMemberRepository;
import java.time.Clock;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;

/**
 * This gateway's membership among the gateway replicas sharing the database: a row beaten every
 * {@code gantry.cluster.heartbeat-interval} on its own thread, from which {@link SlotPartition}
 * learns which share of every worker's slots this gateway may use. Requests never touch the
 * database: they read the partition's last result. A gateway that cannot beat for half the member
 * timeout while others are around gives up its slots (the others will count it gone and take them);
 * alone, it keeps serving from memory as the routing table does.
 */
@ConditionalOnGatewayRole
@Component
public class GatewayMembership implements SmartLifecycle {
  private static final Logger log = LoggerFactory.getLogger(GatewayMembership.class);

  private final GatewayMemberRepository repository;
  private final GantryProperties.Cluster settings;
  private final Clock clock;
  private final SlotPartition partition;
  private volatile Predicate<SlotPartition.View> fitsShare = view -> true;
  private volatile ScheduledExecutorService beater;
  private long lastBeatMillis;
  private long lastFailureLogMillis;

  public GatewayMembership(
      GatewayMemberRepository repository, GantryProperties properties, Clock clock) {
    this.repository = repository;
    this.settings = properties.cluster();
    this.clock = clock;
    this.partition =
        new SlotPartition(
            "gw-" + UUID.randomUUID().toString().replace("-", "").substring(0, 16),
            settings.memberTimeout().toMillis());
  }

  SlotPartition partition() {
    return partition;
  }

  /** How the routing table tells whether its requests in flight fit a view's shares. */
  void fitsShare(Predicate<SlotPartition.View> check) {
    this.fitsShare = check;
  }

  /** One heartbeat: read the members, work out the shares, write this gateway's row. */
  synchronized void beat() {
    long now = clock.millis();
    try {
      List<GatewayMember> rows = repository.list();
      GatewayMember own = partition.observe(rows, now, fitsShare);
      repository.beat(own);
      lastBeatMillis = now;
      for (String gone : partition.gone(rows, now)) {
        rows.stream()
            .filter(r -> r.id().equals(gone))
            .findFirst()
            .ifPresent(r -> repository.removeIfStill(r.id(), r.beat()));
      }
    } catch (RuntimeException e) {
      if (partition.members() > 1
          && now - lastBeatMillis > settings.memberTimeout().toMillis() / 2) {
        partition.fence();
      }
      if (now - lastFailureLogMillis > 30_000) {
        lastFailureLogMillis = now;
        log.warn(
            "Gateway heartbeat failed ({} gateways known): {}", partition.members(), e.toString());
      }
    }
  }

  /** Starts before the routing table, so the first requests already know their share. */
  @Override
  public int getPhase() {
    return SmartLifecycle.DEFAULT_PHASE - 300;
  }

  @Override
  public synchronized void start() {
    beat();
    beater =
        Executors.newSingleThreadScheduledExecutor(
            r -> Thread.ofPlatform().name("gantry-gateway-membership").daemon().unstarted(r));
    long period = settings.heartbeatInterval().toMillis();
    beater.scheduleWithFixedDelay(this::beat, period, period, TimeUnit.MILLISECONDS);
  }

  /** Leaves after the gateway's requests drained: the others may take its slots at once. */
  @Override
  public synchronized void stop() {
    if (beater != null) {
      beater.shutdownNow();
      beater = null;
    }
    partition.fence();
    try {
      repository.remove(partition.self());
    } catch (RuntimeException e) {
      log.warn("Could not remove this gateway's membership row: {}", e.toString());
    }
  }

  @Override
  public synchronized boolean isRunning() {
    return beater != null;
  }
}
