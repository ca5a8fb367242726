package dev.gantry.app;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Component;

/**
 * The backstop that keeps a stopping platform's exit bounded. Every step of a graceful stop has its
 * own limit (the inference drain, the web server, engines stopped in parallel with a short grace),
 * but they add up, and a step that hangs (a Temporal call, a stuck engine) would hold the process
 * past what supervisors wait before they SIGKILL it, orphaning its engines. So when the JVM begins
 * to exit (SIGTERM, Ctrl-C), a timer starts; if the process is still here at {@link #DEADLINE},
 * every engine it runs is killed and the JVM halts.
 *
 * <p>It is armed by a JVM shutdown hook rather than by the application context's stop, so closing a
 * context inside a longer-lived JVM (as tests do) never arms it.
 */
@Component
class ShutdownDeadline {
  /** Short of the 30 seconds a platform may take to exit after SIGTERM. */
  static final Duration DEADLINE = Duration.ofSeconds(25);

  private static final Logger log = LoggerFactory.getLogger(ShutdownDeadline.class);

  ShutdownDeadline() {
    // The hook returns at once (the JVM waits for hooks); the timer runs on a daemon thread, which
    // dies with the JVM when the stop finishes first.
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () ->
                    Thread.ofPlatform()
                        .daemon()
                        .name("gantry-shutdown-deadline")
                        .start(ShutdownDeadline::watch),
                "gantry-shutdown-deadline-hook"));
  }

  private static void watch() {
    try {
      TimeUnit.NANOSECONDS.sleep(DEADLINE.toNanos());
    } catch (InterruptedException e) {
      return;
    }
    List<ProcessHandle> left = ProcessHandle.current().descendants().toList();
    log.error(
        "Gantry did not stop within {}; killing {} engine process(es) and exiting",
        DEADLINE,
        left.size());
    left.forEach(ProcessHandle::destroyForcibly);
    Runtime.getRuntime().halt(1);
  }
}
