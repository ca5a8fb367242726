package dev.gantry.gateway.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import dev.gantry.api.deployment.DeploymentSpec;
import dev.gantry.api.deployment.Framework;
import dev.gantry.gateway.auth.Caller;
import dev.gantry.gateway.inference.RoutingTable;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.jobs.JobRepository;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** An async job's route is checked as the engine will read it, before anything is stored. */
class JobRouteCheckTest {
  static final String DEP = "dep_1";
  static final byte[] BODY =
      "{\"input\":{\"model\":\"tiny\",\"messages\":[]}}".getBytes(StandardCharsets.UTF_8);

  JobRepository jobs = mock(JobRepository.class);
  RoutingTable routes = mock(RoutingTable.class);
  JobEngine engine = mock(JobEngine.class);
  JobService service;
  Caller caller = new Caller("key_1", "acme", false);

  @BeforeEach
  void setUp() {
    var properties = mock(GantryProperties.class);
    when(properties.jobs())
        .thenReturn(
            new GantryProperties.Jobs(
                Duration.ofMinutes(30),
                Duration.ofHours(1),
                10,
                1 << 20,
                Duration.ofSeconds(30),
                256L << 20,
                1L << 30));
    when(properties.limits())
        .thenReturn(
            new GantryProperties.Limits(
                64, 1024, 8, 10000, 86400, 3600, 100, 16384, 1048576, 4, 128));
    when(routes.servedSpecAfterMiss(DEP, "acme"))
        .thenReturn(
            new DeploymentSpec(
                "chat",
                "tiny",
                Framework.SIM,
                null,
                0,
                1,
                8,
                300,
                60,
                1,
                List.of(),
                List.of(),
                10,
                2));
    service =
        new JobService(
            jobs, routes, engine, mock(JobExecutionActivity.class), properties, Clock.systemUTC());
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "v1/chat%2Fcompletions",
        "v1/chat%2fcompletions",
        "v1/%2e%2e/metrics",
        "v1/%2E%2E/metrics",
        "v1/.%2e/metrics",
        "v1/%2e/chat/completions",
        "v1/chat%5Ccompletions",
        "v1/chat/completions%00",
        "v1/chat/completions;x=y",
        "v1/chat//completions",
        "v1/./chat/completions",
        "v1/../metrics",
        "v1/%63hat/completions",
        "v1/chat/completions/",
        "v1/load_lora_adapter",
        "v1/",
        "metrics",
        "health"
      })
  void aRouteThatIsNotExactlyAnOpenAiRouteIsRefusedAndNothingIsStored(String route) {
    var answer = service.submit(caller, DEP, route, BODY, null);

    assertThat(answer.getStatusCode().value()).as(route).isEqualTo(400);
    verify(jobs, never()).insert(any(), any());
    verify(engine, never()).start(any());
  }

  @ParameterizedTest
  @ValueSource(strings = {"v1/chat/completions", "v1/completions", "v1/embeddings"})
  void theOpenAiRoutesAreAccepted(String route) {
    when(engine.start(any())).thenReturn(true);

    var answer = service.submit(caller, DEP, route, BODY, null);

    assertThat(answer.getStatusCode().value()).as(route).isEqualTo(202);
    verify(jobs).insert(any(), any());
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "{\"input\":{\"model\":\"tiny\",\"messages\":[],\"max_tokens\":11}}",
        "{\"input\":{\"model\":\"tiny\",\"messages\":[],\"max_completion_tokens\":1e6}}",
        "{\"input\":{\"model\":\"tiny\",\"messages\":[],\"n\":3}}"
      })
  void anInputAskingMoreThanTheDeploymentAllowsIsRefusedAndNothingIsStored(String body) {
    var answer =
        service.submit(
            caller, DEP, "v1/chat/completions", body.getBytes(StandardCharsets.UTF_8), null);

    assertThat(answer.getStatusCode().value()).isEqualTo(400);
    assertThat(new String(answer.getBody(), StandardCharsets.UTF_8)).contains("must be at most");
    verify(jobs, never()).insert(any(), any());
  }

  @ParameterizedTest
  @ValueSource(strings = {"v1/chat/completions", "v1/responses", "v1/rerank"})
  void anInputNamingAnotherModelIsRefusedOnEveryRouteAsASynchronousRequestIs(String route) {
    var answer =
        service.submit(
            caller,
            DEP,
            route,
            "{\"input\":{\"model\":\"other\",\"input\":\"hi\"}}".getBytes(StandardCharsets.UTF_8),
            null);

    assertThat(answer.getStatusCode().value()).as(route).isEqualTo(404);
    assertThat(new String(answer.getBody(), StandardCharsets.UTF_8))
        .contains("The model 'other' is not served by this deployment; it serves 'tiny'");
    verify(jobs, never()).insert(any(), any());
  }
}
