package dev.gantry.infra.gpu;

import dev.gantry.api.FailureType;
import dev.gantry.api.deployment.Framework;
import dev.gantry.api.deployment.GpuSpec;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.config.GantryProperties.GpuSlot;
import dev.gantry.infra.runtime.WorkerRuntimeException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Component;

/**
 * The GPUs and virtual slots of this host, and which worker holds which.
 *
 * <p>Devices get <em>global</em> indices in the order of {@code gantry.runtime.local.gpus}: with
 * {@code [{H100, 2}, {L4, 1}]} the H100s are devices 0 and 1 and the L4 is device 2. Those indices
 * go into {@code CUDA_VISIBLE_DEVICES}, which numbers all of a host's GPUs together, so a mixed
 * host must list its types in {@code nvidia-smi} order (the runtime sets {@code
 * CUDA_DEVICE_ORDER=PCI_BUS_ID} so CUDA agrees with {@code nvidia-smi}).
 *
 * <p>{@code sim} workers need no GPU; each takes one of {@code virtual-slots} numbered slots so a
 * host cannot be flooded with simulator JVMs.
 *
 * <p>The inventory lives in memory only: after a restart the runtime re-registers the allocations
 * of engines that survived ({@link #adopt}), from their pid files. All methods are synchronized;
 * they are short and called a few times per worker lifetime.
 */
@Component
public class GpuInventory {
  private static final Logger log = LoggerFactory.getLogger(GpuInventory.class);

  /** Global device indices per GPU type, in configuration order. */
  private final Map<String, List<Integer>> devices;

  private final int virtualSlots;
  private final Map<String, Allocation> allocations = new HashMap<>();

  public GpuInventory(GantryProperties properties) {
    var local = properties.runtime().local();
    Map<String, List<Integer>> byType = new LinkedHashMap<>();
    int next = 0;
    for (GpuSlot slot : local.gpus()) {
      List<Integer> indices = byType.computeIfAbsent(slot.type(), t -> new ArrayList<>());
      for (int i = 0; i < slot.count(); i++) {
        indices.add(next++);
      }
    }
    byType.replaceAll((type, indices) -> List.copyOf(indices));
    this.devices = Map.copyOf(byType);
    this.virtualSlots = local.virtualSlots();
  }

  /**
   * What one worker holds.
   *
   * @param gpuType the GPU type, or null for a virtual slot
   * @param indices global device indices for GPUs; for a virtual slot, its slot number (no device
   *     is behind it)
   */
  public record Allocation(String gpuType, List<Integer> indices) {
    public Allocation {
      indices = List.copyOf(indices);
    }

    public boolean isVirtual() {
      return gpuType == null;
    }

    /** GPUs taken, or 1 for a virtual slot. */
    public int count() {
      return indices.size();
    }
  }

  /**
   * Takes capacity for a worker: one virtual slot for {@code sim}, otherwise {@code gpu.count()}
   * GPUs of {@code gpu.type()} or, when it has no room, of the first fallback type that does.
   * Returns the worker's existing allocation when it already holds one, so a retried start does not
   * take a second set of GPUs.
   *
   * @throws WorkerRuntimeException {@code NO_GPU_CAPACITY} with what is free, so a user can pick
   *     another type or wait; {@code INVALID_SPEC} when a GPU framework comes without a GPU spec
   */
  public synchronized Allocation allocate(String workerId, Framework framework, GpuSpec gpu) {
    Allocation existing = allocations.get(workerId);
    if (existing != null) {
      return existing;
    }
    Allocation taken = framework.needsGpu() ? takeGpus(framework, gpu) : takeVirtualSlot();
    allocations.put(workerId, taken);
    return taken;
  }

  /** Gives back what the worker holds; a worker holding nothing is a no-op. */
  public synchronized void release(String workerId) {
    allocations.remove(workerId);
  }

  /**
   * Records an allocation taken before a restart, for an engine that is still running. Trusts the
   * record even when it no longer fits the configuration: the engine holds those GPUs either way.
   */
  public synchronized void adopt(String workerId, Allocation allocation) {
    Allocation previous = allocations.put(workerId, allocation);
    if (previous != null || allocation.isVirtual()) {
      return;
    }
    Set<Integer> clash = new TreeSet<>(allocation.indices());
    clash.retainAll(usedDevices(allocation.gpuType(), workerId));
    if (!clash.isEmpty()) {
      log.warn(
          "worker {} re-adopted with {} device(s) {} that another worker also holds",
          workerId,
          allocation.gpuType(),
          clash);
    }
  }

  public synchronized Optional<Allocation> allocationOf(String workerId) {
    return Optional.ofNullable(allocations.get(workerId));
  }

  private Allocation takeVirtualSlot() {
    Set<Integer> used =
        allocations.values().stream()
            .filter(Allocation::isVirtual)
            .flatMap(a -> a.indices().stream())
            .collect(Collectors.toSet());
    for (int slot = 0; slot < virtualSlots; slot++) {
      if (!used.contains(slot)) {
        return new Allocation(null, List.of(slot));
      }
    }
    throw new WorkerRuntimeException(
        FailureType.NO_GPU_CAPACITY,
        "no virtual slot free for a sim worker (%d of %d in use; raise gantry.runtime.local.virtual-slots)"
            .formatted(used.size(), virtualSlots));
  }

  private Allocation takeGpus(Framework framework, GpuSpec gpu) {
    if (gpu == null || gpu.type() == null || gpu.count() < 1) {
      throw new WorkerRuntimeException(
          FailureType.INVALID_SPEC,
          "framework "
              + framework.wireName()
              + " needs a gpu with a type and a count of 1 or more");
    }
    Set<String> candidates = new LinkedHashSet<>();
    candidates.add(gpu.type());
    candidates.addAll(gpu.fallbackTypes());
    for (String type : candidates) {
      List<Integer> free = freeDevices(type);
      if (free.size() >= gpu.count()) {
        return new Allocation(type, free.subList(0, gpu.count()));
      }
    }
    throw new WorkerRuntimeException(FailureType.NO_GPU_CAPACITY, refusal(gpu, candidates));
  }

  private String refusal(GpuSpec gpu, Set<String> candidates) {
    StringBuilder msg =
        new StringBuilder("no GPU free for scale-up: needs ")
            .append(gpu.count())
            .append(" × ")
            .append(gpu.type());
    if (!gpu.fallbackTypes().isEmpty()) {
      msg.append(" (or ").append(String.join(", ", gpu.fallbackTypes())).append(')');
    }
    msg.append("; free on this host: ");
    List<String> free = new ArrayList<>();
    int total = 0;
    for (String type : candidates) {
      int size = devices.getOrDefault(type, List.of()).size();
      total += size;
      free.add(type + " " + freeDevices(type).size() + " of " + size);
    }
    msg.append(String.join(", ", free));
    if (total == 0) {
      msg.append("; list this host's GPUs in gantry.runtime.local.gpus");
    }
    return msg.toString();
  }

  private List<Integer> freeDevices(String type) {
    Set<Integer> used = usedDevices(type, null);
    return devices.getOrDefault(type, List.of()).stream().filter(i -> !used.contains(i)).toList();
  }

  private Set<Integer> usedDevices(String type, String exceptWorker) {
    Set<Integer> used = new TreeSet<>();
    allocations.forEach(
        (worker, a) -> {
          if (type.equals(a.gpuType()) && !worker.equals(exceptWorker)) {
            used.addAll(a.indices());
          }
        });
    return used;
  }
}
