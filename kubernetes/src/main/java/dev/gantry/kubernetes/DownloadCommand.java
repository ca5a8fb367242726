package dev.gantry.kubernetes;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gantry.api.FailureType;
import dev.gantry.api.deployment.Framework;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.model.ModelException;
import dev.gantry.infra.model.ModelPreparation;
import dev.gantry.infra.model.ModelPreparer;
import dev.gantry.infra.model.ModelRequest;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.LoggerFactory;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.MapConfigurationPropertySource;

/**
 * {@code java -jar gantry.jar download ...}: what a model download Job runs. The same Hugging Face
 * and Ollama code as the local runtime puts the model into the claim mounted at {@code --storage};
 * no Spring context, web server or Temporal starts. The Hub token comes from the environment
 * ({@code HF_TOKEN}, set from a Secret by {@code secretKeyRef}), never from an argument.
 *
 * <p>Its protocol with {@link KubernetesModelPreparation}: progress lines {@value #PROGRESS} {@code
 * <bytes done> <bytes total>} on standard output, and the outcome as JSON in the container's
 * termination message, which Kubernetes keeps in the Pod's status: {@code {"status": "ok", "bytes":
 * N, "revision": "..."}} or {@code {"status": "failed", "type": "<FailureType>", "message":
 * "..."}}.
 */
public final class DownloadCommand {
  static final String PROGRESS = "GANTRY_PROGRESS";
  static final String MODELS_PREFIX = "--gantry.models.";

  /** Kubernetes keeps at most 4096 bytes of a termination message. */
  private static final int MAX_MESSAGE = 3500;

  private static final ObjectMapper JSON = new ObjectMapper();

  private DownloadCommand() {}

  public static void main(String[] args) {
    quietLogs();
    int code = run(args, System.getenv(), System.out);
    System.exit(code);
  }

  /**
   * @return the exit code: 0 when the model is complete, 1 when it could not be put into storage, 2
   *     for a command line it does not understand
   */
  static int run(String[] args, Map<String, String> env, PrintStream out) {
    Map<String, String> options = new LinkedHashMap<>();
    Map<String, String> models = new LinkedHashMap<>();
    for (String arg : args) {
      int eq = arg.indexOf('=');
      if (arg.startsWith(MODELS_PREFIX) && eq > 0) {
        models.put(
            "gantry.models." + arg.substring(MODELS_PREFIX.length(), eq), arg.substring(eq + 1));
      } else if (arg.startsWith("--") && eq > 0) {
        options.put(arg.substring(2, eq), arg.substring(eq + 1));
      } else {
        out.println("unknown argument " + arg);
        return 2;
      }
    }
    Path terminationLog = Path.of(options.getOrDefault("termination-log", "/dev/termination-log"));
    try {
      var request =
          new ModelRequest(
              required(options, "deployment-id"),
              Framework.parse(required(options, "framework"))
                  .orElseThrow(
                      () -> new IllegalArgumentException("--framework= is not one Gantry knows")),
              required(options, "model"),
              Path.of(required(options, "storage")),
              Integer.parseInt(options.getOrDefault("storage-gb", "0")),
              blankToNull(env.get("HF_TOKEN")),
              blankToNull(env.get("HF_ENDPOINT")));
      ModelPreparation preparer = new ModelPreparer(bind(models));
      var prepared =
          preparer.prepare(
              request, (done, total) -> out.println(PROGRESS + " " + done + " " + total));
      out.println(PROGRESS + " " + prepared.bytes() + " " + prepared.bytes());
      Map<String, Object> result = new LinkedHashMap<>();
      result.put("status", "ok");
      result.put("bytes", prepared.bytes());
      result.put("revision", prepared.revision());
      terminate(terminationLog, result);
      return 0;
    } catch (ModelException e) {
      failed(terminationLog, e.type(), e.getMessage());
    } catch (IOException e) {
      failed(
          terminationLog,
          FailureType.TRANSIENT,
          "could not write the model into storage: " + e.getMessage());
    } catch (IllegalArgumentException e) {
      out.println(e.getMessage());
      failed(terminationLog, FailureType.INVALID_SPEC, e.getMessage());
      return 2;
    }
    return 1;
  }

  /**
   * The platform's model settings, handed over as arguments and bound as the platform binds them.
   */
  static GantryProperties bind(Map<String, String> settings) {
    Map<String, String> all = new LinkedHashMap<>(settings);
    all.put("gantry.data-dir", System.getProperty("java.io.tmpdir"));
    return new Binder(new MapConfigurationPropertySource(all))
        .bind("gantry", GantryProperties.class)
        .get();
  }

  private static void failed(Path terminationLog, FailureType type, String message) {
    Map<String, Object> result = new LinkedHashMap<>();
    result.put("status", "failed");
    result.put("type", type.name());
    result.put(
        "message",
        message == null
            ? type.name()
            : message.substring(0, Math.min(message.length(), MAX_MESSAGE)));
    terminate(terminationLog, result);
  }

  private static void terminate(Path terminationLog, Map<String, Object> result) {
    try {
      Files.writeString(terminationLog, JSON.writeValueAsString(result), StandardCharsets.UTF_8);
    } catch (IOException e) {
      // The exit code still tells success from failure; the reason is what is lost.
      System.err.println("cannot write the termination message: " + e.getMessage());
    }
  }

  private static String required(Map<String, String> options, String name) {
    String value = options.get(name);
    if (value == null || value.isBlank()) {
      throw new IllegalArgumentException("--" + name + "=... is required");
    }
    return value;
  }

  private static String blankToNull(String s) {
    return s == null || s.isBlank() ? null : s;
  }

  /**
   * Logback's default without a configuration is DEBUG, which would put every HTTP exchange into
   * the Job's log; the platform logs at INFO, and so does its download.
   */
  private static void quietLogs() {
    if (LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)
        instanceof ch.qos.logback.classic.Logger root) {
      root.setLevel(ch.qos.logback.classic.Level.INFO);
    }
  }
}
