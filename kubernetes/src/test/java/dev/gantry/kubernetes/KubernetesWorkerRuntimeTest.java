package dev.gantry.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import dev.gantry.api.FailureType;
import dev.gantry.api.deployment.Framework;
import dev.gantry.api.deployment.GpuSpec;
import dev.gantry.infra.runtime.EngineExit;
import dev.gantry.infra.runtime.RunningWorker;
import dev.gantry.infra.runtime.WorkerLaunchRequest;
import dev.gantry.infra.runtime.WorkerRuntimeException;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@EnableKubernetesMockClient(crud = true)
@Timeout(60)
class KubernetesWorkerRuntimeTest {
  static final String DEPLOYMENT = "dep_abc123";
  static final String WORKER = DEPLOYMENT + "-w1";
  static final String POD = "gantry-dep-abc123-w1";
  static final String TOKEN = "hf_very_secret_token";

  KubernetesMockServer server;
  KubernetesClient client;
  Kubelet kubelet;
  TestSettings.MovableClock clock;
  KubernetesWorkerRuntime runtime;

  @BeforeEach
  void setUp() {
    kubelet = new Kubelet(client);
    clock = new TestSettings.MovableClock();
    runtime =
        new KubernetesWorkerRuntime(
            client,
            TestSettings.bind(Map.of("runtime.kubernetes.schedule-timeout", "20s")),
            clock,
            Duration.ofMillis(200));
  }

  /*
   * The runtime's informers are not closed here: the mock server's extension shuts the server down
   * first and then closes the client, which ends them. A watch closed by the client while the mock
   * server still runs can block the mock server's event loop (its watch listener waits on its own
   * event sender), which would stall the next requests.
   */

  static WorkerLaunchRequest request(Framework framework, GpuSpec gpu) {
    return new WorkerLaunchRequest(
        DEPLOYMENT,
        WORKER,
        framework,
        framework == Framework.OLLAMA ? "qwen2.5:0.5b" : "Qwen/Qwen2.5-0.5B-Instruct",
        Path.of(KubernetesNames.STORAGE_MOUNT),
        Map.of("HF_TOKEN", TOKEN, "LD_PRELOAD", "/tmp/evil.so"),
        List.of(),
        gpu,
        0);
  }

  /** Starts the worker while the kubelet stand-in schedules its Pod and gives it an address. */
  RunningWorker start(WorkerLaunchRequest request, String ip) {
    var started = CompletableFuture.supplyAsync(() -> runtime.start(request));
    kubelet.awaitPod(POD, null);
    kubelet.running(POD, ip);
    return started.join();
  }

  Pod pod() {
    return client.pods().inNamespace(TestSettings.NAMESPACE).withName(POD).get();
  }

  @Test
  void aVllmWorkerIsAHardenedPodWithItsGpusAndItsSecretByReference() {
    var running = start(request(Framework.VLLM, new GpuSpec("H100", 2, List.of())), "10.1.2.3");

    assertThat(running.workerId()).isEqualTo(WORKER);
    assertThat(running.endpoint()).isEqualTo("http://10.1.2.3:8000");
    assertThat(running.gpuType()).isEqualTo("H100");
    assertThat(running.gpuCount()).isEqualTo(2);
    assertThat(running.healthPath()).isEqualTo("/health");
    assertThat(running.metricsPath()).isEqualTo("/metrics");

    Pod pod = pod();
    assertThat(pod.getMetadata().getLabels())
        .containsEntry("app.kubernetes.io/managed-by", "gantry")
        .containsEntry("gantry.dev/deployment-id", DEPLOYMENT)
        .containsEntry("gantry.dev/worker-id", WORKER);
    var spec = pod.getSpec();
    assertThat(spec.getAutomountServiceAccountToken()).isFalse();
    assertThat(spec.getRestartPolicy()).isEqualTo("Never");
    assertThat(spec.getNodeSelector()).containsExactly(Map.entry("gantry.dev/gpu-type", "H100"));
    assertThat(spec.getSecurityContext().getRunAsNonRoot()).isTrue();
    assertThat(spec.getSecurityContext().getSeccompProfile().getType()).isEqualTo("RuntimeDefault");

    Container engine = spec.getContainers().getFirst();
    assertThat(engine.getImage()).isEqualTo("vllm/vllm-openai:latest");
    assertThat(engine.getCommand())
        .containsSubsequence("vllm", "serve", "/gantry/storage/model")
        .containsSubsequence("--host", "0.0.0.0", "--port", "8000")
        .containsSubsequence("--served-model-name", "Qwen/Qwen2.5-0.5B-Instruct");
    assertThat(engine.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/health");
    assertThat(engine.getReadinessProbe().getHttpGet().getPort().getIntVal()).isEqualTo(8000);
    assertThat(engine.getResources().getLimits())
        .containsEntry("nvidia.com/gpu", new Quantity("2"))
        .containsEntry("memory", new Quantity("64Gi"))
        .containsEntry("ephemeral-storage", new Quantity("8Gi"));
    var security = engine.getSecurityContext();
    assertThat(security.getRunAsNonRoot()).isTrue();
    assertThat(security.getAllowPrivilegeEscalation()).isFalse();
    assertThat(security.getCapabilities().getDrop()).containsExactly("ALL");
    assertThat(security.getSeccompProfile().getType()).isEqualTo("RuntimeDefault");

    var storage =
        spec.getVolumes().stream().filter(v -> v.getPersistentVolumeClaim() != null).findFirst();
    assertThat(storage).isPresent();
    assertThat(storage.get().getPersistentVolumeClaim().getClaimName())
        .isEqualTo("gantry-dep-abc123");
    assertThat(storage.get().getPersistentVolumeClaim().getReadOnly()).isTrue();
    assertThat(engine.getVolumeMounts())
        .anySatisfy(
            m -> {
              assertThat(m.getMountPath()).isEqualTo("/gantry/storage");
              assertThat(m.getReadOnly()).isTrue();
            });

    EnvVar token =
        engine.getEnv().stream().filter(e -> e.getName().equals("HF_TOKEN")).findFirst().get();
    assertThat(token.getValue()).isNull();
    assertThat(token.getValueFrom().getSecretKeyRef().getName()).isEqualTo("gantry-env-dep-abc123");
    assertThat(token.getValueFrom().getSecretKeyRef().getKey()).isEqualTo("HF_TOKEN");
    assertThat(engine.getEnv())
        .anySatisfy(
            e -> {
              assertThat(e.getName()).isEqualTo("HF_HUB_OFFLINE");
              assertThat(e.getValue()).isEqualTo("1");
            })
        .noneSatisfy(e -> assertThat(e.getName()).isEqualTo("LD_PRELOAD"));
    assertThat(Serialization.asYaml(pod)).doesNotContain(TOKEN);

    var secret =
        client
            .secrets()
            .inNamespace(TestSettings.NAMESPACE)
            .withName("gantry-env-dep-abc123")
            .get();
    assertThat(secret.getMetadata().getLabels())
        .containsEntry("gantry.dev/deployment-id", DEPLOYMENT);
    assertThat(secret.getData()).containsOnlyKeys("HF_TOKEN");
    assertThat(
            new String(
                Base64.getDecoder().decode(secret.getData().get("HF_TOKEN")),
                StandardCharsets.UTF_8))
        .isEqualTo(TOKEN);
  }

  @Test
  void eachFrameworkGetsItsImageCommandAndHealthPath() {
    var sglang = start(request(Framework.SGLANG, new GpuSpec("L4", 1, List.of())), "10.0.0.2");
    assertThat(sglang.healthPath()).isEqualTo("/health");
    assertThat(pod().getSpec().getContainers().getFirst().getImage())
        .isEqualTo("lmsysorg/sglang:latest");
    assertThat(pod().getSpec().getContainers().getFirst().getCommand())
        .containsSubsequence("python3", "-m", "sglang.launch_server", "--model-path");
    runtime.stop(WORKER, Duration.ZERO);

    var ollama = start(request(Framework.OLLAMA, new GpuSpec("L4", 1, List.of())), "10.0.0.3");
    assertThat(ollama.healthPath()).isEqualTo("/api/version");
    assertThat(ollama.metricsPath()).isNull();
    var ollamaEngine = pod().getSpec().getContainers().getFirst();
    assertThat(ollamaEngine.getImage()).isEqualTo("ollama/ollama:latest");
    assertThat(ollamaEngine.getCommand()).containsExactly("ollama", "serve");
    assertThat(ollamaEngine.getEnv())
        .anySatisfy(
            e -> {
              assertThat(e.getName()).isEqualTo("OLLAMA_HOST");
              assertThat(e.getValue()).isEqualTo("0.0.0.0:8000");
            })
        .anySatisfy(
            e -> {
              assertThat(e.getName()).isEqualTo("OLLAMA_MODELS");
              assertThat(e.getValue()).isEqualTo("/gantry/storage/ollama");
            });
    assertThat(ollamaEngine.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/api/version");
    runtime.stop(WORKER, Duration.ZERO);

    var sim = start(request(Framework.SIM, null), "10.0.0.4");
    assertThat(sim.gpuType()).isNull();
    assertThat(sim.gpuCount()).isZero();
    var simPod = pod();
    var simEngine = simPod.getSpec().getContainers().getFirst();
    assertThat(simEngine.getImage()).isEqualTo("gantry:latest");
    assertThat(simEngine.getCommand())
        .startsWith("java")
        .containsSubsequence("-jar", "/opt/gantry/gantry.jar", "sim", "--host", "0.0.0.0");
    assertThat(simEngine.getResources().getLimits())
        .doesNotContainKey("nvidia.com/gpu")
        .containsEntry("memory", new Quantity("512Mi"));
    assertThat(simPod.getSpec().getNodeSelector()).isNullOrEmpty();
  }

  @Test
  void aRetriedStartFindsTheExistingPod() {
    var first = start(request(Framework.VLLM, new GpuSpec("H100", 1, List.of())), "10.0.0.9");
    String uid = pod().getMetadata().getUid();

    var again = runtime.start(request(Framework.VLLM, new GpuSpec("H100", 1, List.of())));

    assertThat(again).isEqualTo(first);
    assertThat(pod().getMetadata().getUid()).isEqualTo(uid);
    assertThat(runtime.knownWorkers()).containsExactly(WORKER);
  }

  @Test
  void anUnschedulableGpuTypeFallsBackToTheNextInOrder() {
    var started =
        CompletableFuture.supplyAsync(
            () ->
                runtime.start(
                    request(Framework.VLLM, new GpuSpec("H100", 1, List.of("A100-80GB", "L4")))));
    Pod h100 = kubelet.awaitPod(POD, null);
    assertThat(h100.getSpec().getNodeSelector()).containsEntry("gantry.dev/gpu-type", "H100");
    kubelet.unschedulable(POD, "0/4 nodes are available: 4 Insufficient nvidia.com/gpu.");

    Pod a100 = kubelet.awaitPod(POD, h100.getMetadata().getUid());
    assertThat(a100.getSpec().getNodeSelector()).containsEntry("gantry.dev/gpu-type", "A100-80GB");
    kubelet.unschedulable(POD, "0/4 nodes are available: 4 node(s) didn't match selector.");

    Pod l4 = kubelet.awaitPod(POD, a100.getMetadata().getUid());
    assertThat(l4.getSpec().getNodeSelector()).containsEntry("gantry.dev/gpu-type", "L4");
    kubelet.running(POD, "10.0.0.5");

    assertThat(started.join().gpuType()).isEqualTo("L4");
    assertThat(pod().getMetadata().getLabels()).containsEntry("gantry.dev/gpu-type", "L4");
  }

  @Test
  void noSchedulableGpuTypeIsNoGpuCapacityWithKubernetesReason() {
    var started =
        CompletableFuture.supplyAsync(
            () -> runtime.start(request(Framework.VLLM, new GpuSpec("H100", 1, List.of("L4")))));
    Pod first = kubelet.awaitPod(POD, null);
    kubelet.unschedulable(POD, "0/4 nodes are available: 4 Insufficient nvidia.com/gpu.");
    kubelet.awaitPod(POD, first.getMetadata().getUid());
    kubelet.unschedulable(POD, "0/4 nodes are available: 4 node(s) didn't match selector.");

    assertThatThrownBy(started::join)
        .cause()
        .isInstanceOfSatisfying(
            WorkerRuntimeException.class,
            e -> {
              assertThat(e.type()).isEqualTo(FailureType.NO_GPU_CAPACITY);
              assertThat(e.getMessage())
                  .contains("no GPU free for scale-up: needs 1 × H100 (or L4)")
                  .contains("H100: 0/4 nodes are available: 4 Insufficient nvidia.com/gpu.")
                  .contains("L4: 0/4 nodes are available");
            });
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> pod() == null);
  }

  /** Starts a worker, sets the status the kubelet would, and returns how the engine exited. */
  EngineExit exitAfter(Consumer<Kubelet> status) throws Exception {
    start(request(Framework.VLLM, new GpuSpec("H100", 1, List.of())), "10.0.0.6");
    var exit = runtime.onExit(WORKER);
    assertThat(exit).isNotDone();
    assertThat(runtime.find(WORKER)).isPresent();
    status.accept(kubelet);
    var exited = exit.get(10, TimeUnit.SECONDS);
    assertThat(runtime.find(WORKER)).isEmpty();
    return exited;
  }

  @Test
  void anImagePullErrorEndsTheWorkerWithKubernetesReason() throws Exception {
    var exit =
        exitAfter(
            k ->
                k.waiting(
                    POD, "ImagePullBackOff", "Back-off pulling image \"vllm/vllm-openai:latest\""));
    assertThat(exit.reason())
        .contains("cannot pull the engine image vllm/vllm-openai:latest")
        .contains("ImagePullBackOff");
  }

  @Test
  void anErrImagePullEndsTheWorkerToo() throws Exception {
    var exit = exitAfter(k -> k.waiting(POD, "ErrImagePull", "manifest unknown"));
    assertThat(exit.reason()).contains("ErrImagePull: manifest unknown");
  }

  @Test
  void anOomKilledEngineSaysItRanOutOfMemory() throws Exception {
    var exit = exitAfter(k -> k.terminated(POD, "OOMKilled", 137));
    assertThat(exit.exitCode()).isEqualTo(137);
    assertThat(exit.reason())
        .contains("ran out of memory")
        .contains("OOMKilled")
        .contains("64Gi")
        .contains("gantry.runtime.kubernetes.memory-limit");
  }

  @Test
  void aCrashLoopEndsTheWorkerWithItsLastExit() throws Exception {
    var exit = exitAfter(k -> k.crashLooping(POD, "Error", 1));
    assertThat(exit.exitCode()).isEqualTo(1);
    assertThat(exit.reason())
        .contains("keeps crashing")
        .contains("CrashLoopBackOff after 5 restarts")
        .contains("last exit code 1 (Error)");
  }

  @Test
  void anEngineExitIsReportedWithItsCode() throws Exception {
    var exit = exitAfter(k -> k.terminated(POD, "Error", 3));
    assertThat(exit.exitCode()).isEqualTo(3);
    assertThat(exit.reason()).contains("exited with code 3");
  }

  @Test
  void aPodNeverReadyEndsAtTheReadinessDeadline() throws Exception {
    var exit = exitAfter(k -> clock.advance(Duration.ofMinutes(31)));
    assertThat(exit.reason())
        .contains("did not pass its readiness probe (GET /health on port 8000) within 1800 s")
        .contains("ContainersNotReady");
  }

  @Test
  void anEngineThatWasReadyOnceIsNotHeldToTheStartDeadline() throws Exception {
    start(request(Framework.VLLM, new GpuSpec("H100", 1, List.of())), "10.0.0.6");
    kubelet.ready(POD, true);
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> runtime.find(WORKER).isPresent() && runtime.seenReady(WORKER));

    kubelet.ready(POD, false);
    clock.advance(Duration.ofMinutes(31));
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> runtime.cached(WORKER).filter(p -> !PodStates.ready(p)).isPresent());

    // Not ready now, long after the start deadline: the health probes judge it, not the deadline.
    assertThat(runtime.find(WORKER)).isPresent();
  }

  @Test
  void stopDeletesThePodAndWaitsTillItIsGone() throws Exception {
    start(request(Framework.VLLM, new GpuSpec("H100", 1, List.of())), "10.0.0.7");
    var exit = runtime.onExit(WORKER);

    runtime.stop(WORKER, Duration.ofSeconds(1));

    assertThat(pod()).isNull();
    assertThat(exit.get(10, TimeUnit.SECONDS).reason()).contains("deleted");
    assertThat(runtime.knownWorkers()).isEmpty();
    assertThat(runtime.find(WORKER)).isEmpty();
    // Stopping what is gone is a no-op.
    runtime.stop(WORKER, Duration.ofSeconds(1));
  }

  @Test
  void anExternalDeletionCompletesTheExit() throws Exception {
    var exit =
        exitAfter(k -> client.pods().inNamespace(TestSettings.NAMESPACE).withName(POD).delete());
    assertThat(exit.reason()).isEqualTo("the worker's Pod was deleted");
  }

  @Test
  void logsAreReadThroughThePodsLogApi() {
    start(request(Framework.VLLM, new GpuSpec("H100", 1, List.of())), "10.0.0.8");
    server
        .expect()
        .get()
        .withPath(
            "/api/v1/namespaces/"
                + TestSettings.NAMESPACE
                + "/pods/"
                + POD
                + "/log?pretty=false&tailLines=15")
        .andReturn(200, "INFO loading weights\nERROR CUDA out of memory\n")
        .always();

    assertThat(runtime.logTail(WORKER, 15)).contains("ERROR CUDA out of memory");
  }

  @Test
  void aLogFollowReadsThePodsLogStreamUntilTheServerEndsIt() {
    start(request(Framework.VLLM, new GpuSpec("H100", 1, List.of())), "10.0.0.8");
    server
        .expect()
        .get()
        .withPath(
            "/api/v1/namespaces/"
                + TestSettings.NAMESPACE
                + "/pods/"
                + POD
                + "/log?pretty=false&tailLines=2&follow=true")
        .andReturn(200, "INFO loading weights\nINFO token=hf_abcdefghijkl\n" + "x".repeat(20_000))
        .always();
    var lines = new java.util.concurrent.CopyOnWriteArrayList<String>();
    var ended = new java.util.concurrent.atomic.AtomicBoolean();
    try (var follow =
        runtime.followLog(
            WORKER,
            2,
            new dev.gantry.infra.runtime.LogFollow.Listener() {
              @Override
              public void line(String line) {
                lines.add(line);
              }

              @Override
              public void end() {
                ended.set(true);
              }
            })) {
      org.awaitility.Awaitility.await().untilTrue(ended);
      assertThat(lines).hasSize(3);
      assertThat(lines.get(0)).isEqualTo("INFO loading weights");
      assertThat(lines.get(1)).isEqualTo("INFO token=***");
      assertThat(lines.get(2)).hasSize(dev.gantry.infra.runtime.LogFollow.MAX_LINE_BYTES);
      org.awaitility.Awaitility.await().until(() -> runtime.activeLogFollows() == 0);
    }
  }

  @Test
  void probesAndInFlightGoToThePodAddress() throws Exception {
    HttpServer engine = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    engine.createContext(
        "/health",
        exchange -> {
          exchange.sendResponseHeaders(200, -1);
          exchange.close();
        });
    engine.createContext(
        "/metrics",
        exchange -> {
          byte[] body =
              "vllm:num_requests_running{model_name=\"m\"} 2\nvllm:num_requests_waiting 3\n"
                  .getBytes(StandardCharsets.UTF_8);
          exchange.sendResponseHeaders(200, body.length);
          exchange.getResponseBody().write(body);
          exchange.close();
        });
    engine.start();
    try {
      int port = engine.getAddress().getPort();
      var runtimeOnPort =
          new KubernetesWorkerRuntime(
              client,
              TestSettings.bind(Map.of("runtime.kubernetes.engine-port", Integer.toString(port))),
              clock,
              Duration.ofMillis(200));
      var started =
          CompletableFuture.supplyAsync(
              () ->
                  runtimeOnPort.start(request(Framework.VLLM, new GpuSpec("H100", 1, List.of()))));
      kubelet.awaitPod(POD, null);
      kubelet.running(POD, "127.0.0.1");
      var running = started.join();
      assertThat(running.endpoint()).isEqualTo("http://127.0.0.1:" + port);
      assertThat(runtimeOnPort.probe(running, Duration.ofSeconds(2))).isTrue();
      assertThat(runtimeOnPort.inFlight(running)).contains(5);
    } finally {
      engine.stop(0);
    }
  }
}
