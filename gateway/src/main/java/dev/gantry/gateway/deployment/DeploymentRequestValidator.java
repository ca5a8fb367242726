package dev.gantry.gateway.deployment;

import dev.gantry.api.deployment.AutoscalingSpec;
import dev.gantry.api.deployment.DemandReport;
import dev.gantry.api.deployment.DeploymentSpec;
import dev.gantry.api.deployment.EditRequest;
import dev.gantry.api.deployment.EditRules;
import dev.gantry.api.deployment.Framework;
import dev.gantry.api.deployment.GpuSpec;
import dev.gantry.gateway.error.ApiProblem;
import dev.gantry.gateway.error.FieldError;
import dev.gantry.gateway.web.ConditionalOnGatewayRole;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.gpu.GpuCatalog;
import dev.gantry.infra.model.EndpointPolicy;
import dev.gantry.infra.model.ModelException;
import dev.gantry.infra.model.OllamaPuller;
import dev.gantry.infra.runtime.EngineEnvPolicy;
import dev.gantry.infra.runtime.FrameworkArgPolicy;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import org.springframework.http.HttpStatus;
import org.springframework.stereotype.Component;

/**
 * Every validation rule of docs/api.md's "Deployments" section, and the limits from configuration.
 */
@ConditionalOnGatewayRole
@Component
public class DeploymentRequestValidator {
  static final Set<String> CREATE_FIELDS =
      Set.of(
          "name",
          "model",
          "framework",
          "gpu",
          "min_workers",
          "max_workers",
          "concurrency",
          "idle_timeout_seconds",
          "wait_time_seconds",
          "storage_gb",
          "env",
          "framework_args",
          "max_tokens_limit",
          "n_limit",
          "autoscaling");
  static final Set<String> AUTOSCALING_FIELDS =
      Set.of("target_utilization", "scale_down_delay_seconds", "warm_buffer", "queue_delay_ms");

  /** The longest scale-down delay a deployment may ask for. */
  static final int MAX_SCALE_DOWN_DELAY_SECONDS = 3600;

  private static final Set<String> GPU_FIELDS = Set.of("type", "count", "fallback_types");

  private static final Pattern HF_REPO =
      Pattern.compile(
          "[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}(@[A-Za-z0-9._/-]{1,100})?");
  private static final Pattern OLLAMA_TAG =
      Pattern.compile(
          "[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*){0,2}(:[A-Za-z0-9][A-Za-z0-9._-]{0,127})?");
  private static final Pattern SIM_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:/@-]{0,199}");
  private static final Pattern ENV_NAME = Pattern.compile("[A-Z_][A-Z0-9_]*");

  private final GpuCatalog catalog;
  private final GantryProperties.Limits limits;
  private final EngineEnvPolicy envPolicy;
  private final EndpointPolicy endpoints;

  public DeploymentRequestValidator(GpuCatalog catalog, GantryProperties properties) {
    this.catalog = catalog;
    this.limits = properties.limits();
    this.envPolicy = new EngineEnvPolicy(properties.runtime().local().containment().extraEnv());
    this.endpoints = new EndpointPolicy(properties.models());
  }

  public CreateDeploymentCommand validateCreate(Map<String, Object> body, boolean admin) {
    var in = new RequestReader(body);
    in.rejectUnknown(CREATE_FIELDS);
    String name = in.string("name", true, EditRules.MAX_NAME_LENGTH);
    String model = in.string("model", true, 300);
    String frameworkName = in.string("framework", true, 20);
    Framework framework = null;
    if (frameworkName != null) {
      framework = Framework.parse(frameworkName.toLowerCase(Locale.ROOT)).orElse(null);
      if (framework == null) {
        in.error("framework", "must be one of vllm, sglang, ollama, sim");
      }
    }
    if (model != null && framework != null) {
      validateModel(in, framework, model);
      checkRegistryHost(in, framework, model);
    }
    GpuSpec gpu = readGpu(in, framework);
    Integer min =
        in.integer(
            "min_workers",
            0,
            0,
            limits.maxWorkers(),
            "must be between 0 and " + limits.maxWorkers());
    Integer max =
        in.integer(
            "max_workers",
            1,
            1,
            limits.maxWorkers(),
            "must be between 1 and " + limits.maxWorkers());
    if (min != null && max != null && max < min) {
      in.error("max_workers", "must be at least min_workers");
    }
    Integer concurrency =
        in.integer(
            "concurrency",
            8,
            1,
            limits.maxConcurrency(),
            "must be between 1 and " + limits.maxConcurrency());
    Integer idle =
        in.integer(
            "idle_timeout_seconds",
            300,
            1,
            limits.maxIdleTimeoutSeconds(),
            "must be between 1 and " + limits.maxIdleTimeoutSeconds());
    Integer wait =
        in.integer(
            "wait_time_seconds",
            60,
            1,
            limits.maxWaitTimeSeconds(),
            "must be between 1 and " + limits.maxWaitTimeSeconds());
    Integer storage =
        in.integer(
            "storage_gb",
            50,
            1,
            limits.maxStorageGb(),
            "must be between 1 and " + limits.maxStorageGb());
    Map<String, String> env = readEnv(in);
    checkEndpoint(in, env);
    List<String> args = readArgs(in, framework, admin);
    Integer maxTokensLimit = readMaxTokensLimit(in);
    Integer nLimit = readNLimit(in);
    AutoscalingSpec autoscaling = readAutoscaling(in, max, wait);

    if (!in.errors.isEmpty()) {
      throw ApiProblem.validation(in.errors);
    }
    var spec =
        new DeploymentSpec(
            name.strip(),
            model,
            framework,
            gpu,
            min,
            max,
            concurrency,
            idle,
            wait,
            storage,
            List.copyOf(env.keySet()),
            args,
            maxTokensLimit,
            nLimit,
            autoscaling);
    return new CreateDeploymentCommand(spec, env);
  }

  /**
   * {@code autoscaling}: each setting optional (null takes the default); the warm buffer at most
   * max_workers, the queue delay at most the wait time.
   */
  private static AutoscalingSpec readAutoscaling(RequestReader in, Integer max, Integer wait) {
    Map<String, Object> raw = in.object("autoscaling");
    if (raw == null) {
      return null;
    }
    var a = new RequestReader(raw, "autoscaling.", in.errors);
    a.rejectUnknown(AUTOSCALING_FIELDS);
    Double target = a.decimal("target_utilization", 0.1, 1.0, "must be between 0.1 and 1");
    Integer delay =
        a.has("scale_down_delay_seconds")
            ? a.integer(
                "scale_down_delay_seconds",
                0,
                0,
                MAX_SCALE_DOWN_DELAY_SECONDS,
                "must be between 0 and " + MAX_SCALE_DOWN_DELAY_SECONDS + ", or null for auto")
            : null;
    int bufferMax = max != null ? max : Integer.MAX_VALUE;
    Integer buffer =
        a.has("warm_buffer")
            ? a.integer(
                "warm_buffer", 0, 0, bufferMax, "must be between 0 and max_workers (" + max + ")")
            : null;
    int queueMax = wait != null ? wait * 1000 : Integer.MAX_VALUE;
    Integer queueDelay =
        a.has("queue_delay_ms")
            ? a.integer(
                "queue_delay_ms",
                0,
                0,
                queueMax,
                "must be between 0 (off) and wait_time_seconds in ms (" + queueMax + ")")
            : null;
    return new AutoscalingSpec(target, delay, buffer, queueDelay);
  }

  /** {@code max_tokens_limit}: null when absent (the platform default applies). */
  private Integer readMaxTokensLimit(RequestReader in) {
    if (!in.has("max_tokens_limit")) {
      return null;
    }
    return in.integer(
        "max_tokens_limit",
        limits.defaultMaxTokensLimit(),
        1,
        limits.maxMaxTokensLimit(),
        "must be between 1 and " + limits.maxMaxTokensLimit());
  }

  /** {@code n_limit}: null when absent (the platform default applies). */
  private Integer readNLimit(RequestReader in) {
    if (!in.has("n_limit")) {
      return null;
    }
    return in.integer(
        "n_limit",
        limits.defaultNLimit(),
        1,
        limits.maxNLimit(),
        "must be between 1 and " + limits.maxNLimit());
  }

  private static void validateModel(RequestReader in, Framework framework, String model) {
    switch (framework) {
      case VLLM, SGLANG -> {
        if (!HF_REPO.matcher(model).matches()) {
          in.error("model", "must be a Hugging Face repo id like owner/name, optionally @revision");
        }
      }
      case OLLAMA -> {
        if (!OLLAMA_TAG.matcher(model).matches()) {
          in.error("model", "must be an Ollama model tag like qwen2.5:7b");
        }
      }
      case SIM -> {
        if (!SIM_NAME.matcher(model).matches()) {
          in.error("model", "must be 1-200 letters, digits or ._:/@- without spaces");
        }
      }
    }
  }

  private GpuSpec readGpu(RequestReader in, Framework framework) {
    Map<String, Object> raw = in.object("gpu");
    if (raw == null) {
      if (!in.has("gpu") && framework != null && framework.needsGpu()) {
        in.error("gpu", "is required for framework " + framework.wireName());
      }
      return null;
    }
    var gpu = new RequestReader(raw, "gpu.", in.errors);
    gpu.rejectUnknown(GPU_FIELDS);
    String type = gpu.string("type", true, 40);
    if (type != null && catalog.find(type).isEmpty()) {
      gpu.error(
          "type", "is not a known GPU type; known types: " + String.join(", ", catalog.names()));
    }
    Integer count =
        gpu.integer(
            "count", 1, 1, limits.maxGpuCount(), "must be between 1 and " + limits.maxGpuCount());
    List<String> fallbacks = gpu.strings("fallback_types", 8, 40);
    if (fallbacks != null) {
      for (int i = 0; i < fallbacks.size(); i++) {
        if (catalog.find(fallbacks.get(i)).isEmpty()) {
          gpu.error("fallback_types[" + i + "]", "is not a known GPU type");
        }
      }
    }
    if (type == null || count == null || fallbacks == null) {
      return null;
    }
    return new GpuSpec(type, count, fallbacks);
  }

  private Map<String, String> readEnv(RequestReader in) {
    Map<String, Object> raw = in.object("env");
    var env = new LinkedHashMap<String, String>();
    if (raw == null) {
      return env;
    }
    if (raw.size() > 64) {
      in.error("env", "must have at most 64 variables");
      return env;
    }
    raw.keySet().stream()
        .sorted()
        .forEach(
            name -> {
              Object value = raw.get(name);
              // Messages name the variable, never its value.
              if (name.length() > 128 || !ENV_NAME.matcher(name).matches()) {
                in.error(
                    "env." + name, "name must match [A-Z_][A-Z0-9_]* (at most 128 characters)");
              } else if (envPolicy.refusal(name).isPresent()) {
                in.error("env." + name, name + " " + envPolicy.refusal(name).get());
              } else if (!(value instanceof String s)) {
                in.error("env." + name, "value must be a string");
              } else if (s.length() > 32_768) {
                in.error("env." + name, "value must be at most 32768 characters");
              } else if (s.indexOf('\0') >= 0) {
                in.error("env." + name, "value must not contain NUL characters");
              } else {
                env.put(name, s);
              }
            });
    return env;
  }

  /**
   * A deployment's {@code HF_ENDPOINT} must be a mirror the operator allowed: the platform dials
   * it. The message does not echo the value.
   */
  private void checkEndpoint(RequestReader in, Map<String, String> env) {
    String endpoint = env.get("HF_ENDPOINT");
    if (endpoint != null && !endpoint.isBlank() && !endpoints.allowsTenantEndpoint(endpoint)) {
      in.error(
          "env.HF_ENDPOINT",
          "must be the Hugging Face Hub, the platform's endpoint or a mirror the operator allowed"
              + " (gantry.models.allowed-endpoints)");
    }
  }

  /** An {@code ollama} model may name its registry host: that host, too, must be allowed. */
  private void checkRegistryHost(RequestReader in, Framework framework, String model) {
    if (framework != Framework.OLLAMA || !OLLAMA_TAG.matcher(model).matches()) {
      return;
    }
    try {
      if (!endpoints.allowsOllamaHost(OllamaPuller.ModelRef.parse(model).host())) {
        in.error(
            "model",
            "names a registry host the operator did not allow (gantry.models.allowed-endpoints)");
      }
    } catch (ModelException e) {
      in.error("model", "must be an Ollama model tag like qwen2.5:7b");
    }
  }

  /**
   * Each token must be a flag the framework's engine accepts from tenants, spelled exactly, with a
   * value of its type ({@link FrameworkArgPolicy}); without a valid framework only the token's
   * shape is checked, the framework error being reported already.
   */
  private static List<String> readArgs(RequestReader in, Framework framework, boolean admin) {
    String field = "framework_args";
    List<String> args = in.strings(field, 64, 512);
    if (args == null) {
      return List.of();
    }
    for (int i = 0; i < args.size(); i++) {
      Optional<String> refusal = FrameworkArgPolicy.refusal(framework, args.get(i), admin);
      if (refusal.isPresent()) {
        in.error(field + "[" + i + "]", refusal.get());
      }
    }
    return args;
  }

  /**
   * A PATCH body: only name and the two timeouts; anything else needs a new deployment. The JSON
   * types are checked here, the rules of the values in {@link EditRules}, which the workflow's
   * update validator applies too.
   */
  public EditRequest validateEdit(Map<String, Object> body) {
    if (body == null || body.isEmpty()) {
      throw ApiProblem.validation(List.of(new FieldError("body", EditRules.NOTHING_TO_CHANGE)));
    }
    var immutable = EditRules.notEditable(body.keySet());
    if (!immutable.isEmpty()) {
      throw new ApiProblem(
          HttpStatus.UNPROCESSABLE_CONTENT,
          EditRules.notEditableMessage(immutable),
          immutable.stream().map(f -> new FieldError(f, "cannot be changed")).toList());
    }
    var in = new RequestReader(body);
    var edit =
        new EditRequest(
            in.text("name"),
            in.wholeNumber("idle_timeout_seconds"),
            in.wholeNumber("wait_time_seconds"));
    var bounds = new EditRules.Bounds(limits.maxIdleTimeoutSeconds(), limits.maxWaitTimeSeconds());
    EditRules.violations(edit, bounds).forEach(v -> in.error(v.field(), v.message()));
    if (!in.errors.isEmpty()) {
      // One list in field order, whether a field had the wrong type or broke its rule.
      var errors = new ArrayList<>(in.errors);
      errors.sort(Comparator.comparingInt(e -> EditRules.EDITABLE_FIELDS.indexOf(e.field())));
      throw ApiProblem.validation(errors);
    }
    return EditRules.normalized(edit);
  }

  /** A demand report: {@code in_flight} and {@code queued} counts, optional worker ids. */
  public DemandCommand validateDemand(Map<String, Object> body) {
    var in = new RequestReader(body);
    Integer inFlight =
        in.integer("in_flight", 0, 0, MAX_DEMAND, "must be between 0 and " + MAX_DEMAND);
    Integer queued = in.integer("queued", 0, 0, MAX_DEMAND, "must be between 0 and " + MAX_DEMAND);
    List<String> active = in.strings("active_workers", limits.maxWorkers(), 100);
    if (!in.errors.isEmpty()) {
      throw ApiProblem.validation(in.errors);
    }
    return new DemandCommand(new DemandReport(inFlight, queued), active);
  }

  private static final int MAX_DEMAND = 1_000_000;

  /** A validated demand report and the workers it marks as used. */
  public record DemandCommand(DemandReport report, List<String> activeWorkers) {}
}
