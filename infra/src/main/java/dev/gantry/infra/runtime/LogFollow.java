package dev.gantry.infra.runtime;

/**
 * A live follow of a worker's engine log, from {@link WorkerRuntime#followLog}. Closing it stops
 * the follow and lets go of whatever it holds (thread, file, connection); the listener hears
 * nothing more once the close is seen, at most the one line being delivered at that moment.
 */
public interface LogFollow extends AutoCloseable {

  /** Receives a follow's lines in order, then {@link #end} once when the engine has stopped. */
  interface Listener {
    void line(String line);

    /** The engine stopped and its last line was delivered; not called after a close. */
    void end();
  }

  /** The most bytes of one line a follow delivers; the rest of a longer line is cut. */
  int MAX_LINE_BYTES = 16 * 1024;

  @Override
  void close();
}
