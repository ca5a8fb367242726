package dev.gantry.autoscaler;

/**
 * The deployment's live workers, as the autoscaler counts them.
 *
 * @param starting workers started but not yet healthy (they count towards demand: a burst is not
 *     answered twice while its workers boot)
 * @param ready healthy workers
 */
public record Fleet(int starting, int ready) {

  public Fleet {
    if (starting < 0 || ready < 0) {
      throw new IllegalArgumentException("worker counts must be >= 0");
    }
  }

  /** Workers that are or will be serving. */
  public int live() {
    return starting + ready;
  }
}
