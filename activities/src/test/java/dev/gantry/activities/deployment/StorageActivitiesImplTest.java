package dev.gantry.activities.deployment;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.Mockito.inOrder;
import static org.mockito.Mockito.mock;

import dev.gantry.api.deployment.StorageActivities.StorageRequest;
import dev.gantry.infra.runtime.WorkerRuntime;
import dev.gantry.infra.storage.DeploymentStorage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The storage activities work over any runtime's storage port, not only local directories. */
class StorageActivitiesImplTest {

  /** Storage in a runtime's own terms, as a claim would be. */
  static final class ClaimStorage implements DeploymentStorage {
    final List<String> calls = new ArrayList<>();

    @Override
    public String create(String deploymentId, int sizeGb) {
      calls.add("create " + deploymentId + " " + sizeGb);
      return "pvc/gantry-" + deploymentId;
    }

    @Override
    public Path pathOf(String deploymentId) {
      return Path.of("/gantry/storage");
    }

    @Override
    public void remove(String deploymentId) {
      calls.add("remove " + deploymentId);
    }
  }

  @Test
  void createsAndRemovesThroughThePort() {
    var storage = new ClaimStorage();
    var runtime = mock(WorkerRuntime.class);
    var activities = new StorageActivitiesImpl(storage, runtime);

    var info = activities.createStorage(new StorageRequest("dep_abc123", 40));
    assertThat(info.location()).isEqualTo("pvc/gantry-dep_abc123");
    activities.removeStorage(new StorageRequest("dep_abc123", 40));

    assertThat(storage.calls).containsExactly("create dep_abc123 40", "remove dep_abc123");
    var order = inOrder(runtime);
    order.verify(runtime).reclaimStorage("dep_abc123", Path.of("/gantry/storage"));
    order.verify(runtime).removeLogs("dep_abc123");
  }
}
