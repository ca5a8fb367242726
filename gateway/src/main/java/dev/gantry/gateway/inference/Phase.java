package dev.gantry.gateway.inference;

import java.util.EnumSet;
import java.util.Set;

/**
 * Where a synchronous inference request is in its life ({@link Exchange}). The answer side only:
 * whether the client is still sending its body is a separate fact, since a refusal can be written
 * while the body still arrives.
 *
 * <pre>
 *  HEAD -> BODY -> [ROUTING] -> ADMISSION <-> CALLING -> RELAYING -------------------> DONE
 *    |       |         |            |            |                                     ^
 *    +-------+---------+------------+------------+--> RESPONDING -> [ANSWERED] -> [LINGERING]
 * </pre>
 *
 * ROUTING only when the deployment was not in the routing table at the head; ANSWERED and LINGERING
 * only when an answer was written before the whole body came (a refusal).
 *
 * <p>Every phase may end in {@link #DONE} (the client left, or the connection broke). A move the
 * table does not allow is a bug: {@link #to} throws, and the request is ended with a 500.
 */
enum Phase {
  /** The request's head is being checked: the gateway is open, the API key, the deployment. */
  HEAD,
  /** The body is arriving, held against the body budget. */
  BODY,
  /** The body is in; the deployment was not in the routing table: waiting for its next read. */
  ROUTING,
  /** The body checks passed: waiting for a slot on a worker, at once or in the queue. */
  ADMISSION,
  /** A worker connection is taken and the request sent (or retried); nothing relayed yet. */
  CALLING,
  /** The worker's answer head is relayed; its parts follow as they come. */
  RELAYING,
  /** An answer of the gateway's own (a refusal, an error, the model list) is being written. */
  RESPONDING,
  /** The answer is written in full; the request's body is still arriving on a kept connection. */
  ANSWERED,
  /** The answer is written and the connection is to close once the rest of the body is read. */
  LINGERING,
  /** Nothing more: the slot, the body and the worker connection are let go, usage recorded. */
  DONE;

  private Set<Phase> next;

  static {
    HEAD.next = EnumSet.of(BODY, RESPONDING);
    BODY.next = EnumSet.of(ROUTING, ADMISSION, RESPONDING);
    ROUTING.next = EnumSet.of(ADMISSION, RESPONDING);
    ADMISSION.next = EnumSet.of(CALLING, RESPONDING);
    // Back to ADMISSION: a request that never reached a worker waits again for another one.
    CALLING.next = EnumSet.of(ADMISSION, RELAYING, RESPONDING);
    // Relayed only once the whole body is in: its end is the request's end.
    RELAYING.next = EnumSet.noneOf(Phase.class);
    RESPONDING.next = EnumSet.of(ANSWERED, LINGERING);
    ANSWERED.next = EnumSet.of(LINGERING);
    LINGERING.next = EnumSet.noneOf(Phase.class);
    DONE.next = EnumSet.noneOf(Phase.class);
    for (Phase p : values()) {
      if (p != DONE) {
        p.next.add(DONE);
      }
    }
  }

  /**
   * The phase after this one.
   *
   * @throws IllegalStateException when the table does not allow the move
   */
  Phase to(Phase target) {
    if (!next.contains(target)) {
      throw new IllegalStateException(
          "An inference request cannot go from " + this + " to " + target);
    }
    return target;
  }

  /** Whether nothing of the answer has been written yet, so a refusal can still be the answer. */
  boolean beforeAnswer() {
    return ordinal() < RELAYING.ordinal();
  }

  /** Whether the answer has been written in full. */
  boolean answered() {
    return this == ANSWERED || this == LINGERING;
  }
}
