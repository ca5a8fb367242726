package dev.gantry.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gantry.infra.config.GantryProperties;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The kubernetes runtime's settings: their defaults, and a clear refusal of bad values. */
class KubernetesSettingsTest {

  @Test
  void defaults() {
    var settings = TestSettings.defaults().runtime().kubernetes();
    assertThat(settings.enginePort()).isEqualTo(8000);
    assertThat(settings.gpuNodeLabel()).isEqualTo("gantry.dev/gpu-type");
    assertThat(settings.storageAccessMode()).isEqualTo("ReadWriteMany");
    assertThat(settings.storageClass()).isNull();
    assertThat(settings.images().vllm()).isEqualTo("vllm/vllm-openai:latest");
    assertThat(settings.scheduleTimeout()).isEqualTo(Duration.ofSeconds(60));
    assertThat(settings.sweepGrace()).isEqualTo(Duration.ofMinutes(5));
  }

  @Test
  void theRuntimeTypeIsLocalUnlessSaid() {
    var local = TestSettings.bind(Map.of("runtime.type", "local")).runtime().type();
    assertThat(local).isEqualTo(GantryProperties.Runtime.Type.LOCAL);
  }

  @Test
  void anAccessModeKubernetesDoesNotKnowIsRefused() {
    assertThatThrownBy(
            () -> TestSettings.bind(Map.of("runtime.kubernetes.storage-access-mode", "Shared")))
        .rootCause()
        .hasMessageStartingWith("gantry.runtime.kubernetes.storage-access-mode must be one of")
        .hasMessageEndingWith("got Shared");
  }

  @Test
  void aScheduleTimeoutBeyondTheStartActivityIsRefused() {
    assertThatThrownBy(() -> TestSettings.bind(Map.of("runtime.kubernetes.schedule-timeout", "3m")))
        .rootCause()
        .hasMessageContaining("schedule-timeout must be at most 90s");
  }

  @Test
  void aTimeoutThatIsNotPositiveIsRefused() {
    assertThatThrownBy(() -> TestSettings.bind(Map.of("runtime.kubernetes.schedule-timeout", "0s")))
        .hasRootCauseMessage(
            "gantry.runtime.kubernetes timeouts and sweep settings must be positive");
  }
}
