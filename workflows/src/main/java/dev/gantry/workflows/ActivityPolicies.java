package dev.gantry.workflows;

import dev.gantry.api.FailureType;
import io.temporal.activity.ActivityOptions;
import io.temporal.common.RetryOptions;
import io.temporal.workflow.Workflow;
import java.time.Duration;
import java.util.Arrays;

/** Activity and history policies every Gantry workflow follows. */
public final class ActivityPolicies {

  /** Failure types that retrying cannot fix: activities fail at once on them. */
  public static final String[] PERMANENT_FAILURES =
      Arrays.stream(FailureType.values())
          .filter(FailureType::permanent)
          .map(FailureType::name)
          .toArray(String[]::new);

  private ActivityPolicies() {}

  /** Database writes: retried until the database is back, because state must not be lost. */
  public static ActivityOptions.Builder databaseWrites() {
    return ActivityOptions.newBuilder()
        .setStartToCloseTimeout(Duration.ofSeconds(15))
        .setRetryOptions(
            RetryOptions.newBuilder()
                .setInitialInterval(Duration.ofSeconds(1))
                .setMaximumInterval(Duration.ofSeconds(30))
                .build());
  }

  /** Whether the current run should continue as new: Temporal suggests it, or history is long. */
  public static boolean continueAsNewDue(int historyLimit) {
    var info = Workflow.getInfo();
    return info.isContinueAsNewSuggested() || info.getHistoryLength() > historyLimit;
  }
}
