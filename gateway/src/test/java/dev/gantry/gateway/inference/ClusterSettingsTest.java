package dev.gantry.gateway.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gantry.infra.config.GantryProperties;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class ClusterSettingsTest {

  @Test
  void aMemberTimeoutOfFewerThanFourHeartbeatsIsRefusedWithTheSettingsName() {
    assertThatThrownBy(
            () -> new GantryProperties.Cluster(Duration.ofSeconds(1), Duration.ofSeconds(3)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("gantry.cluster.member-timeout");
    assertThatThrownBy(() -> new GantryProperties.Cluster(Duration.ZERO, Duration.ofSeconds(5)))
        .hasMessageContaining("gantry.cluster.heartbeat-interval");
    assertThat(new GantryProperties.Cluster(Duration.ofMillis(500), Duration.ofSeconds(2)))
        .isNotNull();
  }
}
