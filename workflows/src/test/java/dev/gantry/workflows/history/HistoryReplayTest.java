package dev.gantry.workflows.history;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gantry.api.worker.WorkerActivities.StopEngineInput;
import dev.gantry.workflows.deployment.DeploymentWorkflowImpl;
import dev.gantry.workflows.job.JobWorkflowImpl;
import dev.gantry.workflows.worker.WorkerWorkflowImpl;
import io.temporal.api.enums.v1.EventType;
import io.temporal.common.WorkflowExecutionHistory;
import io.temporal.common.converter.DataConverter;
import io.temporal.common.converter.DefaultDataConverter;
import io.temporal.common.interceptors.WorkerInterceptor;
import io.temporal.common.interceptors.WorkerInterceptorBase;
import io.temporal.common.interceptors.WorkflowInboundCallsInterceptor;
import io.temporal.common.interceptors.WorkflowInboundCallsInterceptorBase;
import io.temporal.common.interceptors.WorkflowOutboundCallsInterceptor;
import io.temporal.common.interceptors.WorkflowOutboundCallsInterceptor.ActivityInput;
import io.temporal.common.interceptors.WorkflowOutboundCallsInterceptor.ActivityOutput;
import io.temporal.common.interceptors.WorkflowOutboundCallsInterceptorBase;
import io.temporal.testing.TestEnvironmentOptions;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.testing.WorkflowReplayer;
import io.temporal.worker.WorkerFactoryOptions;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Replays every recorded history ({@code src/test/resources/histories/<workflow>/*.json}) against
 * the workflow code as it is now. A change to workflow code that would break a running workflow (an
 * activity, timer, child or signal added, removed or reordered without {@code Workflow.getVersion})
 * fails here, naming the history. How to record: {@link HistoryRecorder}.
 */
class HistoryReplayTest {
  private static final String FOLDER = "/histories";
  private static final String NOT_FOUND_CHANGE = "signal-target-not-found";
  private static final DataConverter CONVERTER = DefaultDataConverter.newDefaultInstance();

  /** The implementation of each workflow type; its histories live in the folder of its name. */
  private static final Map<String, Class<?>> IMPLEMENTATIONS =
      Map.of(
          "DeploymentWorkflow", DeploymentWorkflowImpl.class,
          "WorkerWorkflow", WorkerWorkflowImpl.class,
          "JobWorkflow", JobWorkflowImpl.class);

  static Stream<Named<Path>> histories() throws IOException, URISyntaxException {
    var url = HistoryReplayTest.class.getResource(FOLDER);
    assertThat(url).as("the folder " + FOLDER + " on the test class path").isNotNull();
    Path root = Path.of(url.toURI());
    List<Path> files;
    try (var walk = Files.walk(root)) {
      files = walk.filter(p -> p.toString().endsWith(".json")).sorted().toList();
    }
    assertThat(files).as("recorded histories under " + root).isNotEmpty();
    return files.stream().map(f -> Named.of(root.relativize(f).toString(), f));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("histories")
  void replaysOnTheCurrentCode(Path file) throws Exception {
    var history = read(file);
    String type =
        history
            .getEvents()
            .getFirst()
            .getWorkflowExecutionStartedEventAttributes()
            .getWorkflowType()
            .getName();
    assertThat(IMPLEMENTATIONS).as("a known workflow type").containsKey(type);
    assertThat(file.getParent().getFileName().toString())
        .as("the folder of a %s history", type)
        .isEqualTo(type.replace("Workflow", "").toLowerCase(Locale.ROOT));
    try {
      WorkflowReplayer.replayWorkflowExecution(history, IMPLEMENTATIONS.get(type));
    } catch (Exception | Error e) {
      // Surefire's report numbers parameterised cases; the message names the history.
      throw new AssertionError(
          "recorded history %s no longer replays: %s".formatted(relativeName(file), oneLine(e)), e);
    }
  }

  /** The SDK's messages span lines (and carry a stack); the build's summary shows one line. */
  private static String oneLine(Throwable e) {
    return String.valueOf(e.getMessage())
        .lines()
        .map(String::strip)
        .filter(line -> !line.startsWith("at "))
        .collect(Collectors.joining(" "));
  }

  private static String relativeName(Path file) {
    return file.getParent().getFileName() + "/" + file.getFileName();
  }

  /**
   * The existing {@code Workflow.getVersion("signal-target-not-found", DEFAULT_VERSION, 1)}: both
   * of its branches are recorded, for a deployment and for a worker, so the replay above proves
   * that runs from before the change and after it both still replay.
   */
  @Test
  void bothBranchesOfTheSignalTargetNotFoundChangeAreRecorded() throws Exception {
    for (String history :
        List.of("deployment/edit-signals-worker-that-ended", "worker/deployment-not-found")) {
      var taken = read(file(history + "-version-1.json"));
      assertThat(Histories.versionMarkers(taken))
          .as(history + " on version 1")
          .contains(NOT_FOUND_CHANGE + "@1");

      var before = read(file(history + "-default-version.json"));
      assertThat(Histories.versionMarkers(before))
          .as(history + " recorded before the change")
          .noneMatch(m -> m.startsWith(NOT_FOUND_CHANGE + "@"));
      assertThat(before.getEvents())
          .as(history + " recorded before the change reached the versioned code")
          .anyMatch(
              e ->
                  e.getEventType()
                      == EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED);
    }
  }

  /**
   * The later changes have both branches recorded too: histories recorded before the change reached
   * its code without a marker (the {@code DEFAULT_VERSION} branch), histories recorded since carry
   * its marker at version 1. The replay above then guards running workflows of both kinds.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("laterChanges")
  void bothBranchesOfALaterChangeAreRecorded(
      String change, String reachedActivity, List<String> before, List<String> since)
      throws Exception {
    for (String history : before) {
      var h = read(file(history + ".json"));
      assertThat(Histories.versionMarkers(h))
          .as(history + " recorded before " + change)
          .noneMatch(m -> m.startsWith(change + "@"));
      assertThat(h.getEvents())
          .as(history + " reached the code of " + change)
          .anyMatch(
              e ->
                  e.getEventType() == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
                      && e.getActivityTaskScheduledEventAttributes()
                          .getActivityType()
                          .getName()
                          .equals(reachedActivity));
    }
    for (String history : since) {
      assertThat(Histories.versionMarkers(read(file(history + ".json"))))
          .as(history + " on version 1 of " + change)
          .contains(change + "@1");
    }
  }

  static Stream<Arguments> laterChanges() {
    var reapedBefore =
        List.of(
            "worker/idle-reaped",
            "worker/reconfigured-then-idle-reaped",
            "worker/continued-run-idle-reaped");
    var reapedSince =
        List.of(
            "worker/scale-in-drain",
            "worker/idle-reap-deferred-while-busy-then-reaped",
            "worker/in-flight-unknown-then-reaped",
            "worker/scale-in-drain-failed-still-stopped");
    return Stream.of(
        Arguments.of(
            "cancellable-download",
            "PrepareModel",
            List.of(
                "deployment/deleted-while-downloading-before-cancellable-download",
                "deployment/provision-then-delete"),
            List.of(
                "deployment/sim-prepared-on-control-queue-then-delete",
                "deployment/delete-cancels-running-download",
                "deployment/waits-for-download-slot-then-running",
                "deployment/delete-while-waiting-for-download-slot",
                "deployment/queued-download-failed-compensated-then-deleted")),
        Arguments.of("idle-reap-asks-in-flight", "StopEngine", reapedBefore, reapedSince),
        Arguments.of("scale-in-drain-timeout", "StopEngine", reapedBefore, reapedSince));
  }

  /**
   * Both branches of {@code scale-in-drain-timeout} schedule the same activity ({@code StopEngine})
   * and differ only in its bound and its {@code scaleIn} flag, which replay does not compare. So
   * the worker histories that reached an idle reap are also replayed with an interceptor: the
   * engine stop today's code schedules for each must be the recorded one (same start-to-close
   * timeout, same {@code scaleIn}), i.e. the branch the history took.
   */
  @ParameterizedTest(name = "{0}")
  @ValueSource(
      strings = {
        "worker/idle-reaped",
        "worker/reconfigured-then-idle-reaped",
        "worker/continued-run-idle-reaped",
        "worker/scale-in-drain",
        "worker/idle-reap-deferred-while-busy-then-reaped",
        "worker/in-flight-unknown-then-reaped",
        "worker/scale-in-drain-failed-still-stopped"
      })
  void anIdleReapStopsTheEngineOnTheBranchItWasRecordedWith(String name) throws Exception {
    var history = read(file(name + ".json"));
    var recorded =
        history.getEvents().stream()
            .filter(e -> e.getEventType() == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
            .map(e -> e.getActivityTaskScheduledEventAttributes())
            .filter(a -> a.getActivityType().getName().equals("StopEngine"))
            .toList();
    assertThat(recorded).as(name + "'s engine stops").hasSize(1);
    var recordedInput =
        CONVERTER.fromPayloads(
            0,
            Optional.of(recorded.getFirst().getInput()),
            StopEngineInput.class,
            StopEngineInput.class);
    var bound = recorded.getFirst().getStartToCloseTimeout();
    var recordedBound = Duration.ofSeconds(bound.getSeconds(), bound.getNanos());

    var scheduled = new ConcurrentLinkedQueue<ActivityInput<?>>();
    var env =
        TestWorkflowEnvironment.newInstance(
            TestEnvironmentOptions.newBuilder()
                .setWorkerFactoryOptions(
                    WorkerFactoryOptions.newBuilder()
                        .setWorkerInterceptors(capturingActivities(scheduled))
                        .build())
                .build());
    try {
      WorkflowReplayer.replayWorkflowExecution(history, env, WorkerWorkflowImpl.class);
    } finally {
      env.close();
    }
    var stops = scheduled.stream().filter(a -> a.getActivityName().equals("StopEngine")).toList();
    assertThat(stops).as("engine stops on replay").hasSize(1);
    var input = (StopEngineInput) stops.getFirst().getArgs()[0];
    assertThat(input.scaleIn()).as(name + ": scaleIn on replay").isEqualTo(recordedInput.scaleIn());
    assertThat(stops.getFirst().getOptions().getStartToCloseTimeout())
        .as(name + ": the engine stop's bound on replay")
        .isEqualTo(recordedBound);
  }

  /** Collects every activity the replayed workflow code schedules, with its options and input. */
  private static WorkerInterceptor capturingActivities(Collection<ActivityInput<?>> scheduled) {
    return new WorkerInterceptorBase() {
      @Override
      public WorkflowInboundCallsInterceptor interceptWorkflow(
          WorkflowInboundCallsInterceptor next) {
        return new WorkflowInboundCallsInterceptorBase(next) {
          @Override
          public void init(WorkflowOutboundCallsInterceptor outbound) {
            super.init(
                new WorkflowOutboundCallsInterceptorBase(outbound) {
                  @Override
                  public <R> ActivityOutput<R> executeActivity(ActivityInput<R> input) {
                    scheduled.add(input);
                    return super.executeActivity(input);
                  }
                });
          }
        };
      }
    };
  }

  private static Path file(String relative) throws URISyntaxException {
    var url = HistoryReplayTest.class.getResource(FOLDER + "/" + relative);
    assertThat(url).as("the recorded history " + relative).isNotNull();
    return Path.of(url.toURI());
  }

  private static WorkflowExecutionHistory read(Path file) throws IOException {
    try {
      return WorkflowExecutionHistory.fromJson(Files.readString(file));
    } catch (RuntimeException e) {
      throw new AssertionError(
          "recorded history %s cannot be parsed: %s".formatted(relativeName(file), oneLine(e)), e);
    }
  }
}
