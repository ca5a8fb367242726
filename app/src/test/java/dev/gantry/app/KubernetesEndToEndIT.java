package dev.gantry.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.NamespacedKubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The whole platform on {@code gantry.runtime.type=kubernetes}: fabric8's mock API server stores
 * the objects and {@link KubeletStandIn} runs them (each worker Pod a {@code sim} on its own
 * loopback address). A deployment gets its claim and download Job, scales from zero on a chat,
 * serves a plain and a streamed chat through the gateway, scales out under concurrent requests,
 * back to zero when idle, and its deletion leaves no labelled object and no engine behind.
 */
@Timeout(150)
class KubernetesEndToEndIT {
  static final String NAMESPACE = "gantry-e2e";
  static final Map<String, String> GANTRY = Map.of("app.kubernetes.io/managed-by", "gantry");

  static KubernetesMockServer server;
  static NamespacedKubernetesClient client;
  static KubeletStandIn kubelet;
  static PlatformProcess platform;

  @BeforeAll
  static void start() throws Exception {
    server =
        new KubernetesMockServer(
            new Context(),
            new MockWebServer(),
            new HashMap<>(),
            new KubernetesCrudDispatcher(),
            true);
    server.init();
    client = server.createClient();
    kubelet = new KubeletStandIn(client, NAMESPACE, KubeletStandIn.logsDir()).start();
    platform =
        new PlatformProcess(
                "kubernetes-e2e",
                "--gantry.runtime.type=kubernetes",
                "--gantry.runtime.kubernetes.namespace=" + NAMESPACE,
                "--gantry.runtime.kubernetes.engine-port=" + PlatformProcess.freePort(),
                "--gantry.gateway.route-refresh=200ms")
            .withJvmOptions(
                "-Dkubernetes.master=" + client.getMasterUrl(),
                "-Dkubernetes.trust.certificates=true",
                "-Dkubernetes.auth.tryKubeConfig=false",
                "-Dkubernetes.auth.tryServiceAccount=false")
            .start();
  }

  @AfterAll
  static void stop() throws Exception {
    if (platform != null) {
      platform.close();
    }
    if (kubelet != null) {
      kubelet.close();
    }
    if (server != null) {
      server.destroy();
    }
  }

  static List<Pod> workerPods() {
    return client
        .pods()
        .inNamespace(NAMESPACE)
        .withLabels(GANTRY)
        .withLabel("gantry.dev/component", "worker")
        .list()
        .getItems();
  }

  static List<JsonNode> workers(String dep, String status) throws Exception {
    var body = PlatformProcess.json(platform.get("/api/v1/deployments/" + dep + "/workers"));
    return StreamSupport.stream(body.spliterator(), false)
        .filter(w -> w.get("status").asText().equals(status))
        .toList();
  }

  static Map<String, Object> chat(boolean stream, int maxTokens) {
    return Map.of(
        "model",
        "tiny-chat",
        "messages",
        List.of(Map.of("role", "user", "content", "Hello from Kubernetes")),
        "max_tokens",
        maxTokens,
        "stream",
        stream);
  }

  static HttpResponse<String> send(String dep, Map<String, Object> body) throws Exception {
    var request =
        HttpRequest.newBuilder(
                URI.create(
                    "http://127.0.0.1:"
                        + platform.port
                        + "/openai/"
                        + dep
                        + "/v1/chat/completions"))
            .timeout(Duration.ofSeconds(60))
            .header("Content-Type", "application/json")
            .POST(
                HttpRequest.BodyPublishers.ofString(PlatformProcess.JSON.writeValueAsString(body)));
    return PlatformProcess.send(request, platform.key);
  }

  @Test
  void aDeploymentServesScalesAndGoesAwayOnKubernetes() throws Exception {
    var created =
        platform.post(
            "/api/v1/deployments",
            Map.ofEntries(
                Map.entry("name", "e2e-on-kubernetes"),
                Map.entry("model", "tiny-chat"),
                Map.entry("framework", "sim"),
                Map.entry("min_workers", 0),
                Map.entry("max_workers", 2),
                Map.entry("concurrency", 2),
                Map.entry("idle_timeout_seconds", 4),
                Map.entry("wait_time_seconds", 60),
                Map.entry("storage_gb", 1),
                Map.entry("framework_args", List.of("--inter-token-ms=40"))));
    assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
    String dep = PlatformProcess.json(created).get("id").asText();
    String dns = dep.replace('_', '-');

    // Storage and download as Kubernetes objects; the stand-in completes the Job.
    platform.awaitStatus(dep, "running", Duration.ofSeconds(60));
    assertThat(
            client.persistentVolumeClaims().inNamespace(NAMESPACE).withName("gantry-" + dns).get())
        .isNotNull();
    assertThat(
            client
                .batch()
                .v1()
                .jobs()
                .inNamespace(NAMESPACE)
                .withName("gantry-download-" + dns)
                .get())
        .isNotNull();
    assertThat(workerPods()).isEmpty();

    // A chat at zero workers waits through the cold start of a worker Pod.
    var first = send(dep, chat(false, 4));
    assertThat(first.statusCode()).as(first.body()).isEqualTo(200);
    assertThat(PlatformProcess.json(first).at("/choices/0/message/content").asText()).isNotBlank();
    assertThat(workerPods()).hasSize(1);
    Pod pod = workerPods().getFirst();
    assertThat(pod.getStatus().getPodIP()).startsWith("127.0.0.");
    assertThat(pod.getSpec().getContainers().getFirst().getCommand())
        .contains("sim", "--model", "tiny-chat", "--inter-token-ms=40");

    var streamed = send(dep, chat(true, 5));
    assertThat(streamed.statusCode()).as(streamed.body()).isEqualTo(200);
    assertThat(streamed.headers().firstValue("Content-Type").orElse(""))
        .startsWith("text/event-stream");
    assertThat(streamed.body()).contains("\"delta\"").contains("data: [DONE]");

    // More concurrent requests than one worker's concurrency: a second Pod serves them too.
    var burst = new ArrayList<CompletableFuture<HttpResponse<String>>>();
    for (int i = 0; i < 8; i++) {
      burst.add(
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return send(dep, chat(false, 40));
                } catch (Exception e) {
                  throw new IllegalStateException(e);
                }
              }));
    }
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> workers(dep, "healthy").size() == 2 && kubelet.running().size() == 2);
    for (var answer : burst) {
      assertThat(answer.get().statusCode()).as(answer.get().body()).isEqualTo(200);
    }
    assertThat(workerPods()).hasSize(2);
    assertThat(workerPods().stream().map(p -> p.getStatus().getPodIP()).distinct()).hasSize(2);

    // Idle past its timeout, with min_workers 0: no Pod and no engine is left.
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                workers(dep, "healthy").isEmpty()
                    && workerPods().isEmpty()
                    && kubelet.running().isEmpty());
    assertThat(workers(dep, "stopped")).hasSize(2);
    assertThat(kubelet.started()).isEqualTo(2);

    assertThat(platform.delete("/api/v1/deployments/" + dep).statusCode()).isLessThan(300);
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                PlatformProcess.json(platform.get("/api/v1/deployments/" + dep))
                    .get("status")
                    .asText()
                    .equals("deleted"));
    assertThat(client.pods().inNamespace(NAMESPACE).withLabels(GANTRY).list().getItems())
        .as("no Pod, worker or download, is left")
        .isEmpty();
    assertThat(
            client
                .persistentVolumeClaims()
                .inNamespace(NAMESPACE)
                .withLabels(GANTRY)
                .list()
                .getItems())
        .isEmpty();
    assertThat(
            client.batch().v1().jobs().inNamespace(NAMESPACE).withLabels(GANTRY).list().getItems())
        .isEmpty();
    assertThat(client.secrets().inNamespace(NAMESPACE).withLabels(GANTRY).list().getItems())
        .isEmpty();
    assertThat(kubelet.running()).isEmpty();
  }
}
