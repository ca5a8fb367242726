package dev.gantry.api.deployment;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import com.fasterxml.jackson.annotation.JsonTypeName;
import java.util.Objects;

/**
 * Starts a deployment's entity workflow. {@code secretRef} may be null when the deployment has no
 * env; it is a reference, never the values.
 *
 * <p>In workflow history it reads {@code {..., "start": {"mode": "fresh" | "recovered" |
 * "continued", ...}, "historyLimit": n}}. Inputs recorded before the start mode had a type carried
 * it in nullable fields instead ({@code recoveredStatus}, {@code recoveredReason}, {@code
 * nextWorkerOrdinal}, {@code serving}); they still read, as the mode those fields meant, so
 * workflows started by an earlier version replay and continue as new into this shape.
 *
 * @param start how this run begins: a new deployment, one restarted from the database, or a run
 *     continued as new
 * @param historyLimit history length after which the workflow continues as new; 0 for the default
 */
public record DeploymentWorkflowInput(
    String deploymentId,
    String tenantId,
    DeploymentSpec spec,
    String secretRef,
    StartMode start,
    int historyLimit) {

  public DeploymentWorkflowInput {
    Objects.requireNonNull(start, "start");
  }

  /** How a deployment's workflow run begins. */
  @JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "mode")
  @JsonSubTypes({
    @JsonSubTypes.Type(StartMode.Fresh.class),
    @JsonSubTypes.Type(StartMode.Recovered.class),
    @JsonSubTypes.Type(StartMode.Continued.class)
  })
  public sealed interface StartMode {

    /** A new deployment: it provisions from the start, and its first worker is ordinal 1. */
    @JsonTypeName("fresh")
    record Fresh() implements StartMode {}

    /**
     * Restarted from the database, its Temporal history lost (as with the embedded server after a
     * restart): the workflow resumes from the last recorded status instead of starting over.
     *
     * @param status the last recorded status
     * @param reason the status reason recorded with it
     * @param nextWorkerOrdinal the lowest worker ordinal not used yet, from the database
     */
    @JsonTypeName("recovered")
    record Recovered(DeploymentStatus status, String reason, int nextWorkerOrdinal)
        implements StartMode {
      public Recovered {
        Objects.requireNonNull(status, "status");
      }
    }

    /** Continued as new while serving: its workers still run, and their state is carried. */
    @JsonTypeName("continued")
    record Continued(ServingState serving) implements StartMode {
      public Continued {
        Objects.requireNonNull(serving, "serving");
      }
    }
  }

  public static DeploymentWorkflowInput fresh(
      String deploymentId, String tenantId, DeploymentSpec spec, String secretRef) {
    return new DeploymentWorkflowInput(
        deploymentId, tenantId, spec, secretRef, new StartMode.Fresh(), 0);
  }

  /** A workflow restarted from what the database recorded of the deployment. */
  public static DeploymentWorkflowInput recovered(
      String deploymentId,
      String tenantId,
      DeploymentSpec spec,
      String secretRef,
      DeploymentStatus status,
      String reason,
      int nextWorkerOrdinal) {
    return new DeploymentWorkflowInput(
        deploymentId,
        tenantId,
        spec,
        secretRef,
        new StartMode.Recovered(status, reason, nextWorkerOrdinal),
        0);
  }

  /** The input of the run this one continues as, while serving. */
  public DeploymentWorkflowInput continued(DeploymentSpec currentSpec, ServingState state) {
    return new DeploymentWorkflowInput(
        deploymentId,
        tenantId,
        currentSpec,
        secretRef,
        new StartMode.Continued(state),
        historyLimit);
  }

  /** The same input with another history limit (tests make runs continue as new early). */
  public DeploymentWorkflowInput withHistoryLimit(int limit) {
    return new DeploymentWorkflowInput(deploymentId, tenantId, spec, secretRef, start, limit);
  }

  /** The lowest worker ordinal this run has not used yet. */
  public int nextWorkerOrdinal() {
    return switch (start) {
      case StartMode.Fresh fresh -> 1;
      case StartMode.Recovered recovered -> Math.max(1, recovered.nextWorkerOrdinal());
      case StartMode.Continued continued -> Math.max(1, continued.serving().nextOrdinal());
    };
  }

  /**
   * Reads this shape, and the flat one of inputs recorded before the start mode had a type: {@code
   * serving} set meant continued, {@code recoveredStatus} set meant recovered, neither a fresh
   * start. One exception keeps what such an input did: without a status but with a later first
   * ordinal (the reconciler restarting a deployment still {@code starting}), it reads as recovered
   * {@code starting}, which provisions from the start as a fresh one does, numbering workers on.
   */
  @JsonCreator
  static DeploymentWorkflowInput fromJson(
      @JsonProperty("deploymentId") String deploymentId,
      @JsonProperty("tenantId") String tenantId,
      @JsonProperty("spec") DeploymentSpec spec,
      @JsonProperty("secretRef") String secretRef,
      @JsonProperty("start") StartMode start,
      @JsonProperty("historyLimit") int historyLimit,
      @JsonProperty("recoveredStatus") DeploymentStatus recoveredStatus,
      @JsonProperty("recoveredReason") String recoveredReason,
      @JsonProperty("nextWorkerOrdinal") int nextWorkerOrdinal,
      @JsonProperty("serving") ServingState serving) {
    if (start == null) {
      if (serving != null) {
        start = new StartMode.Continued(serving);
      } else if (recoveredStatus != null) {
        start = new StartMode.Recovered(recoveredStatus, recoveredReason, nextWorkerOrdinal);
      } else if (nextWorkerOrdinal > 1) {
        start =
            new StartMode.Recovered(DeploymentStatus.STARTING, recoveredReason, nextWorkerOrdinal);
      } else {
        start = new StartMode.Fresh();
      }
    }
    return new DeploymentWorkflowInput(
        deploymentId, tenantId, spec, secretRef, start, historyLimit);
  }
}
