package dev.gantry.sim;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.function.IntConsumer;

/**
 * Command-line entry of the engine simulator: {@code java -jar gantry.jar sim --port N --model NAME
 * [flags]} (the app's main hands the arguments after {@code sim} to {@link #main}). Prints one
 * line, {@code gantry-sim listening on HOST:PORT model=NAME}, once listening, then {@code
 * gantry-sim boot: process_started_at=T listening_at=T ready_at=T} (ISO instants; ready is when
 * {@code /health} answers 200, after the simulated load), and serves until SIGTERM/SIGINT, on which
 * a shutdown hook closes the server.
 */
public final class SimMain {

  /** Exit status for bad command-line flags. */
  public static final int USAGE_EXIT_CODE = 2;

  /** Exit status when the server cannot start (e.g. port in use). */
  public static final int STARTUP_EXIT_CODE = 1;

  private SimMain() {}

  public static void main(String[] args) {
    int status = run(args, System.out, System.err, System::exit);
    if (status != 0) {
      System.exit(status);
    }
  }

  /**
   * When this process started, to about 10 ms on Linux: the time since boot now ({@code
   * /proc/uptime}) less the process's start in clock ticks since boot ({@code /proc/self/stat}).
   * ({@link ProcessHandle.Info#startInstant()} adds the boot time in whole seconds, so it can be up
   * to a second early.) Elsewhere, the JVM's own start.
   */
  static Instant processStart() {
    Instant now = Instant.now();
    try {
      String stat = Files.readString(Path.of("/proc/self/stat"));
      // The command name may hold spaces and parentheses; the fields after it start at "state".
      String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      long startTicks = Long.parseLong(fields[STARTTIME_FIELD - 3]);
      double uptimeSeconds =
          Double.parseDouble(Files.readString(Path.of("/proc/uptime")).split(" ")[0]);
      long ageMillis = Math.round((uptimeSeconds - startTicks / (double) USER_HZ) * 1000);
      if (ageMillis >= 0) {
        return now.minusMillis(ageMillis);
      }
    } catch (IOException | RuntimeException e) {
      // Not Linux, or a layout this does not know: the JVM's start is close enough.
    }
    return Instant.ofEpochMilli(ManagementFactory.getRuntimeMXBean().getStartTime());
  }

  /** {@code starttime}, the 22nd field of {@code /proc/<pid>/stat}. */
  private static final int STARTTIME_FIELD = 22;

  /** Clock ticks per second of {@code /proc}; 100 on every Linux architecture Java runs on. */
  private static final int USER_HZ = 100;

  /**
   * Parses {@code args}, starts the server and serves until it is closed (by the shutdown hook on
   * SIGTERM). Returns at once with {@link #USAGE_EXIT_CODE} on bad flags, {@code 0} for {@code
   * --help}, {@link #STARTUP_EXIT_CODE} if the server cannot bind.
   *
   * @param exiter receives {@link SimServer#FAILURE_EXIT_CODE} when {@code --fail-after-requests}
   *     is reached ({@code System::exit} from {@link #main})
   */
  public static int run(String[] args, PrintStream out, PrintStream err, IntConsumer exiter) {
    if (Arrays.asList(args).contains("--help") || Arrays.asList(args).contains("-h")) {
      out.print(SimConfig.USAGE);
      out.flush();
      return 0;
    }
    SimConfig config;
    try {
      config = SimConfig.parse(args);
    } catch (IllegalArgumentException e) {
      err.println("gantry-sim: " + e.getMessage());
      err.println("Run with --help for usage.");
      err.flush();
      return USAGE_EXIT_CODE;
    }
    SimServer server;
    try {
      server = SimServer.start(config, exiter);
    } catch (IllegalStateException e) {
      err.println(e.getMessage());
      err.flush();
      return STARTUP_EXIT_CODE;
    }
    Thread hook = new Thread(server::close, "gantry-sim-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    out.println(
        "gantry-sim listening on "
            + config.host()
            + ":"
            + server.port()
            + " model="
            + config.model());
    // The engine's own share of a cold start, for whoever measures the platform's: from this
    // process's start (JVM start-up included) to listening, and to serving (warmed up, and the
    // simulated load over), from which on /health answers 200.
    out.println(
        "gantry-sim boot: process_started_at="
            + processStart()
            + " listening_at="
            + server.listeningAt()
            + " ready_at="
            + server.readyAt());
    out.flush();
    try {
      server.awaitClose();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      server.close();
    }
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException shuttingDown) {
      // the hook is what closed the server
    }
    return 0;
  }
}
