package dev.gantry.gateway.inference;

import java.util.concurrent.atomic.AtomicBoolean;

/** A slot on one worker, held from admission until the response ends; released exactly once. */
final class Lease {
  final DeploymentRoute route;
  final Upstream upstream;

  /** When the slot was taken (the route's clock, epoch millis). */
  final long takenAtMillis;

  private final AtomicBoolean released = new AtomicBoolean();

  Lease(DeploymentRoute route, Upstream upstream, long takenAtMillis) {
    this.route = route;
    this.upstream = upstream;
    this.takenAtMillis = takenAtMillis;
  }

  void release() {
    if (released.compareAndSet(false, true)) {
      route.release(this);
    }
  }
}
