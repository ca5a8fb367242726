package dev.gantry.infra.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gantry.api.FailureType;
import dev.gantry.api.deployment.Framework;
import dev.gantry.api.deployment.GpuSpec;
import dev.gantry.infra.gpu.GpuInventory;
import dev.gantry.infra.gpu.GpuInventory.Allocation;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GpuInventoryTest {
  @TempDir Path dataDir;

  /** Two H100s (devices 0, 1) then one A100-80GB (device 2), and two virtual slots. */
  private GpuInventory inventory() {
    return new GpuInventory(
        TestProperties.bind(
            dataDir,
            Map.of(
                "runtime.local.gpus[0].type", "H100",
                "runtime.local.gpus[0].count", "2",
                "runtime.local.gpus[1].type", "A100-80GB",
                "runtime.local.gpus[1].count", "1",
                "runtime.local.virtual-slots", "2")));
  }

  private static GpuSpec gpu(String type, int count, String... fallbacks) {
    return new GpuSpec(type, count, List.of(fallbacks));
  }

  @Test
  void takesDevicesOfTheRequestedTypeWithGlobalIndices() {
    GpuInventory inventory = inventory();

    Allocation first = inventory.allocate("dep_abcdef-w0", Framework.VLLM, gpu("H100", 1));
    Allocation second = inventory.allocate("dep_abcdef-w1", Framework.VLLM, gpu("H100", 1));
    Allocation a100 = inventory.allocate("dep_abcdef-w2", Framework.SGLANG, gpu("A100-80GB", 1));

    assertThat(first).isEqualTo(new Allocation("H100", List.of(0)));
    assertThat(second).isEqualTo(new Allocation("H100", List.of(1)));
    assertThat(a100).isEqualTo(new Allocation("A100-80GB", List.of(2)));
    assertThat(a100.count()).isEqualTo(1);
    assertThat(a100.isVirtual()).isFalse();
  }

  @Test
  void fallsBackToTheFirstFallbackTypeWithRoom() {
    GpuInventory inventory = inventory();
    inventory.allocate("dep_abcdef-w0", Framework.VLLM, gpu("H100", 2));

    Allocation taken =
        inventory.allocate("dep_abcdef-w1", Framework.VLLM, gpu("H100", 1, "L4", "A100-80GB"));

    assertThat(taken).isEqualTo(new Allocation("A100-80GB", List.of(2)));
  }

  @Test
  void refusesWithWhatIsFreeWhenNothingFits() {
    GpuInventory inventory = inventory();
    inventory.allocate("dep_abcdef-w0", Framework.VLLM, gpu("H100", 1));

    assertThatThrownBy(
            () -> inventory.allocate("dep_abcdef-w1", Framework.VLLM, gpu("H100", 2, "A100-80GB")))
        .isInstanceOfSatisfying(
            WorkerRuntimeException.class,
            e -> assertThat(e.type()).isEqualTo(FailureType.NO_GPU_CAPACITY))
        .hasMessage(
            "no GPU free for scale-up: needs 2 × H100 (or A100-80GB); "
                + "free on this host: H100 1 of 2, A100-80GB 1 of 1");
    assertThat(inventory.allocationOf("dep_abcdef-w1")).isEmpty();
  }

  @Test
  void pointsAtTheConfigurationWhenTheHostHasNoneOfTheTypes() {
    GpuInventory inventory = inventory();

    assertThatThrownBy(() -> inventory.allocate("dep_abcdef-w0", Framework.VLLM, gpu("L4", 1)))
        .hasMessage(
            "no GPU free for scale-up: needs 1 × L4; free on this host: L4 0 of 0; "
                + "list this host's GPUs in gantry.runtime.local.gpus");
  }

  @Test
  void aGpuFrameworkWithoutAGpuSpecIsAnInvalidSpec() {
    assertThatThrownBy(() -> inventory().allocate("dep_abcdef-w0", Framework.OLLAMA, null))
        .isInstanceOfSatisfying(
            WorkerRuntimeException.class,
            e -> assertThat(e.type()).isEqualTo(FailureType.INVALID_SPEC));
  }

  @Test
  void allocateIsIdempotentPerWorker() {
    GpuInventory inventory = inventory();

    Allocation first = inventory.allocate("dep_abcdef-w0", Framework.VLLM, gpu("H100", 1));
    Allocation again = inventory.allocate("dep_abcdef-w0", Framework.VLLM, gpu("H100", 1));

    assertThat(again).isEqualTo(first);
    // the retry took nothing more: the other H100 is still free
    assertThat(inventory.allocate("dep_abcdef-w1", Framework.VLLM, gpu("H100", 1)).indices())
        .containsExactly(1);
  }

  @Test
  void releaseFreesTheDevicesAndIsIdempotent() {
    GpuInventory inventory = inventory();
    inventory.allocate("dep_abcdef-w0", Framework.VLLM, gpu("H100", 2));

    inventory.release("dep_abcdef-w0");
    inventory.release("dep_abcdef-w0");

    assertThat(inventory.allocationOf("dep_abcdef-w0")).isEmpty();
    assertThat(inventory.allocate("dep_abcdef-w1", Framework.VLLM, gpu("H100", 2)).indices())
        .containsExactly(0, 1);
  }

  @Test
  void simWorkersTakeOneVirtualSlotWhateverTheirGpuSpec() {
    GpuInventory inventory = inventory();

    Allocation first = inventory.allocate("dep_abcdef-w0", Framework.SIM, gpu("H100", 8));
    Allocation second = inventory.allocate("dep_abcdef-w1", Framework.SIM, null);

    assertThat(first).isEqualTo(new Allocation(null, List.of(0)));
    assertThat(first.isVirtual()).isTrue();
    assertThat(first.count()).isEqualTo(1);
    assertThat(second).isEqualTo(new Allocation(null, List.of(1)));
    assertThatThrownBy(() -> inventory.allocate("dep_abcdef-w2", Framework.SIM, null))
        .isInstanceOfSatisfying(
            WorkerRuntimeException.class,
            e -> assertThat(e.type()).isEqualTo(FailureType.NO_GPU_CAPACITY))
        .hasMessage(
            "no virtual slot free for a sim worker (2 of 2 in use; "
                + "raise gantry.runtime.local.virtual-slots)");
    // real GPUs are untouched by sim workers
    assertThat(inventory.allocate("dep_abcdef-w3", Framework.VLLM, gpu("H100", 2)).indices())
        .containsExactly(0, 1);

    inventory.release("dep_abcdef-w0");
    assertThat(inventory.allocate("dep_abcdef-w2", Framework.SIM, null).indices())
        .containsExactly(0);
  }

  @Test
  void adoptedAllocationsCountAsTaken() {
    GpuInventory inventory = inventory();

    inventory.adopt("dep_abcdef-w0", new Allocation("H100", List.of(1)));

    assertThat(inventory.allocationOf("dep_abcdef-w0"))
        .contains(new Allocation("H100", List.of(1)));
    assertThat(inventory.allocate("dep_abcdef-w1", Framework.VLLM, gpu("H100", 1)).indices())
        .containsExactly(0);
    assertThatThrownBy(() -> inventory.allocate("dep_abcdef-w2", Framework.VLLM, gpu("H100", 1)))
        .hasMessageContaining("H100 0 of 2");
  }
}
