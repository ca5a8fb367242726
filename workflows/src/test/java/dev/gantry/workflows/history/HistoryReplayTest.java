package dev.gantry.workflows.history;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gantry.api.TaskQueues;
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
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

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

  /** Activities whose options or input tell the branches of a versioned change apart. */
  private static final Set<String> OPTION_CHECKED = Set.of("PrepareModel", "StopEngine");

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
        Arguments.of("scale-in-drain-timeout", "StopEngine", reapedBefore, reapedSince),
        // Before it: every worker that asked its engine at the idle deadline and was reaped (no
        // drain or exit came meanwhile: the change's getVersion is not reached, the path is the
        // same), and a drain that came during the question, recorded on the code before the change
        // (ended as idle). Since it: that drain ends the worker for the drain.
        Arguments.of(
            "idle-reap-rechecks-ends",
            "InFlight",
            Stream.concat(
                    reapedSince.stream(),
                    Stream.of("worker/drain-during-idle-busy-check-before-idle-reap-recheck"))
                .toList(),
            List.of("worker/drain-during-idle-busy-check")),
        // Before it: every scale-in drain that ran to its end (the change's getVersion is reached
        // before each scale-in stop). Since it: a deletion's drain cancels the scale-in stop.
        Arguments.of(
            "scale-in-drain-yields-to-deletion",
            "StopEngine",
            reapedSince,
            List.of("worker/scale-in-drain-cut-short-by-deletion")),
        // Before it: deletions that drained workers (none of them already draining, so the path is
        // the same). Since it: a worker in a scale-in drain is drained by the deletion too.
        Arguments.of(
            "delete-drains-draining-workers",
            "RemoveStorage",
            List.of(
                "deployment/provision-then-delete",
                "deployment/scale-out-idle-reap-then-delete",
                "deployment/delete-while-worker-starting"),
            List.of("deployment/delete-during-scale-in-drain")),
        // Before it: deployments that served demand (their serving loop reached without a marker).
        // Since it: the autoscaler's keep window, its scale to zero and its memory carried across
        // continue-as-new.
        Arguments.of(
            "llm-autoscaler",
            "RecordStatus",
            List.of(
                "deployment/scale-out-idle-reap-then-delete",
                "deployment/edit-then-delete",
                "deployment/scale-up-refused-no-gpu-then-delete",
                "deployment/continue-as-new-run2"),
            List.of(
                "deployment/autoscaler-peak-kept-through-lull-then-scaled-to-zero-then-delete",
                "deployment/autoscaler-continued-as-new-run1",
                "deployment/autoscaler-continued-as-new-run2")),
        // Before it: a worker let go by the autoscaler got a full idle window from the release.
        // Since it: the idle time counts from its last use, a third of the timeout at least.
        Arguments.of(
            "released-idle-from-last-use",
            "StopEngine",
            List.of("worker/kept-then-released-then-idle-reaped"),
            List.of("worker/kept-then-released-reaped-by-idle-time-from-last-use")));
  }

  /**
   * The typed start mode of {@code DeploymentWorkflowInput} and the engine identity of {@code
   * WorkerWorkflowInput} (with its own start mode) changed the inputs' JSON. Runs started by the
   * version before carry the flat shape and must replay, and so must runs today's code starts: both
   * shapes are recorded, each start mode of a deployment (fresh, recovered, continued as new) and a
   * worker starting and continued. How each recorded input reads in today's types: {@link
   * RecordedInputsTest}.
   */
  @Test
  void bothInputShapesAreRecordedForEveryStartMode() throws Exception {
    var recorded = new TreeSet<String>();
    for (var named : histories().toList()) {
      var history = read(named.getPayload());
      var input = Histories.startInput(history);
      String type =
          history
              .getEvents()
              .getFirst()
              .getWorkflowExecutionStartedEventAttributes()
              .getWorkflowType()
              .getName();
      if (type.equals("DeploymentWorkflow")) {
        String mode;
        if (input.has("start")) {
          mode = "typed " + input.path("start").path("mode").asText();
        } else if (!input.path("serving").isNull()) {
          mode = "flat continued";
        } else if (!input.path("recoveredStatus").isNull()) {
          mode = "flat recovered";
        } else {
          mode = "flat fresh";
        }
        recorded.add("deployment " + mode);
      } else if (type.equals("WorkerWorkflow")) {
        if (input.has("start")) {
          recorded.add("worker typed " + input.path("start").path("mode").asText());
        } else {
          recorded.add("worker flat " + (input.path("serving").isNull() ? "fresh" : "continued"));
        }
      }
    }
    assertThat(recorded)
        .containsAll(
            List.of(
                "deployment flat fresh",
                "deployment flat recovered",
                "deployment flat continued",
                "deployment typed fresh",
                "deployment typed recovered",
                "deployment typed continued",
                "worker flat fresh",
                "worker flat continued",
                "worker typed fresh",
                "worker typed continued"));
  }

  /**
   * Some branches differ only in an activity's options or input, which replay does not compare:
   * {@code cancellable-download} sends {@code sim} to the control queue and every other model to
   * {@code gantry-downloads}; {@code scale-in-drain-timeout} stops an idle worker's engine with the
   * scale-in flag and a longer bound. So every history is also replayed with an interceptor, and
   * each {@code PrepareModel} and {@code StopEngine} today's code schedules for it must be the
   * recorded one: on the downloads queue or not; the same {@code scaleIn} and start-to-close bound.
   * (A deliberate change of an engine stop's bound fails here too, naming it; replay alone would
   * pass.)
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("histories")
  void activitiesWhoseOptionsTellBranchesApartAreScheduledAsRecorded(Path file) throws Exception {
    var history = read(file);
    var recorded =
        history.getEvents().stream()
            .filter(e -> e.getEventType() == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
            .map(e -> e.getActivityTaskScheduledEventAttributes())
            .filter(a -> OPTION_CHECKED.contains(a.getActivityType().getName()))
            .toList();
    List<ActivityInput<?>> scheduled;
    try {
      scheduled = replayCapturing(history).activities();
    } catch (Exception | Error e) {
      throw new AssertionError(
          "recorded history %s no longer replays: %s".formatted(relativeName(file), oneLine(e)), e);
    }
    var replayed =
        scheduled.stream().filter(a -> OPTION_CHECKED.contains(a.getActivityName())).toList();
    String name = relativeName(file);
    assertThat(replayed.stream().map(ActivityInput::getActivityName))
        .as(name + ": activities scheduled on replay")
        .containsExactlyElementsOf(
            recorded.stream().map(a -> a.getActivityType().getName()).toList());
    for (int i = 0; i < recorded.size(); i++) {
      var was = recorded.get(i);
      var now = replayed.get(i);
      String what = "%s: %s #%d on replay".formatted(name, was.getActivityType().getName(), i + 1);
      if (was.getActivityType().getName().equals("PrepareModel")) {
        assertThat(TaskQueues.DOWNLOADS.equals(now.getOptions().getTaskQueue()))
            .as(what + ": on " + TaskQueues.DOWNLOADS + " as recorded")
            .isEqualTo(was.getTaskQueue().getName().equals(TaskQueues.DOWNLOADS));
      } else {
        var wasInput =
            CONVERTER.fromPayloads(
                0, Optional.of(was.getInput()), StopEngineInput.class, StopEngineInput.class);
        assertThat(((StopEngineInput) now.getArgs()[0]).scaleIn())
            .as(what + ": scaleIn")
            .isEqualTo(wasInput.scaleIn());
        var bound = was.getStartToCloseTimeout();
        assertThat(now.getOptions().getStartToCloseTimeout())
            .as(what + ": start-to-close bound")
            .isEqualTo(Duration.ofSeconds(bound.getSeconds(), bound.getNanos()));
      }
    }
  }

  /**
   * Some branches differ only in how the run ends, with the same commands: a worker drained while
   * its idle reap asks the engine ends for the drain since {@code idle-reap-rechecks-ends}, and as
   * idle (with the same kind of engine stop) before it; replay ignores the version marker of a
   * change the code no longer asks about. So a run recorded complete must return, on replay, what
   * it returned then: every field of the recorded result with its recorded value (fields a result
   * gained since are not compared).
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("histories")
  void aCompletedRunReturnsTheRecordedResult(Path file) throws Exception {
    var history = read(file);
    var completed =
        history.getEvents().stream()
            .filter(e -> e.getEventType() == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED)
            .findFirst();
    if (completed.isEmpty()) {
      return; // still running, or continued as new: nothing returned
    }
    var recorded =
        CONVERTER.fromPayloads(
            0,
            Optional.of(completed.get().getWorkflowExecutionCompletedEventAttributes().getResult()),
            JsonNode.class,
            JsonNode.class);
    Replay replay;
    try {
      replay = replayCapturing(history);
    } catch (Exception | Error e) {
      throw new AssertionError(
          "recorded history %s no longer replays: %s".formatted(relativeName(file), oneLine(e)), e);
    }
    String name = relativeName(file);
    assertThat(replay.returned()).as(name + ": the run returned on replay").isTrue();
    var now =
        CONVERTER.fromPayloads(
            0, CONVERTER.toPayloads(replay.result()), JsonNode.class, JsonNode.class);
    assertThat(contains(now, recorded))
        .as("%s: the run returned %s on replay, recorded %s", name, now, recorded)
        .isTrue();
  }

  /** Whether {@code now} has every field of {@code recorded}, each with its recorded value. */
  static boolean contains(JsonNode now, JsonNode recorded) {
    if (recorded == null || recorded.isNull()) {
      return now == null || now.isNull();
    }
    if (now == null) {
      return false;
    }
    if (recorded.isObject()) {
      if (!now.isObject()) {
        return false;
      }
      for (var field : recorded.properties()) {
        if (!contains(now.get(field.getKey()), field.getValue())) {
          return false;
        }
      }
      return true;
    }
    if (recorded.isArray()) {
      if (!now.isArray() || now.size() != recorded.size()) {
        return false;
      }
      for (int i = 0; i < recorded.size(); i++) {
        if (!contains(now.get(i), recorded.get(i))) {
          return false;
        }
      }
      return true;
    }
    return recorded.equals(now);
  }

  /**
   * What replaying a history did: the activities scheduled, in order, and what the run returned.
   */
  private record Replay(List<ActivityInput<?>> activities, boolean returned, Object result) {}

  /** Replays a history, capturing every activity its workflow code scheduled and its result. */
  private static Replay replayCapturing(WorkflowExecutionHistory history) throws Exception {
    String type =
        history
            .getEvents()
            .getFirst()
            .getWorkflowExecutionStartedEventAttributes()
            .getWorkflowType()
            .getName();
    var scheduled = new ConcurrentLinkedQueue<ActivityInput<?>>();
    var results = new ConcurrentLinkedQueue<Optional<Object>>();
    var env =
        TestWorkflowEnvironment.newInstance(
            TestEnvironmentOptions.newBuilder()
                .setWorkerFactoryOptions(
                    WorkerFactoryOptions.newBuilder()
                        .setWorkerInterceptors(capturing(scheduled, results))
                        .build())
                .build());
    try {
      WorkflowReplayer.replayWorkflowExecution(history, env, IMPLEMENTATIONS.get(type));
    } finally {
      env.close();
    }
    var result = results.peek();
    return new Replay(
        List.copyOf(scheduled), result != null, result == null ? null : result.orElse(null));
  }

  /**
   * Collects every activity the replayed workflow code schedules, with its options and input, and
   * the result its workflow method returns (empty for null).
   */
  private static WorkerInterceptor capturing(
      Collection<ActivityInput<?>> scheduled, Collection<Optional<Object>> results) {
    return new WorkerInterceptorBase() {
      @Override
      public WorkflowInboundCallsInterceptor interceptWorkflow(
          WorkflowInboundCallsInterceptor next) {
        return new WorkflowInboundCallsInterceptorBase(next) {
          @Override
          public WorkflowOutput execute(WorkflowInput input) {
            var output = super.execute(input);
            results.add(Optional.ofNullable(output.getResult()));
            return output;
          }

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
