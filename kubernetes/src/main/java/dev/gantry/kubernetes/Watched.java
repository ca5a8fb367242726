package dev.gantry.kubernetes;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.dsl.Informable;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * One informer (a list, then a watch) over Gantry's objects of one kind, and waits on its events:
 * starts, stops and downloads wait for a state without a watch of their own and without polling.
 * Started on first use, so that a platform whose cluster is unreachable still starts.
 */
final class Watched<T extends HasMetadata> implements AutoCloseable {
  private final java.util.function.Supplier<Informable<T>> source;
  private final Function<String, T> read;
  private final ResourceEventHandler<T> listener;
  private final Duration resync;
  private final Set<Waiter<T>> waiters = ConcurrentHashMap.newKeySet();
  private volatile SharedIndexInformer<T> informer;

  private record Waiter<T>(String name, Predicate<T> until, CompletableFuture<T> done) {}

  /**
   * @param source the label-selected objects to inform on (asked for on first use)
   * @param read reads one object by name from the API server (null when there is none)
   * @param listener told of every event after the waiters, or null
   * @param resync how often every object is handed to the listener again, changed or not
   */
  Watched(
      java.util.function.Supplier<Informable<T>> source,
      Function<String, T> read,
      ResourceEventHandler<T> listener,
      Duration resync) {
    this.source = source;
    this.read = read;
    this.listener = listener;
    this.resync = resync;
  }

  /** The cached object, or null when the cache has none (yet). */
  T cached(String namespace, String name) {
    return informer().getStore().getByKey(namespace + "/" + name);
  }

  /** Every object the cache holds. */
  java.util.List<T> cachedList() {
    return informer().getStore().list();
  }

  /**
   * Waits until the object (null: none of that name) satisfies {@code until}.
   *
   * @throws TimeoutException when it does not within {@code timeout}
   */
  T await(String name, Predicate<T> until, Duration timeout)
      throws TimeoutException, InterruptedException {
    informer();
    var waiter = new Waiter<>(name, until, new CompletableFuture<T>());
    waiters.add(waiter);
    try {
      // Registered first, read second: a change in between reaches the waiter as an event.
      T now = read.apply(name);
      if (until.test(now)) {
        return now;
      }
      return waiter.done().get(Math.max(1, timeout.toMillis()), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw new IllegalStateException(e.getCause());
    } finally {
      waiters.remove(waiter);
    }
  }

  private void notifyWaiters(String name, T object) {
    for (var waiter : waiters) {
      if (waiter.name().equals(name) && waiter.until().test(object)) {
        waiter.done().complete(object);
      }
    }
  }

  private SharedIndexInformer<T> informer() {
    var current = informer;
    if (current != null) {
      return current;
    }
    synchronized (this) {
      if (informer == null) {
        informer = source.get().inform(new Handler(), resync.toMillis());
      }
      return informer;
    }
  }

  private final class Handler implements ResourceEventHandler<T> {
    @Override
    public void onAdd(T object) {
      notifyWaiters(object.getMetadata().getName(), object);
      if (listener != null) {
        listener.onAdd(object);
      }
    }

    @Override
    public void onUpdate(T old, T object) {
      notifyWaiters(object.getMetadata().getName(), object);
      if (listener != null) {
        listener.onUpdate(old, object);
      }
    }

    @Override
    public void onDelete(T object, boolean deletedFinalStateUnknown) {
      notifyWaiters(object.getMetadata().getName(), null);
      if (listener != null) {
        listener.onDelete(object, deletedFinalStateUnknown);
      }
    }
  }

  @Override
  public void close() {
    var current = informer;
    if (current != null) {
      current.close();
    }
  }
}
