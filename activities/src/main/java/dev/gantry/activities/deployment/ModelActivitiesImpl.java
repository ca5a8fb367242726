package dev.gantry.activities.deployment;

import dev.gantry.api.FailureType;
import dev.gantry.api.TaskQueues;
import dev.gantry.api.deployment.DeploymentStatus;
import dev.gantry.api.deployment.Framework;
import dev.gantry.api.deployment.ModelActivities;
import dev.gantry.infra.db.DeploymentRecord;
import dev.gantry.infra.db.DeploymentRepository;
import dev.gantry.infra.model.ModelException;
import dev.gantry.infra.model.ModelPreparation;
import dev.gantry.infra.model.ModelRequest;
import dev.gantry.infra.model.ProgressListener;
import dev.gantry.infra.secrets.SecretStore;
import io.temporal.activity.Activity;
import io.temporal.activity.ActivityExecutionContext;
import io.temporal.failure.ApplicationFailure;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Component;

/**
 * Puts the model into storage. The deployment's {@code HF_TOKEN} and {@code HF_ENDPOINT} are
 * resolved here from its secret reference, so they never pass through Temporal; failure messages
 * are built without them. Permanent failures are non-retryable with a user-facing reason; network
 * errors are retried by the workflow's policy, each attempt resuming from the files in storage.
 */
@Component("modelActivities")
public class ModelActivitiesImpl implements ModelActivities {
  private static final Logger log = LoggerFactory.getLogger(ModelActivitiesImpl.class);

  /** Progress reaches the database at most this often; heartbeats are throttled by the SDK. */
  static final Duration DATABASE_INTERVAL = Duration.ofSeconds(2);

  private static final Duration SLOT_POLL = Duration.ofSeconds(1);
  static final String WAITING_FOR_SLOT = "waiting for a download slot";

  private final ModelPreparation preparer;
  private final SecretStore secrets;
  private final DeploymentRepository deployments;
  private final DownloadSlots slots;

  public ModelActivitiesImpl(
      ModelPreparation preparer,
      SecretStore secrets,
      DeploymentRepository deployments,
      DownloadSlots slots) {
    this.preparer = preparer;
    this.secrets = secrets;
    this.deployments = deployments;
    this.slots = slots;
  }

  @Override
  public ModelInfo prepareModel(PrepareModelInput input) {
    var context = Activity.getExecutionContext();
    context
        .getHeartbeatDetails(DownloadProgress.class)
        .ifPresent(
            last ->
                log.info(
                    "Model download of {}: attempt {} resumes; the last one had {} of {} bytes",
                    input.deploymentId(),
                    context.getInfo().getAttempt(),
                    last.bytesDone(),
                    last.bytesTotal()));
    var deployment = deployments.findById(input.deploymentId());
    // sim needs no download, so it takes no slot.
    String tenant =
        input.engine().framework() == Framework.SIM
            ? null
            : deployment.map(DeploymentRecord::tenantId).orElse(input.deploymentId());
    if (tenant != null && !slots.tryAcquire(tenant)) {
      String reason =
          WAITING_FOR_SLOT
              + ": this tenant already runs "
              + slots.perTenant()
              + " model downloads at once";
      if (TaskQueues.DOWNLOADS.equals(context.getInfo().getActivityTaskQueue())) {
        // The workflow calls again later; meanwhile no worker slot is held for this one.
        return ModelInfo.waiting(reason);
      }
      // A workflow from before the download queue does not know that answer: wait here.
      awaitSlot(context, tenant);
    }
    if (tenant != null) {
      clearWaitingReason(deployment.orElse(null));
    }
    try {
      return prepare(input, context, deployment.orElse(null));
    } finally {
      if (tenant != null) {
        slots.release(tenant);
      }
    }
  }

  /** Once it downloads, a deployment no longer says it waits for a slot. */
  private void clearWaitingReason(DeploymentRecord deployment) {
    if (deployment != null
        && deployment.statusReason() != null
        && deployment.statusReason().startsWith(WAITING_FOR_SLOT)) {
      try {
        deployments.updateReasonWhile(deployment.id(), DeploymentStatus.DOWNLOADING_MODEL, null);
      } catch (RuntimeException e) {
        log.warn("Could not clear the status reason of {}: {}", deployment.id(), e.getMessage());
      }
    }
  }

  private void awaitSlot(ActivityExecutionContext context, String tenant) {
    while (!slots.tryAcquire(tenant)) {
      context.heartbeat(null);
      try {
        Thread.sleep(SLOT_POLL);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw ApplicationFailure.newFailure(
            "interrupted while waiting for a download slot", FailureType.TRANSIENT.name());
      }
    }
  }

  private ModelInfo prepare(
      PrepareModelInput input, ActivityExecutionContext context, DeploymentRecord deployment) {
    // Resolved here and handed straight to the downloader: secret values never leave this call.
    String secretRef = input.engine().secretRef();
    Map<String, String> env =
        secretRef == null ? Map.of() : secrets.resolve(secretRef).orElse(Map.of());
    int storageGb =
        input.storageGb() > 0
            ? input.storageGb()
            : deployment == null ? 0 : deployment.spec().storageGb();
    var request =
        new ModelRequest(
            input.deploymentId(),
            input.engine().framework(),
            input.engine().model(),
            Path.of(input.storageLocation()),
            storageGb,
            env.get("HF_TOKEN"),
            env.get("HF_ENDPOINT"));
    var progress = new Progress(context, input.deploymentId());
    try {
      var prepared = preparer.prepare(request, progress);
      progress.record(prepared.bytes(), prepared.bytes());
      return new ModelInfo(prepared.modelDir().toString(), prepared.bytes());
    } catch (ModelException e) {
      if (e.permanent()) {
        throw ApplicationFailure.newNonRetryableFailure(e.getMessage(), e.type().name());
      }
      recordRetry(input.deploymentId(), context, e.getMessage());
      throw ApplicationFailure.newFailure(e.getMessage(), e.type().name());
    } catch (IOException e) {
      log.warn("Model download of {} failed", input.deploymentId(), e);
      String reason = "could not write the model into storage: " + e.getMessage();
      recordRetry(input.deploymentId(), context, reason);
      throw ApplicationFailure.newFailure(reason, FailureType.TRANSIENT.name());
    }
  }

  /**
   * Shows why the download is being retried while the workflow's backoff runs, instead of an empty
   * reason for minutes. The next transition (downloaded, or cleaning after the last attempt)
   * replaces it.
   */
  private void recordRetry(String deploymentId, ActivityExecutionContext context, String reason) {
    String text =
        "model download attempt "
            + Math.max(1, context.getInfo().getAttempt())
            + " failed, retrying: "
            + reason;
    try {
      deployments.updateReasonWhile(deploymentId, DeploymentStatus.DOWNLOADING_MODEL, text);
    } catch (RuntimeException e) {
      log.warn("Could not record the retry reason of {}: {}", deploymentId, e.getMessage());
    }
  }

  /**
   * Heartbeats every report (the SDK sends at most one per heartbeat interval) and writes progress
   * for the API at most every {@link #DATABASE_INTERVAL}. A heartbeat that reports cancellation
   * throws, which stops the download.
   */
  private final class Progress implements ProgressListener {
    private final ActivityExecutionContext context;
    private final String deploymentId;
    private long lastWriteNanos;
    private long lastDone = -1;

    Progress(ActivityExecutionContext context, String deploymentId) {
      this.context = context;
      this.deploymentId = deploymentId;
    }

    private DownloadProgress last;

    @Override
    public void progress(long bytesDone, long bytesTotal) {
      // The first report of an attempt counts what earlier attempts left in storage too.
      slots.downloaded(bytesDone - (last == null ? 0 : last.bytesDone()));
      last = new DownloadProgress(bytesDone, bytesTotal);
      context.heartbeat(last);
      long now = System.nanoTime();
      if (lastDone < 0 || now - lastWriteNanos >= DATABASE_INTERVAL.toNanos()) {
        record(bytesDone, bytesTotal);
      }
    }

    @Override
    public void waiting() {
      context.heartbeat(last);
    }

    void record(long bytesDone, long bytesTotal) {
      if (bytesDone == lastDone) {
        return;
      }
      lastWriteNanos = System.nanoTime();
      lastDone = bytesDone;
      try {
        deployments.updateDownloadProgress(deploymentId, bytesDone, bytesTotal);
      } catch (RuntimeException e) {
        // Progress is for people watching; a database hiccup must not fail the download.
        log.warn("Could not record download progress of {}: {}", deploymentId, e.getMessage());
      }
    }
  }
}
