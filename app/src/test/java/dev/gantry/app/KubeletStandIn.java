package dev.gantry.app;

import io.fabric8.kubernetes.api.model.ContainerStateBuilder;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import io.fabric8.kubernetes.api.model.PodStatusBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobConditionBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.JobStatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The kubelet's and the Job controller's part, for tests against fabric8's mock API server (which
 * stores objects but runs nothing). Every worker Pod with Gantry's labels gets a loopback address
 * of its own ({@code 127.0.0.N}) as its Pod IP and runs its engine command there, a {@code sim}
 * from {@code target/gantry.jar}; its status is written back as a kubelet would (Running, podIP,
 * containerStatuses, then the Ready condition once the engine answers its readiness path). A
 * deleted Pod's engine is killed. Every model download Job is completed with a Pod that ran it, and
 * that Pod is deleted with its Job (the garbage collector's part).
 */
final class KubeletStandIn implements AutoCloseable {
  private static final String MANAGED_BY = "app.kubernetes.io/managed-by";
  private static final String COMPONENT = "gantry.dev/component";
  private static final Path JAR = Path.of("target/gantry.jar").toAbsolutePath();
  private static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();

  private final KubernetesClient client;
  private final String namespace;
  private final Path logs;
  private final AtomicInteger nextAddress = new AtomicInteger(2);
  private final Map<String, Process> engines = new ConcurrentHashMap<>();
  private final List<Process> everStarted = new ArrayList<>();
  private final ExecutorService work = Executors.newCachedThreadPool();
  private final List<SharedIndexInformer<?>> informers = new ArrayList<>();

  KubeletStandIn(KubernetesClient client, String namespace, Path logs) {
    this.client = client;
    this.namespace = namespace;
    this.logs = logs;
  }

  KubeletStandIn start() {
    informers.add(
        client
            .pods()
            .inNamespace(namespace)
            .withLabel(MANAGED_BY, "gantry")
            .withLabel(COMPONENT, "worker")
            .inform(
                new ResourceEventHandler<>() {
                  @Override
                  public void onAdd(Pod pod) {
                    work.execute(() -> run(pod));
                  }

                  @Override
                  public void onUpdate(Pod before, Pod after) {
                    if (after.getMetadata().getDeletionTimestamp() != null) {
                      work.execute(() -> kill(after));
                    }
                  }

                  @Override
                  public void onDelete(Pod pod, boolean unknownFinalState) {
                    work.execute(() -> kill(pod));
                  }
                }));
    informers.add(
        client
            .batch()
            .v1()
            .jobs()
            .inNamespace(namespace)
            .withLabel(MANAGED_BY, "gantry")
            .inform(
                new ResourceEventHandler<>() {
                  @Override
                  public void onAdd(Job job) {
                    work.execute(() -> complete(job));
                  }

                  @Override
                  public void onUpdate(Job before, Job after) {}

                  @Override
                  public void onDelete(Job job, boolean unknownFinalState) {
                    // The garbage collector's part (Gantry deletes Jobs with background
                    // propagation): the Job's Pods go with it.
                    work.execute(
                        () ->
                            client
                                .pods()
                                .inNamespace(namespace)
                                .withLabel(
                                    "batch.kubernetes.io/controller-uid",
                                    job.getMetadata().getUid())
                                .delete());
                  }
                }));
    return this;
  }

  /** Engines running now, one per live worker Pod. */
  synchronized List<Process> running() {
    return everStarted.stream().filter(Process::isAlive).toList();
  }

  /** Every engine started so far, alive or not. */
  synchronized int started() {
    return everStarted.size();
  }

  private void run(Pod pod) {
    String name = pod.getMetadata().getName();
    if (pod.getStatus() != null && pod.getStatus().getPodIP() != null) {
      return;
    }
    String ip = "127.0.0." + nextAddress.getAndIncrement();
    var container = pod.getSpec().getContainers().getFirst();
    List<String> command = localCommand(container.getCommand(), ip);
    int port = container.getPorts().getFirst().getContainerPort();
    Process process;
    try {
      var pb = new ProcessBuilder(command);
      pb.redirectErrorStream(true);
      pb.redirectOutput(logs.resolve(name + ".log").toFile());
      process = pb.start();
    } catch (Exception e) {
      throw new IllegalStateException("cannot start the engine of " + name, e);
    }
    synchronized (this) {
      everStarted.add(process);
    }
    if (engines.putIfAbsent(name, process) != null) {
      process.destroyForcibly();
      return;
    }
    String started = Instant.now().toString();
    writeStatus(name, ip, started, false);
    String health = "http://" + ip + ":" + port + "/health";
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (process.isAlive() && System.nanoTime() < deadline) {
      try {
        var answer =
            HTTP.send(
                HttpRequest.newBuilder(URI.create(health)).timeout(Duration.ofSeconds(1)).build(),
                HttpResponse.BodyHandlers.discarding());
        if (answer.statusCode() == 200) {
          writeStatus(name, ip, started, true);
          return;
        }
      } catch (Exception notYet) {
        // not listening yet
      }
      try {
        Thread.sleep(100); // a probe period, as the kubelet's readiness probe has one
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  /** The Pod's command as this host runs it: its sim on the Pod's own address. */
  private static List<String> localCommand(List<String> podCommand, String ip) {
    int sim = podCommand.indexOf("sim");
    if (sim < 0) {
      throw new IllegalStateException("not a sim engine: " + podCommand);
    }
    String java = ProcessHandle.current().info().command().orElse("java");
    var command =
        new ArrayList<>(List.of(java, "-XX:+UseSerialGC", "-Xmx96m", "-jar", JAR.toString()));
    List<String> rest = podCommand.subList(sim, podCommand.size());
    for (int i = 0; i < rest.size(); i++) {
      String arg = rest.get(i);
      if (arg.equals("--host") && i + 1 < rest.size()) {
        command.add(arg);
        command.add(ip);
        i++;
      } else if (arg.startsWith("--host=")) {
        command.add("--host=" + ip);
      } else {
        command.add(arg);
      }
    }
    return command;
  }

  private void writeStatus(String name, String ip, String started, boolean ready) {
    try {
      client
          .pods()
          .inNamespace(namespace)
          .withName(name)
          .editStatus(
              p -> {
                p.setStatus(
                    new PodStatusBuilder()
                        .withPhase("Running")
                        .withPodIP(ip)
                        .withStartTime(started)
                        .withConditions(
                            new PodConditionBuilder()
                                .withType("Ready")
                                .withStatus(ready ? "True" : "False")
                                .build())
                        .withContainerStatuses(
                            new ContainerStatusBuilder()
                                .withName(p.getSpec().getContainers().getFirst().getName())
                                .withReady(ready)
                                .withRestartCount(0)
                                .withState(
                                    new ContainerStateBuilder()
                                        .withNewRunning()
                                        .withStartedAt(started)
                                        .endRunning()
                                        .build())
                                .build())
                        .build());
                return p;
              });
    } catch (RuntimeException gone) {
      // Deleted in the meantime: its engine is killed by the delete's event.
    }
  }

  private void kill(Pod pod) {
    Process process = engines.remove(pod.getMetadata().getName());
    if (process != null) {
      process.destroy();
      try {
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
          process.destroyForcibly();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        process.destroyForcibly();
      }
    }
  }

  /** The Job controller and the kubelet: a Pod that ran the download, then the Job complete. */
  private void complete(Job job) {
    String name = job.getMetadata().getName();
    Map<String, String> labels =
        new LinkedHashMap<>(job.getSpec().getTemplate().getMetadata().getLabels());
    labels.put("batch.kubernetes.io/controller-uid", job.getMetadata().getUid());
    String podName = name + "-" + Long.toHexString(System.nanoTime() & 0xfffff);
    client
        .pods()
        .inNamespace(namespace)
        .resource(
            new PodBuilder()
                .withNewMetadata()
                .withName(podName)
                .withLabels(labels)
                .endMetadata()
                .withSpec(job.getSpec().getTemplate().getSpec())
                .build())
        .create();
    client
        .pods()
        .inNamespace(namespace)
        .withName(podName)
        .editStatus(
            p -> {
              p.setStatus(
                  new PodStatusBuilder()
                      .withPhase("Succeeded")
                      .withContainerStatuses(
                          new ContainerStatusBuilder()
                              .withName(p.getSpec().getContainers().getFirst().getName())
                              .withState(
                                  new ContainerStateBuilder()
                                      .withNewTerminated()
                                      .withExitCode(0)
                                      .withMessage(
                                          "{\"status\":\"ok\",\"bytes\":128,\"revision\":null}")
                                      .endTerminated()
                                      .build())
                              .build())
                      .build());
              return p;
            });
    client
        .batch()
        .v1()
        .jobs()
        .inNamespace(namespace)
        .withName(name)
        .editStatus(
            j -> {
              j.setStatus(
                  new JobStatusBuilder()
                      .withConditions(
                          new JobConditionBuilder().withType("Complete").withStatus("True").build())
                      .build());
              return j;
            });
  }

  @Override
  public void close() {
    informers.forEach(SharedIndexInformer::close);
    work.shutdownNow();
    List<Process> all;
    synchronized (this) {
      all = List.copyOf(everStarted);
    }
    all.forEach(Process::destroyForcibly);
  }

  static Path logsDir() throws Exception {
    return Files.createTempDirectory("gantry-kubelet-");
  }
}
