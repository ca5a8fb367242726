package dev.gantry.api.deployment;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gantry.api.deployment.EditRules.Bounds;
import dev.gantry.api.deployment.EditRules.Violation;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class EditRulesTest {
  private static final Bounds BOUNDS = new Bounds(86_400, 3_600);

  @Test
  void onlyNameAndTheTwoTimeoutsMayChange() {
    assertThat(EditRules.notEditable(Set.of("name", "idle_timeout_seconds", "wait_time_seconds")))
        .isEmpty();
    assertThat(EditRules.notEditable(List.of("name", "max_workers", "gpu", "wait_time_seconds")))
        .containsExactly("gpu", "max_workers");
    assertThat(EditRules.notEditableMessage(List.of("gpu", "max_workers")))
        .isEqualTo(
            "Only name, idle_timeout_seconds and wait_time_seconds can change on a running"
                + " deployment; to change gpu, max_workers, create a new deployment.");
  }

  @Test
  void aValidEditBreaksNoRule() {
    assertThat(EditRules.violations(new EditRequest("chat-2", 86_400, 1), BOUNDS)).isEmpty();
    assertThat(EditRules.violations(new EditRequest(null, null, null), BOUNDS)).isEmpty();
    assertThat(EditRules.violations(new EditRequest("x".repeat(100), 1, 3_600), BOUNDS)).isEmpty();
  }

  @Test
  void everyBrokenRuleIsListedInFieldOrder() {
    assertThat(EditRules.violations(new EditRequest(" ", 0, 3_601), BOUNDS))
        .containsExactly(
            new Violation("name", "must not be blank"),
            new Violation("idle_timeout_seconds", "must be between 1 and 86400"),
            new Violation("wait_time_seconds", "must be between 1 and 3600"));
    assertThat(EditRules.violations(new EditRequest("x".repeat(101), 86_401, -5), BOUNDS))
        .containsExactly(
            new Violation("name", "must be at most 100 characters"),
            new Violation("idle_timeout_seconds", "must be between 1 and 86400"),
            new Violation("wait_time_seconds", "must be between 1 and 3600"));
    assertThat(EditRules.violations(new EditRequest("a\u0007b", null, null), BOUNDS))
        .containsExactly(new Violation("name", "must not contain control characters"));
  }

  @Test
  void withoutConfiguredBoundsOnlyPositiveTimeoutsAreAsked() {
    assertThat(EditRules.violations(new EditRequest(null, Integer.MAX_VALUE, 1), Bounds.NONE))
        .isEmpty();
    assertThat(EditRules.violations(new EditRequest(null, 0, 0), Bounds.NONE))
        .extracting(Violation::describe)
        .containsExactly(
            "idle_timeout_seconds must be positive", "wait_time_seconds must be positive");
  }

  @Test
  void theNameIsAppliedStripped() {
    assertThat(EditRules.normalized(new EditRequest("  chat  ", 5, null)))
        .isEqualTo(new EditRequest("chat", 5, null));
    var unchanged = new EditRequest(null, 5, 6);
    assertThat(EditRules.normalized(unchanged)).isSameAs(unchanged);
  }

  @Test
  void onlyARunningDeploymentWhoseDeletionWasNotAskedForCanBeEdited() {
    assertThat(EditRules.refusal(DeploymentStatus.RUNNING, false)).isEmpty();
    for (var status : DeploymentStatus.values()) {
      if (status != DeploymentStatus.RUNNING) {
        assertThat(EditRules.refusal(status, false))
            .contains(
                "Only a running deployment can be edited; this one is " + status.wireName() + ".");
      }
    }
    // The workflow knows of a deletion before its status says so.
    assertThat(EditRules.refusal(DeploymentStatus.RUNNING, true))
        .contains("Only a running deployment can be edited; this one is deleting.");
    assertThat(EditRules.refusal(DeploymentStatus.DELETED, true))
        .contains("Only a running deployment can be edited; this one is deleted.");
  }

  @Test
  void anEditAppliesTheFieldsItGivesToTheSpec() {
    var spec =
        new DeploymentSpec(
            "chat", "tiny", Framework.SIM, null, 0, 2, 8, 300, 60, 5, List.of(), List.of());
    var edited = spec.withEdit(new EditRequest(null, 20, null));
    assertThat(edited.name()).isEqualTo("chat");
    assertThat(edited.idleTimeoutSeconds()).isEqualTo(20);
    assertThat(edited.waitTimeSeconds()).isEqualTo(60);
    assertThat(spec.withEdit(new EditRequest("renamed", null, 30)))
        .isEqualTo(spec.withEdit("renamed", 300, 30));
  }
}
