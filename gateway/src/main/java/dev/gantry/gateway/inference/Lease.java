package dev.gantry.gateway.inference;

import java.util.concurrent.atomic.AtomicBoolean;

/** A slot on one worker, held from admission until the response ends; released exactly once. */
final class Lease {
  final DeploymentRoute route;
  final Upstream upstream;
  private final AtomicBoolean released = new AtomicBoolean();

  Lease(DeploymentRoute route, Upstream upstream) {
    this.route = route;
    this.upstream = upstream;
  }

  void release() {
    if (released.compareAndSet(false, true)) {
      route.release(this);
    }
  }
}
