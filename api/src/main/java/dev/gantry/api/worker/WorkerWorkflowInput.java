package dev.gantry.api.worker;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import com.fasterxml.jackson.annotation.JsonTypeName;
import dev.gantry.api.deployment.EngineIdentity;
import dev.gantry.api.deployment.Framework;
import dev.gantry.api.deployment.GpuSpec;
import java.util.List;
import java.util.Objects;

/**
 * Starts a worker. The engine's {@code secretRef} names the deployment's encrypted env; values are
 * resolved only when the engine process starts, never carried in workflow history.
 *
 * <p>In workflow history it reads {@code {"deploymentId", "ordinal", "engine": {...}, "settings",
 * "start": {"mode": "fresh" | "continued", ...}}}. Inputs recorded before the engine identity and
 * the start mode had types carried the engine's fields beside the others and a nullable {@code
 * serving}; they still read, so workers started by an earlier version replay and continue as new
 * into this shape.
 *
 * @param engine what the worker runs, as its deployment's workflow built it
 * @param start whether the worker starts its engine or continues as new while healthy
 */
public record WorkerWorkflowInput(
    String deploymentId,
    int ordinal,
    EngineIdentity engine,
    WorkerSettings settings,
    StartMode start) {

  public WorkerWorkflowInput {
    Objects.requireNonNull(engine, "engine");
    Objects.requireNonNull(start, "start");
  }

  /** How a worker's workflow run begins. */
  @JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "mode")
  @JsonSubTypes({
    @JsonSubTypes.Type(StartMode.Fresh.class),
    @JsonSubTypes.Type(StartMode.Continued.class)
  })
  public sealed interface StartMode {

    /** A new worker: it starts its engine and waits for it to become healthy. */
    @JsonTypeName("fresh")
    record Fresh() implements StartMode {}

    /** Continued as new while healthy: its engine still runs, and its state is carried. */
    @JsonTypeName("continued")
    record Continued(Serving serving) implements StartMode {
      public Continued {
        Objects.requireNonNull(serving, "serving");
      }
    }
  }

  /** A healthy worker's state, carried across continue-as-new. */
  public record Serving(
      String endpoint, String gpuType, int gpuCount, long lastActiveEpochMillis) {}

  /** A new worker's input. */
  public static WorkerWorkflowInput fresh(
      String deploymentId, int ordinal, EngineIdentity engine, WorkerSettings settings) {
    return new WorkerWorkflowInput(deploymentId, ordinal, engine, settings, new StartMode.Fresh());
  }

  /** The input of the run this one continues as, while healthy. */
  public WorkerWorkflowInput continued(WorkerSettings current, Serving state) {
    return new WorkerWorkflowInput(
        deploymentId, ordinal, engine, current, new StartMode.Continued(state));
  }

  public String workerId() {
    return WorkerWorkflow.workerId(deploymentId, ordinal);
  }

  /**
   * Reads this shape, and the flat one of inputs recorded before: the engine's fields ({@code
   * framework}, {@code model}, {@code gpu}, {@code frameworkArgs}, {@code secretRef}) beside the
   * others, and {@code serving} set when continued, null when fresh.
   */
  @JsonCreator
  static WorkerWorkflowInput fromJson(
      @JsonProperty("deploymentId") String deploymentId,
      @JsonProperty("ordinal") int ordinal,
      @JsonProperty("engine") EngineIdentity engine,
      @JsonProperty("settings") WorkerSettings settings,
      @JsonProperty("start") StartMode start,
      @JsonProperty("serving") Serving serving,
      @JsonProperty("framework") Framework framework,
      @JsonProperty("model") String model,
      @JsonProperty("gpu") GpuSpec gpu,
      @JsonProperty("frameworkArgs") List<String> frameworkArgs,
      @JsonProperty("secretRef") String secretRef) {
    return new WorkerWorkflowInput(
        deploymentId,
        ordinal,
        engine != null
            ? engine
            : new EngineIdentity(framework, model, gpu, frameworkArgs, secretRef),
        settings,
        start != null
            ? start
            : serving != null ? new StartMode.Continued(serving) : new StartMode.Fresh());
  }
}
