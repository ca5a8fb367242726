package dev.gantry.gateway.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

import dev.gantry.api.deployment.DeploymentSpec;
import dev.gantry.api.deployment.Framework;
import dev.gantry.api.worker.WorkerStatus;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.db.GatewayMember;
import dev.gantry.infra.db.RoutableDeployment;
import dev.gantry.infra.db.RoutableWorker;
import dev.gantry.infra.db.RoutingRepository;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.MapConfigurationPropertySource;

/**
 * A stopping worker's activity asks the gateway in its process whether it still routes to the
 * worker ({@link RoutingTable#noLongerRoutes}): yes only when that gateway is the only one, has
 * re-read the worker as draining, and has no request on it.
 */
class LocalRoutingTest {
  static final String DEP = "dep_local";
  static final String W1 = DEP + "-w1";

  final RoutingRepository repository = mock(RoutingRepository.class);
  final GantryProperties properties =
      new Binder(new MapConfigurationPropertySource(Map.of("gantry.data-dir", "/tmp/unused")))
          .bind("gantry", GantryProperties.class)
          .get();

  static RoutableDeployment deployment(WorkerStatus status) {
    var spec =
        new DeploymentSpec(
            "chat", "tiny", Framework.SIM, null, 0, 2, 2, 60, 10, 5, List.of(), List.of());
    return new RoutableDeployment(
        DEP, "acme", spec, null, List.of(new RoutableWorker(W1, status, "http://127.0.0.1:9001")));
  }

  @Test
  void theOnlyGatewayThatReReadTheWorkerAsDrainingRoutesNothingMoreToIt() {
    var table = new RoutingTable(repository, properties, Clock.systemUTC());
    when(repository.loadRunning()).thenReturn(List.of(deployment(WorkerStatus.HEALTHY)));
    table.refresh();
    assertThat(table.noLongerRoutes(DEP, W1)).as("still healthy in the table").isFalse();

    when(repository.loadRunning()).thenReturn(List.of(deployment(WorkerStatus.DRAINING)));
    assertThat(table.noLongerRoutes(DEP, W1)).isTrue();
    assertThat(table.find(DEP).routesTo(W1)).isFalse();
  }

  @Test
  void aRequestStillOnTheWorkerMeansWait() {
    var table = new RoutingTable(repository, properties, Clock.systemUTC());
    when(repository.loadRunning()).thenReturn(List.of(deployment(WorkerStatus.HEALTHY)));
    table.refresh();
    var lease = table.find(DEP).admit(() -> {}).block();
    assertThat(lease).isNotNull();

    when(repository.loadRunning()).thenReturn(List.of(deployment(WorkerStatus.DRAINING)));
    assertThat(table.noLongerRoutes(DEP, W1)).isFalse();
    lease.release();
    assertThat(table.noLongerRoutes(DEP, W1)).isTrue();
  }

  @Test
  void anUnreadableTableMeansWait() {
    var table = new RoutingTable(repository, properties, Clock.systemUTC());
    when(repository.loadRunning()).thenThrow(new IllegalStateException("database down"));

    assertThat(table.noLongerRoutes(DEP, W1)).isFalse();
  }

  @Test
  void withAnotherGatewayAliveTheAnswerIsAlwaysWait() {
    var one = new SlotPartition("gw-a", 5_000);
    var two = new SlotPartition("gw-b", 5_000);
    var members = new TreeMap<String, GatewayMember>();
    for (int round = 0; round < 3; round++) {
      for (var gateway : List.of(one, two)) {
        var own = gateway.observe(new ArrayList<>(members.values()), round, view -> true);
        members.put(own.id(), own);
      }
    }
    var membership = mock(GatewayMembership.class);
    when(membership.partition()).thenReturn(one);
    var table = new RoutingTable(repository, properties, Clock.systemUTC(), membership);
    when(repository.loadRunning()).thenReturn(List.of(deployment(WorkerStatus.DRAINING)));

    assertThat(table.noLongerRoutes(DEP, W1)).isFalse();
  }
}
